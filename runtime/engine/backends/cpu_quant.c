/* Integer GEMM (B packed in k pairs for pmaddwd: 16 or 32 multiply-adds per
 * instruction with AVX2 or AVX-512, accumulators held in registers over the
 * whole k loop) and the depthwise convolution (one output row at a time,
 * every kernel tap added while the row is in L1, FMA lanes for stride 1). */
#include "cpu_quant.h"

#include "common/err.h"
#include "cpu_isa.h"
#include "epilogue.h"
#include "pack_budget.h"
#include "scratch.h"
#include "threadpool.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* ---- MatMulInteger / QLinearMatMul ---- */

struct qgemm {
    const uint8_t *a; /* [m, k], int8 or uint8 */
    int a_signed;
    int32_t za;
    /* B minus its zero point as int16, k in pairs: bp[((p / 2) * n + j) * 2 + p % 2], a zero row padding odd k.
     * One pmaddwd then multiplies and adds two k at once. */
    const int16_t *bp;
    int32_t *a_pairs; /* [m, (k + 1) / 2]: a_pair of every row, filled by the row's task */
    int64_t m, n, k, rows_per_task;
    uint32_t *c; /* int32 bits; unsigned so that overflow wraps as in hardware, not undefined */
    /* The VNNI path (B - zb fits int8): B in panels of 64 columns, each panel k groups of four k per column,
     * b4[((j / 64 · groups + p / 4) · 64 + j % 64) · 4 + p % 4], then its column sums; A as uint8 (int8 A
     * flipped by 128, za_u = za + 128), rows lda bytes apart (k rounded up to four, zero padded). */
    const int8_t *b4;
    const int32_t *colsum;
    const uint8_t *au;
    int64_t lda, n_pad, panels, panels_per_task, col_tasks;
    int32_t za_u;
};

static inline int32_t a_at(const struct qgemm *q, int64_t i, int64_t p)
{
    if (p >= q->k)
        return 0;
    return (q->a_signed ? (int32_t)(int8_t)q->a[i * q->k + p] : (int32_t)q->a[i * q->k + p]) - q->za;
}

/* (a_p, a_p+1) as the int16 pair pmaddwd multiplies against B's pair. */
static inline int32_t a_pair(const struct qgemm *q, int64_t i, int64_t p)
{
    return (int32_t)((uint32_t)(uint16_t)(int16_t)a_at(q, i, p) | (uint32_t)(uint16_t)(int16_t)a_at(q, i, p + 1) << 16);
}

/* Columns [j0, n) of row i, one at a time: the portable path and every path's tail. */
static void qgemm_cols_generic(const struct qgemm *q, int64_t i, int64_t j0)
{
    int64_t pairs = (q->k + 1) / 2;
    for (int64_t j = j0; j < q->n; j++) {
        uint32_t s = 0;
        for (int64_t p2 = 0; p2 < pairs; p2++) {
            const int16_t *b = q->bp + (p2 * q->n + j) * 2;
            s += (uint32_t)(a_at(q, i, 2 * p2) * b[0]) + (uint32_t)(a_at(q, i, 2 * p2 + 1) * b[1]);
        }
        q->c[i * q->n + j] = s;
    }
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) static void qgemm_row_avx2(const struct qgemm *q, int64_t i, int64_t j)
{
    int64_t pairs = (q->k + 1) / 2, n = q->n;
    const int32_t *ap = q->a_pairs + i * pairs;
    for (; j + 32 <= n; j += 32) {
        __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0;
        for (int64_t p2 = 0; p2 < pairs; p2++) {
            __m256i a = _mm256_set1_epi32(ap[p2]);
            const __m256i *b = (const __m256i *)(q->bp + (p2 * n + j) * 2);
            c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(a, _mm256_loadu_si256(b)));
            c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(a, _mm256_loadu_si256(b + 1)));
            c2 = _mm256_add_epi32(c2, _mm256_madd_epi16(a, _mm256_loadu_si256(b + 2)));
            c3 = _mm256_add_epi32(c3, _mm256_madd_epi16(a, _mm256_loadu_si256(b + 3)));
        }
        __m256i *out = (__m256i *)(q->c + i * n + j);
        _mm256_storeu_si256(out, c0);
        _mm256_storeu_si256(out + 1, c1);
        _mm256_storeu_si256(out + 2, c2);
        _mm256_storeu_si256(out + 3, c3);
    }
    for (; j + 8 <= n; j += 8) {
        __m256i c0 = _mm256_setzero_si256();
        for (int64_t p2 = 0; p2 < pairs; p2++)
            c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(_mm256_set1_epi32(ap[p2]),
                                                         _mm256_loadu_si256((const __m256i *)(q->bp + (p2 * n + j) * 2))));
        _mm256_storeu_si256((__m256i *)(q->c + i * n + j), c0);
    }
    qgemm_cols_generic(q, i, j);
}

__attribute__((target("avx512f,avx512bw"))) static void qgemm_row_avx512(const struct qgemm *q, int64_t i, int64_t j)
{
    int64_t pairs = (q->k + 1) / 2, n = q->n;
    const int32_t *ap = q->a_pairs + i * pairs;
    for (; j + 64 <= n; j += 64) {
        __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0;
        for (int64_t p2 = 0; p2 < pairs; p2++) {
            __m512i a = _mm512_set1_epi32(ap[p2]);
            const int16_t *b = q->bp + (p2 * n + j) * 2;
            c0 = _mm512_add_epi32(c0, _mm512_madd_epi16(a, _mm512_loadu_si512(b)));
            c1 = _mm512_add_epi32(c1, _mm512_madd_epi16(a, _mm512_loadu_si512(b + 32)));
            c2 = _mm512_add_epi32(c2, _mm512_madd_epi16(a, _mm512_loadu_si512(b + 64)));
            c3 = _mm512_add_epi32(c3, _mm512_madd_epi16(a, _mm512_loadu_si512(b + 96)));
        }
        uint32_t *out = q->c + i * n + j;
        _mm512_storeu_si512(out, c0);
        _mm512_storeu_si512(out + 16, c1);
        _mm512_storeu_si512(out + 32, c2);
        _mm512_storeu_si512(out + 48, c3);
    }
    for (; j + 16 <= n; j += 16) {
        __m512i c0 = _mm512_setzero_si512();
        for (int64_t p2 = 0; p2 < pairs; p2++)
            c0 = _mm512_add_epi32(c0, _mm512_madd_epi16(_mm512_set1_epi32(ap[p2]),
                                                         _mm512_loadu_si512(q->bp + (p2 * n + j) * 2)));
        _mm512_storeu_si512(q->c + i * n + j, c0);
    }
    qgemm_cols_generic(q, i, j);
}
#endif

