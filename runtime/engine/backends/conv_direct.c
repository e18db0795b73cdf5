/* Direct stride-1 convolution on AVX-512 (conv_direct.h). */
#include "conv_direct.h"

#include "common/err.h"
#include "conv_winograd.h"
#include "cpu_isa.h"
#include "epilogue_simd.h"
#include "pack_budget.h"
#include "scratch.h"
#include "threadpool.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* Output channels per tile (the packed weights' block), vectors of 16 pixels per tile. */
#define OCB 8
#define NV 3
#define TILE (16 * NV)
/* Channels a depthwise tile sums at once. */
#define DW_CHANNELS 4
/* Input channels a tile sums tap by tap before the next group. */
#define CHANNEL_GROUP 8
/* Kernel taps the tile's masks are kept for (up to 5x5). */
#define MAX_TAPS 25
/* Tiles whose masks are computed together; their input (all channels) is kept to about this many
 * bytes so it stays in L2 while every block of output channels passes over it. */
#define MAX_BLOCK_TILES 64
#define BLOCK_BYTES (160 << 10)
/* Tasks a convolution is split into per pool thread. */
#define TASKS_PER_THREAD 4
/* Output planes below this many pixels use Winograd only with weights transformed at load. */
#define WINOGRAD_PER_CALL_MIN_PLANE 1024
/* Below this many multiply-adds a convolution stays on the calling thread. */
#define PARALLEL_MIN_FLOPS (1 << 21)

/* Weights [m, c, kh, kw] in blocks of OCB output channels: block b, tap t, input channel i holds
 * the OCB weights w[b·OCB + o, i, t] side by side (zero past m), so the tile reads them in order. */
struct direct_pack {
    struct op_cache base;
    const void *w; /* the initializer's bytes it was packed from */
    int64_t m, c, taps;
    float *data;
    float *wino; /* the 3x3 weights transformed for conv_winograd.c, or NULL */
};

static size_t pack_floats(int64_t m, int64_t c, int64_t taps)
{
    return (size_t)((m + OCB - 1) / OCB * OCB * c * taps);
}

static void pack_weights(float *dst, const float *w, int64_t m, int64_t c, int64_t taps)
{
    for (int64_t b = 0; b < (m + OCB - 1) / OCB; b++)
        for (int64_t t = 0; t < taps; t++)
            for (int64_t i = 0; i < c; i++)
                for (int o = 0; o < OCB; o++) {
                    int64_t oc = b * OCB + o;
                    *dst++ = oc < m ? w[(oc * c + i) * taps + t] : 0.0f;
                }
}

static void direct_pack_free(struct op_cache *self)
{
    struct direct_pack *p = (struct direct_pack *)self;
    pack_budget_give(pack_floats(p->m, p->c, p->taps) * sizeof(float));
    if (p->wino)
        pack_budget_give(conv_winograd_weights_floats(p->m, p->c) * sizeof(float));
    free(p->data);
    free(p->wino);
    free(p);
}

/* Whether the node's attributes allow the direct kernel whatever the input's size: 2-D, stride 1,
 * a kernel of at most MAX_TAPS taps, one group (or, with depthwise, one group per output channel). */
static int attrs_fit(const struct op_call *call, const struct tensor *wt, int depthwise)
{
    int64_t group = ops_attr_int(call, "group", 1);
    if (wt->rank != 4 || wt->dims[0] < 1 || wt->dims[1] < 1 || wt->dims[2] < 1 || wt->dims[3] < 1 ||
        wt->dims[2] * wt->dims[3] > MAX_TAPS || (depthwise ? group != wt->dims[0] || wt->dims[1] != 1 : group != 1))
        return 0;
    size_t n;
    const int64_t *st = ops_attr_ints(call, "strides", &n);
    for (size_t i = 0; st && i < n; i++)
        if (st[i] != 1)
            return 0;
    return 1;
}

/* Whether the node is a 3x3 undilated convolution with the channels conv_winograd.c wants (the
 * plane's size and the epilogue are checked per call). */
