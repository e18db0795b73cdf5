/* Depthwise 3x3 and 5x5 convolutions by rows on AVX-512 (conv_depthwise.h). */
#include "conv_depthwise.h"

#include "cpu_isa.h"
#include "epilogue_simd.h"
#include "threadpool.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* Output rows summed together (they share the input rows they read), by stride: as many as the
 * registers hold beside each row's sliding vectors (stride 1) or the sums (stride 2). */
#define GROUP_ROWS(S) ((S) == 1 ? 4 : 2)
#define MAX_GROUP_ROWS 4
/* Sums kept per output row (kernel rows alternating between them): FMAs take 4 cycles and issue
 * one a cycle, so a group needs about four chains at once (a 5x5 row's 25 products in one chain
 * waited on each other). */
#define ROW_SUMS(S) ((S) == 2 ? 2 : 1)
#define MAX_ROW_SUMS 2
/* Input rows a group reads at most (stride 1, 5x5: 4 + 4; stride 2, 5x5: 2·2 + 3). */
#define MAX_INPUT_ROWS 8
/* Tasks per pool thread (the pool hands them out as threads come free). */
#define TASKS_PER_THREAD 4
/* Below this many multiply-adds the convolution stays on the calling thread. */
#define PARALLEL_MIN_FLOPS (1 << 17)

struct depthwise_run {
    const struct depthwise_conv *d;
    int64_t tasks;     /* planes (image × channel) × bands, or ranges of whole planes */
    int64_t bands;     /* row bands a plane is split into */
    int64_t band_rows; /* output rows per band, a multiple of every group of rows */
};

/* The activation a store applies, a constant in each copy of the row kernel. */
enum store_act { STORE_PLAIN, STORE_RELU, STORE_OTHER /* epilogue_act512 decides per vector */ };

#if defined(__x86_64__)
__attribute__((target("avx512f"))) static inline __mmask16 lanes(int64_t left)
{
    return left >= 16 ? (__mmask16)0xffff : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
}

/* The pixels n columns left (n < 0, prev the vector before cur) or right (n > 0, next the vector
 * after) of cur's, n from −2 to 2: one valignd. */
__attribute__((target("avx512f"), always_inline)) static inline __m512 shifted(__m512 prev, __m512 cur, __m512 next,
                                                                               const int n)
{
    __m512i p = _mm512_castps_si512(prev), c = _mm512_castps_si512(cur), x = _mm512_castps_si512(next);
    switch (n) {
    case -2: return _mm512_castsi512_ps(_mm512_alignr_epi32(c, p, 14));
    case -1: return _mm512_castsi512_ps(_mm512_alignr_epi32(c, p, 15));
    case 1: return _mm512_castsi512_ps(_mm512_alignr_epi32(x, c, 1));
    case 2: return _mm512_castsi512_ps(_mm512_alignr_epi32(x, c, 2));
    default: return cur;
    }
}

/* The channel's K·K weights broadcast into k; returns its bias broadcast (zero when none, or when
 * the activation is Sigmoid or Gelu: epilogue_apply adds bias, residual and activation afterwards). */