#if defined(__x86_64__)
/* Four rows at once over 32-column tiles: each B load feeds four rows, a quarter of the B traffic. */
__attribute__((target("avx512f,avx512bw"))) static int64_t qgemm_rows4_avx512(const struct qgemm *q, int64_t i)
{
    int64_t pairs = (q->k + 1) / 2, n = q->n, j = 0;
    const int32_t *a0 = q->a_pairs + i * pairs, *a1 = a0 + pairs, *a2 = a1 + pairs, *a3 = a2 + pairs;
    for (; j + 32 <= n; j += 32) {
        __m512i c00 = _mm512_setzero_si512(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00,
                c31 = c00;
        for (int64_t p2 = 0; p2 < pairs; p2++) {
            const int16_t *b = q->bp + (p2 * n + j) * 2;
            __m512i b0 = _mm512_loadu_si512(b), b1 = _mm512_loadu_si512(b + 32);
            __m512i x = _mm512_set1_epi32(a0[p2]);
            c00 = _mm512_add_epi32(c00, _mm512_madd_epi16(x, b0));
            c01 = _mm512_add_epi32(c01, _mm512_madd_epi16(x, b1));
            x = _mm512_set1_epi32(a1[p2]);
            c10 = _mm512_add_epi32(c10, _mm512_madd_epi16(x, b0));
            c11 = _mm512_add_epi32(c11, _mm512_madd_epi16(x, b1));
            x = _mm512_set1_epi32(a2[p2]);
            c20 = _mm512_add_epi32(c20, _mm512_madd_epi16(x, b0));
            c21 = _mm512_add_epi32(c21, _mm512_madd_epi16(x, b1));
            x = _mm512_set1_epi32(a3[p2]);
            c30 = _mm512_add_epi32(c30, _mm512_madd_epi16(x, b0));
            c31 = _mm512_add_epi32(c31, _mm512_madd_epi16(x, b1));
        }
        uint32_t *out = q->c + i * n + j;
        _mm512_storeu_si512(out, c00);
        _mm512_storeu_si512(out + 16, c01);
        _mm512_storeu_si512(out + n, c10);
        _mm512_storeu_si512(out + n + 16, c11);
        _mm512_storeu_si512(out + 2 * n, c20);
        _mm512_storeu_si512(out + 2 * n + 16, c21);
        _mm512_storeu_si512(out + 3 * n, c30);
        _mm512_storeu_si512(out + 3 * n + 16, c31);
    }
    return j; /* columns done in all four rows */
}

/* The same with AVX2: four rows over 16-column tiles. */
__attribute__((target("avx2"))) static int64_t qgemm_rows4_avx2(const struct qgemm *q, int64_t i)
{
    int64_t pairs = (q->k + 1) / 2, n = q->n, j = 0;
    const int32_t *a0 = q->a_pairs + i * pairs, *a1 = a0 + pairs, *a2 = a1 + pairs, *a3 = a2 + pairs;
    for (; j + 16 <= n; j += 16) {
        __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00,
                c31 = c00;
        for (int64_t p2 = 0; p2 < pairs; p2++) {
            const __m256i *b = (const __m256i *)(q->bp + (p2 * n + j) * 2);
            __m256i b0 = _mm256_loadu_si256(b), b1 = _mm256_loadu_si256(b + 1);
            __m256i x = _mm256_set1_epi32(a0[p2]);
            c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(x, b0));
            c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(x, b1));
            x = _mm256_set1_epi32(a1[p2]);
            c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(x, b0));
            c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(x, b1));
            x = _mm256_set1_epi32(a2[p2]);
            c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(x, b0));
            c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(x, b1));
            x = _mm256_set1_epi32(a3[p2]);
            c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(x, b0));
            c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(x, b1));
        }
        __m256i *out = (__m256i *)(q->c + i * n + j);
        _mm256_storeu_si256(out, c00);
        _mm256_storeu_si256(out + 1, c01);
        _mm256_storeu_si256((__m256i *)(q->c + (i + 1) * n + j), c10);
        _mm256_storeu_si256((__m256i *)(q->c + (i + 1) * n + j) + 1, c11);
        _mm256_storeu_si256((__m256i *)(q->c + (i + 2) * n + j), c20);
        _mm256_storeu_si256((__m256i *)(q->c + (i + 2) * n + j) + 1, c21);
        _mm256_storeu_si256((__m256i *)(q->c + (i + 3) * n + j), c30);
        _mm256_storeu_si256((__m256i *)(q->c + (i + 3) * n + j) + 1, c31);
    }
    return j;
}
#endif

static void qgemm_task(void *ctx, int index)
{
    const struct qgemm *q = ctx;
    int64_t i0 = index * q->rows_per_task, i1 = i0 + q->rows_per_task < q->m ? i0 + q->rows_per_task : q->m;
    int64_t pairs = (q->k + 1) / 2;
    for (int64_t i = i0; i < i1; i++)
        for (int64_t p2 = 0; p2 < pairs; p2++)
            q->a_pairs[i * pairs + p2] = a_pair(q, i, 2 * p2);
    int64_t i = i0;
#if defined(__x86_64__)
    /* Blocks of four rows first; the columns they leave (n not a multiple of the tile) go one row at a time. */
    for (; cpu_isa() >= CPU_ISA_AVX2 && i + 4 <= i1; i += 4) {
        int avx512 = cpu_isa() >= CPU_ISA_AVX512;
        int64_t j = avx512 ? qgemm_rows4_avx512(q, i) : qgemm_rows4_avx2(q, i);
        for (int r = 0; r < 4; r++)
            (avx512 ? qgemm_row_avx512 : qgemm_row_avx2)(q, i + r, j);
    }
#endif
    for (; i < i1; i++) {
#if defined(__x86_64__)
        if (cpu_isa() >= CPU_ISA_AVX512) {
            qgemm_row_avx512(q, i, 0);
            continue;
        }
        if (cpu_isa() >= CPU_ISA_AVX2) {
            qgemm_row_avx2(q, i, 0);
            continue;
        }
#endif
        qgemm_cols_generic(q, i, 0);
    }
}

/* ---- AVX-512 VNNI: vpdpbusd multiplies four uint8 of A by four int8 of B and adds them to int32 ---- */

