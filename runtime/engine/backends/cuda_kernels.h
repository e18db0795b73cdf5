/* The CUDA backend's device side, a plain C interface over host pointers.
 *
 * cuda_kernels.cu is compiled only where nvcc exists and linked only into
 * amlserve (with static cudart); cuda.c reaches it through weak symbols, so
 * every other program, and amlserve built without nvcc, sees "not built".
 * Each call copies its operands into a per-thread device arena, runs, and
 * copies the result back. Functions return 0, or -1 after a CUDA error. */
#ifndef AMLSERVE_CUDA_KERNELS_H
#define AMLSERVE_CUDA_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when a CUDA device is present and the driver answers; never touches the
 * driver on machines without /dev/nvidiactl. */
int cudak_usable(void);
/* y[m,n] = alpha · op(a) · op(b) + (accumulate ? y : 0) */
int cudak_gemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a, const float *b,
               float *y, int accumulate);
/* op: 0 add, 1 sub, 2 mul, 3 div; a_step/b_step 0 broadcasts element 0. */
int cudak_binary(int op, float *out, const float *a, int a_step, const float *b, int b_step, int64_t n);
/* act: 0 relu, 1 sigmoid. */
int cudak_activation(int act, float *out, const float *in, int64_t n);
/* Softmax over the last axis of [rows, cols]. */
int cudak_softmax(float *out, const float *in, int64_t rows, int64_t cols);
const char *cudak_last_error(void);

#ifdef __cplusplus
}
#endif

#endif