__attribute__((target("avx512f"), always_inline)) static inline __m512
kernel_and_bias(const struct depthwise_conv *d, const float *kw, int64_t ch, __m512 *k)
{
    for (int t = 0; t < d->k * d->k; t++)
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

/* The sums of a group's R output rows, Q per row (kernel rows alternating between them), for the
 * vector at hand: they start from the bias. */
__attribute__((target("avx512f"), always_inline)) static inline void
sums_start(__m512 acc[MAX_GROUP_ROWS][MAX_ROW_SUMS], __m512 bias, const int R, const int Q)
{
#pragma GCC unroll 4
    for (int o = 0; o < R; o++)
#pragma GCC unroll 2
        for (int q = 0; q < Q; q++)
            acc[o][q] = q ? _mm512_setzero_ps() : bias;
}

/* Input row j of the group, its K column neighbours nb (from K/2 left to K/2 right), into every
 * output row that reads it: output row o through kernel row j − S·o. */
__attribute__((target("avx512f"), always_inline)) static inline void
sums_add_row(__m512 acc[MAX_GROUP_ROWS][MAX_ROW_SUMS], const __m512 *k, const __m512 *nb, int j, const int S,
             const int K, const int R, const int Q)
{
#pragma GCC unroll 4
    for (int o = 0; o < R; o++) {
        int t = j - S * o; /* kernel row */
        if (t < 0 || t >= K)
            continue;
#pragma GCC unroll 5
        for (int u = 0; u < K; u++)
            acc[o][t % Q] = _mm512_fmadd_ps(k[t * K + u], nb[u], acc[o][t % Q]);
    }
}

/* The group's first nr rows at output column 16·v (lanes in) of y (rows wo wide). */
__attribute__((target("avx512f"), always_inline)) static inline void
sums_store(const struct depthwise_conv *d, __m512 acc[MAX_GROUP_ROWS][MAX_ROW_SUMS], float *y, const float *residual,
           int64_t h0, int64_t nr, int64_t v, __mmask16 in, const enum store_act act, const int R, const int Q)
{
#pragma GCC unroll 4
    for (int o = 0; o < R; o++)
        if (o < nr) {
#pragma GCC unroll 2
            for (int q = 1; q < Q; q++)
                acc[o][0] = _mm512_add_ps(acc[o][0], acc[o][q]);
            store(d->epi, y, residual, (h0 + o) * d->w_out + 16 * v, in, acc[o][0], act);
        }
}

/* Input row j of the group starting at output row h0 (stride S): its address, and all lanes or
 * none as it lies in the image or not (a row outside is never read). */
__attribute__((target("avx512f"), always_inline)) static inline __mmask16
input_row(const struct depthwise_conv *d, const float *x, int64_t h0, int j, const int S, uintptr_t *at)
{
    int64_t r = S * h0 - d->pad_top + j;
    int inside = r >= 0 && r < d->h_in;
    *at = (uintptr_t)(x + (inside ? r * d->w : 0));
    return inside ? (__mmask16)0xffff : 0;
}

/* Stride 1, a K×K kernel (K 3 or 5, a constant once inlined): output rows [h0, h0 + nr) (nr ≤ R)
 * of one channel of one image (x, y, residual: that image's channel planes), every vector of 16
 * columns left to right. The R + K − 1 input rows the group reads each slide along as three
 * vectors (the one before, the current, the next): one new load per row and vector, the
 * neighbours made by valignd, and each input vector feeds up to K rows' sums. */
__attribute__((target("avx512f"), always_inline)) static inline void
rows_s1(const struct depthwise_conv *d, const float *x, const __m512 *k, __m512 bias, float *y, const float *residual,
        int64_t h0, int64_t nr, const enum store_act act, const int K)
{
    const int R = GROUP_ROWS(1), Q = ROW_SUMS(1), N = R + K - 1, P = K / 2;
    const int64_t w = d->w, nv = (w + 15) / 16;
    uintptr_t row[MAX_INPUT_ROWS]; /* addresses: the vector past a row's end is formed, never read */
    __mmask16 rm[MAX_INPUT_ROWS];
    __m512 prev[MAX_INPUT_ROWS], cur[MAX_INPUT_ROWS];
#pragma GCC unroll 8
    for (int j = 0; j < N; j++) {
        rm[j] = input_row(d, x, h0, j, 1, &row[j]);
        prev[j] = _mm512_setzero_ps(); /* the columns left of the image: padding */
        cur[j] = _mm512_maskz_loadu_ps(rm[j] & lanes(w), (const void *)row[j]);
    }
    for (int64_t v = 0; v < nv; v++) {
        __mmask16 in = lanes(w - 16 * v), next_lanes = lanes(w - 16 * (v + 1));
        __m512 acc[MAX_GROUP_ROWS][MAX_ROW_SUMS];
        sums_start(acc, bias, R, Q);
#pragma GCC unroll 8
        for (int j = 0; j < N; j++) {
            __m512 next = _mm512_maskz_loadu_ps(rm[j] & next_lanes, (const void *)(row[j] + (uintptr_t)(64 * (v + 1))));
            __m512 nb[5];
#pragma GCC unroll 5
            for (int u = 0; u < K; u++)
                nb[u] = shifted(prev[j], cur[j], next, u - P);
            sums_add_row(acc, k, nb, j, 1, K, R, Q);
            prev[j] = cur[j];
            cur[j] = next;
        }
        sums_store(d, acc, y, residual, h0, nr, v, in, act, R, Q);
    }
}

/* Stride 2: output column i reads input columns 2i − K/2 … 2i + K/2, so a vector of 16 outputs
 * takes 32 input pixels, split into the even and the odd columns (vpermt2ps): 2i and 2i + 1 as
 * they are, 2i − 1 and 2i − 2 the odd and even ones one lane on with the column before the pair
 * coming in, 2i + 2 the even ones one lane back with the column after it (those columns broadcast
 * from memory: nothing carried from vector to vector, so the registers hold more rows). Output
 * row h reads input rows 2h − pad_top … 2h − pad_top + K − 1: R output rows share 2R + K − 2 input
 * rows. */
__attribute__((target("avx512f"), always_inline)) static inline void
rows_s2(const struct depthwise_conv *d, const float *x, const __m512 *k, __m512 bias, float *y, const float *residual,
        int64_t h0, int64_t nr, const enum store_act act, const int K)
{
    const int R = GROUP_ROWS(2), Q = ROW_SUMS(2), N = 2 * R + K - 2, P = K / 2;
    const int64_t w = d->w, wo = d->w_out, nv = (wo + 15) / 16;
    const __m512i even_lanes = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30),
                  odd_lanes = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    static const float padding[2]; /* the columns outside the image */
    uintptr_t row[MAX_INPUT_ROWS];
    __mmask16 rm[MAX_INPUT_ROWS];
#pragma GCC unroll 8
    for (int j = 0; j < N; j++)
        rm[j] = input_row(d, x, h0, j, 2, &row[j]);
    for (int64_t v = 0; v < nv; v++) {
        __mmask16 in = lanes(wo - 16 * v), lo = lanes(w - 32 * v), hi = lanes(w - 32 * v - 16);
        __m512 acc[MAX_GROUP_ROWS][MAX_ROW_SUMS];
        sums_start(acc, bias, R, Q);
#pragma GCC unroll 8
        for (int j = 0; j < N; j++) {
            const float *pair = (const float *)(row[j] + (uintptr_t)(128 * v));
            __m512 a = _mm512_maskz_loadu_ps(rm[j] & lo, pair), b = _mm512_maskz_loadu_ps(rm[j] & hi, pair + 16);
            __m512 even = _mm512_permutex2var_ps(a, even_lanes, b), odd = _mm512_permutex2var_ps(a, odd_lanes, b);
            /* columns 32v − 2 and 32v − 1, and 32v + 32 */
            const float *before = rm[j] && v ? pair - 2 : padding,
                        *after = rm[j] && 32 * v + 32 < w ? pair + 32 : padding;
            __m512 nb[5];
            nb[P - 1] = shifted(_mm512_set1_ps(before[1]), odd, odd, -1);
            nb[P] = even;
            nb[P + 1] = odd;
            if (K == 5) {
                nb[0] = shifted(_mm512_set1_ps(before[0]), even, even, -1);
                nb[4] = shifted(even, even, _mm512_set1_ps(after[0]), 1);
            }
            sums_add_row(acc, k, nb, j, 2, K, R, Q);
        }
        sums_store(d, acc, y, residual, h0, nr, v, in, act, R, Q);
    }
}

