/* Blocking follows the usual GotoBLAS scheme: a KC×NC panel of B and an
 * MC×KC block of A are packed so the micro-kernel reads both sequentially;
 * an MR×NR tile of C stays in registers across the whole KC loop. */
#include "sgemm.h"

#include "cpu_isa.h"
#include "epilogue.h"
#include "scratch.h"
#include "threadpool.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

/* Rows of A per micro-tile: 6 for the AVX2 and portable kernels (12 ymm sums), 12 for AVX-512
 * (24 zmm sums: each B load and broadcast feeds more FMAs). */
#define MR6 6
#define MR12 12
#define MR_MAX 12
#define NR_MAX 32
#define KC 256
/* B packed at load is read in place, each panel contiguous down all of k, so its k blocks need no
 * packing room and can be deeper: the micro-kernel streams a 768-deep panel from L2 as fast as from
 * L1, and C (a 128x3072 output is 1.5 MB, past L2) is loaded and stored once per block, not three
 * times. k is cut in equal blocks of at most this depth (784 = 2 x 392, not 768 + 16). */
#define KC_PACKED 768
#define MC 144
#define NC 2048
/* Below this many multiply-adds (~50 us of one core) a product is not worth waking the pool. */
#define PARALLEL_MIN_FLOPS (1 << 22)
/* Up to this many rows of A, B is read in place rather than packed (each panel serves few tiles). */
#define DIRECT_B_MAX_ROWS 48
#define DIRECT_B_MAX_K 64
/* Weights (floats) from which a GEMV over packed B is split over the pool. */
#define GEMV_PARALLEL_MIN (1 << 18)
#define GEMV_TASKS_PER_THREAD 4
#define GEMV_TASK_MIN_CHUNKS 4 /* 32-column panels */

/* c[MR6×nr] (row stride ldc) = (acc ? c : 0) + Σ_p a[p·MR6 + i] · b[p·ldb + j]; ldb = nr for a packed
 * panel, B's own row stride when B is read in place. */
typedef void (*micro_fn)(int64_t kc, const float *a, const float *b, int64_t ldb, float *c, int64_t ldc, int acc);
/* The same for a tile of h rows by w columns, written straight to c. */
typedef void (*exact_micro_fn)(int64_t kc, const float *a, const float *b, int64_t ldb, float *c, int64_t ldc,
                               int acc, int64_t h, int64_t w);

static void micro_generic(int64_t kc, const float *a, const float *b, int64_t ldb, float *c, int64_t ldc, int acc)
{
    float t[MR6][16] = {{0}};
    for (int64_t p = 0; p < kc; p++, a += MR6, b += ldb)
        for (int i = 0; i < MR6; i++)
            for (int j = 0; j < 16; j++)
                t[i][j] += a[i] * b[j];
    for (int i = 0; i < MR6; i++)
        for (int j = 0; j < 16; j++)
            c[i * ldc + j] = (acc ? c[i * ldc + j] : 0) + t[i][j];
}

#if HAVE_X86
__attribute__((target("avx2,fma"))) static void micro_avx2(int64_t kc, const float *a, const float *b, int64_t ldb,
                                                           float *c, int64_t ldc, int acc)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int64_t p = 0; p < kc; p++, a += MR6, b += ldb) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8), x;
        x = _mm256_broadcast_ss(a + 0);
        c00 = _mm256_fmadd_ps(x, b0, c00);
        c01 = _mm256_fmadd_ps(x, b1, c01);
        x = _mm256_broadcast_ss(a + 1);
        c10 = _mm256_fmadd_ps(x, b0, c10);
        c11 = _mm256_fmadd_ps(x, b1, c11);
        x = _mm256_broadcast_ss(a + 2);
        c20 = _mm256_fmadd_ps(x, b0, c20);
        c21 = _mm256_fmadd_ps(x, b1, c21);
        x = _mm256_broadcast_ss(a + 3);
        c30 = _mm256_fmadd_ps(x, b0, c30);
        c31 = _mm256_fmadd_ps(x, b1, c31);
        x = _mm256_broadcast_ss(a + 4);
        c40 = _mm256_fmadd_ps(x, b0, c40);
        c41 = _mm256_fmadd_ps(x, b1, c41);
        x = _mm256_broadcast_ss(a + 5);
        c50 = _mm256_fmadd_ps(x, b0, c50);
        c51 = _mm256_fmadd_ps(x, b1, c51);
    }
    __m256 rows[MR6][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    for (int i = 0; i < MR6; i++) {
        float *ci = c + i * ldc;
        if (acc) {
            rows[i][0] = _mm256_add_ps(rows[i][0], _mm256_loadu_ps(ci));
            rows[i][1] = _mm256_add_ps(rows[i][1], _mm256_loadu_ps(ci + 8));
        }
        _mm256_storeu_ps(ci, rows[i][0]);
        _mm256_storeu_ps(ci + 8, rows[i][1]);
    }
}

/* h rows (1 to MR12, a constant once inlined) by w columns (masked past 32) of C: rows past h are
 * never computed, so a partial tile costs its own rows only and needs no copy through a buffer. */
__attribute__((target("avx512f,avx2,fma"), always_inline)) static inline void
micro_avx512_rows(int64_t kc, const float *a, const float *b, int64_t ldb, float *c, int64_t ldc, int acc, int64_t w,
                  const int h)
{
    __m512 s[MR12][2];
#pragma GCC unroll 12
    for (int r = 0; r < h; r++) {
        s[r][0] = s[r][1] = _mm512_setzero_ps();
        /* C's tile is read (or written) only after the k loop: fetched now, its misses overlap the FMAs */
        _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + r * ldc + w - 1), _MM_HINT_T0);
    }
    for (int64_t p = 0; p < kc; p++, a += MR12, b += ldb) {
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
        /* in registers: folded into every FMA as a memory operand, B would be loaded h times */
        __asm__("" : "+v"(b0), "+v"(b1));
#pragma GCC unroll 12
        for (int r = 0; r < h; r++) {
            __m512 x = _mm512_set1_ps(a[r]);
            s[r][0] = _mm512_fmadd_ps(x, b0, s[r][0]);
            s[r][1] = _mm512_fmadd_ps(x, b1, s[r][1]);
        }
    }
    __mmask16 m0 = w >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << w) - 1);
    __mmask16 m1 = w >= 32 ? (__mmask16)0xffff : w <= 16 ? 0 : (__mmask16)((1u << (w - 16)) - 1);
#pragma GCC unroll 12
    for (int r = 0; r < h; r++) {
        float *cr = c + r * ldc;
        if (acc) {
            s[r][0] = _mm512_add_ps(s[r][0], _mm512_maskz_loadu_ps(m0, cr));
            s[r][1] = _mm512_add_ps(s[r][1], _mm512_maskz_loadu_ps(m1, cr + 16));
        }
        _mm512_mask_storeu_ps(cr, m0, s[r][0]);
        _mm512_mask_storeu_ps(cr + 16, m1, s[r][1]);
    }
}

