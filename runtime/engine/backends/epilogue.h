/* What a fused GEMM or convolution does to a block of its output while the
 * block is still in cache (ops.h's struct op_fused, in matrix terms):
 * c = act(c + bias + residual). The bias runs along columns (MatMul, Gemm:
 * one value per output feature) or along rows (Conv, whose GEMM rows are
 * output channels). Dispatched on cpu_isa like the other kernels; the
 * portable path computes with libm, the vector paths with polynomial exp and
 * erf accurate to a few units in the last place of the 1e-4 the backend test allows. */
#ifndef AMLSERVE_EPILOGUE_H
#define AMLSERVE_EPILOGUE_H

#include "runtime/engine/ops/ops.h"

#include <stdint.h>

struct epilogue {
    const float *bias; /* NULL, or bias[j] (bias_per_row 0) / bias[i] (bias_per_row 1) */
    int bias_per_row;
    const float *residual; /* NULL, or residual[i · ldr + j] */
    int64_t ldr;
    enum op_act act;
    float alpha, lo, hi;
};

/* Whether e changes anything (a NULL e does not). */
int epilogue_active(const struct epilogue *e);
/* Applies e to rows [i0, i0 + h), columns [j0, j0 + w) of c, whose element (i, j) is c[i · ldc + j]. */
void epilogue_apply(const struct epilogue *e, float *c, int64_t ldc, int64_t i0, int64_t j0, int64_t h, int64_t w);

/* call->fused (NULL: none) in matrix terms for an output of shape dims, whose bias runs along
 * axis bias_axis with bias_count values. own_bias: the node's own bias (Conv's B), or NULL; when
 * both exist they are summed in the call's arena. ldr is set to bias_count (rows of a MatMul or
 * Gemm output); a Conv sets its own. 0, or BACKEND_DECLINE (backend.h) when the fused inputs do
 * not fit this output: the engine then runs the fused nodes one by one. */
int epilogue_from_call(const struct op_call *call, struct epilogue *e, int rank, const int64_t *dims, int bias_axis,
                       int64_t bias_count, const float *own_bias, int bias_per_row);

#endif
