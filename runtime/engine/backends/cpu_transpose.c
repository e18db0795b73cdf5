/* Transpose of float32 tensors for the optimized CPU backend. Output
 * dimensions that stay adjacent in the input are merged first, so the
 * attention permutations ([0,2,1,3], [0,2,3,1]) become a batch of row copies
 * or of 2-D transposes; the 2-D ones go in 8×8 tiles (in registers on AVX2)
 * so both sides are read and written a cache line at a time. */
#include "cpu_transpose.h"

#include "cpu_isa.h"
#include "threadpool.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

#define PARALLEL_MIN_ELEMENTS (1 << 16)

struct plan {
    int rank;
    int64_t dims[TENSOR_MAX_RANK], strides[TENSOR_MAX_RANK]; /* output dims, their input strides */
    const float *in;
    float *out;
    int64_t planes, per_task; /* the outer dims (all but the last two) flattened */
};

#if HAVE_X86
/* out[i][j] = in[j * ld_in + i] for an 8×8 tile. */
__attribute__((target("avx2,fma"))) static void tile8_avx2(float *out, int64_t ld_out, const float *in, int64_t ld_in)
{
    __m256 r[8], t[8];
    for (int j = 0; j < 8; j++)
        r[j] = _mm256_loadu_ps(in + j * ld_in);
    for (int j = 0; j < 8; j += 2) {
        t[j] = _mm256_unpacklo_ps(r[j], r[j + 1]);
        t[j + 1] = _mm256_unpackhi_ps(r[j], r[j + 1]);
    }
    for (int j = 0; j < 8; j += 4) {
        r[j] = _mm256_shuffle_ps(t[j], t[j + 2], 0x44);
        r[j + 1] = _mm256_shuffle_ps(t[j], t[j + 2], 0xEE);
        r[j + 2] = _mm256_shuffle_ps(t[j + 1], t[j + 3], 0x44);
        r[j + 3] = _mm256_shuffle_ps(t[j + 1], t[j + 3], 0xEE);
    }
    for (int k = 0; k < 4; k++) {
        _mm256_storeu_ps(out + k * ld_out, _mm256_permute2f128_ps(r[k], r[k + 4], 0x20));
        _mm256_storeu_ps(out + (k + 4) * ld_out, _mm256_permute2f128_ps(r[k], r[k + 4], 0x31));
    }
}
#endif

/* out[i * cols + j] = in[i * s_row + j * s_col] for an rows × cols plane. */
static void plane(float *out, const float *in, int64_t rows, int64_t cols, int64_t s_row, int64_t s_col)
{
    if (s_col == 1) {
        for (int64_t i = 0; i < rows; i++)
            memcpy(out + i * cols, in + i * s_row, (size_t)cols * sizeof *out);
        return;
    }
#if HAVE_X86
    int vec = s_row == 1 && cpu_isa() >= CPU_ISA_AVX2;
#else
    int vec = 0;
#endif
    for (int64_t i0 = 0; i0 < rows; i0 += 8)
        for (int64_t j0 = 0; j0 < cols; j0 += 8) {
            int64_t i1 = i0 + 8 < rows ? i0 + 8 : rows, j1 = j0 + 8 < cols ? j0 + 8 : cols;
#if HAVE_X86
            if (vec && i1 - i0 == 8 && j1 - j0 == 8) {
                tile8_avx2(out + i0 * cols + j0, cols, in + j0 * s_col + i0, s_col);
                continue;
            }
#endif
            for (int64_t i = i0; i < i1; i++)
                for (int64_t j = j0; j < j1; j++)
                    out[i * cols + j] = in[i * s_row + j * s_col];
        }
    (void)vec;
}

static void planes_task(void *ctx, int index)
{
    const struct plan *p = ctx;
    int64_t rows = p->dims[p->rank - 2], cols = p->dims[p->rank - 1];
    int64_t q0 = index * p->per_task, q1 = q0 + p->per_task < p->planes ? q0 + p->per_task : p->planes;
    for (int64_t q = q0; q < q1; q++) {
        int64_t rem = q, off = 0;
        for (int d = p->rank - 3; d >= 0; d--) {
            off += (rem % p->dims[d]) * p->strides[d];
            rem /= p->dims[d];
        }
        plane(p->out + q * rows * cols, p->in + off, rows, cols, p->strides[p->rank - 2], p->strides[p->rank - 1]);
    }
}

int cpu_transpose(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    if (!backend_is_float(x) || x->rank < 1)
        return BACKEND_DECLINE;
    size_t n;
    const int64_t *perm = ops_attr_ints(call, "perm", &n);
    int seen[TENSOR_MAX_RANK] = {0};
    if (perm && (int)n != x->rank)
        return BACKEND_DECLINE; /* the reference reports it */
    int64_t in_strides[TENSOR_MAX_RANK], out_dims[TENSOR_MAX_RANK], s = 1;
    for (int i = x->rank - 1; i >= 0; i--) {
        in_strides[i] = s;
        s *= x->dims[i];
    }
    struct plan p = {.in = x->data};
    for (int i = 0; i < x->rank; i++) {
        int64_t a = perm ? perm[i] : x->rank - 1 - i;
        if (a < 0 || a >= x->rank || seen[a]++)
            return BACKEND_DECLINE;
        out_dims[i] = x->dims[a];
        /* merge with the previous output dim when the two are adjacent in the input */
        if (p.rank && p.strides[p.rank - 1] == in_strides[a] * x->dims[a]) {
            p.dims[p.rank - 1] *= x->dims[a];
            p.strides[p.rank - 1] = in_strides[a];
        } else if (x->dims[a] != 1) {
            p.dims[p.rank] = x->dims[a];
            p.strides[p.rank++] = in_strides[a];
        }
    }
    int rc = ops_alloc_output(call, 0, TENSOR_FLOAT, x->rank, out_dims);
    if (rc)
        return rc;
    p.out = call->outputs[0].data;
    int64_t total = s;
    if (!total)
        return 0;
    /* at least two dims: a leading 1 × ... */
    while (p.rank < 2) {
        memmove(p.dims + 1, p.dims, (size_t)p.rank * sizeof *p.dims);
        memmove(p.strides + 1, p.strides, (size_t)p.rank * sizeof *p.strides);
        p.dims[0] = 1;
        p.strides[0] = 0;
        p.rank++;
    }
    p.planes = total / (p.dims[p.rank - 2] * p.dims[p.rank - 1]);
    int tasks = total < PARALLEL_MIN_ELEMENTS ? 1 : pool_threads() * 4;
    if (tasks > p.planes)
        tasks = (int)p.planes;
    p.per_task = (p.planes + tasks - 1) / tasks;
    pool_run(planes_task, &p, tasks);
    return 0;
}