static int winograd_kernel(const struct op_call *call, const struct tensor *wt)
{
    size_t n;
    const int64_t *dil = ops_attr_ints(call, "dilations", &n);
    for (size_t i = 0; dil && i < n; i++)
        if (dil[i] != 1)
            return 0;
    return ops_attr_int(call, "group", 1) == 1 && wt->rank == 4 && wt->dims[2] == 3 && wt->dims[3] == 3 &&
           conv_winograd_channels_fit(wt->dims[1], wt->dims[0]);
}

void conv_direct_prepare(const struct backend_node *info, _Atomic(struct op_cache *) *cache)
{
    if (cpu_isa() < CPU_ISA_AVX512 || info->n_inputs < 2 || atomic_load(cache))
        return;
    const struct tensor *wt = info->inputs[1];
    struct op_call call = {.node = info->node};
    if (!wt || !wt->data || !backend_is_float(wt) || !attrs_fit(&call, wt, 0))
        return;
    int64_t m = wt->dims[0], c = wt->dims[1], taps = wt->dims[2] * wt->dims[3];
    if (c > ((int64_t)1 << 24) / taps || m > ((int64_t)1 << 24))
        return;
    size_t bytes = pack_floats(m, c, taps) * sizeof(float);
    if (!pack_budget_take(bytes))
        return;
    struct direct_pack *p = calloc(1, sizeof *p);
    float *data = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!p || !data) {
        pack_budget_give(bytes);
        free(p);
        free(data);
        return;
    }
    pack_weights(data, wt->data, m, c, taps);
    *p = (struct direct_pack){.base = {.free = direct_pack_free}, .w = wt->data, .m = m, .c = c, .taps = taps,
                              .data = data};
    if (winograd_kernel(&call, wt)) {
        size_t wbytes = conv_winograd_weights_floats(m, c) * sizeof(float);
        if (pack_budget_take(wbytes)) {
            p->wino = aligned_alloc(64, (wbytes + 63) / 64 * 64);
            if (p->wino)
                conv_winograd_weights(p->wino, wt->data, m, c);
            else
                pack_budget_give(wbytes);
        }
    }
    struct op_cache *expected = NULL;
    if (!atomic_compare_exchange_strong(cache, &expected, &p->base))
        direct_pack_free(&p->base);
}

/* The weights packed at load for this call (Winograd's: wino), or NULL. */
static const float *packed_for(const struct op_call *call, const struct tensor *wt, int wino)
{
    if (!call->cache || !(call->constant_inputs & 2))
        return NULL;
    const struct op_cache *c = atomic_load(call->cache);
    if (!c || c->free != direct_pack_free)
        return NULL;
    const struct direct_pack *p = (const struct direct_pack *)c;
    return p->w == wt->data && p->m == wt->dims[0] && p->c == wt->dims[1] && p->taps == wt->dims[2] * wt->dims[3]
               ? (wino ? p->wino : p->data)
               : NULL;
}

struct direct {
    const float *x;
    const float *wp; /* packed (direct_pack's layout), or a depthwise kernel's [channels, taps] as it lies */
    float *y;
    int64_t c, m, h_in, w, h_out, plane_in, plane_out;
    int taps;
    int depthwise; /* one input channel per output channel (c = m) */
    int64_t off[MAX_TAPS]; /* input offset of tap t from the output pixel, in the flattened plane */
    int64_t dh[MAX_TAPS], dw[MAX_TAPS];
    const struct epilogue *epi; /* bias per output channel, residual, activation; NULL: none */
    int64_t tiles, tasks_per_image, block_tiles;
};

#if defined(__x86_64__)
/* masks[v · MAX_TAPS + t]: the lanes of vector v of tile i whose tap t reads inside the input
 * (and whose pixel is inside the plane). Row and column of each lane by float division, corrected
 * by one either way (exact while the plane's sizes fit in 2^30). */