__attribute__((target("avx512f,avx2,fma"))) static void micro_avx512(int64_t kc, const float *a, const float *b,
                                                                     int64_t ldb, float *c, int64_t ldc, int acc,
                                                                     int64_t h, int64_t w)
{
    switch (h) {
    case 1: micro_avx512_rows(kc, a, b, ldb, c, ldc, acc, w, 1); break;
    case 2: micro_avx512_rows(kc, a, b, ldb, c, ldc, acc, w, 2); break;
    case 3: micro_avx512_rows(kc, a, b, ldb, c, ldc, acc, w, 3); break;
    case 4: micro_avx512_rows(kc, a, b, ldb, c, ldc, acc, w, 4); break;
    case 5: micro_avx512_rows(kc, a, b, ldb, c, ldc, acc, w, 5); break;
    case 6: micro_avx512_rows(kc, a, b, ldb, c, ldc, acc, w, 6); break;
    case 7: micro_avx512_rows(kc, a, b, ldb, c, ldc, acc, w, 7); break;
    case 8: micro_avx512_rows(kc, a, b, ldb, c, ldc, acc, w, 8); break;
    case 9: micro_avx512_rows(kc, a, b, ldb, c, ldc, acc, w, 9); break;
    case 10: micro_avx512_rows(kc, a, b, ldb, c, ldc, acc, w, 10); break;
    case 11: micro_avx512_rows(kc, a, b, ldb, c, ldc, acc, w, 11); break;
    default: micro_avx512_rows(kc, a, b, ldb, c, ldc, acc, w, MR12); break;
    }
}
#endif

struct gemm_args;
static const float *packed_block(const struct gemm_args *g, int64_t p0, int64_t j0, int nr);

struct gemm_args {
    int trans_a, trans_b;
    int64_t m, n, k;
    float alpha;
    const float *a, *b;
    int64_t lda, ldb, ldc;
    float *c;
    int acc;                /* add to C (beta = 1) instead of overwriting it */
    int direct_b;           /* read B's full panels in place instead of packing them */
    int64_t m_step, n_step; /* the C block each task owns */
    int64_t n_tasks_n;
    enum cpu_isa isa;
    int mr; /* the micro-kernel's rows: MR6 or MR12 */
    /* B packed once (sgemm_pack) in this ISA's panel width, or NULL: rows [p0, p0 + kc) of the
     * panel from column j0 at packed_block(g, p0, j0, nr), row stride nr. */
    const float *packed;
    int64_t n_pad;
    const struct epilogue *epi; /* applied to each block of C once its sum is complete */
    const struct sgemm_conv *conv; /* B is this image's im2col matrix, packed straight from the image */
};

/* Each panel of nr columns is its k rows back to back (panel-major), so a GEMV streams one
 * contiguous run per panel and a KC block of it is a contiguous kc × nr slice. */
static const float *packed_block(const struct gemm_args *g, int64_t p0, int64_t j0, int nr)
{
    return g->packed + j0 * g->k + p0 * nr;
}

/* Element (p, j) of the virtual im2col matrix. */
static float conv_at(const struct sgemm_conv *cv, int64_t p, int64_t j)
{
    int64_t c = p / (cv->kh * cv->kw), r = p / cv->kw % cv->kh, t = p % cv->kw;
    int64_t ih = j / cv->out_w * cv->stride_h - cv->pad_h + r * cv->dil_h;
    int64_t iw = j % cv->out_w * cv->stride_w - cv->pad_w + t * cv->dil_w;
    return ih < 0 || ih >= cv->in_h || iw < 0 || iw >= cv->in_w ? 0.0f : cv->x[(c * cv->in_h + ih) * cv->in_w + iw];
}

/* pack_b's layout for rows [p0, p0 + kc) and columns [j0, j0 + nc) of the im2col matrix, read from
 * the image: each (row, output row) is one run of the input row (contiguous at stride 1), cut
 * where a panel of nr columns ends. Columns past nc are zero. */
static void pack_b_conv(float *bp, const struct sgemm_conv *cv, int64_t p0, int64_t kc, int64_t j0, int64_t nc, int nr)
{
    int64_t nc_pad = (nc + nr - 1) / nr * nr;
    for (int64_t p = p0; p < p0 + kc; p++) {
        int64_t c = p / (cv->kh * cv->kw), r = p / cv->kw % cv->kh, t = p % cv->kw;
        const float *xc = cv->x + c * cv->in_h * cv->in_w;
        float *row = bp + (p - p0) * nr;
        int64_t off = t * cv->dil_w - cv->pad_w, s = cv->stride_w;
        /* ow in [lo, hi) reads inside the input row */
        int64_t lo = off >= 0 ? 0 : (-off + s - 1) / s;
        int64_t hi = cv->in_w - off <= 0 ? 0 : (cv->in_w - off + s - 1) / s;
        if (hi > cv->out_w)
            hi = cv->out_w;
        if (lo > hi)
            lo = hi;
        for (int64_t j = j0; j < j0 + nc_pad;) {
            int64_t oh = j / cv->out_w, ow = j % cv->out_w;
            /* a run: to the end of the output row, the panel and the block */
            int64_t end = j + (cv->out_w - ow), panel_end = j0 + ((j - j0) / nr + 1) * nr;
            if (end > panel_end)
                end = panel_end;
            if (end > j0 + nc)
                end = j0 + nc;
            if (j >= j0 + nc) { /* padding columns of the last panel */
                end = panel_end;
                float *dst = row + ((j - j0) / nr) * kc * nr + (j - j0) % nr;
                for (int64_t q = 0; q < end - j; q++)
                    dst[q] = 0;
                j = end;
                continue;
            }
            float *dst = row + ((j - j0) / nr) * kc * nr + (j - j0) % nr;
            int64_t ih = oh * cv->stride_h - cv->pad_h + r * cv->dil_h, n = end - j;
            if (ih < 0 || ih >= cv->in_h) {
                for (int64_t q = 0; q < n; q++)
                    dst[q] = 0;
            } else {
                const float *xr = xc + ih * cv->in_w + off;
                int64_t a = ow < lo ? lo : ow, b = ow + n < hi ? ow + n : hi; /* the part inside the row */
                if (a > b)
                    a = b = ow;
                /* runs are at most nr long: plain loops beat calls to memset and memcpy */
                for (int64_t o = ow; o < a; o++)
                    dst[o - ow] = 0;
                if (s == 1)
                    memcpy(dst + (a - ow), xr + a, (size_t)(b - a) * sizeof *dst);
                else
                    for (int64_t o = a; o < b; o++)
                        dst[o - ow] = xr[o * s];
                for (int64_t o = b; o < ow + n; o++)
                    dst[o - ow] = 0;
            }
            j = end;
        }
    }
}

/* Ap[(i / mr)·kc·mr + p·mr + i % mr] = alpha · op(A)[i0 + i, p0 + p], rows past mc zero.
 * Reads follow A's rows (or, transposed, its columns' rows) so they stay sequential. */
