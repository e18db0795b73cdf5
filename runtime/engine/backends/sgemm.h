/* Single-precision GEMM for the optimized CPU backend:
 * C = epilogue(alpha · op(A) · op(B) + beta · C), row-major, op = optional transpose.
 *
 * Large products pack A and B into cache-sized panels and run a register-
 * blocked micro-kernel (AVX-512, AVX2+FMA or portable C, chosen by cpu_isa);
 * products with few rows (serving batches) skip packing and stream B. A
 * constant B (model weights) can be packed once (sgemm_pack) into the
 * micro-kernel's panel layout: products then read the panels directly, and
 * one to four rows run as a GEMV over them. The epilogue (bias, residual,
 * activation) is applied to each block of C while it is in cache. The work
 * is split over the engine's thread pool. Pointers are borrowed. */
#ifndef AMLSERVE_SGEMM_H
#define AMLSERVE_SGEMM_H

#include "epilogue.h"

#include <stddef.h>
#include <stdint.h>

/* op(B) [k, n] in panels of nr columns (the micro-kernel of the ISA in effect when packed), each
 * panel its k rows of nr floats back to back; data is k · n_pad floats, n_pad = n rounded up to nr,
 * padding zero. */
struct sgemm_packed {
    int nr;
    int64_t k, n, n_pad;
    float *data;
};

/* The bytes sgemm_pack would allocate for op(B) [k, n] on this CPU. */
size_t sgemm_pack_bytes(int64_t k, int64_t n);
/* 0, or -1 when out of memory. An empty product packs nothing (data NULL). */
int sgemm_pack(struct sgemm_packed *p, int trans_b, int64_t k, int64_t n, const float *b, int64_t ldb);
void sgemm_packed_free(struct sgemm_packed *p);

/* B as the im2col matrix of a 2-D convolution's image, never built: row p = (channel, kernel row,
 * kernel column), column j = (output row, output column); the packing reads the image directly. */
struct sgemm_conv {
    const float *x; /* [channels, in_h, in_w] */
    int64_t channels, in_h, in_w, out_h, out_w, kh, kw;
    int64_t stride_h, stride_w, pad_h, pad_w, dil_h, dil_w;
};

struct sgemm_job {
    int trans_a, trans_b;
    int64_t m, n, k;
    float alpha;
    const float *a;
    int64_t lda;
    /* used when packed_b is NULL or packed for another ISA; NULL only with a packed_b that fits (a
     * misaligned weight's packing, sgemm_unaligned.h) */
    const float *b;
    int64_t ldb;
    const struct sgemm_packed *packed_b;
    const struct sgemm_conv *conv_b; /* instead of b (k = channels · kh · kw, n = out_h · out_w), or NULL */
    float beta;
    float *c;
    int64_t ldc;
    const struct epilogue *epi; /* NULL: none */
};

void sgemm_run(const struct sgemm_job *job);
/* batch independent products (attention's per-head MatMuls): product t reads a + t·stride_a and
 * b + t·stride_b and writes c + t·stride_c (the epilogue's residual advancing as c does). Products
 * too small to split are spread over the pool one product per task. */
void sgemm_run_batched(const struct sgemm_job *job, int64_t batch, int64_t stride_a, int64_t stride_b,
                       int64_t stride_c);
void sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
           const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

#endif