__attribute__((target("avx512f"))) static void tile_masks(const struct direct *d, int64_t i, uint16_t *masks)
{
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i w = _mm512_set1_epi32((int)d->w), h_in = _mm512_set1_epi32((int)d->h_in);
    const __m512 inv_w = _mm512_set1_ps(1.0f / (float)d->w);
    for (int v = 0; v < NV; v++) {
        int64_t p0 = i * TILE + 16 * v, left = d->plane_out - p0;
        __mmask16 in_plane = left >= 16 ? (__mmask16)0xffff : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
        uint16_t *mv = masks + v * MAX_TAPS;
        if (!in_plane) {
            memset(mv, 0, (size_t)d->taps * sizeof *mv);
            continue;
        }
        __m512i q = _mm512_add_epi32(_mm512_set1_epi32((int)(p0 % d->w)), lane); /* column before wrapping */
        __m512i rows = _mm512_cvttps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(q), inv_w));
        __m512i col = _mm512_sub_epi32(q, _mm512_mullo_epi32(rows, w));
        __mmask16 under = _mm512_cmplt_epi32_mask(col, _mm512_setzero_si512());
        rows = _mm512_mask_sub_epi32(rows, under, rows, _mm512_set1_epi32(1));
        col = _mm512_mask_add_epi32(col, under, col, w);
        __mmask16 over = _mm512_cmpge_epi32_mask(col, w);
        rows = _mm512_mask_add_epi32(rows, over, rows, _mm512_set1_epi32(1));
        col = _mm512_mask_sub_epi32(col, over, col, w);
        rows = _mm512_add_epi32(rows, _mm512_set1_epi32((int)(p0 / d->w)));
        for (int t = 0; t < d->taps; t++) {
            __mmask16 ok = _mm512_mask_cmplt_epu32_mask(
                in_plane, _mm512_add_epi32(rows, _mm512_set1_epi32((int)d->dh[t])), h_in);
            mv[t] = (uint16_t)_mm512_mask_cmplt_epu32_mask(ok, _mm512_add_epi32(col, _mm512_set1_epi32((int)d->dw[t])),
                                                           w);
        }
    }
}

/* act(r + bias + residual) for output channel oc, vector at pixel p of an image (residual: that
 * image's), the lanes st. */
__attribute__((target("avx512f"))) static inline __m512 epi512(const struct epilogue *e, __m512 r, int64_t oc,
                                                                const float *residual, int64_t at, __mmask16 st)
{
    if (e->bias)
        r = _mm512_add_ps(r, _mm512_set1_ps(e->bias[oc]));
    if (residual)
        r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(st, residual + at));
    return epilogue_act512(e, r);
}

/* One tile: output channels [oc0, oc0 + OCB) × pixels [p0, p0 + TILE) of one image, summed over
 * every input channel and tap; nt: the taps when a constant, 0 for d->taps. Then the epilogue (in registers, except
 * Sigmoid and Gelu, which epilogue_apply computes on the stored tile) and one masked store per
 * vector. */