#define VNNI_COLS 64       /* columns per panel (four vectors); n_pad is a multiple */
#define VNNI_ROWS 6        /* rows per tile: 24 sums, four B vectors and a broadcast fit the 32 registers */
#define VNNI_ROW_CHUNK 192 /* rows per task at most: their A (192 · k bytes) stays in L2 beside a B panel */
/* k in blocks of 768: a panel's block (48 KiB) streams from L2, 256 bytes per 24 multiply-adds, which
 * L2 keeps up with; blocks of 384 (kept in L1) measured ~1% slower on k = 768 for the partial sums
 * stored and reloaded between blocks and twice the tile set-ups. */
#define VNNI_K_GROUPS 192
#define VNNI_TASK_MACS 131072 /* multiply-adds per task at least, so a task outweighs handing it out */
#define VNNI_TASKS_PER_THREAD 8 /* tasks a thread gets at least where the rows allow */

static int vnni_usable(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    return cpu_isa() >= CPU_ISA_AVX512 && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw");
#else
    return 0;
#endif
}

#if defined(__x86_64__)
/* h rows (h ≤ VNNI_ROWS, a constant where it is inlined) by one 64-column panel over all of k: the sums
 * stay in registers and each group of four k loads the panel's 256 contiguous bytes once for all h rows.
 * Then minus za_u times each column's sum of B, stored masked past n. */
__attribute__((target("avx512f,avx512bw,avx512vnni"), always_inline)) static inline void
vnni_tile(const struct qgemm *q, const uint8_t *a, int64_t i, int64_t panel, int64_t g0, int64_t g1, int h)
{
    int64_t groups = (q->k + 3) / 4, lda = q->lda;
    const int8_t *b = q->b4 + (panel * groups + g0) * (VNNI_COLS * 4);
    a += 4 * g0;
    __m512i acc[VNNI_ROWS][4];
#pragma GCC unroll 6
    for (int r = 0; r < VNNI_ROWS; r++)
#pragma GCC unroll 4
        for (int v = 0; v < 4; v++)
            acc[r][v] = _mm512_setzero_si512();
    for (int64_t g = 0; g < g1 - g0; g++, b += VNNI_COLS * 4) {
        __m512i b0 = _mm512_loadu_si512(b), b1 = _mm512_loadu_si512(b + 64), b2 = _mm512_loadu_si512(b + 128),
                b3 = _mm512_loadu_si512(b + 192);
#pragma GCC unroll 6
        for (int r = 0; r < VNNI_ROWS; r++)
            if (r < h) {
                int32_t w;
                memcpy(&w, a + r * lda + 4 * g, sizeof w);
                __m512i x = _mm512_set1_epi32(w);
                acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], x, b0);
                acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], x, b1);
                acc[r][2] = _mm512_dpbusd_epi32(acc[r][2], x, b2);
                acc[r][3] = _mm512_dpbusd_epi32(acc[r][3], x, b3);
            }
    }
    __m512i za = _mm512_set1_epi32(q->za_u);
#pragma GCC unroll 4
    for (int v = 0; v < 4; v++) {
        int64_t col = panel * VNNI_COLS + 16 * v;
        if (col >= q->n)
            break;
        __mmask16 m = q->n - col >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (q->n - col)) - 1);
        /* za_u = 0 (uint8 A, zero point 0: the common case) needs no correction */
        __m512i corr = q->za_u ? _mm512_mullo_epi32(za, _mm512_loadu_si512(q->colsum + col)) : _mm512_setzero_si512();
#pragma GCC unroll 6
        for (int r = 0; r < VNNI_ROWS; r++)
            if (r < h) {
                uint32_t *c = q->c + (i + r) * q->n + col;
                __m512i sum = g0 == 0 ? _mm512_sub_epi32(acc[r][v], corr)
                                      : _mm512_add_epi32(acc[r][v], _mm512_maskz_loadu_epi32(m, c));
                _mm512_mask_storeu_epi32(c, m, sum);
            }
    }
}

/* Rows [i0, i1) of one tile of at most five rows. */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void vnni_short_tile(const struct qgemm *q, int64_t i,
                                                                                   int64_t h, int64_t panel,
                                                                                   int64_t g0, int64_t g1)
{
    const uint8_t *a = q->au + i * q->lda;
    switch (h) {
    case 5: vnni_tile(q, a, i, panel, g0, g1, 5); break;
    case 4: vnni_tile(q, a, i, panel, g0, g1, 4); break;
    case 3: vnni_tile(q, a, i, panel, g0, g1, 3); break;
    case 2: vnni_tile(q, a, i, panel, g0, g1, 2); break;
    case 1: vnni_tile(q, a, i, panel, g0, g1, 1); break;
    default: break;
    }
}

/* Rows [i0, i1) against one panel, k block by k block: tiles of six, then the rows left. One or two
 * rows left join the last tile of six and the lot goes as two tiles of four or so: a tile of one or
 * two rows loads four B vectors per four or eight multiply-adds, and so runs at half speed. */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void vnni_rows(const struct qgemm *q, int64_t i0,
                                                                             int64_t i1, int64_t panel)
{
    int64_t groups = (q->k + 3) / 4, rest = (i1 - i0) % VNNI_ROWS;
    int64_t split = rest > 0 && rest < 3 && i1 - i0 > VNNI_ROWS ? VNNI_ROWS + rest : rest;
    for (int64_t g0 = 0; g0 < groups; g0 += VNNI_K_GROUPS) {
        int64_t g1 = g0 + VNNI_K_GROUPS < groups ? g0 + VNNI_K_GROUPS : groups, i = i0;
        for (; i + split < i1; i += VNNI_ROWS)
            vnni_tile(q, q->au + i * q->lda, i, panel, g0, g1, VNNI_ROWS);
        if (split > VNNI_ROWS) {
            vnni_short_tile(q, i, split / 2, panel, g0, g1);
            vnni_short_tile(q, i + split / 2, split - split / 2, panel, g0, g1);
        } else {
            vnni_short_tile(q, i, split, panel, g0, g1);
        }
    }
}
#endif

/* Task index = row chunk · col_tasks + column group: panels outside, rows inside, so each panel of B
 * is read from L2 once per six rows while the chunk's rows of A stay in L1/L2. */
