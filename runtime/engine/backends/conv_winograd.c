/* Winograd F(2x2, 3x3) convolution on AVX-512 (conv_winograd.h). */
#include "conv_winograd.h"

#include "epilogue_simd.h"
#include "scratch.h"
#include "threadpool.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* Output channels per GEMM tile (the transformed weights' block). */
#define OCB 8
/* Block positions per band: three vectors of 16. */
#define BAND 48
/* Points of the 4x4 transform. */
#define POINTS 16
/* Floats between the transformed input of two points: c · BAND is a multiple of 4 KiB whenever c
 * is of 64, and 16 streams that far apart would share one set of L1 (eight ways); two lines more
 * spread them over the sets. */
#define POINT_STRIDE(c) ((c)*BAND + 32)
/* Below these channel counts the transforms cost more than the products they save. */
#define MIN_CHANNELS 16
/* Above this a band's transformed input (16 · c · BAND floats) no longer fits in L2 beside the
 * weights, and every block of output channels would stream it from L3. */
#define MAX_CHANNELS 256
/* Tasks per pool thread: equal shares of (band, channel block) units. */
#define TASKS_PER_THREAD 2

int conv_winograd_channels_fit(int64_t c, int64_t m)
{
    return c >= MIN_CHANNELS && c <= MAX_CHANNELS && m >= MIN_CHANNELS;
}

/* Planes of fewer than a band of blocks (7x7: 16) reuse each transformed weight too little to
 * pay for reading 16/9 as many weights as the direct kernel: 512 channels at 7x7 ran 4x slower. */
int conv_winograd_fits(int64_t c, int64_t m, int64_t h_out, int64_t w_out, const struct epilogue *epi)
{
    return conv_winograd_channels_fit(c, m) && (h_out + 1) / 2 * ((w_out + 1) / 2) >= BAND && !epilogue_late(epi);
}

size_t conv_winograd_weights_floats(int64_t m, int64_t c)
{
    return (size_t)(POINTS * (m + OCB - 1) / OCB * OCB * c);
}

/* Point p = 4k + l of block b, input channel i, output channel b·OCB + o lies at
 * ((p · blocks + b) · c + i) · OCB + o: a GEMM tile reads its point's weights in order. */
void conv_winograd_weights(float *dst, const float *w, int64_t m, int64_t c)
{
    int64_t blocks = (m + OCB - 1) / OCB;
    for (int64_t b = 0; b < blocks; b++)
        for (int64_t i = 0; i < c; i++)
            for (int o = 0; o < OCB; o++) {
                int64_t oc = b * OCB + o;
                float u[4][4] = {{0}};
                if (oc < m) {
                    const float *g = w + (oc * c + i) * 9; /* [kh][kw] */
                    float t[4][3];                         /* G g */
                    for (int j = 0; j < 3; j++) {
                        t[0][j] = g[j];
                        t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
                        t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
                        t[3][j] = g[6 + j];
                    }
                    for (int k = 0; k < 4; k++) { /* (G g) G^T */
                        u[k][0] = t[k][0];
                        u[k][1] = 0.5f * (t[k][0] + t[k][1] + t[k][2]);
                        u[k][2] = 0.5f * (t[k][0] - t[k][1] + t[k][2]);
                        u[k][3] = t[k][2];
                    }
                }
                for (int p = 0; p < POINTS; p++)
                    dst[((p * blocks + b) * c + i) * OCB + o] = u[p / 4][p % 4];
            }
}

struct plan {
    const struct winograd_conv *w;
    int64_t tw, blocks_per_image; /* block columns; 2x2 blocks of one image */
    int64_t bands, blocks;        /* bands per image; output channel blocks */
    int64_t units, tasks;
    float *buf; /* per task: the band's transformed input, then the GEMM sums */
    size_t per_task;
};