__attribute__((target("avx512f"), always_inline)) static inline void
tile_avx512(const struct direct *d, const float *x, const float *wb, const uint16_t *masks, int64_t p0, int64_t oc0,
            float *y, const float *residual, const int nt, const int whole)
{
    const struct epilogue *e = d->epi;
    int late = epilogue_late(e);
    int64_t rows = d->m - oc0 < OCB ? d->m - oc0 : OCB, n = d->plane_out - p0 < TILE ? d->plane_out - p0 : TILE;
    /* the sums start from the bias (except for Sigmoid and Gelu, whose epilogue_apply adds it) */
    const float *bt = e && !late && e->bias ? e->bias + oc0 : NULL;
    __m512 a[OCB][NV];
#pragma GCC unroll 8
    for (int o = 0; o < OCB; o++) {
        __m512 bias = bt && o < rows ? _mm512_set1_ps(bt[o]) : _mm512_setzero_ps();
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++)
            a[o][v] = bias;
    }
    int taps = nt ? nt : d->taps;
    int64_t c = d->c, step = d->plane_in * (int64_t)sizeof(float);
    /* a tap's first input pixel may lie before the plane: its lanes are masked, never read */
    uintptr_t xa = (uintptr_t)x + (uintptr_t)(p0 * (int64_t)sizeof(float));
    /* CHANNEL_GROUP channels at a time (their rows stay in L1; with one tap, all), tap by tap: the
     * tap's three masks stay in mask registers while the group's channels pass */
    const int64_t group = taps == 1 ? c : CHANNEL_GROUP;
    for (int64_t i0 = 0; i0 < c; i0 += group, xa += (uintptr_t)(step * group)) {
        int64_t cn = c - i0 < group ? c - i0 : group;
#pragma GCC unroll 1
        for (int t = 0; t < taps; t++) {
            __mmask16 k0 = masks[t], k1 = masks[MAX_TAPS + t], k2 = masks[2 * MAX_TAPS + t];
            uintptr_t xt = xa + (uintptr_t)(d->off[t] * (int64_t)sizeof(float));
            const float *wt = wb + (t * c + i0) * OCB;
#pragma GCC unroll 2
            for (int64_t j = 0; j < cn; j++, xt += (uintptr_t)step, wt += OCB) {
                __m512 v0 = whole ? _mm512_loadu_ps((const void *)xt) : _mm512_maskz_loadu_ps(k0, (const void *)xt),
                       v1 = whole ? _mm512_loadu_ps((const void *)(xt + 64))
                                  : _mm512_maskz_loadu_ps(k1, (const void *)(xt + 64)),
                       v2 = whole ? _mm512_loadu_ps((const void *)(xt + 128))
                                  : _mm512_maskz_loadu_ps(k2, (const void *)(xt + 128));
#pragma GCC unroll 8
                for (int o = 0; o < OCB; o++) {
                    __m512 b = _mm512_set1_ps(wt[o]);
                    a[o][0] = _mm512_fmadd_ps(b, v0, a[o][0]);
                    a[o][1] = _mm512_fmadd_ps(b, v1, a[o][1]);
                    a[o][2] = _mm512_fmadd_ps(b, v2, a[o][2]);
                }
            }
        }
    }
    __mmask16 st[NV];
    for (int v = 0; v < NV; v++) {
        int64_t left = n - 16 * v;
        st[v] = left >= 16 ? (__mmask16)0xffff : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
    }
    float *yt = y + oc0 * d->plane_out + p0;
    const float *rt = e && !late && residual ? residual + oc0 * d->plane_out + p0 : NULL;
    /* the activation chosen once per tile, not per vector */
#define STORE_TILE(ACT)                                                                                                \
    _Pragma("GCC unroll 8") for (int o = 0; o < OCB; o++)                                                             \
    {                                                                                                                  \
        if (o >= rows)                                                                                                 \
            break;                                                                                                     \
        _Pragma("GCC unroll 3") for (int v = 0; v < NV; v++)                                                          \
        {                                                                                                              \
            __m512 r = a[o][v];                                                                                        \
            if (rt)                                                                                                    \
                r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(st[v], rt + o * d->plane_out + 16 * v));                   \
            _mm512_mask_storeu_ps(yt + o * d->plane_out + 16 * v, st[v], ACT);                                         \
        }                                                                                                              \
    }
    if (e && !late && e->act == OP_ACT_RELU) {
        const __m512 zero = _mm512_setzero_ps();
        STORE_TILE(_mm512_max_ps(r, zero))
    } else if (e && !late && e->act != OP_ACT_NONE) {
        STORE_TILE(epilogue_act512(e, r))
    } else {
        STORE_TILE(r)
    }
#undef STORE_TILE
    if (late) {
        struct epilogue img = *e;
        img.residual = residual;
        epilogue_apply(&img, y, d->plane_out, oc0, p0, rows, n);
    }
}

/* The tile for this kernel size: 1x1 and 3x3 with their tap loops unrolled, others looped. */
__attribute__((target("avx512f"))) static void tile_any(const struct direct *d, const float *x, const float *wb,
                                                        const uint16_t *masks, int64_t p0, int64_t oc0, float *y,
                                                        const float *residual)
{
    switch (d->taps) {
    case 1:
        /* a tile whose one tap reads nothing outside the image loads without masks */
        if ((masks[0] & masks[MAX_TAPS] & masks[2 * MAX_TAPS]) == 0xffff)
            tile_avx512(d, x, wb, masks, p0, oc0, y, residual, 1, 1);
        else
            tile_avx512(d, x, wb, masks, p0, oc0, y, residual, 1, 0);
        break;
    case 9: tile_avx512(d, x, wb, masks, p0, oc0, y, residual, 9, 0); break;
    default: tile_avx512(d, x, wb, masks, p0, oc0, y, residual, 0, 0); break;
    }
}

