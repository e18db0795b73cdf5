#include "sgemm_unaligned.h"

#include "scratch.h"
#include "threadpool.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* A slice of B a thread copies at once: in L2 with room for the kernel's own panels. */
#define SLICE_BYTES ((size_t)512 << 10)
/* Below this many flops the product stays on one thread (sgemm.c's threshold). */
#define PARALLEL_MIN_FLOPS (1 << 22)
/* Column strips are whole micro-tiles (sgemm.c's widest). */
#define STRIP_ALIGN 32
/* Rows of op(B) per slice at least: with more than a GEMV's rows, the packed path's own KC, so
 * slicing adds no A packing; for a GEMV, enough to amortise a call. */
#define PACKED_MIN_KC 256
#define GEMV_MIN_KC 8

struct unaligned_job {
    const struct sgemm_job *job;
    const unsigned char *b;
    int64_t strip; /* columns per task */
    atomic_int failed;
};

/* Copies rows [p0, p0 + h) of op(B), columns [j0, j0 + w), from B's bytes into dst (ld w, or
 * ld h transposed when B is). */
static void copy_slice(float *dst, const struct sgemm_job *job, const unsigned char *b, int64_t p0, int64_t h,
                       int64_t j0, int64_t w)
{
    const size_t f = sizeof(float);
    if (job->trans_b) /* op(B) rows are B's columns: h floats from each of B's rows [j0, j0 + w) */
        for (int64_t j = 0; j < w; j++)
            memcpy(dst + j * h, b + (size_t)((j0 + j) * job->ldb + p0) * f, (size_t)h * f);
    else
        for (int64_t q = 0; q < h; q++)
            memcpy(dst + q * w, b + (size_t)((p0 + q) * job->ldb + j0) * f, (size_t)w * f);
}

/* Task index: columns [j0, j1) of C over every slice of k. The nested sgemm_run calls run on
 * this thread (the pool is busy with this very job). */
static void strip_task(void *ctx, int index)
{
    struct unaligned_job *u = ctx;
    const struct sgemm_job *job = u->job;
    int64_t j0 = (int64_t)index * u->strip, j1 = j0 + u->strip < job->n ? j0 + u->strip : job->n;
    if (j0 >= j1)
        return;
    int64_t w = j1 - j0, k = job->k;
    int64_t kc = (int64_t)(SLICE_BYTES / sizeof(float)) / w, kc_min = job->m > 4 ? PACKED_MIN_KC : GEMV_MIN_KC;
    if (kc < kc_min)
        kc = kc_min;
    if (kc > k)
        kc = k;
    float *slice = scratch_floats(SCRATCH_UNALIGNED_B, (size_t)(kc * w));
    if (!slice) {
        atomic_store(&u->failed, 1);
        return;
    }
    struct epilogue e;
    if (job->epi) { /* the strip's columns of the bias and the residual */
        e = *job->epi;
        if (e.bias && !e.bias_per_row)
            e.bias += j0;
        if (e.residual)
            e.residual += j0;
    }
    for (int64_t p0 = 0; p0 < k; p0 += kc) {
        int64_t h = k - p0 < kc ? k - p0 : kc;
        copy_slice(slice, job, u->b, p0, h, j0, w);
        struct sgemm_job s = *job;
        s.n = w;
        s.k = h;
        s.a = job->trans_a ? job->a + p0 * job->lda : job->a + p0;
        s.b = slice;
        s.ldb = job->trans_b ? h : w;
        s.packed_b = NULL;
        s.conv_b = NULL;
        s.beta = p0 ? 1.0f : job->beta; /* later slices add to what the first wrote */
        s.c = job->c + j0;
        s.epi = job->epi && p0 + h >= k ? &e : NULL; /* on the finished sums only */
        sgemm_run(&s);
    }
}

/* Whether sgemm_run will read the packed B and never job->b: packed for this product on the
 * micro-kernel in effect (sgemm_pack_bytes(1, 1) is one panel row of it). */
static int packed_fits(const struct sgemm_job *job)
{
    const struct sgemm_packed *pk = job->packed_b;
    return pk && pk->data && pk->k == job->k && pk->n == job->n &&
           (size_t)pk->nr * sizeof(float) == sgemm_pack_bytes(1, 1);
}

int sgemm_run_unaligned_b(const struct sgemm_job *job, const void *b_bytes)
{
    if (packed_fits(job)) { /* packed at load */
        struct sgemm_job s = *job;
        s.b = NULL;
        sgemm_run(&s);
        return 0;
    }
    if (job->m <= 0 || job->n <= 0 || job->k <= 0) { /* B is not read */
        struct sgemm_job s = *job;
        s.b = NULL;
        s.packed_b = NULL;
        s.conv_b = NULL;
        sgemm_run(&s);
        return 0;
    }
    double flops = (double)job->m * (double)job->n * (double)job->k;
    int64_t tiles = (job->n + STRIP_ALIGN - 1) / STRIP_ALIGN;
    int tasks = flops < PARALLEL_MIN_FLOPS ? 1 : pool_threads();
    if (tasks > tiles)
        tasks = (int)tiles;
    struct unaligned_job u = {.job = job, .b = b_bytes, .strip = (tiles + tasks - 1) / tasks * STRIP_ALIGN};
    atomic_init(&u.failed, 0);
    pool_run(strip_task, &u, tasks);
    return atomic_load(&u.failed) ? -1 : 0;
}

int sgemm_pack_unaligned(struct sgemm_packed *p, int trans_b, int64_t k, int64_t n, const void *b_bytes,
                         int64_t ldb)
{
    memset(p, 0, sizeof *p);
    if (k <= 0 || n <= 0)
        return sgemm_pack(p, trans_b, k, n, NULL, ldb);
    int64_t rows = trans_b ? n : k, cols = trans_b ? k : n;
    size_t floats = (size_t)((rows - 1) * ldb + cols);
    float *b = malloc(floats * sizeof *b);
    if (!b)
        return -1;
    memcpy(b, b_bytes, floats * sizeof *b);
    int rc = sgemm_pack(p, trans_b, k, n, b, ldb);
    free(b);
    return rc;
}