#if defined(__x86_64__)
/* Lanes k (of 16) with 0 <= start + k < n. */
static __mmask16 inside(int64_t start, int64_t n)
{
    int64_t lo = start < 0 ? -start : 0, hi = n - start < 16 ? n - start : 16;
    if (hi <= lo)
        return 0;
    return (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

/* B^T d B of every input channel's 4x4 blocks at positions [q0, q0 + nq) of one image, into
 * v[p · POINT_STRIDE(c) + i · BAND + q - q0]; 16 blocks of a row of blocks at a time, their
 * columns split even/odd out of two loads each (the padding masked off). Lanes past nq up to the
 * vector's end are zeroed. */
__attribute__((target("avx512f"))) static void transform_band(const struct plan *pl, const float *x, int64_t q0,
                                                              int64_t nq, float *v)
{
    const struct winograd_conv *w = pl->w;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    int64_t c = w->c, plane = w->h_in * w->w_in, lane_stride = POINT_STRIDE(c);
    int64_t tail = (nq + 15) / 16 * 16;
    if (tail > nq)
        for (int64_t p = 0; p < POINTS; p++)
            for (int64_t i = 0; i < c; i++)
                memset(v + p * lane_stride + i * BAND + nq, 0, (size_t)(tail - nq) * sizeof(float));
    for (int64_t q = q0; q < q0 + nq;) {
        int64_t tr = q / pl->tw, tc = q % pl->tw, n = pl->tw - tc;
        n = n > q0 + nq - q ? q0 + nq - q : n;
        n = n > 16 ? 16 : n;
        __mmask16 lanes = (__mmask16)((1u << n) - 1);
        int64_t col0 = 2 * tc - w->pad_left;
        __mmask16 lo0 = inside(col0, w->w_in), hi0 = inside(col0 + 16, w->w_in), lo2 = inside(col0 + 2, w->w_in),
                  hi2 = inside(col0 + 18, w->w_in);
        float *dst = v + (q - q0);
        for (int64_t i = 0; i < c; i++, dst += BAND) {
            __m512 d[4][4];
            for (int r = 0; r < 4; r++) {
                int64_t row = 2 * tr + r - w->pad_top;
                if (row < 0 || row >= w->h_in) {
                    d[r][0] = d[r][1] = d[r][2] = d[r][3] = _mm512_setzero_ps();
                    continue;
                }
                /* column col0 may lie before the row: its lanes are masked, never read */
                uintptr_t xr = (uintptr_t)(x + i * plane + row * w->w_in) + (uintptr_t)(col0 * (int64_t)sizeof(float));
                __m512 a = _mm512_maskz_loadu_ps(lo0, (const void *)xr),
                       b = _mm512_maskz_loadu_ps(hi0, (const void *)(xr + 64)),
                       a2 = _mm512_maskz_loadu_ps(lo2, (const void *)(xr + 8)),
                       b2 = _mm512_maskz_loadu_ps(hi2, (const void *)(xr + 72));
                d[r][0] = _mm512_permutex2var_ps(a, even, b);
                d[r][1] = _mm512_permutex2var_ps(a, odd, b);
                d[r][2] = _mm512_permutex2var_ps(a2, even, b2);
                d[r][3] = _mm512_permutex2var_ps(a2, odd, b2);
            }
            __m512 t[4][4];
            for (int j = 0; j < 4; j++) {
                t[0][j] = _mm512_sub_ps(d[0][j], d[2][j]);
                t[1][j] = _mm512_add_ps(d[1][j], d[2][j]);
                t[2][j] = _mm512_sub_ps(d[2][j], d[1][j]);
                t[3][j] = _mm512_sub_ps(d[1][j], d[3][j]);
            }
            for (int k = 0; k < 4; k++) {
                float *o = dst + 4 * k * lane_stride;
                _mm512_mask_storeu_ps(o, lanes, _mm512_sub_ps(t[k][0], t[k][2]));
                _mm512_mask_storeu_ps(o + lane_stride, lanes, _mm512_add_ps(t[k][1], t[k][2]));
                _mm512_mask_storeu_ps(o + 2 * lane_stride, lanes, _mm512_sub_ps(t[k][2], t[k][1]));
                _mm512_mask_storeu_ps(o + 3 * lane_stride, lanes, _mm512_sub_ps(t[k][1], t[k][3]));
            }
        }
        q += n;
    }
}

/* out[o][0, 16·nv) = Σ_i u[i][o] · v[i][·]: OCB channels by nv vectors in 8·nv registers. */
__attribute__((target("avx512f"), always_inline)) static inline void gemm_tile(const float *u, const float *v,
                                                                               int64_t c, float *out, const int nv)
{
    __m512 a[OCB][3];
#pragma GCC unroll 8
    for (int o = 0; o < OCB; o++)
#pragma GCC unroll 3
        for (int j = 0; j < 3; j++)
            a[o][j] = _mm512_setzero_ps();
    for (int64_t i = 0; i < c; i++, u += OCB, v += BAND) {
        __m512 x0 = _mm512_loadu_ps(v), x1 = nv > 1 ? _mm512_loadu_ps(v + 16) : x0,
               x2 = nv > 2 ? _mm512_loadu_ps(v + 32) : x0;
#pragma GCC unroll 8
        for (int o = 0; o < OCB; o++) {
            __m512 b = _mm512_set1_ps(u[o]);
            a[o][0] = _mm512_fmadd_ps(b, x0, a[o][0]);
            if (nv > 1)
                a[o][1] = _mm512_fmadd_ps(b, x1, a[o][1]);
            if (nv > 2)
                a[o][2] = _mm512_fmadd_ps(b, x2, a[o][2]);
        }
    }
#pragma GCC unroll 8
    for (int o = 0; o < OCB; o++)
#pragma GCC unroll 3
        for (int j = 0; j < nv; j++)
            _mm512_storeu_ps(out + o * BAND + 16 * j, a[o][j]);
}

__attribute__((target("avx512f"))) static void gemm_points(const float *u, int64_t u_step, const float *v, int64_t c,
                                                           float *out, int64_t nq)
{
    for (int p = 0; p < POINTS; p++, u += u_step, v += POINT_STRIDE(c), out += OCB * BAND) {
        if (nq > 32)
            gemm_tile(u, v, c, out, 3);
        else if (nq > 16)
            gemm_tile(u, v, c, out, 2);
        else
            gemm_tile(u, v, c, out, 1);
    }
}

/* Row k (0, 1) of the 2x2 outputs of n (<= 8) blocks from row tr, column tc of blocks on, e
 * holding their two columns side by side: stored one row of blocks at a time, past the plane's
 * last row or column dropped, with the residual added and the activation applied. */
__attribute__((target("avx512f"), always_inline)) static inline void
store_row(const struct plan *pl, float *yc, const float *rc, int64_t tr, int64_t tc, int64_t n, int k, __m512 e)
{
    const struct winograd_conv *w = pl->w;
    for (int64_t a = 0; a < n; tr++, tc = 0) {
        int64_t len = pl->tw - tc;
        len = len > n - a ? n - a : len;
        int64_t row = 2 * tr + k;
        if (row < w->h_out) {
            unsigned bits = ((1u << (2 * (a + len))) - 1) & ~((1u << (2 * a)) - 1);
            if (tc + len == pl->tw && (w->w_out & 1))
                bits &= ~(1u << (2 * (a + len) - 1));
            /* lane 2a lands on column 2tc; lanes before it are masked, never written */
            int64_t shift = (row * w->w_out + 2 * tc - 2 * a) * (int64_t)sizeof(float);
            __m512 r = e;
            if (rc)
                r = _mm512_add_ps(
                    r, _mm512_maskz_loadu_ps((__mmask16)bits, (const void *)((uintptr_t)rc + (uintptr_t)shift)));
            _mm512_mask_storeu_ps((void *)((uintptr_t)yc + (uintptr_t)shift), (__mmask16)bits,
                                  epilogue_act512(w->epi, r));
        }
        a += len;
    }
}

/* A^T m A of channels [oc0, oc0 + OCB) at block positions [q0, q0 + nq), m[p][o][q - q0]. */
__attribute__((target("avx512f"))) static void output_band(const struct plan *pl, const float *mb, int64_t q0,
                                                           int64_t nq, int64_t oc0, float *y, const float *res)
{
    const struct winograd_conv *w = pl->w;
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    int64_t plane = w->h_out * w->w_out, rows = w->m - oc0 < OCB ? w->m - oc0 : OCB;
    int64_t tr[BAND / 8], tc[BAND / 8]; /* where each group of 8 blocks starts */
    for (int64_t g = 0; g < BAND / 8; g++) {
        tr[g] = (q0 + 8 * g) / pl->tw;
        tc[g] = (q0 + 8 * g) % pl->tw;
    }
    for (int64_t o = 0; o < rows; o++) {
        float *yc = y + (oc0 + o) * plane;
        const float *rc = res ? res + (oc0 + o) * plane : NULL;
        __m512 bias = w->epi && w->epi->bias ? _mm512_set1_ps(w->epi->bias[oc0 + o]) : _mm512_setzero_ps();
        for (int64_t j = 0; j < nq; j += 16) {
            const float *m = mb + o * BAND + j;
            __m512 s[2][4];
            for (int l = 0; l < 4; l++) {
                __m512 m0 = _mm512_loadu_ps(m + l * OCB * BAND), m1 = _mm512_loadu_ps(m + (4 + l) * OCB * BAND),
                       m2 = _mm512_loadu_ps(m + (8 + l) * OCB * BAND), m3 = _mm512_loadu_ps(m + (12 + l) * OCB * BAND);
                s[0][l] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
                s[1][l] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
            }
            for (int k = 0; k < 2; k++) {
                __m512 o0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s[k][0], s[k][1]), s[k][2]), bias);
                __m512 o1 = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s[k][1], s[k][2]), s[k][3]), bias);
                int64_t left = nq - j;
                store_row(pl, yc, rc, tr[j / 8], tc[j / 8], left < 8 ? left : 8, k, _mm512_permutex2var_ps(o0, lo, o1));
                if (left > 8)
                    store_row(pl, yc, rc, tr[j / 8 + 1], tc[j / 8 + 1], left - 8 < 8 ? left - 8 : 8, k,
                              _mm512_permutex2var_ps(o0, hi, o1));
            }
        }
    }
}
#endif

