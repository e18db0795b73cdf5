/* Depthwise 3x3 convolution by rows on AVX-512 (conv_depthwise.h). */
#include "conv_depthwise.h"

#include "cpu_isa.h"
#include "epilogue_simd.h"
#include "threadpool.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* Output rows summed together: they share the ROWS + 2 input rows they read (stride 2: ROWS2 rows,
 * 2·ROWS2 + 1 input rows). */
#define ROWS 4
#define ROWS2 2
/* Tasks per pool thread (the pool hands them out as threads come free). */
#define TASKS_PER_THREAD 4
/* Below this many multiply-adds the convolution stays on the calling thread. */
#define PARALLEL_MIN_FLOPS (1 << 17)

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

/* The channel's nine weights broadcast into k; returns its bias broadcast (zero when none, or when
 * the activation is Sigmoid or Gelu: epilogue_apply adds bias, residual and activation afterwards). */
__attribute__((target("avx512f"), always_inline)) static inline __m512
kernel_and_bias(const struct depthwise3 *d, const float *kw, int64_t ch, __m512 *k)
{
    for (int t = 0; t < 9; t++)
        k[t] = _mm512_set1_ps(kw[t]);
    const struct epilogue *e = d->epi;
    return e && e->bias && !epilogue_late(e) ? _mm512_set1_ps(e->bias[ch]) : _mm512_setzero_ps();
}

/* One output vector s at y + at (lanes in): the residual added, then the activation. */
__attribute__((target("avx512f"), always_inline)) static inline void store(const struct epilogue *e, float *y,
                                                                           const float *residual, int64_t at,
                                                                           __mmask16 in, __m512 s,
                                                                           const enum store_act act)
{
    if (residual)
        s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(in, residual + at));
    if (act == STORE_RELU)
        s = _mm512_max_ps(s, _mm512_setzero_ps());
    else if (act == STORE_OTHER)
        s = epilogue_act512(e, s);
    _mm512_mask_storeu_ps(y + at, in, s);
}

/* Output rows [h0, h0 + nr) (nr ≤ ROWS) of channel ch of one image (x, y, residual: that image's
 * channel planes), every vector of 16 columns left to right. Input row j of the group (h0 −
 * pad_top + j) is read only where it lies in the image (rm[j]); the vectors of a row slide
 * along, one new load per row and vector. */
__attribute__((target("avx512f"), always_inline)) static inline void
rows_act(const struct depthwise3 *d, const float *x, const __m512 *k, __m512 bias, float *y, const float *residual,
         int64_t h0, int64_t nr, const enum store_act act)
{
    const int64_t w = d->w, nv = (w + 15) / 16;
    const struct epilogue *e = d->epi;
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
        for (int o = 0; o < ROWS; o++)
            if (o < nr)
                store(e, y, residual, (h0 + o) * w + 16 * v, in, acc[o], act);
    }
}

/* Stride 2: output column i reads input columns 2i − 1, 2i, 2i + 1, so a vector of 16 outputs
 * takes 32 input pixels, split into the even and the odd columns (vpermt2ps); the left
 * neighbours are the odd ones one lane on, the last odd column of the vector before coming in.
 * Output row h reads input rows 2h − pad_top … 2h − pad_top + 2: ROWS2 output rows share
 * 2·ROWS2 + 1 input rows. */
__attribute__((target("avx512f"), always_inline)) static inline void
rows2_act(const struct depthwise3 *d, const float *x, const __m512 *k, __m512 bias, float *y, const float *residual,
          int64_t h0, int64_t nr, const enum store_act act)
{
    const int64_t w = d->w, wo = d->w_out, nv = (wo + 15) / 16;
    const struct epilogue *e = d->epi;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30),
                  odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    uintptr_t row[2 * ROWS2 + 1];
    __mmask16 rm[2 * ROWS2 + 1];
    __m512 odd_before[2 * ROWS2 + 1];
#pragma GCC unroll 5
    for (int j = 0; j < 2 * ROWS2 + 1; j++) {
        int64_t r = 2 * h0 - d->pad_top + j;
        rm[j] = r >= 0 && r < d->h_in ? (__mmask16)0xffff : 0;
        row[j] = (uintptr_t)(x + (rm[j] ? r * w : 0)); /* never read when outside */
        odd_before[j] = _mm512_setzero_ps();           /* column −1: padding */
    }
    for (int64_t v = 0; v < nv; v++) {
        __mmask16 in = lanes(wo - 16 * v), lo = lanes(w - 32 * v), hi = lanes(w - 32 * v - 16);
        __m512 acc[ROWS2];
#pragma GCC unroll 4
        for (int o = 0; o < ROWS2; o++)
            acc[o] = bias;
#pragma GCC unroll 5
        for (int j = 0; j < 2 * ROWS2 + 1; j++) {
            __m512 a = _mm512_maskz_loadu_ps(rm[j] & lo, (const void *)(row[j] + (uintptr_t)(128 * v))),
                   b = _mm512_maskz_loadu_ps(rm[j] & hi, (const void *)(row[j] + (uintptr_t)(128 * v + 64)));
            __m512 c = _mm512_permutex2var_ps(a, even, b), r = _mm512_permutex2var_ps(a, odd, b);
            __m512 l = left_of(r, odd_before[j]);
#pragma GCC unroll 4
            for (int o = 0; o < ROWS2; o++) {
                int t = j - 2 * o; /* kernel row */
                if (t < 0 || t > 2)
                    continue;
                acc[o] = _mm512_fmadd_ps(k[3 * t], l, acc[o]);
                acc[o] = _mm512_fmadd_ps(k[3 * t + 1], c, acc[o]);
                acc[o] = _mm512_fmadd_ps(k[3 * t + 2], r, acc[o]);
            }
            odd_before[j] = r;
        }
#pragma GCC unroll 4
        for (int o = 0; o < ROWS2; o++)
            if (o < nr)
                store(e, y, residual, (h0 + o) * wo + 16 * v, in, acc[o], act);
    }
}

