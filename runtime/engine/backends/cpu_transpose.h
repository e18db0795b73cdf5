/* float32 Transpose for the optimized CPU backend (cpu_transpose.c);
 * BACKEND_DECLINE for other types and invalid perms (the reference reports those). */
#ifndef AMLSERVE_CPU_TRANSPOSE_H
#define AMLSERVE_CPU_TRANSPOSE_H

#include "backend.h"

int cpu_transpose(const struct op_call *call);

#endif