/* Output rows [r0, r1) of channel ch of one image, a group of rows at a time by rows_s1 or rows_s2
 * for this stride and kernel, with the activation a constant: none, Relu, or any other. */
#define ROWS_FOR(FN, K)                                                                                                \
    switch (sa) {                                                                                                      \
    case STORE_PLAIN: FN(d, x, k, bias, y, residual, h0, nr, STORE_PLAIN, K); break;                                   \
    case STORE_RELU: FN(d, x, k, bias, y, residual, h0, nr, STORE_RELU, K); break;                                     \
    case STORE_OTHER: FN(d, x, k, bias, y, residual, h0, nr, STORE_OTHER, K); break;                                   \
    }
__attribute__((target("avx512f"))) static void rows_avx512(const struct depthwise_conv *d, const float *x,
                                                           const float *kw, float *y, const float *residual, int64_t ch,
                                                           int64_t r0, int64_t r1)
{
    __m512 k[25];
    __m512 bias = kernel_and_bias(d, kw, ch, k);
    enum op_act act = d->epi && !epilogue_late(d->epi) ? d->epi->act : OP_ACT_NONE;
    enum store_act sa = act == OP_ACT_NONE ? STORE_PLAIN : act == OP_ACT_RELU ? STORE_RELU : STORE_OTHER;
    int64_t group = GROUP_ROWS(d->stride);
    for (int64_t h0 = r0; h0 < r1; h0 += group) {
        int64_t nr = r1 - h0 < group ? r1 - h0 : group;
        if (d->stride == 1 && d->k == 3)
            ROWS_FOR(rows_s1, 3)
        else if (d->stride == 1)
            ROWS_FOR(rows_s1, 5)
        else if (d->k == 3)
            ROWS_FOR(rows_s2, 3)
        else
            ROWS_FOR(rows_s2, 5)
    }
}
#undef ROWS_FOR
#endif