static void pack_a(float *ap, const struct gemm_args *g, int64_t i0, int64_t mc, int64_t p0, int64_t kc)
{
    int mr = g->mr;
    for (int64_t ir = 0; ir < mc; ir += mr, ap += mr * kc) {
        int64_t h = mc - ir < mr ? mc - ir : mr;
        if (!g->trans_a) {
            int64_t i = 0;
#if HAVE_X86
            /* four rows by four columns at a time, transposed in registers: the scalar loop's
             * stores, one per float at a stride of mr, cost more than the product's FMAs on small k */
            __m128 al = _mm_set1_ps(g->alpha);
            for (; i + 4 <= h; i += 4) {
                const float *r0 = g->a + (i0 + ir + i) * g->lda + p0, *r1 = r0 + g->lda, *r2 = r1 + g->lda,
                            *r3 = r2 + g->lda;
                int64_t p = 0;
                for (; p + 4 <= kc; p += 4) {
                    __m128 x0 = _mm_mul_ps(al, _mm_loadu_ps(r0 + p)), x1 = _mm_mul_ps(al, _mm_loadu_ps(r1 + p)),
                           x2 = _mm_mul_ps(al, _mm_loadu_ps(r2 + p)), x3 = _mm_mul_ps(al, _mm_loadu_ps(r3 + p));
                    _MM_TRANSPOSE4_PS(x0, x1, x2, x3);
                    _mm_storeu_ps(ap + p * mr + i, x0);
                    _mm_storeu_ps(ap + (p + 1) * mr + i, x1);
                    _mm_storeu_ps(ap + (p + 2) * mr + i, x2);
                    _mm_storeu_ps(ap + (p + 3) * mr + i, x3);
                }
                for (; p < kc; p++) {
                    ap[p * mr + i] = g->alpha * r0[p];
                    ap[p * mr + i + 1] = g->alpha * r1[p];
                    ap[p * mr + i + 2] = g->alpha * r2[p];
                    ap[p * mr + i + 3] = g->alpha * r3[p];
                }
            }
#endif
            for (; i < h; i++) {
                const float *row = g->a + (i0 + ir + i) * g->lda + p0;
                if (g->alpha == 1.0f)
                    for (int64_t p = 0; p < kc; p++)
                        ap[p * mr + i] = row[p];
                else
                    for (int64_t p = 0; p < kc; p++)
                        ap[p * mr + i] = g->alpha * row[p];
            }
        } else {
            for (int64_t p = 0; p < kc; p++) {
                const float *col = g->a + (p0 + p) * g->lda + i0 + ir;
                for (int64_t i = 0; i < h; i++)
                    ap[p * mr + i] = g->alpha * col[i];
            }
        }
        for (int64_t i = h; i < mr; i++)
            for (int64_t p = 0; p < kc; p++)
                ap[p * mr + i] = 0;
    }
}

/* Bp[(j / nr)·kc·nr + p·nr + j % nr] = op(B)[p0 + p, j0 + j], columns past nc zero. */
static void pack_b(float *bp, const struct gemm_args *g, int64_t p0, int64_t kc, int64_t j0, int64_t nc, int nr)
{
    int64_t full = nc / nr * nr;
    if (!g->trans_b) {
        /* Row by row, so B is read sequentially; fixed-size copies become vector moves. */
        for (int64_t p = 0; p < kc; p++) {
            const float *src = g->b + (p0 + p) * g->ldb + j0;
            float *dst = bp + p * nr;
            if (nr == 32)
                for (int64_t jr = 0; jr < full; jr += 32, dst += kc * 32)
                    memcpy(dst, src + jr, 32 * sizeof *dst);
            else
                for (int64_t jr = 0; jr < full; jr += 16, dst += kc * 16)
                    memcpy(dst, src + jr, 16 * sizeof *dst);
        }
    } else {
        for (int64_t jr = 0; jr < full; jr += nr) {
            float *panel = bp + jr * kc;
            for (int64_t j = 0; j < nr; j++) {
                const float *col = g->b + (j0 + jr + j) * g->ldb + p0;
                for (int64_t p = 0; p < kc; p++)
                    panel[p * nr + j] = col[p];
            }
        }
    }
    if (full < nc) { /* the last, partial panel, zero-padded */
        float *panel = bp + full * kc;
        for (int64_t p = 0; p < kc; p++)
            for (int64_t j = 0; j < nr; j++) {
                int64_t col = j0 + full + j;
                panel[p * nr + j] = full + j >= nc ? 0
                                    : g->trans_b   ? g->b[col * g->ldb + p0 + p]
                                                   : g->b[(p0 + p) * g->ldb + col];
            }
    }
}

/* The last, partial column panel (w < nr columns from j0) of a non-transposed B, zero-padded. */
static void pack_b_edge(float *bp, const struct gemm_args *g, int64_t p0, int64_t kc, int64_t j0, int64_t w, int nr)
{
    for (int64_t p = 0; w > 0 && p < kc; p++)
        for (int64_t j = 0; j < nr; j++)
            bp[p * nr + j] = j < w ? g->b[(p0 + p) * g->ldb + j0 + j] : 0;
}

/* Element (p, j) of op(B) packed by sgemm_pack with panel width nr: the out-of-memory loop below
 * reads B there when it was packed, since B itself may then be absent (a misaligned weight's bytes,
 * sgemm_unaligned.h). */
static float packed_at(const struct gemm_args *g, int nr, int64_t p, int64_t j)
{
    int64_t jr = j / nr * nr;
    return packed_block(g, p, jr, nr)[j - jr];
}

