/* Depthwise 3x3 convolution by rows on AVX-512 (conv_depthwise.h). */
#include "conv_depthwise.h"

#include "epilogue_simd.h"
#include "threadpool.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* Output rows summed together: they share the ROWS + 2 input rows they read. */
#define ROWS 4
/* Tasks per pool thread (the pool hands them out as threads come free). */
#define TASKS_PER_THREAD 4
/* Below this many multiply-adds the convolution stays on the calling thread. */
#define PARALLEL_MIN_FLOPS (1 << 20)

struct depthwise_run {
    const struct depthwise3 *d;
    int64_t tasks;     /* planes (image × channel) × bands, or ranges of whole planes */
    int64_t bands;     /* row bands a plane is split into */
    int64_t band_rows; /* output rows per band, a multiple of ROWS */
};

/* The activation a store applies, a constant in each copy of the row kernel. */
enum store_act { STORE_PLAIN, STORE_RELU, STORE_OTHER /* epilogue_act512 decides per vector */ };

#if defined(__x86_64__)
__attribute__((target("avx512f"))) static inline __mmask16 lanes(int64_t left)
{
    return left >= 16 ? (__mmask16)0xffff : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
}

/* [prev[15], cur[0..14]] and [cur[1..15], next[0]]: the pixels one column left and right. */
__attribute__((target("avx512f"))) static inline __m512 left_of(__m512 cur, __m512 prev)
{
    return _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(cur), _mm512_castps_si512(prev), 15));
}

__attribute__((target("avx512f"))) static inline __m512 right_of(__m512 next, __m512 cur)
{
    return _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(next), _mm512_castps_si512(cur), 1));
}

/* Output rows [h0, h0 + nr) (nr ≤ ROWS) of channel ch of one image (x, y, residual: that image's
 * channel planes), every vector of 16 columns left to right. Input row j of the group (h0 −
 * pad_top + j) is read only where it lies in the image (rm[j]); the vectors of a row slide
 * along, one new load per row and vector. */
__attribute__((target("avx512f"), always_inline)) static inline void
rows_act(const struct depthwise3 *d, const float *x, const float *kw, float *y, const float *residual, int64_t ch,
         int64_t h0, int64_t nr, const enum store_act act)
{
    const int64_t w = d->w, nv = (w + 15) / 16;
    const struct epilogue *e = d->epi;
    __m512 k[9];
    for (int t = 0; t < 9; t++)
        k[t] = _mm512_set1_ps(kw[t]);
    /* Sigmoid and Gelu (late) get bias, residual and activation from epilogue_apply afterwards */
    __m512 bias = e && e->bias && !epilogue_late(e) ? _mm512_set1_ps(e->bias[ch]) : _mm512_setzero_ps();
    uintptr_t row[ROWS + 2]; /* addresses: the vector past a row's end is formed, never read */
    __mmask16 rm[ROWS + 2];
    __m512 left[ROWS + 2], cur[ROWS + 2];
#pragma GCC unroll 6
    for (int j = 0; j < ROWS + 2; j++) {
        int64_t r = h0 - d->pad_top + j;
        rm[j] = r >= 0 && r < d->h_in ? (__mmask16)0xffff : 0;
        row[j] = (uintptr_t)(x + (rm[j] ? r * w : 0)); /* never read when outside */
        cur[j] = _mm512_maskz_loadu_ps(rm[j] & lanes(w), (const void *)row[j]);
        left[j] = left_of(cur[j], _mm512_setzero_ps());
    }
    for (int64_t v = 0; v < nv; v++) {
        __mmask16 in = lanes(w - 16 * v), next_lanes = lanes(w - 16 * (v + 1));
        __m512 acc[ROWS];
#pragma GCC unroll 4
        for (int o = 0; o < ROWS; o++)
            acc[o] = bias;
#pragma GCC unroll 6
        for (int j = 0; j < ROWS + 2; j++) {
            __m512 next = _mm512_maskz_loadu_ps(rm[j] & next_lanes, (const void *)(row[j] + (uintptr_t)(64 * (v + 1))));
            __m512 l = left[j], c = cur[j], r = right_of(next, c);
#pragma GCC unroll 4
            for (int o = 0; o < ROWS; o++) {
                int t = j - o; /* kernel row */
                if (t < 0 || t > 2)
                    continue;
                acc[o] = _mm512_fmadd_ps(k[3 * t], l, acc[o]);
                acc[o] = _mm512_fmadd_ps(k[3 * t + 1], c, acc[o]);
                acc[o] = _mm512_fmadd_ps(k[3 * t + 2], r, acc[o]);
            }
            left[j] = left_of(next, c);
            cur[j] = next;
        }
#pragma GCC unroll 4
        for (int o = 0; o < ROWS; o++) {
            if (o >= nr)
                break;
            int64_t at = (h0 + o) * w + 16 * v;
            __m512 s = acc[o];
            if (residual)
                s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(in, residual + at));
            if (act == STORE_RELU)
                s = _mm512_max_ps(s, _mm512_setzero_ps());
            else if (act == STORE_OTHER)
                s = epilogue_act512(e, s);
            _mm512_mask_storeu_ps(y + at, in, s);
        }
    }
}