/* Depthwise: channels [ch, ch + nc) of a tile (nc ≤ DW_CHANNELS, a constant once inlined), every
 * tap of each channel's own kernel; a tap's masks serve every channel, each broadcast weight feeds
 * three vectors, and 3·nc sums keep the FMA pipes busy. */
__attribute__((target("avx512f"), always_inline)) static inline void
tile_depthwise(const struct direct *d, const float *x, const uint16_t *masks, int64_t p0, int64_t ch, float *y,
               const float *residual, const int nc, const int nt)
{
    __m512 a[DW_CHANNELS][NV];
#pragma GCC unroll 4
    for (int j = 0; j < nc; j++)
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++)
            a[j][v] = _mm512_setzero_ps();
    const int taps = nt ? nt : d->taps;
    const float *w = d->wp + ch * taps;
    uintptr_t xc = (uintptr_t)(x + ch * d->plane_in), step = (uintptr_t)(d->plane_in * (int64_t)sizeof(float));
#pragma GCC unroll 9
    for (int t = 0; t < taps; t++) {
        __mmask16 k0 = masks[t], k1 = masks[MAX_TAPS + t], k2 = masks[2 * MAX_TAPS + t];
        uintptr_t xa = xc + (uintptr_t)((p0 + d->off[t]) * (int64_t)sizeof(float));
#pragma GCC unroll 4
        for (int j = 0; j < nc; j++, xa += step) {
            __m512 b = _mm512_set1_ps(w[j * taps + t]);
            a[j][0] = _mm512_fmadd_ps(b, _mm512_maskz_loadu_ps(k0, (const void *)xa), a[j][0]);
            a[j][1] = _mm512_fmadd_ps(b, _mm512_maskz_loadu_ps(k1, (const void *)(xa + 64)), a[j][1]);
            a[j][2] = _mm512_fmadd_ps(b, _mm512_maskz_loadu_ps(k2, (const void *)(xa + 128)), a[j][2]);
        }
    }
    const struct epilogue *e = d->epi;
    int64_t n = d->plane_out - p0 < TILE ? d->plane_out - p0 : TILE;
    int late = epilogue_late(e);
#pragma GCC unroll 4
    for (int j = 0; j < nc; j++) {
        int64_t at = (ch + j) * d->plane_out + p0;
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++) {
            int64_t left = n - 16 * v;
            __mmask16 st = left >= 16 ? (__mmask16)0xffff : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
            __m512 r = a[j][v];
            if (e && !late)
                r = epi512(e, r, ch + j, residual, at + 16 * v, st);
            _mm512_mask_storeu_ps(y + at + 16 * v, st, r);
        }
    }
    if (late) {
        struct epilogue img = *e;
        img.residual = residual;
        epilogue_apply(&img, y, d->plane_out, ch, p0, nc, n);
    }
}

__attribute__((target("avx512f"))) static void tile_depthwise_avx512(const struct direct *d, const float *x,
                                                                     const uint16_t *masks, int64_t p0, int64_t ch,
                                                                     float *y, const float *residual)
{
    if (d->c - ch >= DW_CHANNELS && d->taps == 9) /* 3x3: the tap loop unrolled */
        tile_depthwise(d, x, masks, p0, ch, y, residual, DW_CHANNELS, 9);
    else if (d->c - ch >= DW_CHANNELS)
        tile_depthwise(d, x, masks, p0, ch, y, residual, DW_CHANNELS, 0);
    else
        for (; ch < d->c; ch++)
            tile_depthwise(d, x, masks, p0, ch, y, residual, 1, 0);
}
#endif

/* Task part of an image: tiles [tiles · part / T, tiles · (part + 1) / T) of T, every block of
 * output channels (depthwise: every channel) of them, so the tasks differ by a tile at most (whole
 * tiles of ceil(tiles / T) left one of two threads 36 of 66 tiles). The tiles go in blocks whose
 * input stays in L2 while every channel block passes over them, their masks computed once. */
