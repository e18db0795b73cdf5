/* The optimized CPU backend's integer and depthwise kernels: MatMulInteger
 * and QLinearMatMul on uint8/int8 with per-tensor zero points (int32
 * accumulation, spread over the thread pool; weights that are model
 * initializers are packed once, at load, and kept in the node's cache; with
 * AVX-512 VNNI when B minus its zero point fits int8: B in 64-column panels,
 * six rows by one panel per tile, tasks split over rows and panels), and depthwise 2-D
 * convolution computed in place instead of through im2col. Each declines
 * (BACKEND_DECLINE) what it does not cover, so the reference answers it.
 * Tensors are borrowed; outputs come from the call's arena, packed weights
 * belong to the node's cache (freed with the model). */
#ifndef AMLSERVE_CPU_QUANT_H
#define AMLSERVE_CPU_QUANT_H

#include "backend.h"

int cpu_matmul_integer(const struct op_call *call);
int cpu_qlinear_matmul(const struct op_call *call);
/* Conv with group == channels in == channels out, 2-D, float: 0, an error, or BACKEND_DECLINE. */
int cpu_depthwise_conv(const struct op_call *call);
/* At load: packs a constant B (and constant zero point) of MatMulInteger/QLinearMatMul into the node's cache. */
void cpu_quant_prepare(const struct backend_node *info, _Atomic(struct op_cache *) *cache);
/* Whether the backend takes the node with these known inputs (integer types allowed). */
int cpu_quant_claims(const struct backend_node *info);

#endif