/* rows_act with the activation a constant: none, Relu, or any other. */
__attribute__((target("avx512f"))) static void rows_avx512(const struct depthwise3 *d, const float *x, const float *kw,
                                                           float *y, const float *residual, int64_t ch, int64_t h0,
                                                           int64_t nr)
{
    enum op_act act = d->epi && !epilogue_late(d->epi) ? d->epi->act : OP_ACT_NONE;
    if (act == OP_ACT_NONE)
        rows_act(d, x, kw, y, residual, ch, h0, nr, STORE_PLAIN);
    else if (act == OP_ACT_RELU)
        rows_act(d, x, kw, y, residual, ch, h0, nr, STORE_RELU);
    else
        rows_act(d, x, kw, y, residual, ch, h0, nr, STORE_OTHER);
}
#endif

/* Rows [r0, r1) of plane (image × channel). */
static void plane_rows(const struct depthwise3 *d, int64_t plane, int64_t r0, int64_t r1)
{
#if defined(__x86_64__)
    int64_t ch = plane % d->c, plane_in = d->h_in * d->w, plane_out = d->h_out * d->w;
    const struct epilogue *e = d->epi;
    int late = epilogue_late(e);
    const float *residual = e && e->residual && !late ? e->residual + plane * plane_out : NULL;
    for (int64_t h0 = r0; h0 < r1; h0 += ROWS)
        rows_avx512(d, d->x + plane * plane_in, d->kernel + ch * 9, d->y + plane * plane_out, residual, ch, h0,
                    r1 - h0 < ROWS ? r1 - h0 : ROWS);
    if (late) {
        /* Sigmoid, Gelu: on the stored rows while they are in cache, bias and residual with them */
        int64_t image = plane / d->c;
        struct epilogue img = *e;
        img.residual = e->residual ? e->residual + image * d->c * plane_out : NULL;
        epilogue_apply(&img, d->y + image * d->c * plane_out, plane_out, ch, r0 * d->w, 1, (r1 - r0) * d->w);
    }
#else
    (void)d;
    (void)plane;
    (void)r0;
    (void)r1;
#endif
}

/* Task index: a band of one plane's rows, or (one band a plane) a range of whole planes. */
static void depthwise_task(void *ctx, int index)
{
    const struct depthwise_run *run = ctx;
    const struct depthwise3 *d = run->d;
    if (run->bands > 1) {
        int64_t r0 = (index % run->bands) * run->band_rows;
        plane_rows(d, index / run->bands, r0, r0 + run->band_rows < d->h_out ? r0 + run->band_rows : d->h_out);
        return;
    }
    int64_t planes = d->batch * d->c;
    for (int64_t p = planes * index / run->tasks; p < planes * (index + 1) / run->tasks; p++)
        plane_rows(d, p, 0, d->h_out);
}

void conv_depthwise3(const struct depthwise3 *d)
{
    int64_t planes = d->batch * d->c;
    if (!planes || !d->h_out || !d->w)
        return;
    double flops = 9.0 * (double)planes * (double)d->h_out * (double)d->w;
    int threads = flops < PARALLEL_MIN_FLOPS ? 1 : pool_threads();
    int64_t want = threads > 1 ? (int64_t)threads * TASKS_PER_THREAD : 1;
    int64_t groups = (d->h_out + ROWS - 1) / ROWS;
    int64_t bands = planes >= want ? 1 : (want + planes - 1) / planes;
    if (bands > groups)
        bands = groups;
    struct depthwise_run run = {.d = d, .band_rows = (groups + bands - 1) / bands * ROWS};
    run.bands = (d->h_out + run.band_rows - 1) / run.band_rows;
    run.tasks = run.bands > 1 ? planes * run.bands : planes < want ? planes : want;
    pool_run(depthwise_task, &run, (int)run.tasks);
}