static void direct_task(void *ctx, int index)
{
#if defined(__x86_64__)
    const struct direct *d = ctx;
    int64_t n = index / d->tasks_per_image, part = index % d->tasks_per_image;
    int64_t t0 = d->tiles * part / d->tasks_per_image, t1 = d->tiles * (part + 1) / d->tasks_per_image;
    const float *x = d->x + n * d->c * d->plane_in;
    float *y = d->y + n * d->m * d->plane_out;
    const float *residual = d->epi && d->epi->residual ? d->epi->residual + n * d->m * d->plane_out : NULL;
    static _Thread_local uint16_t masks[MAX_BLOCK_TILES][NV * MAX_TAPS];
    int64_t blocks = (d->m + OCB - 1) / OCB;
    for (int64_t b0 = t0; b0 < t1; b0 += d->block_tiles) {
        int64_t b1 = b0 + d->block_tiles < t1 ? b0 + d->block_tiles : t1;
        for (int64_t i = b0; i < b1; i++)
            tile_masks(d, i, masks[i - b0]);
        if (d->depthwise)
            for (int64_t ch = 0; ch < d->c; ch += DW_CHANNELS)
                for (int64_t i = b0; i < b1; i++)
                    tile_depthwise_avx512(d, x, masks[i - b0], i * TILE, ch, y, residual);
        else
            for (int64_t ob = 0; ob < blocks; ob++)
                for (int64_t i = b0; i < b1; i++)
                    tile_any(d, x, d->wp + ob * OCB * d->c * d->taps, masks[i - b0], i * TILE, ob * OCB, y,
                             residual);
    }
#else
    (void)ctx;
    (void)index;
#endif
}

/* The convolution by conv_winograd.c (d: the call's sizes; e: its epilogue; u: the weights
 * transformed at load, or NULL to transform them now). */
static int winograd(const struct op_call *call, const struct direct *d, struct epilogue *e, const float *u,
                    int64_t batch, int64_t pad_top, int64_t pad_left, const int64_t *dims)
{
    const struct tensor *wt = call->inputs[1];
    if (!u) { /* weights fed at run time, or past the pack budget */
        float *tmp = scratch_floats(SCRATCH_PACK_A, conv_winograd_weights_floats(d->m, d->c));
        if (!tmp)
            return BACKEND_DECLINE;
        conv_winograd_weights(tmp, wt->data, d->m, d->c);
        u = tmp;
    }
    struct winograd_conv w = {.u = u, .batch = batch, .c = d->c, .m = d->m, .h_in = d->h_in, .w_in = d->w,
                              .h_out = d->h_out, .w_out = d->w, .pad_top = pad_top, .pad_left = pad_left};
    if (conv_winograd_reserve(&w))
        return BACKEND_DECLINE;
    int rc = ops_alloc_output(call, 0, TENSOR_FLOAT, 4, dims);
    if (rc)
        return rc;
    w.x = call->inputs[0]->data;
    w.y = call->outputs[0].data;
    e->ldr = d->plane_out;
    w.epi = epilogue_active(e) ? e : NULL;
    conv_winograd_run(&w);
    return 0;
}