/* Units, in order: image, band, block of output channels; a task transforms each band it meets
 * once, then runs its blocks' GEMMs and output transforms. */
static void winograd_task(void *ctx, int index)
{
#if defined(__x86_64__)
    const struct plan *pl = ctx;
    const struct winograd_conv *w = pl->w;
    float *v = pl->buf + (size_t)index * pl->per_task, *mb = v + POINTS * POINT_STRIDE(w->c);
    int64_t u = pl->units * index / pl->tasks, u1 = pl->units * (index + 1) / pl->tasks, done = -1;
    int64_t plane_in = w->h_in * w->w_in, plane_out = w->h_out * w->w_out;
    for (; u < u1; u++) {
        int64_t band = u / pl->blocks, ob = u % pl->blocks, n = band / pl->bands;
        int64_t q0 = band % pl->bands * BAND, nq = pl->blocks_per_image - q0 < BAND ? pl->blocks_per_image - q0 : BAND;
        if (band != done) {
            transform_band(pl, w->x + n * w->c * plane_in, q0, nq, v);
            done = band;
        }
        gemm_points(w->u + ob * w->c * OCB, pl->blocks * w->c * OCB, v, w->c, mb, nq);
        const float *res = w->epi && w->epi->residual ? w->epi->residual + n * w->m * plane_out : NULL;
        output_band(pl, mb, q0, nq, ob * OCB, w->y + n * w->m * plane_out, res);
    }
#else
    (void)ctx;
    (void)index;
#endif
}

