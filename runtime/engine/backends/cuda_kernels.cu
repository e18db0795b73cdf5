// Device kernels for the CUDA backend: a shared-memory tiled SGEMM,
// elementwise loops and a row softmax, behind the C interface in
// cuda_kernels.h. Operands live in a per-thread device arena that only grows.
#include "cuda_kernels.h"

#include <cuda_runtime.h>
#include <math.h>
#include <stdio.h>
#include <unistd.h>

#define TILE 16

static __thread char last_error[160];

static int failed(cudaError_t e)
{
    if (e == cudaSuccess)
        return 0;
    snprintf(last_error, sizeof last_error, "cuda: %s", cudaGetErrorString(e));
    return 1;
}

extern "C" const char *cudak_last_error(void) { return last_error; }

extern "C" int cudak_usable(void)
{
    static int state = -1; // decided once; a race only repeats the probe
    if (state >= 0)
        return state;
    int n = 0;
    state = access("/dev/nvidiactl", F_OK) == 0 && cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
    return state;
}

// Device arena: one growing buffer per host thread, carved per call.
struct device_arena {
    char *base;
    size_t cap, used;
};
static __thread struct device_arena arena;

static float *arena_floats(int64_t n)
{
    size_t bytes = ((size_t)n * sizeof(float) + 255) / 256 * 256;
    if (arena.used + bytes > arena.cap)
        return NULL;
    float *p = (float *)(arena.base + arena.used);
    arena.used += bytes;
    return p;
}

// Makes room for `total` floats in up to 4 pieces, from an empty arena.
static int arena_reserve(int64_t total)
{
    arena.used = 0;
    size_t need = ((size_t)total * sizeof(float) + 4 * 256);
    if (need <= arena.cap)
        return 0;
    if (arena.base)
        cudaFree(arena.base);
    arena.base = NULL;
    arena.cap = 0;
    if (failed(cudaMalloc((void **)&arena.base, need)))
        return -1;
    arena.cap = need;
    return 0;
}

static int upload(float **dev, const float *host, int64_t n)
{
    *dev = arena_floats(n);
    if (!*dev)
        return -1;
    return failed(cudaMemcpy(*dev, host, (size_t)n * sizeof(float), cudaMemcpyHostToDevice)) ? -1 : 0;
}

static int download(float *host, const float *dev, int64_t n)
{
    if (failed(cudaGetLastError()))
        return -1;
    return failed(cudaMemcpy(host, dev, (size_t)n * sizeof(float), cudaMemcpyDeviceToHost)) ? -1 : 0;
}

__global__ void gemm_kernel(int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                            const float *b, float *y, int acc)
{
    __shared__ float as[TILE][TILE + 1], bs[TILE][TILE + 1];
    int64_t row = (int64_t)blockIdx.y * TILE + threadIdx.y, col = (int64_t)blockIdx.x * TILE + threadIdx.x;
    float sum = 0;
    for (int64_t p0 = 0; p0 < k; p0 += TILE) {
        int64_t pa = p0 + threadIdx.x, pb = p0 + threadIdx.y;
        as[threadIdx.y][threadIdx.x] = row < m && pa < k ? (ta ? a[pa * m + row] : a[row * k + pa]) : 0.0f;
        bs[threadIdx.y][threadIdx.x] = col < n && pb < k ? (tb ? b[col * k + pb] : b[pb * n + col]) : 0.0f;
        __syncthreads();
        for (int p = 0; p < TILE; p++)
            sum += as[threadIdx.y][p] * bs[p][threadIdx.x];
        __syncthreads();
    }
    if (row < m && col < n)
        y[row * n + col] = alpha * sum + (acc ? y[row * n + col] : 0.0f);
}

extern "C" int cudak_gemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                          const float *b, float *y, int accumulate)
{
    float *da, *db, *dy;
    if (arena_reserve(m * k + k * n + m * n) || upload(&da, a, m * k) || upload(&db, b, k * n))
        return -1;
    if (accumulate ? upload(&dy, y, m * n) : !(dy = arena_floats(m * n)))
        return -1;
    dim3 block(TILE, TILE), grid((unsigned)((n + TILE - 1) / TILE), (unsigned)((m + TILE - 1) / TILE));
    gemm_kernel<<<grid, block>>>(trans_a, trans_b, m, n, k, alpha, da, db, dy, accumulate);
    return download(y, dy, m * n);
}

__global__ void binary_kernel(int op, float *out, const float *a, int as, const float *b, int bs, int64_t n)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    float x = a[i * as], y = b[i * bs];
    out[i] = op == 0 ? x + y : op == 1 ? x - y : op == 2 ? x * y : x / y;
}

extern "C" int cudak_binary(int op, float *out, const float *a, int a_step, const float *b, int b_step, int64_t n)
{
    float *da, *db, *dout;
    if (arena_reserve((a_step ? n : 1) + (b_step ? n : 1) + n) || upload(&da, a, a_step ? n : 1) ||
        upload(&db, b, b_step ? n : 1) || !(dout = arena_floats(n)))
        return -1;
    binary_kernel<<<(unsigned)((n + 255) / 256), 256>>>(op, dout, da, a_step, db, b_step, n);
    return download(out, dout, n);
}

__global__ void activation_kernel(int act, float *out, const float *in, int64_t n)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    float x = in[i];
    out[i] = act == 0 ? fmaxf(x, 0.0f) : 1.0f / (1.0f + expf(-x));
}

extern "C" int cudak_activation(int act, float *out, const float *in, int64_t n)
{
    float *din, *dout;
    if (arena_reserve(2 * n) || upload(&din, in, n) || !(dout = arena_floats(n)))
        return -1;
    activation_kernel<<<(unsigned)((n + 255) / 256), 256>>>(act, dout, din, n);
    return download(out, dout, n);
}

// One block per row: max, then the sum of exponentials, by shared-memory reductions.
__global__ void softmax_kernel(float *out, const float *in, int64_t cols)
{
    __shared__ float red[256];
    const float *x = in + (int64_t)blockIdx.x * cols;
    float *y = out + (int64_t)blockIdx.x * cols;
    float mx = -INFINITY;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x)
        mx = fmaxf(mx, x[j]);
    red[threadIdx.x] = mx;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s /= 2) {
        if (threadIdx.x < s)
            red[threadIdx.x] = fmaxf(red[threadIdx.x], red[threadIdx.x + s]);
        __syncthreads();
    }
    mx = red[0];
    __syncthreads();
    float sum = 0;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x)
        sum += expf(x[j] - mx);
    red[threadIdx.x] = sum;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s /= 2) {
        if (threadIdx.x < s)
            red[threadIdx.x] += red[threadIdx.x + s];
        __syncthreads();
    }
    sum = red[0];
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x)
        y[j] = expf(x[j] - mx) / sum;
}

extern "C" int cudak_softmax(float *out, const float *in, int64_t rows, int64_t cols)
{
    float *din, *dout;
    if (arena_reserve(2 * rows * cols) || upload(&din, in, rows * cols) || !(dout = arena_floats(rows * cols)))
        return -1;
    softmax_kernel<<<(unsigned)rows, 256>>>(dout, din, cols);
    return download(out, dout, rows * cols);
}