int conv_direct(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0], *wt = call->inputs[1], *bias = ops_input(call, 2);
    if (cpu_isa() < CPU_ISA_AVX512 || !backend_is_float(x) || !backend_is_float(wt) ||
        (bias && !backend_is_float(bias)) || x->rank != 4 || wt->rank != 4)
        return BACKEND_DECLINE;
    int depthwise = ops_attr_int(call, "group", 1) != 1;
    if (!attrs_fit(call, wt, depthwise))
        return BACKEND_DECLINE;
    struct ops_window win;
    if (backend_conv_window(call, &win, x, wt))
        return BACKEND_DECLINE;
    int hs = OPS_MAX_SPATIAL - 2, ws = OPS_MAX_SPATIAL - 1;
    int64_t batch = x->dims[0], c = x->dims[1], m = wt->dims[0];
    /* the flattened plane needs rows of the same width in and out */
    if ((depthwise ? m != c : wt->dims[1] != c) || (bias && (bias->rank != 1 || bias->dims[0] != m)) ||
        win.out[ws] != win.in[ws] || win.stride[hs] != 1 || win.stride[ws] != 1 || win.in[hs] >= (1 << 30) ||
        win.in[ws] >= (1 << 30))
        return BACKEND_DECLINE;
    int64_t dims[4] = {batch, m, win.out[hs], win.out[ws]};
    struct epilogue e;
    if (epilogue_from_call(call, &e, 4, dims, 1, m, bias ? bias->data : NULL, 1))
        return BACKEND_DECLINE;
    struct direct d = {.c = c, .m = m, .h_in = win.in[hs], .w = win.in[ws], .h_out = win.out[hs],
                       .taps = (int)(wt->dims[2] * wt->dims[3]), .depthwise = depthwise};
    d.plane_in = d.h_in * d.w;
    d.plane_out = d.h_out * d.w;
    /* the input is addressed in bytes as one block per image */
    if (d.plane_in > ((int64_t)1 << 36) / c || d.plane_out > ((int64_t)1 << 36) / m)
        return BACKEND_DECLINE;
    for (int t = 0; t < d.taps; t++) {
        int64_t kh = t / wt->dims[3], kw = t % wt->dims[3];
        d.dh[t] = kh * win.dilation[hs] - win.pad_begin[hs];
        d.dw[t] = kw * win.dilation[ws] - win.pad_begin[ws];
        d.off[t] = d.dh[t] * d.w + d.dw[t];
        if (d.dh[t] <= -(1 << 30) || d.dh[t] >= (1 << 30) || d.dw[t] <= -(1 << 30) || d.dw[t] >= (1 << 30))
            return BACKEND_DECLINE; /* the masks compute rows and columns in 32 bits */
    }
    if (!depthwise && batch && winograd_kernel(call, wt) &&
        conv_winograd_fits(c, m, d.h_out, d.w, epilogue_active(&e) ? &e : NULL)) {
        const float *u = packed_for(call, wt, 1);
        /* transformed per call only where the plane dwarfs the transform (about 60 operations per
         * 3x3 kernel against 9 multiply-adds per kernel and pixel) */
        if (u || d.plane_out >= WINOGRAD_PER_CALL_MIN_PLANE)
            return winograd(call, &d, &e, u, batch, win.pad_begin[hs], win.pad_begin[ws], dims);
    }
    const float *wp = depthwise ? wt->data : packed_for(call, wt, 0);
    if (!wp) { /* weights fed at run time, or past the pack budget */
        float *tmp = scratch_floats(SCRATCH_PACK_A, pack_floats(m, c, d.taps));
        if (!tmp)
            return BACKEND_DECLINE;
        pack_weights(tmp, wt->data, m, c, d.taps);
        wp = tmp;
    }
    int rc = ops_alloc_output(call, 0, TENSOR_FLOAT, 4, dims);
    if (rc)
        return rc;
    if (!batch || !d.plane_out)
        return 0;
    d.x = x->data;
    d.wp = wp;
    d.y = call->outputs[0].data;
    e.ldr = d.plane_out;
    d.epi = epilogue_active(&e) ? &e : NULL;
    d.tiles = (d.plane_out + TILE - 1) / TILE;
    int64_t span = d.off[d.taps - 1] - d.off[0];
    /* depthwise: each channel's tiles are done before the next channel's, nothing to keep */
    d.block_tiles = depthwise ? MAX_BLOCK_TILES : (BLOCK_BYTES / (int64_t)sizeof(float) / c - span) / TILE;
    d.block_tiles = d.block_tiles < 1 ? 1 : d.block_tiles > MAX_BLOCK_TILES ? MAX_BLOCK_TILES : d.block_tiles;
    double flops = (double)batch * (double)m * (double)(depthwise ? 1 : c) * (double)d.taps * (double)d.plane_out;
    int threads = flops < PARALLEL_MIN_FLOPS ? 1 : pool_threads();
    /* a few tasks per thread: the pool hands them out as threads come free, so a thread that
     * starts late (woken, or preempted) leaves its share to the others */
    int tasks = threads > 1 ? threads * TASKS_PER_THREAD : 1;
    d.tasks_per_image = batch >= tasks ? 1 : (tasks + batch - 1) / batch;
    if (d.tasks_per_image > d.tiles)
        d.tasks_per_image = d.tiles;
    pool_run(direct_task, &d, (int)(batch * d.tasks_per_image));
    return 0;
}