static void qgemm_vnni_task(void *ctx, int index)
{
    const struct qgemm *q = ctx;
#if defined(__x86_64__)
    int64_t chunk = index / q->col_tasks, cols = index % q->col_tasks;
    int64_t i0 = chunk * q->rows_per_task, i1 = i0 + q->rows_per_task < q->m ? i0 + q->rows_per_task : q->m;
    int64_t p0 = cols * q->panels_per_task, p1 = p0 + q->panels_per_task < q->panels ? p0 + q->panels_per_task
                                                                                     : q->panels;
    for (int64_t p = p0; p < p1; p++)
        vnni_rows(q, i0, i1, p);
#else
    (void)q;
    (void)index;
#endif
}
/* Whether every B - zb fits int8 (the VNNI path's B operand). */
static int fits_int8(const struct tensor *b, int32_t zb, int64_t count)
{
    if (b->type == TENSOR_INT8 && zb == 0)
        return 1;
    if (b->type == TENSOR_UINT8 && zb == 128)
        return 1;
    for (int64_t i = 0; i < count; i++) {
        int32_t v = (b->type == TENSOR_INT8 ? ((const int8_t *)b->data)[i] : ((const uint8_t *)b->data)[i]) - zb;
        if (v < -128 || v > 127)
            return 0;
    }
    return 1;
}

static int64_t vnni_n_pad(int64_t n)
{
    return (n + VNNI_COLS - 1) / VNNI_COLS * VNNI_COLS;
}

/* B - zb in 64-column panels of groups of four k (struct qgemm's b4), zero padding, and column sums
 * after it (n_pad int32). */
static void pack_b_quads(int8_t *b4, const struct tensor *b, int32_t zb, int64_t k, int64_t n)
{
    int64_t n_pad = vnni_n_pad(n), groups = (k + 3) / 4;
    int32_t *colsum = (int32_t *)(b4 + groups * n_pad * 4);
    memset(b4, 0, (size_t)(groups * n_pad * 4));
    memset(colsum, 0, (size_t)n_pad * sizeof *colsum);
    for (int64_t p = 0; p < k; p++)
        for (int64_t j = 0; j < n; j++) {
            int32_t v = (b->type == TENSOR_INT8 ? ((const int8_t *)b->data)[p * n + j]
                                                : ((const uint8_t *)b->data)[p * n + j]) -
                        zb;
            b4[((j / VNNI_COLS * groups + p / 4) * VNNI_COLS + j % VNNI_COLS) * 4 + p % 4] = (int8_t)v;
            colsum[j] += v;
        }
}

static size_t quads_bytes(int64_t k, int64_t n)
{
    return (size_t)((k + 3) / 4 * vnni_n_pad(n) * 4) + (size_t)vnni_n_pad(n) * sizeof(int32_t);
}

static int is_q8(const struct tensor *t)
{
    return t && (t->type == TENSOR_UINT8 || t->type == TENSOR_INT8);
}

static int scalar_zero_point(const struct tensor *zp, const struct tensor *of, int32_t *out)
{
    *out = 0;
    if (!zp)
        return 1;
    if (zp->type != of->type || tensor_element_count(zp) != 1)
        return 0;
    *out = zp->type == TENSOR_INT8 ? *(const int8_t *)zp->data : *(const uint8_t *)zp->data;
    return 1;
}

/* B minus its zero point as int16 in k pairs (struct qgemm's layout). */
static void pack_b_pairs(int16_t *bp, const struct tensor *b, int32_t zb, int64_t k, int64_t n)
{
    int64_t pairs = (k + 1) / 2;
    for (int64_t p = 0; p < 2 * pairs; p++) {
        int16_t *row = bp + (p / 2) * n * 2 + p % 2;
        if (p >= k)
            for (int64_t j = 0; j < n; j++)
                row[2 * j] = 0;
        else if (b->type == TENSOR_INT8)
            for (int64_t j = 0; j < n; j++)
                row[2 * j] = (int16_t)(((const int8_t *)b->data)[p * n + j] - zb);
        else
            for (int64_t j = 0; j < n; j++)
                row[2 * j] = (int16_t)(((const uint8_t *)b->data)[p * n + j] - zb);
    }
}

/* Packed weights kept with the model (the node's cache) for a constant B. */
struct qpack {
    struct op_cache base;
    const void *b_data;
    enum tensor_type b_type;
    int32_t zb;
    int64_t k, n;
    int vnni;  /* bp holds pack_b_quads' layout, not pack_b_pairs' */
    void *bp;
    size_t bytes; /* bp's size, held in the pack budget */
};

static void qpack_free(struct op_cache *self)
{
    struct qpack *qp = (struct qpack *)self;
    pack_budget_give(qp->bytes);
    free(qp->bp);
    free(qp);
}

static void pack_b_as(void *bp, int vnni, const struct tensor *b, int32_t zb, int64_t k, int64_t n);
static size_t packed_bytes(int vnni, int64_t k, int64_t n);

/* B packed into a new cache entry, published in *cache unless another is there first; NULL then
 * (or without memory). */
static struct qpack *qpack_publish(_Atomic(struct op_cache *) *cache, const struct tensor *b, int32_t zb, int64_t k,
                                   int64_t n, int vnni)
{
    size_t bytes = packed_bytes(vnni, k, n);
    if (!pack_budget_take(bytes))
        return NULL; /* past the budget: each call packs its own in the arena */
    struct qpack *qp = calloc(1, sizeof *qp);
    if (!qp) {
        pack_budget_give(bytes);
        return NULL;
    }
    *qp = (struct qpack){.base.free = qpack_free, .b_data = b->data, .b_type = b->type, .zb = zb, .k = k, .n = n,
                         .vnni = vnni, .bp = malloc(bytes), .bytes = bytes};
    struct op_cache *expected = NULL;
    if (qp->bp) {
        pack_b_as(qp->bp, vnni, b, zb, k, n);
        if (atomic_compare_exchange_strong(cache, &expected, &qp->base))
            return qp;
    }
    qpack_free(&qp->base);
    return NULL;
}

void cpu_quant_prepare(const struct backend_node *info, _Atomic(struct op_cache *) *cache)
{
    int qlinear = !strcmp(info->node->op_type, "QLinearMatMul");
    int b_index = qlinear ? 3 : 1, zp_index = qlinear ? 5 : 3;
    if (info->n_inputs <= b_index || atomic_load(cache))
        return;
    const struct tensor *b = info->inputs[b_index], *zp = info->n_inputs > zp_index ? info->inputs[zp_index] : NULL;
    int32_t zb;
    if (!b || !b->data || !is_q8(b) || b->rank != 2 || (zp && !zp->data) || !scalar_zero_point(zp, b, &zb))
        return; /* known only at run time: the first run packs it */
    int64_t k = b->dims[0], n = b->dims[1];
    if (k < 1 || n < 1 || k > ((int64_t)1 << 40) / n)
        return;
    qpack_publish(cache, b, zb, k, n, vnni_usable() && fits_int8(b, zb, k * n));
}

