/* Row-wise kernels of the optimized CPU backend (cpu_rows.c). Each returns
 * BACKEND_DECLINE for what it does not cover. */
#ifndef AMLSERVE_CPU_ROWS_H
#define AMLSERVE_CPU_ROWS_H

#include "backend.h"

/* Softmax over contiguous rows (the last axis; before opset 13 any axis). */
int cpu_softmax(const struct op_call *call);
/* LayerNormalization whose scale and bias hold the normalized shape exactly. */
int cpu_layer_norm(const struct op_call *call);

#endif