/* Rows [r0, r1) of plane (image × channel). */
static void plane_rows(const struct depthwise_conv *d, int64_t plane, int64_t r0, int64_t r1)
{
#if defined(__x86_64__)
    int64_t ch = plane % d->c, plane_in = d->h_in * d->w, plane_out = d->h_out * d->w_out;
    const struct epilogue *e = d->epi;
    int late = epilogue_late(e);
    const float *residual = e && e->residual && !late ? e->residual + plane * plane_out : NULL;
    rows_avx512(d, d->x + plane * plane_in, d->kernel + ch * d->k * d->k, d->y + plane * plane_out, residual, ch, r0,
                r1);
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
    const struct depthwise_conv *d = run->d;
    if (run->bands > 1) {
        int64_t r0 = (index % run->bands) * run->band_rows;
        plane_rows(d, index / run->bands, r0, r0 + run->band_rows < d->h_out ? r0 + run->band_rows : d->h_out);
        return;
    }
    int64_t planes = d->batch * d->c;
    for (int64_t p = planes * index / run->tasks; p < planes * (index + 1) / run->tasks; p++)
        plane_rows(d, p, 0, d->h_out);
}

void conv_depthwise_run(const struct depthwise_conv *d)
{
    int64_t planes = d->batch * d->c;
    if (!planes || !d->h_out || !d->w_out)
        return;
    double flops = (double)(d->k * d->k) * (double)planes * (double)d->h_out * (double)d->w_out;
    int threads = flops < PARALLEL_MIN_FLOPS ? 1 : pool_threads();
    int64_t want = threads > 1 ? (int64_t)threads * TASKS_PER_THREAD : 1;
    int64_t groups = (d->h_out + MAX_GROUP_ROWS - 1) / MAX_GROUP_ROWS;
    int64_t bands = planes >= want ? 1 : (want + planes - 1) / planes;
    if (bands > groups)
        bands = groups;
    struct depthwise_run run = {.d = d, .band_rows = (groups + bands - 1) / bands * MAX_GROUP_ROWS};
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
    int64_t k = wt->dims[2];
    if (ops_attr_int(call, "group", 1) != c || wt->dims[0] != c || wt->dims[1] != 1 || (k != 3 && k != 5) ||
        wt->dims[3] != k || (bias && (bias->rank != 1 || bias->dims[0] != c)))
        return BACKEND_DECLINE;
    struct ops_window win;
    if (backend_conv_window(call, &win, x, wt))
        return BACKEND_DECLINE;
    int hs = OPS_MAX_SPATIAL - 2, ws = OPS_MAX_SPATIAL - 1;
    int stride = (int)win.stride[ws];
    /* stride 1 writes rows as wide as it reads them */
    if (win.stride[hs] != stride || (stride != 1 && stride != 2) || win.dilation[hs] != 1 || win.dilation[ws] != 1 ||
        win.pad_begin[ws] != k / 2 || (stride == 1 && win.out[ws] != win.in[ws]))
        return BACKEND_DECLINE;
    int64_t dims[4] = {x->dims[0], c, win.out[hs], win.out[ws]};
    struct epilogue e;
    if (epilogue_from_call(call, &e, 4, dims, 1, c, bias ? bias->data : NULL, 1))
        return BACKEND_DECLINE;
    int rc = ops_alloc_output(call, 0, TENSOR_FLOAT, 4, dims);
    if (rc)
        return rc;
    e.ldr = dims[2] * dims[3];
    struct depthwise_conv d = {.x = x->data, .kernel = wt->data, .y = call->outputs[0].data};
    d.batch = dims[0], d.c = c, d.h_in = win.in[hs], d.w = win.in[ws], d.h_out = dims[2], d.w_out = dims[3];
    d.k = (int)k, d.stride = stride, d.pad_top = win.pad_begin[hs], d.epi = epilogue_active(&e) ? &e : NULL;
    conv_depthwise_run(&d);
    return 0;
}