/* Output rows [r0, r1) of channel ch of one image, ROWS (stride 2: ROWS2) at a time by rows_act or
 * rows2_act with the activation a constant: none, Relu, or any other. */
__attribute__((target("avx512f"))) static void rows_avx512(const struct depthwise3 *d, const float *x, const float *kw,
                                                           float *y, const float *residual, int64_t ch, int64_t r0,
                                                           int64_t r1)
{
    __m512 k[9];
    __m512 bias = kernel_and_bias(d, kw, ch, k);
    enum op_act act = d->epi && !epilogue_late(d->epi) ? d->epi->act : OP_ACT_NONE;
    enum store_act sa = act == OP_ACT_NONE ? STORE_PLAIN : act == OP_ACT_RELU ? STORE_RELU : STORE_OTHER;
    int64_t group = d->stride == 2 ? ROWS2 : ROWS;
    for (int64_t h0 = r0; h0 < r1; h0 += group) {
        int64_t nr = r1 - h0 < group ? r1 - h0 : group;
        if (d->stride == 2)
            switch (sa) {
            case STORE_PLAIN: rows2_act(d, x, k, bias, y, residual, h0, nr, STORE_PLAIN); break;
            case STORE_RELU: rows2_act(d, x, k, bias, y, residual, h0, nr, STORE_RELU); break;
            case STORE_OTHER: rows2_act(d, x, k, bias, y, residual, h0, nr, STORE_OTHER); break;
            }
        else
            switch (sa) {
            case STORE_PLAIN: rows_act(d, x, k, bias, y, residual, h0, nr, STORE_PLAIN); break;
            case STORE_RELU: rows_act(d, x, k, bias, y, residual, h0, nr, STORE_RELU); break;
            case STORE_OTHER: rows_act(d, x, k, bias, y, residual, h0, nr, STORE_OTHER); break;
            }
    }
}
#endif

/* Rows [r0, r1) of plane (image × channel). */
static void plane_rows(const struct depthwise3 *d, int64_t plane, int64_t r0, int64_t r1)
{
#if defined(__x86_64__)
    int64_t ch = plane % d->c, plane_in = d->h_in * d->w, plane_out = d->h_out * d->w_out;
    const struct epilogue *e = d->epi;
    int late = epilogue_late(e);
    const float *residual = e && e->residual && !late ? e->residual + plane * plane_out : NULL;
    rows_avx512(d, d->x + plane * plane_in, d->kernel + ch * 9, d->y + plane * plane_out, residual, ch, r0, r1);
    if (late) {
        /* Sigmoid, Gelu: on the stored rows while they are in cache, bias and residual with them */
        int64_t image = plane / d->c;
        struct epilogue img = *e;
        img.residual = e->residual ? e->residual + image * d->c * plane_out : NULL;
        epilogue_apply(&img, d->y + image * d->c * plane_out, plane_out, ch, r0 * d->w_out, 1, (r1 - r0) * d->w_out);
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
    if (!planes || !d->h_out || !d->w_out)
        return;
    double flops = 9.0 * (double)planes * (double)d->h_out * (double)d->w_out;
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

int conv_depthwise(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0], *wt = call->inputs[1], *bias = ops_input(call, 2);
    if (cpu_isa() < CPU_ISA_AVX512 || !backend_is_float(x) || !backend_is_float(wt) ||
        (bias && !backend_is_float(bias)) || x->rank != 4 || wt->rank != 4)
        return BACKEND_DECLINE;
    int64_t c = x->dims[1];
    if (ops_attr_int(call, "group", 1) != c || wt->dims[0] != c || wt->dims[1] != 1 || wt->dims[2] != 3 ||
        wt->dims[3] != 3 || (bias && (bias->rank != 1 || bias->dims[0] != c)))
        return BACKEND_DECLINE;
    struct ops_window win;
    if (backend_conv_window(call, &win, x, wt))
        return BACKEND_DECLINE;
    int hs = OPS_MAX_SPATIAL - 2, ws = OPS_MAX_SPATIAL - 1;
    int stride = (int)win.stride[ws];
    /* stride 1 writes rows as wide as it reads them */
    if (win.stride[hs] != stride || (stride != 1 && stride != 2) || win.dilation[hs] != 1 || win.dilation[ws] != 1 ||
        win.pad_begin[ws] != 1 || (stride == 1 && win.out[ws] != win.in[ws]))
        return BACKEND_DECLINE;
    int64_t dims[4] = {x->dims[0], c, win.out[hs], win.out[ws]};
    struct epilogue e;
    if (epilogue_from_call(call, &e, 4, dims, 1, c, bias ? bias->data : NULL, 1))
        return BACKEND_DECLINE;
    int rc = ops_alloc_output(call, 0, TENSOR_FLOAT, 4, dims);
    if (rc)
        return rc;
    e.ldr = dims[2] * dims[3];
    struct depthwise3 d = {.x = x->data,
                           .kernel = wt->data,
                           .y = call->outputs[0].data,
                           .batch = dims[0],
                           .c = c,
                           .h_in = win.in[hs],
                           .w = win.in[ws],
                           .h_out = dims[2],
                           .w_out = dims[3],
                           .stride = stride,
                           .pad_top = win.pad_begin[hs],
                           .epi = epilogue_active(&e) ? &e : NULL};
    conv_depthwise3(&d);
    return 0;
}