static void packed_task(void *ctx, int index)
{
    const struct gemm_args *g = ctx;
    int64_t tn = index % g->n_tasks_n, tm = index / g->n_tasks_n;
    int64_t m0 = tm * g->m_step, m1 = m0 + g->m_step < g->m ? m0 + g->m_step : g->m;
    int64_t n0 = tn * g->n_step, n1 = n0 + g->n_step < g->n ? n0 + g->n_step : g->n;
    if (m0 >= m1 || n0 >= n1)
        return;
    micro_fn micro = micro_generic;
    exact_micro_fn exact = NULL; /* a micro-kernel that takes any tile size itself */
    int nr = 16;
#if HAVE_X86
    if (g->isa == CPU_ISA_AVX512) {
        nr = 32;
        exact = micro_avx512;
    } else if (g->isa == CPU_ISA_AVX2) {
        micro = micro_avx2;
    }
#endif
    /* NC bounds the room to pack B in; B packed at load needs none, and one column block packs A once */
    int64_t nc_step = g->packed ? n1 - n0 : NC;
    int64_t nc_max = n1 - n0 < nc_step ? n1 - n0 : nc_step;
    int64_t kc_blocks = (g->k + (g->packed ? KC_PACKED : KC) - 1) / (g->packed ? KC_PACKED : KC);
    int64_t kc_max = (g->k + kc_blocks - 1) / kc_blocks;
    int64_t mc_max = m1 - m0 < MC ? m1 - m0 : MC;
    size_t b_size = (size_t)((nc_max + nr - 1) / nr * nr * kc_max),
           a_size = (size_t)((mc_max + g->mr - 1) / g->mr * g->mr * kc_max);
    float *bp = g->packed ? NULL : scratch_floats(SCRATCH_PACK_B, b_size);
    float *ap = scratch_floats(SCRATCH_PACK_A, a_size);
    float tile[MR_MAX * NR_MAX];
    if (!ap || (!bp && !g->packed)) { /* no room to pack: the plain loop is slow but correct */
        for (int64_t i = m0; i < m1; i++)
            for (int64_t j = n0; j < n1; j++) {
                float s = 0;
                for (int64_t p = 0; p < g->k; p++)
                    s += (g->trans_a ? g->a[p * g->lda + i] : g->a[i * g->lda + p]) *
                         (g->conv      ? conv_at(g->conv, p, j)
                          : g->packed  ? packed_at(g, nr, p, j)
                          : g->trans_b ? g->b[j * g->ldb + p]
                                       : g->b[p * g->ldb + j]);
                g->c[i * g->ldc + j] = g->alpha * s + (g->acc ? g->c[i * g->ldc + j] : 0);
            }
        epilogue_apply(g->epi, g->c, g->ldc, m0, n0, m1 - m0, n1 - n0);
        return;
    }
    for (int64_t jc = n0; jc < n1; jc += nc_step) {
        int64_t nc = n1 - jc < nc_step ? n1 - jc : nc_step;
        for (int64_t pc = 0; pc < g->k; pc += kc_max) {
            int64_t kc = g->k - pc < kc_max ? g->k - pc : kc_max;
            int acc = g->acc || pc > 0;
            /* Few rows reuse each B panel too little to repay packing it: read whole panels of B in
             * place and pack only the partial last one. */
            int64_t full = nc / nr * nr;
            int last = pc + kc >= g->k;
            if (g->packed)
                ; /* packed at load */
            else if (g->conv)
                pack_b_conv(bp, g->conv, pc, kc, jc, nc, nr);
            else if (g->direct_b)
                pack_b_edge(bp, g, pc, kc, jc + full, nc - full, nr);
            else
                pack_b(bp, g, pc, kc, jc, nc, nr);
            for (int64_t ic = m0; ic < m1; ic += MC) {
                int64_t mc = m1 - ic < MC ? m1 - ic : MC;
                pack_a(ap, g, ic, mc, pc, kc);
                for (int64_t jr = 0; jr < nc; jr += nr) {
                    int64_t w = nc - jr < nr ? nc - jr : nr;
                    int direct = g->direct_b && jr < full;
                    const float *bpan = g->packed ? packed_block(g, pc, jc + jr, nr)
                                        : direct  ? g->b + pc * g->ldb + jc + jr
                                        : g->direct_b ? bp
                                                      : bp + jr * kc;
                    int64_t ldb_k = direct ? g->ldb : nr;
                    for (int64_t ir = 0; ir < mc; ir += g->mr) {
                        int64_t h = mc - ir < g->mr ? mc - ir : g->mr;
                        float *cij = g->c + (ic + ir) * g->ldc + jc + jr;
                        const float *apan = ap + ir * kc;
                        if (exact) {
                            exact(kc, apan, bpan, ldb_k, cij, g->ldc, acc, h, w);
                        } else if (h == g->mr && w == nr) {
                            micro(kc, apan, bpan, ldb_k, cij, g->ldc, acc);
                        } else {
                            micro(kc, apan, bpan, ldb_k, tile, nr, 0);
                            for (int64_t i = 0; i < h; i++)
                                for (int64_t j = 0; j < w; j++)
                                    cij[i * g->ldc + j] = (acc ? cij[i * g->ldc + j] : 0) + tile[i * nr + j];
                        }
                        if (last)
                            epilogue_apply(g->epi, g->c, g->ldc, ic + ir, jc + jr, h, w);
                    }
                }
            }
        }
    }
}

/* Few rows: c[i, j0:j1] from A and B as they lie, B streamed once per task. */
struct small_args {
    const struct gemm_args *g;
    int64_t n_step;
};

static void small_rows_generic(const struct gemm_args *g, int64_t j0, int64_t j1)
{
    for (int64_t i = 0; i < g->m; i++) {
        float *ci = g->c + i * g->ldc;
        for (int64_t j = j0; j < j1; j++)
            ci[j] = g->acc ? ci[j] : 0;
        for (int64_t p = 0; p < g->k; p++) {
            float av = g->alpha * g->a[i * g->lda + p];
            const float *bp = g->b + p * g->ldb;
            for (int64_t j = j0; j < j1; j++)
                ci[j] += av * bp[j];
        }
    }
}

#if HAVE_X86
/* One row of C, 32 columns at a time, B read straight from its rows. */
__attribute__((target("avx2,fma"))) static void small_rows_avx2(const struct gemm_args *g, int64_t j0, int64_t j1)
{
    for (int64_t i = 0; i < g->m; i++) {
        const float *ai = g->a + i * g->lda;
        float *ci = g->c + i * g->ldc;
        int64_t j = j0;
        for (; j + 32 <= j1; j += 32) {
            __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
            const float *bp = g->b + j;
            for (int64_t p = 0; p < g->k; p++, bp += g->ldb) {
                __m256 x = _mm256_set1_ps(ai[p]);
                s0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(bp), s0);
                s1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(bp + 8), s1);
                s2 = _mm256_fmadd_ps(x, _mm256_loadu_ps(bp + 16), s2);
                s3 = _mm256_fmadd_ps(x, _mm256_loadu_ps(bp + 24), s3);
            }
            __m256 al = _mm256_set1_ps(g->alpha);
            __m256 r[4] = {s0, s1, s2, s3};
            for (int q = 0; q < 4; q++) {
                __m256 v = _mm256_mul_ps(al, r[q]);
                if (g->acc)
                    v = _mm256_add_ps(v, _mm256_loadu_ps(ci + j + 8 * q));
                _mm256_storeu_ps(ci + j + 8 * q, v);
            }
        }
        for (; j < j1; j++) {
            float s = 0;
            for (int64_t p = 0; p < g->k; p++)
                s += ai[p] * g->b[p * g->ldb + j];
            ci[j] = g->alpha * s + (g->acc ? ci[j] : 0);
        }
    }
}
#endif

/* Few rows times a transposed B (a Gemm layer with transB=1): row i of A and
 * row j of B are both contiguous, so each c[i, j] is one dot product. */
static void small_dots_generic(const struct gemm_args *g, int64_t j0, int64_t j1)
{
    for (int64_t i = 0; i < g->m; i++)
        for (int64_t j = j0; j < j1; j++) {
            const float *ai = g->a + i * g->lda, *bj = g->b + j * g->ldb;
            float s = 0;
            for (int64_t p = 0; p < g->k; p++)
                s += ai[p] * bj[p];
            float *cij = g->c + i * g->ldc + j;
            *cij = g->alpha * s + (g->acc ? *cij : 0);
        }
}