static struct plan plan_of(const struct winograd_conv *w)
{
    struct plan pl = {.w = w, .tw = (w->w_out + 1) / 2, .blocks = (w->m + OCB - 1) / OCB};
    pl.blocks_per_image = (w->h_out + 1) / 2 * pl.tw;
    pl.bands = (pl.blocks_per_image + BAND - 1) / BAND;
    pl.units = w->batch * pl.bands * pl.blocks;
    pl.per_task = (size_t)(POINTS * POINT_STRIDE(w->c) + POINTS * OCB * BAND);
    return pl;
}

int conv_winograd_reserve(struct winograd_conv *w)
{
    struct plan pl = plan_of(w);
    int threads = pool_threads();
    w->tasks = threads > 1 ? threads * TASKS_PER_THREAD : 1;
    w->tasks = w->tasks > pl.units ? pl.units : w->tasks;
    w->scratch = scratch_floats(SCRATCH_IM2COL, pl.per_task * (size_t)w->tasks);
    return w->scratch ? 0 : -1;
}

void conv_winograd_run(const struct winograd_conv *w)
{
    struct plan pl = plan_of(w);
    pl.tasks = w->tasks;
    pl.buf = w->scratch;
    if (pl.units)
        pool_run(winograd_task, &pl, (int)pl.tasks);
}
