/* Single-precision GEMM for the optimized CPU backend:
 * C = alpha · op(A) · op(B) + beta · C, row-major, op = optional transpose.
 *
 * Large products pack A and B into cache-sized panels and run a register-
 * blocked micro-kernel (AVX-512, AVX2+FMA or portable C, chosen by cpu_isa);
 * products with few rows (serving batches) skip packing and stream B. The
 * work is split over the engine's thread pool. Pointers are borrowed. */
#ifndef AMLSERVE_SGEMM_H
#define AMLSERVE_SGEMM_H

#include <stdint.h>

void sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
           const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

#endif