#if HAVE_X86
__attribute__((target("avx2,fma"))) static float hsum_avx2(__m256 v)
{
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

/* Four columns at a time so each load of A serves four dot products. */
__attribute__((target("avx2,fma"))) static void small_dots_avx2(const struct gemm_args *g, int64_t j0, int64_t j1)
{
    int64_t k = g->k, k8 = k / 8 * 8;
    for (int64_t i = 0; i < g->m; i++) {
        const float *ai = g->a + i * g->lda;
        float *ci = g->c + i * g->ldc;
        int64_t j = j0;
        for (; j < j1; j += 4) {
            int w = j1 - j < 4 ? (int)(j1 - j) : 4;
            const float *b[4];
            for (int q = 0; q < 4; q++)
                b[q] = g->b + (j + (q < w ? q : 0)) * g->ldb;
            __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
            for (int64_t p = 0; p < k8; p += 8) {
                __m256 x = _mm256_loadu_ps(ai + p);
                s0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(b[0] + p), s0);
                s1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(b[1] + p), s1);
                s2 = _mm256_fmadd_ps(x, _mm256_loadu_ps(b[2] + p), s2);
                s3 = _mm256_fmadd_ps(x, _mm256_loadu_ps(b[3] + p), s3);
            }
            float sums[4] = {hsum_avx2(s0), hsum_avx2(s1), hsum_avx2(s2), hsum_avx2(s3)};
            for (int q = 0; q < w; q++) {
                for (int64_t p = k8; p < k; p++)
                    sums[q] += ai[p] * b[q][p];
                ci[j + q] = g->alpha * sums[q] + (g->acc ? ci[j + q] : 0);
            }
        }
    }
}
#endif

#if HAVE_X86
/* Transposed B (weights as exporters store Linear: [n, k]) with a few dozen
 * rows: rows of A and of B both run along k, so 4x4 (AVX-512) or 4x2 (AVX2)
 * blocks of dot products read them in place, no packing; B is streamed once
 * (column blocks outside), A stays in cache (row blocks inside). */
__attribute__((target("avx512f,avx2,fma"))) static void block_dots_avx512(const struct gemm_args *g, int64_t j0,
                                                                          int64_t j1)
{
    int64_t k = g->k, k16 = k / 16 * 16;
    for (int64_t j = j0; j < j1; j += 4) {
        int w = j1 - j < 4 ? (int)(j1 - j) : 4;
        const float *b0 = g->b + j * g->ldb, *b1 = g->b + (j + (w > 1)) * g->ldb, *b2 = g->b + (j + 2 * (w > 2)) * g->ldb,
                    *b3 = g->b + (j + 3 * (w > 3)) * g->ldb;
        for (int64_t i = 0; i < g->m; i += 4) {
            int h = g->m - i < 4 ? (int)(g->m - i) : 4;
            const float *a[4];
            for (int r = 0; r < 4; r++)
                a[r] = g->a + (i + (r < h ? r : 0)) * g->lda;
            __m512 s00 = _mm512_setzero_ps(), s01 = s00, s02 = s00, s03 = s00, s10 = s00, s11 = s00, s12 = s00,
                   s13 = s00, s20 = s00, s21 = s00, s22 = s00, s23 = s00, s30 = s00, s31 = s00, s32 = s00, s33 = s00;
            for (int64_t p = 0; p < k16; p += 16) {
                __m512 y0 = _mm512_loadu_ps(b0 + p), y1 = _mm512_loadu_ps(b1 + p), y2 = _mm512_loadu_ps(b2 + p),
                       y3 = _mm512_loadu_ps(b3 + p);
                __m512 x = _mm512_loadu_ps(a[0] + p);
                s00 = _mm512_fmadd_ps(x, y0, s00);
                s01 = _mm512_fmadd_ps(x, y1, s01);
                s02 = _mm512_fmadd_ps(x, y2, s02);
                s03 = _mm512_fmadd_ps(x, y3, s03);
                x = _mm512_loadu_ps(a[1] + p);
                s10 = _mm512_fmadd_ps(x, y0, s10);
                s11 = _mm512_fmadd_ps(x, y1, s11);
                s12 = _mm512_fmadd_ps(x, y2, s12);
                s13 = _mm512_fmadd_ps(x, y3, s13);
                x = _mm512_loadu_ps(a[2] + p);
                s20 = _mm512_fmadd_ps(x, y0, s20);
                s21 = _mm512_fmadd_ps(x, y1, s21);
                s22 = _mm512_fmadd_ps(x, y2, s22);
                s23 = _mm512_fmadd_ps(x, y3, s23);
                x = _mm512_loadu_ps(a[3] + p);
                s30 = _mm512_fmadd_ps(x, y0, s30);
                s31 = _mm512_fmadd_ps(x, y1, s31);
                s32 = _mm512_fmadd_ps(x, y2, s32);
                s33 = _mm512_fmadd_ps(x, y3, s33);
            }
            float sums[4][4] = {
                {_mm512_reduce_add_ps(s00), _mm512_reduce_add_ps(s01), _mm512_reduce_add_ps(s02),
                 _mm512_reduce_add_ps(s03)},
                {_mm512_reduce_add_ps(s10), _mm512_reduce_add_ps(s11), _mm512_reduce_add_ps(s12),
                 _mm512_reduce_add_ps(s13)},
                {_mm512_reduce_add_ps(s20), _mm512_reduce_add_ps(s21), _mm512_reduce_add_ps(s22),
                 _mm512_reduce_add_ps(s23)},
                {_mm512_reduce_add_ps(s30), _mm512_reduce_add_ps(s31), _mm512_reduce_add_ps(s32),
                 _mm512_reduce_add_ps(s33)},
            };
            const float *bq[4] = {b0, b1, b2, b3};
            for (int r = 0; r < h; r++)
                for (int q = 0; q < w; q++) {
                    float sum = sums[r][q];
                    for (int64_t p = k16; p < k; p++)
                        sum += a[r][p] * bq[q][p];
                    float *cij = g->c + (i + r) * g->ldc + j + q;
                    *cij = g->alpha * sum + (g->acc ? *cij : 0);
                }
        }
    }
}

__attribute__((target("avx2,fma"))) static void block_dots_avx2(const struct gemm_args *g, int64_t j0, int64_t j1)
{
    int64_t k = g->k, k8 = k / 8 * 8;
    for (int64_t j = j0; j < j1; j += 2) {
        int w = j1 - j < 2 ? (int)(j1 - j) : 2;
        const float *b0 = g->b + j * g->ldb, *b1 = g->b + (j + (w > 1)) * g->ldb;
        for (int64_t i = 0; i < g->m; i += 4) {
            int h = g->m - i < 4 ? (int)(g->m - i) : 4;
            const float *a[4];
            for (int r = 0; r < 4; r++)
                a[r] = g->a + (i + (r < h ? r : 0)) * g->lda;
            __m256 s00 = _mm256_setzero_ps(), s01 = s00, s10 = s00, s11 = s00, s20 = s00, s21 = s00, s30 = s00,
                   s31 = s00;
            for (int64_t p = 0; p < k8; p += 8) {
                __m256 y0 = _mm256_loadu_ps(b0 + p), y1 = _mm256_loadu_ps(b1 + p);
                __m256 x = _mm256_loadu_ps(a[0] + p);
                s00 = _mm256_fmadd_ps(x, y0, s00);
                s01 = _mm256_fmadd_ps(x, y1, s01);
                x = _mm256_loadu_ps(a[1] + p);
                s10 = _mm256_fmadd_ps(x, y0, s10);
                s11 = _mm256_fmadd_ps(x, y1, s11);
                x = _mm256_loadu_ps(a[2] + p);
                s20 = _mm256_fmadd_ps(x, y0, s20);
                s21 = _mm256_fmadd_ps(x, y1, s21);
                x = _mm256_loadu_ps(a[3] + p);
                s30 = _mm256_fmadd_ps(x, y0, s30);
                s31 = _mm256_fmadd_ps(x, y1, s31);
            }
            float sums[4][2] = {{hsum_avx2(s00), hsum_avx2(s01)},
                                {hsum_avx2(s10), hsum_avx2(s11)},
                                {hsum_avx2(s20), hsum_avx2(s21)},
                                {hsum_avx2(s30), hsum_avx2(s31)}};
            const float *bq[2] = {b0, b1};
            for (int r = 0; r < h; r++)
                for (int q = 0; q < w; q++) {
                    float sum = sums[r][q];
                    for (int64_t p = k8; p < k; p++)
                        sum += a[r][p] * bq[q][p];
                    float *cij = g->c + (i + r) * g->ldc + j + q;
                    *cij = g->alpha * sum + (g->acc ? *cij : 0);
                }
        }
    }
}