static void pack_b_as(void *bp, int vnni, const struct tensor *b, int32_t zb, int64_t k, int64_t n)
{
    if (vnni)
        pack_b_quads(bp, b, zb, k, n);
    else
        pack_b_pairs(bp, b, zb, k, n);
}

static size_t packed_bytes(int vnni, int64_t k, int64_t n)
{
    return vnni ? quads_bytes(k, n) : (size_t)((k + 1) / 2 * 2 * n) * sizeof(int16_t) + 1;
}

/* B packed for the path in effect (vnni: pack_b_quads, else pack_b_pairs): once per model when B is
 * an initializer (input b_index constant), else per call in the arena. */
static const void *packed_b(const struct op_call *call, int b_index, const struct tensor *b, int32_t zb, int64_t k,
                            int64_t n, int vnni)
{
    size_t bytes = packed_bytes(vnni, k, n);
    int constant = call->cache && (call->constant_inputs >> b_index & 1);
    struct qpack *qp = constant ? (struct qpack *)atomic_load(call->cache) : NULL;
    if (qp && qp->b_data == b->data && qp->b_type == b->type && qp->zb == zb && qp->k == k && qp->n == n &&
        qp->vnni == vnni)
        return qp->bp;
    if (constant && !qp && (qp = qpack_publish(call->cache, b, zb, k, n, vnni)))
        return qp->bp;
    void *bp = arena_alloc(call->arena, bytes);
    if (bp)
        pack_b_as(bp, vnni, b, zb, k, n);
    return bp;
}

/* A as the VNNI tiles read it: in place when it is uint8 with k a multiple of four, else flipped to
 * uint8 and padded to whole groups of four in the arena. Nonzero without memory. */
static int vnni_prepare_a(const struct op_call *call, struct qgemm *q)
{
    int64_t lda = (q->k + 3) / 4 * 4;
    q->lda = lda;
    if (!q->a_signed && lda == q->k) {
        q->au = q->a;
        return 0;
    }
    uint8_t *au = arena_alloc(call->arena, (size_t)(q->m * lda) + 1);
    if (!au)
        return -1;
    uint8_t flip = q->a_signed ? 0x80 : 0;
    for (int64_t i = 0; i < q->m; i++) {
        const uint8_t *src = q->a + i * q->k;
        uint8_t *dst = au + i * lda;
        for (int64_t p = 0; p < q->k; p++)
            dst[p] = src[p] ^ flip;
        for (int64_t p = q->k; p < lda; p++)
            dst[p] = 0; /* B's padding rows are zero: any value would do, zero keeps it defined */
    }
    q->au = au;
    return 0;
}

/* Tasks for the VNNI path: chunks of at most VNNI_ROW_CHUNK rows times groups of panels, a group
 * holding enough panels for VNNI_TASK_MACS. Returns the task count. */
static int64_t vnni_split(struct qgemm *q)
{
    q->panels = q->n_pad / VNNI_COLS;
    if (q->m == 0)
        return 0;
    int64_t rows = q->m < VNNI_ROW_CHUNK ? q->m : VNNI_ROW_CHUNK;
    int64_t row_tasks = (q->m + rows - 1) / rows;
    while (row_tasks * q->panels > 1 << 20) { /* a task index fits an int */
        rows *= 2;
        row_tasks = (q->m + rows - 1) / rows;
    }
    /* With few panels, rows split further (whole tiles) so that each thread gets several tasks: a
     * thread finishing a task behind the others then leaves it a small one (12 panels between two
     * threads ran at 1.66x one thread's speed, 24 half-panels at 1.8x) */
    int threads = pool_threads();
    if (threads > 1 && row_tasks * q->panels < VNNI_TASKS_PER_THREAD * threads && q->m >= 4 * VNNI_ROWS) {
        int64_t splits = (VNNI_TASKS_PER_THREAD * threads + q->panels - 1) / q->panels;
        int64_t tiles = (q->m + VNNI_ROWS - 1) / VNNI_ROWS;
        if (splits > tiles / 2)
            splits = tiles / 2;
        rows = (tiles + splits - 1) / splits * VNNI_ROWS;
        row_tasks = (q->m + rows - 1) / rows;
    }
    int64_t per_panel = rows * VNNI_COLS * q->k;
    int64_t ppt = per_panel >= VNNI_TASK_MACS ? 1 : (VNNI_TASK_MACS + per_panel - 1) / per_panel;
    q->panels_per_task = ppt < q->panels ? ppt : q->panels;
    q->col_tasks = (q->panels + q->panels_per_task - 1) / q->panels_per_task;
    q->rows_per_task = rows;
    return row_tasks * q->col_tasks;
}

/* acc = (A - za)(B - zb) for A [..., m, k] (leading dims folded into rows) and a 2-D B [k, n], B being input b_index. */
static int qgemm_run(const struct op_call *call, uint32_t **acc, int64_t *dims, int *rank, const struct tensor *a,
                     const struct tensor *b, int b_index, const struct tensor *azp, const struct tensor *bzp)
{
    int32_t za, zb;
    if (!is_q8(a) || !is_q8(b) || a->rank < 2 || b->rank != 2 || !scalar_zero_point(azp, a, &za) ||
        !scalar_zero_point(bzp, b, &zb))
        return BACKEND_DECLINE;
    int64_t k = a->dims[a->rank - 1], n = b->dims[1], m = 1;
    if (b->dims[0] != k)
        return BACKEND_DECLINE;
    for (int i = 0; i < a->rank - 1; i++) {
        m *= a->dims[i];
        dims[i] = a->dims[i];
    }
    dims[a->rank - 1] = n;
    *rank = a->rank;
    if (m < 0 || n < 0 || k < 0 || (n && k > ((int64_t)1 << 40) / n))
        return BACKEND_DECLINE;
    int64_t pairs = (k + 1) / 2;
    /* VNNI when B - zb fits int8; a B packed at load already says so by its layout */
    int vnni = vnni_usable() && k > 0 && n > 0;
    if (vnni) {
        const struct qpack *qp = call->cache && (call->constant_inputs >> b_index & 1)
                                     ? (const struct qpack *)atomic_load(call->cache)
                                     : NULL;
        vnni = qp && qp->b_data == b->data && qp->zb == zb && qp->k == k && qp->n == n ? qp->vnni
                                                                                       : fits_int8(b, zb, k * n);
    }
    const void *bp = packed_b(call, b_index, b, zb, k, n, vnni);
    uint32_t *c = arena_alloc(call->arena, (size_t)(m * n) * sizeof *c + 1);
    int32_t *a_pairs = vnni ? NULL : arena_alloc(call->arena, (size_t)(m * pairs) * sizeof *a_pairs + 4);
    if (!bp || !c || (!vnni && !a_pairs))
        return BACKEND_DECLINE; /* the reference reports the memory limit */
    struct qgemm q = {.a = a->data, .a_signed = a->type == TENSOR_INT8, .za = za, .bp = bp, .a_pairs = a_pairs, .m = m, .n = n, .k = k,
                      .c = c};
    if (vnni) {
        q.b4 = bp;
        q.n_pad = vnni_n_pad(n);
        q.colsum = (const int32_t *)(q.b4 + (k + 3) / 4 * q.n_pad * 4);
        q.za_u = za + (q.a_signed ? 128 : 0);
        if (vnni_prepare_a(call, &q))
            return BACKEND_DECLINE;
        int64_t tasks = vnni_split(&q);
        pool_run(qgemm_vnni_task, &q, (int)tasks);
        *acc = c;
        return 0;
    }
    /* Tasks of at least ~64K multiply-adds, at most one per row. */
    int64_t work = n * k > 0 ? n * k : 1;
    q.rows_per_task = work >= 65536 ? 4 : (65536 / work + 3) / 4 * 4;
    int64_t tasks = m ? (m + q.rows_per_task - 1) / q.rows_per_task : 0;
    if (tasks > 1 << 20) {
        q.rows_per_task = (m + (1 << 20) - 1) >> 20;
        tasks = (m + q.rows_per_task - 1) / q.rows_per_task;
    }
    pool_run(qgemm_task, &q, (int)tasks);
    *acc = c;
    return 0;
}