static void block_dots_task(void *ctx, int index)
{
    const struct small_args *s = ctx;
    const struct gemm_args *g = s->g;
    int64_t j0 = index * s->n_step, j1 = j0 + s->n_step < g->n ? j0 + s->n_step : g->n;
    if (j0 >= j1)
        return;
    (g->isa >= CPU_ISA_AVX512 ? block_dots_avx512 : block_dots_avx2)(g, j0, j1);
    epilogue_apply(g->epi, g->c, g->ldc, 0, j0, g->m, j1 - j0);
}
#endif

/* ---- few rows times B packed at load: every panel streamed once, all rows' sums in registers ---- */

static void gemv_packed_generic(const struct gemm_args *g, int64_t j0, int64_t j1)
{
    const int nr = 16;
    for (int64_t jr = j0; jr < j1; jr += nr) {
        int64_t w = j1 - jr < nr ? j1 - jr : nr;
        for (int64_t i = 0; i < g->m; i++) {
            float s[16] = {0};
            const float *b = packed_block(g, 0, jr, nr), *a = g->a + i * g->lda;
            for (int64_t p = 0; p < g->k; p++)
                for (int j = 0; j < nr; j++)
                    s[j] += a[p] * b[p * nr + j];
            float *c = g->c + i * g->ldc + jr;
            for (int64_t j = 0; j < w; j++)
                c[j] = g->alpha * s[j] + (g->acc ? c[j] : 0);
        }
    }
}

#if HAVE_X86
/* Row r of C at columns [jr, jr + 32) (fewer at the matrix's edge): alpha times the sums v0, v1,
 * added to what C holds when the call accumulates. */
__attribute__((target("avx512f,avx2,fma"), always_inline)) static inline void
gemv_store(const struct gemm_args *g, int r, int64_t jr, __m512 v0, __m512 v1)
{
    int64_t w = g->n - jr < 32 ? g->n - jr : 32;
    __mmask16 m0 = w >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << w) - 1);
    __mmask16 m1 = w >= 32 ? (__mmask16)0xffff : w <= 16 ? 0 : (__mmask16)((1u << (w - 16)) - 1);
    float *c = g->c + r * g->ldc + jr;
    __m512 al = _mm512_set1_ps(g->alpha);
    v0 = _mm512_mul_ps(al, v0);
    v1 = _mm512_mul_ps(al, v1);
    if (g->acc) {
        v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, c));
        v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, c + 16));
    }
    _mm512_mask_storeu_ps(c, m0, v0);
    _mm512_mask_storeu_ps(c + 16, m1, v1);
}

/* h (1 to 4, a constant once inlined) rows by one 32-column panel; two sets of sums over alternate k
 * so even one row keeps four FMA chains in flight. */
__attribute__((target("avx512f,avx2,fma"), always_inline)) static inline void
gemv_panel_avx512(const struct gemm_args *g, int64_t jr, const int h)
{
    __m512 s[2][4][2];
    for (int u = 0; u < 2; u++)
        for (int r = 0; r < 4; r++)
            s[u][r][0] = s[u][r][1] = _mm512_setzero_ps();
    /* the panel's k rows are one contiguous run (packed_block): streamed start to end */
    int64_t k = g->k, p = 0;
    const float *b = packed_block(g, 0, jr, 32), *a = g->a;
    for (; p + 2 <= k; p += 2, b += 64) {
        for (int u = 0; u < 2; u++) {
            __m512 b0 = _mm512_loadu_ps(b + 32 * u), b1 = _mm512_loadu_ps(b + 32 * u + 16);
            for (int r = 0; r < h; r++) {
                __m512 x = _mm512_set1_ps(a[r * g->lda + p + u]);
                s[u][r][0] = _mm512_fmadd_ps(x, b0, s[u][r][0]);
                s[u][r][1] = _mm512_fmadd_ps(x, b1, s[u][r][1]);
            }
        }
    }
    if (p < k) {
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
        for (int r = 0; r < h; r++) {
            __m512 x = _mm512_set1_ps(a[r * g->lda + p]);
            s[0][r][0] = _mm512_fmadd_ps(x, b0, s[0][r][0]);
            s[0][r][1] = _mm512_fmadd_ps(x, b1, s[0][r][1]);
        }
    }
    for (int r = 0; r < h; r++)
        gemv_store(g, r, jr, _mm512_add_ps(s[0][r][0], s[1][r][0]), _mm512_add_ps(s[0][r][1], s[1][r][1]));
}

/* One row by two 32-column panels at once: two streams of weights in flight instead of one. */
__attribute__((target("avx512f,avx2,fma"))) static void gemv_two_panels_avx512(const struct gemm_args *g, int64_t jr)
{
    __m512 s[2][2][2];
    for (int u = 0; u < 2; u++)
        for (int q = 0; q < 2; q++)
            s[u][q][0] = s[u][q][1] = _mm512_setzero_ps();
    int64_t k = g->k, p = 0;
    const float *b0 = packed_block(g, 0, jr, 32), *b1 = packed_block(g, 0, jr + 32, 32), *a = g->a;
    for (; p + 2 <= k; p += 2, b0 += 64, b1 += 64)
        for (int u = 0; u < 2; u++) {
            __m512 x = _mm512_set1_ps(a[p + u]);
            s[u][0][0] = _mm512_fmadd_ps(x, _mm512_loadu_ps(b0 + 32 * u), s[u][0][0]);
            s[u][0][1] = _mm512_fmadd_ps(x, _mm512_loadu_ps(b0 + 32 * u + 16), s[u][0][1]);
            s[u][1][0] = _mm512_fmadd_ps(x, _mm512_loadu_ps(b1 + 32 * u), s[u][1][0]);
            s[u][1][1] = _mm512_fmadd_ps(x, _mm512_loadu_ps(b1 + 32 * u + 16), s[u][1][1]);
        }
    if (p < k) {
        __m512 x = _mm512_set1_ps(a[p]);
        s[0][0][0] = _mm512_fmadd_ps(x, _mm512_loadu_ps(b0), s[0][0][0]);
        s[0][0][1] = _mm512_fmadd_ps(x, _mm512_loadu_ps(b0 + 16), s[0][0][1]);
        s[0][1][0] = _mm512_fmadd_ps(x, _mm512_loadu_ps(b1), s[0][1][0]);
        s[0][1][1] = _mm512_fmadd_ps(x, _mm512_loadu_ps(b1 + 16), s[0][1][1]);
    }
    for (int q = 0; q < 2; q++)
        gemv_store(g, 0, jr + 32 * q, _mm512_add_ps(s[0][q][0], s[1][q][0]), _mm512_add_ps(s[0][q][1], s[1][q][1]));
}

__attribute__((target("avx512f,avx2,fma"))) static void gemv_packed_avx512(const struct gemm_args *g, int64_t j0,
                                                                           int64_t j1)
{
    if (g->m == 1)
        for (; j0 + 32 < j1; j0 += 64)
            gemv_two_panels_avx512(g, j0);
    for (int64_t jr = j0; jr < j1; jr += 32)
        switch (g->m) {
        case 1: gemv_panel_avx512(g, jr, 1); break;
        case 2: gemv_panel_avx512(g, jr, 2); break;
        case 3: gemv_panel_avx512(g, jr, 3); break;
        default: gemv_panel_avx512(g, jr, 4); break;
        }
}

__attribute__((target("avx2,fma"), always_inline)) static inline void gemv_panel_avx2(const struct gemm_args *g,
                                                                                     int64_t jr, const int h)
{
    __m256 s[2][4][2];
    for (int u = 0; u < 2; u++)
        for (int r = 0; r < 4; r++)
            s[u][r][0] = s[u][r][1] = _mm256_setzero_ps();
    int64_t k = g->k, p = 0;
    const float *b = packed_block(g, 0, jr, 16), *a = g->a;
    for (; p + 2 <= k; p += 2, b += 32)
        for (int u = 0; u < 2; u++) {
            __m256 b0 = _mm256_loadu_ps(b + 16 * u), b1 = _mm256_loadu_ps(b + 16 * u + 8);
            for (int r = 0; r < h; r++) {
                __m256 x = _mm256_broadcast_ss(a + r * g->lda + p + u);
                s[u][r][0] = _mm256_fmadd_ps(x, b0, s[u][r][0]);
                s[u][r][1] = _mm256_fmadd_ps(x, b1, s[u][r][1]);
            }
        }
    if (p < k) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        for (int r = 0; r < h; r++) {
            __m256 x = _mm256_broadcast_ss(a + r * g->lda + p);
            s[0][r][0] = _mm256_fmadd_ps(x, b0, s[0][r][0]);
            s[0][r][1] = _mm256_fmadd_ps(x, b1, s[0][r][1]);
        }
    }
    int64_t w = g->n - jr < 16 ? g->n - jr : 16;
    __m256 al = _mm256_set1_ps(g->alpha);
    for (int r = 0; r < h; r++) {
        float out[16], *c = g->c + r * g->ldc + jr;
        _mm256_storeu_ps(out, _mm256_mul_ps(al, _mm256_add_ps(s[0][r][0], s[1][r][0])));
        _mm256_storeu_ps(out + 8, _mm256_mul_ps(al, _mm256_add_ps(s[0][r][1], s[1][r][1])));
        for (int64_t j = 0; j < w; j++)
            c[j] = out[j] + (g->acc ? c[j] : 0);
    }
}

__attribute__((target("avx2,fma"))) static void gemv_packed_avx2(const struct gemm_args *g, int64_t j0, int64_t j1)
{
    for (int64_t jr = j0; jr < j1; jr += 16)
        switch (g->m) {
        case 1: gemv_panel_avx2(g, jr, 1); break;
        case 2: gemv_panel_avx2(g, jr, 2); break;
        case 3: gemv_panel_avx2(g, jr, 3); break;
        default: gemv_panel_avx2(g, jr, 4); break;
        }
}
#endif

static void gemv_packed(const struct gemm_args *g, int64_t j0, int64_t j1)
{
#if HAVE_X86
    if (g->isa == CPU_ISA_AVX512) {
        gemv_packed_avx512(g, j0, j1);
        return;
    }
    if (g->isa == CPU_ISA_AVX2) {
        gemv_packed_avx2(g, j0, j1);
        return;
    }
#endif
    gemv_packed_generic(g, j0, j1);
}

static void small_task(void *ctx, int index)
{
    const struct small_args *s = ctx;
    const struct gemm_args *g = s->g;
    int64_t j0 = index * s->n_step, j1 = j0 + s->n_step < g->n ? j0 + s->n_step : g->n;
    if (j0 >= j1)
        return;
    if (g->packed)
        gemv_packed(g, j0, j1);
#if HAVE_X86
    else if (g->isa >= CPU_ISA_AVX2)
        (g->trans_b ? small_dots_avx2 : small_rows_avx2)(g, j0, j1);
#endif
    else
        (g->trans_b ? small_dots_generic : small_rows_generic)(g, j0, j1);
    epilogue_apply(g->epi, g->c, g->ldc, 0, j0, g->m, j1 - j0);
}

static int nr_for(enum cpu_isa isa)
{
    return isa == CPU_ISA_AVX512 ? 32 : 16;
}

size_t sgemm_pack_bytes(int64_t k, int64_t n)
{
    int nr = nr_for(cpu_isa());
    return (size_t)(k * ((n + nr - 1) / nr * nr)) * sizeof(float);
}

/* Weights of 2 MB and more on 2 MB boundaries, their whole 2 MB pages offered to the kernel as huge
 * pages: the micro-kernel streams a panel (up to 96 KB) per tile and A and C besides, which walked
 * past the first-level TLB every few tiles on 4 KB pages (a few percent of a 128x768x3072 product).
 * The part past the last whole 2 MB page stays on small pages, so nothing is rounded up. */
static float *alloc_panels(size_t bytes)
{
    const size_t huge = (size_t)2 << 20;
    void *data = NULL;
    if (bytes < huge)
        return aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (posix_memalign(&data, huge, bytes))
        return NULL;
#ifdef MADV_HUGEPAGE
    madvise(data, bytes / huge * huge, MADV_HUGEPAGE); /* advice: small pages if refused */
#endif
    return data;
}