int cpu_matmul_integer(const struct op_call *call)
{
    uint32_t *acc;
    int64_t dims[TENSOR_MAX_RANK];
    int rank;
    int rc = qgemm_run(call, &acc, dims, &rank, call->inputs[0], call->inputs[1], 1, ops_input(call, 2),
                       ops_input(call, 3));
    if (rc)
        return rc;
    call->outputs[0] = (struct tensor){.type = TENSOR_INT32, .rank = rank, .data = acc};
    for (int i = 0; i < rank; i++)
        call->outputs[0].dims[i] = dims[i];
    return 0;
}

/* y = saturate(round_half_even(acc · scale + z)) for elements [i, count), the reference's double arithmetic. */
static void requantize_generic(void *y, int s8, const uint32_t *acc, int64_t i, int64_t count, double scale, double z)
{
    double lo = s8 ? -128 : 0, hi = s8 ? 127 : 255;
    for (; i < count; i++) {
        double v = nearbyint((double)(int32_t)acc[i] * scale + z);
        v = isnan(v) ? 0 : v < lo ? lo : v > hi ? hi : v;
        if (s8)
            ((int8_t *)y)[i] = (int8_t)v;
        else
            ((uint8_t *)y)[i] = (uint8_t)v;
    }
}

#if defined(__x86_64__)
/* Sixteen at a time in two halves of eight doubles: multiply, add, round to even, clamp (the same
 * operations as the reference, so the same results), then narrow to bytes. Returns elements done. */
__attribute__((target("avx512f"))) static int64_t requantize_avx512(void *y, int s8, const uint32_t *acc,
                                                                   int64_t count, double scale, double z)
{
    __m512d vs = _mm512_set1_pd(scale), vz = _mm512_set1_pd(z), lo = _mm512_set1_pd(s8 ? -128 : 0),
            hi = _mm512_set1_pd(s8 ? 127 : 255);
    int64_t i = 0;
    for (; i + 16 <= count; i += 16) {
        __m512i a = _mm512_loadu_si512(acc + i);
        __m512d v0 = _mm512_cvtepi32_pd(_mm512_castsi512_si256(a));
        __m512d v1 = _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(a, 1));
        v0 = _mm512_roundscale_pd(_mm512_add_pd(_mm512_mul_pd(v0, vs), vz), _MM_FROUND_TO_NEAREST_INT);
        v1 = _mm512_roundscale_pd(_mm512_add_pd(_mm512_mul_pd(v1, vs), vz), _MM_FROUND_TO_NEAREST_INT);
        v0 = _mm512_min_pd(_mm512_max_pd(v0, lo), hi);
        v1 = _mm512_min_pd(_mm512_max_pd(v1, lo), hi);
        __m512i w = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtpd_epi32(v0)), _mm512_cvtpd_epi32(v1), 1);
        _mm_storeu_si128((__m128i *)((uint8_t *)y + i), _mm512_cvtepi32_epi8(w));
    }
    return i;
}
#endif

int cpu_qlinear_matmul(const struct op_call *call)
{
    const struct tensor *as = call->inputs[1], *bs = call->inputs[4], *ys = call->inputs[6], *yzp = call->inputs[7];
    if (!backend_is_float(as) || !backend_is_float(bs) || !backend_is_float(ys) || !is_q8(yzp) ||
        tensor_element_count(as) != 1 || tensor_element_count(bs) != 1 || tensor_element_count(ys) != 1 ||
        tensor_element_count(yzp) != 1)
        return BACKEND_DECLINE;
    uint32_t *acc;
    int64_t dims[TENSOR_MAX_RANK];
    int rank;
    int rc =
        qgemm_run(call, &acc, dims, &rank, call->inputs[0], call->inputs[3], 3, call->inputs[2], call->inputs[5]);
    if (!rc)
        rc = ops_alloc_output(call, 0, yzp->type, rank, dims);
    if (rc)
        return rc;
    /* The reference's arithmetic exactly: scale in double, round half to even, saturate. */
    double scale = (double)*(const float *)as->data * *(const float *)bs->data / *(const float *)ys->data;
    int s8 = yzp->type == TENSOR_INT8;
    double z = s8 ? *(const int8_t *)yzp->data : *(const uint8_t *)yzp->data;
    int64_t count = tensor_element_count(&call->outputs[0]), i = 0;
#if defined(__x86_64__)
    if (cpu_isa() >= CPU_ISA_AVX512 && isfinite(scale)) /* a NaN or infinite scale takes the reference's path */
        i = requantize_avx512(call->outputs[0].data, s8, acc, count, scale, z);
#endif
    requantize_generic(call->outputs[0].data, s8, acc, i, count, scale, z);
    return 0;
}

/* ---- depthwise Conv ---- */