int sgemm_pack(struct sgemm_packed *p, int trans_b, int64_t k, int64_t n, const float *b, int64_t ldb)
{
    int nr = nr_for(cpu_isa());
    int64_t n_pad = (n + nr - 1) / nr * nr;
    *p = (struct sgemm_packed){.nr = nr, .k = k, .n = n, .n_pad = n_pad};
    if (k <= 0 || n <= 0)
        return 0;
    p->data = alloc_panels((size_t)(k * n_pad) * sizeof(float));
    if (!p->data)
        return -1;
    for (int64_t pc = 0; pc < k; pc += KC) {
        int64_t kc = k - pc < KC ? k - pc : KC;
        for (int64_t jr = 0; jr < n_pad; jr += nr) {
            float *panel = p->data + jr * k + pc * nr;
            /* read B along its rows: down k when transposed, across the panel otherwise */
            if (trans_b) /* in 64-row strips, so the strip of the panel being written stays in L1 */
                for (int64_t q0 = 0; q0 < kc; q0 += 64) {
                    int64_t q1 = q0 + 64 < kc ? q0 + 64 : kc;
                    for (int64_t j = 0; j < nr; j++) {
                        float *dst = panel + q0 * nr + j;
                        const float *src = b + (jr + j) * ldb + pc + q0;
                        for (int64_t q = 0; q < q1 - q0; q++)
                            dst[q * nr] = jr + j < n ? src[q] : 0;
                    }
                }
            else
                for (int64_t q = 0; q < kc; q++) {
                    const float *src = b + (pc + q) * ldb + jr;
                    int64_t w = n - jr < nr ? n - jr : nr;
                    memcpy(panel + q * nr, src, (size_t)w * sizeof *panel);
                    for (int64_t j = w; j < nr; j++)
                        panel[q * nr + j] = 0;
                }
        }
    }
    return 0;
}

void sgemm_packed_free(struct sgemm_packed *p)
{
    free(p->data);
    p->data = NULL;
}

void sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
           const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    struct sgemm_job job = {.trans_a = trans_a, .trans_b = trans_b, .m = m, .n = n, .k = k, .alpha = alpha, .a = a,
                            .lda = lda, .b = b, .ldb = ldb, .beta = beta, .c = c, .ldc = ldc};
    sgemm_run(&job);
}

void sgemm_run(const struct sgemm_job *job)
{
    int trans_a = job->trans_a, trans_b = job->trans_b;
    int64_t m = job->m, n = job->n, k = job->k, lda = job->lda, ldb = job->ldb, ldc = job->ldc;
    float alpha = job->alpha, beta = job->beta, *c = job->c;
    const float *a = job->a, *b = job->b;
    if (m <= 0 || n <= 0)
        return;
    if (beta != 0 && beta != 1)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                c[i * ldc + j] *= beta;
    if (k <= 0) {
        if (beta == 0)
            for (int64_t i = 0; i < m; i++)
                memset(c + i * ldc, 0, (size_t)n * sizeof *c);
        epilogue_apply(job->epi, c, ldc, 0, 0, m, n);
        return;
    }
    struct gemm_args g = {
        .trans_a = trans_a,
        .trans_b = trans_b,
        .m = m,
        .n = n,
        .k = k,
        .alpha = alpha,
        .a = a,
        .b = b,
        .lda = lda,
        .ldb = ldb,
        .ldc = ldc,
        .c = c,
        .acc = beta != 0,
        .isa = cpu_isa(),
        .epi = epilogue_active(job->epi) ? job->epi : NULL,
        .conv = job->conv_b,
    };
    const struct sgemm_packed *pk = job->packed_b;
    if (pk && pk->data && pk->nr == nr_for(g.isa) && pk->k == k && pk->n == n) {
        g.packed = pk->data;
        g.n_pad = pk->n_pad;
    }
    double flops = (double)m * (double)n * (double)k;
    /* a GEMV over packed weights is bound by reading them: a megabyte is worth a second core */
    int threads = flops < PARALLEL_MIN_FLOPS && !(g.packed && m <= 4 && n * k >= GEMV_PARALLEL_MIN) ? 1
                                                                                                    : pool_threads();
    if (m <= 4 && !trans_a && !g.conv) {
        /* Serving batches: packing would cost as much as the product. Several tasks per thread, each
         * at least GEMV_TASK_MIN_CHUNKS panels: a thread that starts late (still waking, or preempted
         * on a busy machine) takes fewer of them instead of holding up the whole product. */
        int64_t chunks = (n + 31) / 32, per = threads > 1 ? GEMV_TASKS_PER_THREAD * threads : 1;
        if (per > chunks / GEMV_TASK_MIN_CHUNKS)
            per = chunks / GEMV_TASK_MIN_CHUNKS > threads ? chunks / GEMV_TASK_MIN_CHUNKS : threads;
        int tasks = chunks < per ? (int)chunks : (int)per;
        struct small_args s = {.g = &g, .n_step = (chunks + tasks - 1) / tasks * 32};
        pool_run(small_task, &s, tasks);
        return;
    }
#if HAVE_X86
    if (!g.packed && !g.conv && trans_b && !trans_a && m <= DIRECT_B_MAX_ROWS && g.isa >= CPU_ISA_AVX2) {
        int64_t chunks = (n + 15) / 16;
        int tasks = chunks < threads ? (int)chunks : threads;
        struct small_args s = {.g = &g, .n_step = (chunks + tasks - 1) / tasks * 16};
        pool_run(block_dots_task, &s, tasks);
        return;
    }
#endif
    /* One C block per thread: split the wider side, in whole micro-tiles. */
    g.mr = g.isa == CPU_ISA_AVX512 ? MR12 : MR6;
    int64_t n_tiles = (n + NR_MAX - 1) / NR_MAX, m_tiles = (m + g.mr - 1) / g.mr;
    int64_t tn = 1, tm = 1;
    if (threads > 1) {
        if (n_tiles >= threads)
            tn = threads;
        else if (m_tiles >= threads)
            tm = threads;
        else
            tn = n_tiles;
    }
    /* B read in place: few rows reuse a packed panel too little to repay packing it, and a short k
     * (a 1x1 convolution's channels) keeps an unpacked panel's rows in L1 across the row tiles. */
    g.direct_b = !g.packed && !g.conv && !trans_b && (m <= DIRECT_B_MAX_ROWS || k <= DIRECT_B_MAX_K);
    g.n_tasks_n = tn;
    g.n_step = (n_tiles + tn - 1) / tn * NR_MAX;
    g.m_step = (m_tiles + tm - 1) / tm * g.mr;
    pool_run(packed_task, &g, (int)(tn * tm));
}

struct batch_args {
    const struct sgemm_job *job;
    int64_t stride_a, stride_b, stride_c;
};

static void batch_task(void *ctx, int t)
{
    const struct batch_args *ba = ctx;
    struct sgemm_job job = *ba->job;
    struct epilogue e;
    job.a += t * ba->stride_a;
    job.b += t * ba->stride_b;
    job.c += t * ba->stride_c;
    if (job.epi) {
        e = *job.epi;
        if (e.residual)
            e.residual += t * ba->stride_c;
        job.epi = &e;
    }
    sgemm_run(&job); /* inside a pool task: runs on this thread */
}

void sgemm_run_batched(const struct sgemm_job *job, int64_t batch, int64_t stride_a, int64_t stride_b,
                       int64_t stride_c)
{
    struct batch_args ba = {.job = job, .stride_a = stride_a, .stride_b = stride_b, .stride_c = stride_c};
    double flops = (double)job->m * (double)job->n * (double)job->k;
    /* a product big enough to split over the pool by itself keeps its blocking; smaller ones are one task each */
    if (batch > 1 && batch < (1 << 20) && flops < 4.0 * PARALLEL_MIN_FLOPS && !job->conv_b) {
        pool_run(batch_task, &ba, (int)batch);
        return;
    }
    for (int64_t t = 0; t < batch; t++)
        batch_task(&ba, (int)t);
}