struct depthwise {
    const float *x, *w, *bias;
    float *y;
    int64_t channels, in_h, in_w, out_h, out_w, kh, kw;
    int64_t stride_h, stride_w, pad_h, pad_w, dil_h, dil_w;
    /* The padded plane (stride 1 along rows): pad_top/left = the pads, the rest past the input. */
    int64_t padded_h, padded_w;
    const struct epilogue *epi; /* bias, fused residual and activation, applied per plane; NULL: bias only */
};

/* y[0, n) += v · x[0, n) */
static void axpy_generic(float *restrict y, float v, const float *restrict x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += v * x[i];
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) static void axpy_avx2(float *restrict y, float v, const float *restrict x,
                                                          int64_t n)
{
    __m256 vv = _mm256_set1_ps(v);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(vv, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    axpy_generic(y + i, v, x + i, n - i);
}

__attribute__((target("avx512f"))) static void axpy_avx512(float *restrict y, float v, const float *restrict x,
                                                           int64_t n)
{
    __m512 vv = _mm512_set1_ps(v);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(vv, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m,
                              _mm512_fmadd_ps(vv, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
    }
}
#endif

typedef void (*axpy_fn)(float *restrict, float, const float *restrict, int64_t);

static axpy_fn axpy_for_isa(void)
{
#if defined(__x86_64__)
    if (cpu_isa() >= CPU_ISA_AVX512)
        return axpy_avx512;
    if (cpu_isa() >= CPU_ISA_AVX2)
        return axpy_avx2;
#endif
    return axpy_generic;
}

/* Stride 1 along rows: the plane is copied once into a zero-bordered buffer,
 * then each vector of an output row sums every kernel tap in a register and
 * is stored once (no bounds checks in the loop, no reloading the row per tap). */
static void depthwise_plane(void *ctx, int index);

static void copy_padded(const struct depthwise *d, float *pad, const float *x)
{
    memset(pad, 0, (size_t)(d->padded_h * d->padded_w) * sizeof *pad);
    for (int64_t ih = 0; ih < d->in_h; ih++)
        memcpy(pad + (ih + d->pad_h) * d->padded_w + d->pad_w, x + ih * d->in_w, (size_t)d->in_w * sizeof *pad);
}

static void padded_rows_generic(const struct depthwise *d, const float *pad, const float *w, float *y)
{
    for (int64_t oh = 0; oh < d->out_h; oh++)
        for (int64_t ow = 0; ow < d->out_w; ow++) {
            float s = 0;
            for (int64_t r = 0; r < d->kh; r++) {
                const float *row = pad + (oh * d->stride_h + r * d->dil_h) * d->padded_w + ow;
                for (int64_t t = 0; t < d->kw; t++)
                    s += w[r * d->kw + t] * row[t * d->dil_w];
            }
            y[oh * d->out_w + ow] = s;
        }
}

#if defined(__x86_64__)
__attribute__((target("avx512f"))) static void padded_rows_avx512(const struct depthwise *d, const float *pad,
                                                                  const float *w, float *y)
{
    int64_t taps = d->kh * d->kw;
    for (int64_t oh = 0; oh < d->out_h; oh++) {
        const float *top = pad + oh * d->stride_h * d->padded_w;
        for (int64_t ow = 0; ow < d->out_w; ow += 16) {
            __mmask16 m = d->out_w - ow >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (d->out_w - ow)) - 1);
            __m512 s0 = _mm512_setzero_ps(), s1 = s0;
            for (int64_t q = 0; q < taps; q++) {
                int64_t r = q / d->kw, t = q % d->kw;
                __m512 v = _mm512_maskz_loadu_ps(m, top + r * d->dil_h * d->padded_w + ow + t * d->dil_w);
                if (q & 1)
                    s1 = _mm512_fmadd_ps(_mm512_set1_ps(w[q]), v, s1);
                else
                    s0 = _mm512_fmadd_ps(_mm512_set1_ps(w[q]), v, s0);
            }
            _mm512_mask_storeu_ps(y + oh * d->out_w + ow, m, _mm512_add_ps(s0, s1));
        }
    }
}

__attribute__((target("avx2,fma"))) static void padded_rows_avx2(const struct depthwise *d, const float *pad,
                                                                 const float *w, float *y)
{
    int64_t taps = d->kh * d->kw, full = d->out_w / 8 * 8;
    for (int64_t oh = 0; oh < d->out_h; oh++) {
        const float *top = pad + oh * d->stride_h * d->padded_w;
        for (int64_t ow = 0; ow < full; ow += 8) {
            __m256 s0 = _mm256_setzero_ps(), s1 = s0;
            for (int64_t q = 0; q < taps; q++) {
                int64_t r = q / d->kw, t = q % d->kw;
                __m256 v = _mm256_loadu_ps(top + r * d->dil_h * d->padded_w + ow + t * d->dil_w);
                if (q & 1)
                    s1 = _mm256_fmadd_ps(_mm256_set1_ps(w[q]), v, s1);
                else
                    s0 = _mm256_fmadd_ps(_mm256_set1_ps(w[q]), v, s0);
            }
            _mm256_storeu_ps(y + oh * d->out_w + ow, _mm256_add_ps(s0, s1));
        }
        for (int64_t ow = full; ow < d->out_w; ow++) {
            float s = 0;
            for (int64_t q = 0; q < taps; q++)
                s += w[q] * top[(q / d->kw) * d->dil_h * d->padded_w + ow + (q % d->kw) * d->dil_w];
            y[oh * d->out_w + ow] = s;
        }
    }
}
#endif

/* Fused work on output rows [oh0, oh1) of a plane while they are in cache: the plane is row c of
 * its image's [channels, plane] matrix, and the rows are its columns [oh0 · out_w, oh1 · out_w). */
static void plane_epilogue(const struct depthwise *d, int index, float *y, int64_t oh0, int64_t oh1)
{
    int64_t c = index % d->channels, plane = d->out_h * d->out_w;
    struct epilogue e = *d->epi;
    if (e.residual)
        e.residual += (index - c) * plane; /* the image's first plane */
    epilogue_apply(&e, y - c * plane, plane, c, oh0 * d->out_w, 1, (oh1 - oh0) * d->out_w);
}

static void depthwise_padded(void *ctx, int index)
{
    const struct depthwise *d = ctx;
    int64_t c = index % d->channels;
    const float *x = d->x + (int64_t)index * d->in_h * d->in_w, *w = d->w + c * d->kh * d->kw;
    float *y = d->y + (int64_t)index * d->out_h * d->out_w;
    float *pad = scratch_floats(SCRATCH_IM2COL, (size_t)(d->padded_h * d->padded_w));
    if (!pad) { /* no room: the row kernel needs none */
        depthwise_plane(ctx, index);
        return;
    }
    copy_padded(d, pad, x);
    /* a few output rows at a time, so the epilogue finds them in L1 */
    struct depthwise rows = *d;
    int64_t step = 2048 / (d->out_w > 0 ? d->out_w : 1) + 1;
    for (int64_t oh = 0; oh < d->out_h; oh += step) {
        rows.out_h = d->out_h - oh < step ? d->out_h - oh : step;
        const float *pad_rows = pad + oh * d->stride_h * d->padded_w;
        float *y_rows = y + oh * d->out_w;
#if defined(__x86_64__)
        if (cpu_isa() >= CPU_ISA_AVX512)
            padded_rows_avx512(&rows, pad_rows, w, y_rows);
        else if (cpu_isa() >= CPU_ISA_AVX2)
            padded_rows_avx2(&rows, pad_rows, w, y_rows);
        else
#endif
            padded_rows_generic(&rows, pad_rows, w, y_rows);
        if (d->epi)
            plane_epilogue(d, index, y, oh, oh + rows.out_h);
    }
}

/* One (image, channel) plane, one output row at a time: the row starts at the
 * bias and gets every kernel tap added while it is in L1. */
static void depthwise_plane(void *ctx, int index)
{
    const struct depthwise *d = ctx;
    axpy_fn axpy = axpy_for_isa();
    int64_t c = index % d->channels;
    const float *x = d->x + (int64_t)index * d->in_h * d->in_w, *w = d->w + c * d->kh * d->kw;
    float *y = d->y + (int64_t)index * d->out_h * d->out_w;
    float b = d->bias && !d->epi ? d->bias[c] : 0.0f;
    int64_t st = d->stride_w;
    for (int64_t oh = 0; oh < d->out_h; oh++) {
        float *yr = y + oh * d->out_w;
        for (int64_t ow = 0; ow < d->out_w; ow++)
            yr[ow] = b;
        for (int64_t r = 0; r < d->kh; r++) {
            int64_t ih = oh * d->stride_h - d->pad_h + r * d->dil_h;
            if (ih < 0 || ih >= d->in_h)
                continue;
            for (int64_t s = 0; s < d->kw; s++) {
                float v = w[r * d->kw + s];
                int64_t off = s * d->dil_w - d->pad_w;
                /* ow in [lo, hi) reads inside the row */
                int64_t lo = off >= 0 ? 0 : (-off + st - 1) / st;
                int64_t hi = d->in_w - off <= 0 ? 0 : (d->in_w - off + st - 1) / st;
                if (hi > d->out_w)
                    hi = d->out_w;
                if (lo >= hi)
                    continue;
                const float *xr = x + ih * d->in_w + off;
                if (st == 1)
                    axpy(yr + lo, v, xr + lo, hi - lo);
                else
                    for (int64_t ow = lo; ow < hi; ow++)
                        yr[ow] += v * xr[ow * st];
            }
        }
    }
    if (d->epi)
        plane_epilogue(d, index, y, 0, d->out_h);
}

int cpu_depthwise_conv(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0], *wt = call->inputs[1], *bias = ops_input(call, 2);
    if (!backend_is_float(x) || !backend_is_float(wt) || (bias && !backend_is_float(bias)) || x->rank != 4 ||
        wt->rank != 4)
        return BACKEND_DECLINE;
    int64_t channels = x->dims[1];
    if (ops_attr_int(call, "group", 1) != channels || channels < 1 || wt->dims[0] != channels || wt->dims[1] != 1 ||
        (bias && (bias->rank != 1 || bias->dims[0] != channels)))
        return BACKEND_DECLINE;
    struct ops_window win;
    if (backend_conv_window(call, &win, x, wt))
        return BACKEND_DECLINE;
    /* ops_window keeps spatial dims right-aligned in OPS_MAX_SPATIAL slots: H, W are the last two. */
    int hs = OPS_MAX_SPATIAL - 2, ws = OPS_MAX_SPATIAL - 1;
    int64_t dims[4] = {x->dims[0], channels, win.out[hs], win.out[ws]};
    struct epilogue e;
    if (epilogue_from_call(call, &e, 4, dims, 1, channels, bias ? bias->data : NULL, 1))
        return BACKEND_DECLINE;
    int rc = ops_alloc_output(call, 0, TENSOR_FLOAT, 4, dims);
    if (rc)
        return rc;
    struct depthwise d = {
        .x = x->data, .w = wt->data, .bias = bias ? bias->data : NULL, .y = call->outputs[0].data,
        .channels = channels, .in_h = win.in[hs], .in_w = win.in[ws], .out_h = win.out[hs], .out_w = win.out[ws],
        .kh = win.kernel[hs], .kw = win.kernel[ws], .stride_h = win.stride[hs], .stride_w = win.stride[ws],
        .pad_h = win.pad_begin[hs], .pad_w = win.pad_begin[ws], .dil_h = win.dilation[hs], .dil_w = win.dilation[ws],
    };
    e.ldr = d.out_h * d.out_w;
    d.epi = epilogue_active(&e) ? &e : NULL;
    /* Rows the kernel reads, past the input (zeros in the padded plane). */
    int64_t last_h = (d.out_h - 1) * d.stride_h + (d.kh - 1) * d.dil_h + 1;
    int64_t last_w = (d.out_w - 1) + (d.kw - 1) * d.dil_w + 1;
    d.padded_h = last_h > d.pad_h + d.in_h ? last_h : d.pad_h + d.in_h;
    d.padded_w = last_w > d.pad_w + d.in_w ? last_w : d.pad_w + d.in_w;
    int padded = d.stride_w == 1 && d.padded_h * d.padded_w <= (1 << 20);
    int64_t planes = x->dims[0] * channels;
    if (planes > 0 && d.out_h * d.out_w > 0)
        pool_run(padded ? depthwise_padded : depthwise_plane, &d, (int)planes);
    return 0;
}

int cpu_quant_claims(const struct backend_node *info)
{
    const char *op = info->node->op_type;
    if (strcmp(op, "MatMulInteger") && strcmp(op, "QLinearMatMul"))
        return 0;
    for (int i = 0; i < info->n_inputs; i++) {
        const struct tensor *t = info->inputs[i];
        if (t && t->type != TENSOR_UNDEFINED && t->type != TENSOR_FLOAT && !is_q8(t))
            return 0;
    }
    return 1;
}
