/* Vector exp: 2^n · p(r) with r = x − n·ln 2 split in two parts, p of degree
 * 6 (relative error ~2e-7 on the reduced range). Vector erf: Abramowitz and
 * Stegun 7.1.26 (absolute error 1.5e-7) on |x|, sign restored. */
#include "epilogue.h"

#include "backend.h"
#include "cpu_isa.h"

#include <math.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define LOG2E 1.44269504f
#define LN2_HI 0.693359375f
#define LN2_LO -2.12194440e-4f
#define EXP_MAX 88.3762626647949f
#define EXP_MIN -87.3365447505531f
#define ERF_P 0.3275911f
#define ERF_A1 0.254829592f
#define ERF_A2 -0.284496736f
#define ERF_A3 1.421413741f
#define ERF_A4 -1.453152027f
#define ERF_A5 1.061405429f
#define SQRT1_2 0.70710678118654752f

int epilogue_active(const struct epilogue *e)
{
    return e && (e->bias || e->residual || e->act != OP_ACT_NONE);
}

static float act_scalar(const struct epilogue *e, float v)
{
    switch (e->act) {
    case OP_ACT_RELU: return v > 0 ? v : 0;
    case OP_ACT_LEAKY_RELU: return v < 0 ? e->alpha * v : v;
    case OP_ACT_SIGMOID: return 1.0f / (1.0f + expf(-v));
    case OP_ACT_GELU: return 0.5f * v * (1.0f + erff(v * SQRT1_2));
    case OP_ACT_CLIP: return v < e->lo ? e->lo : v > e->hi ? e->hi : v;
    case OP_ACT_NONE: break;
    }
    return v;
}

static void row_generic(const struct epilogue *e, float *c, int64_t i, int64_t j0, int64_t w)
{
    const float *res = e->residual ? e->residual + i * e->ldr + j0 : NULL;
    for (int64_t j = 0; j < w; j++) {
        float v = c[j];
        if (e->bias)
            v += e->bias_per_row ? e->bias[i] : e->bias[j0 + j];
        if (res)
            v += res[j];
        c[j] = act_scalar(e, v);
    }
}

/* Every activation, for the per-ISA row kernels below. */
#define EACH_ACT(X, k)                                                                                                 \
    X(k, OP_ACT_NONE) X(k, OP_ACT_RELU) X(k, OP_ACT_LEAKY_RELU) X(k, OP_ACT_SIGMOID) X(k, OP_ACT_GELU) X(k, OP_ACT_CLIP)
#define ROW_ACT_CASE(k, a)                                                                                             \
    case a: k(e, c, i, j0, w, a); break;
/* name(e, c, i, j0, w): kernel (an always-inline row loop taking the activation last) instantiated
 * once per activation, the activation a constant in each, so no loop carries a dispatch. */
#define ROW_FOR_EACH_ACT(name, kernel, isa)                                                                             \
    __attribute__((target(isa))) static void name(const struct epilogue *e, float *c, int64_t i, int64_t j0,          \
                                                  int64_t w)                                                           \
    {                                                                                                                  \
        switch (e->act) { EACH_ACT(ROW_ACT_CASE, kernel) }                                                             \
    }

#if defined(__x86_64__)
__attribute__((target("avx512f"))) static inline __m512 exp512(__m512 x)
{
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(EXP_MIN)), _mm512_set1_ps(EXP_MAX));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
    __m512 p = _mm512_set1_ps(1.0f / 720);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(e));
}

__attribute__((target("avx512f"))) static inline __m512 erf512(__m512 x)
{
    __m512 ax = _mm512_abs_ps(x);
    /* t = 1 / d: the 14-bit reciprocal and one Newton step (relative error ~1e-8) cost a fraction of
     * a divide. |x| is capped (erf is ±1 in float from 4 on) so an infinite x leaves the Newton step
     * no inf · 0; a NaN passes the cap (min returns its second operand) and stays NaN. */
    __m512 d = _mm512_fmadd_ps(_mm512_min_ps(_mm512_set1_ps(1e10f), ax), _mm512_set1_ps(ERF_P), _mm512_set1_ps(1.0f));
    __m512 t = _mm512_rcp14_ps(d);
    t = _mm512_mul_ps(t, _mm512_fnmadd_ps(d, t, _mm512_set1_ps(2.0f)));
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(ERF_A5), t, _mm512_set1_ps(ERF_A4));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(ERF_A3));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(ERF_A2));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(ERF_A1));
    p = _mm512_mul_ps(p, t);
    __m512 y = _mm512_fnmadd_ps(p, exp512(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(ax, ax))),
                                _mm512_set1_ps(1.0f));
    /* the sign of x onto y */
    return _mm512_castsi512_ps(_mm512_or_si512(
        _mm512_castps_si512(y), _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u))));
}

__attribute__((target("avx512f"), always_inline)) static inline __m512 act512(const struct epilogue *e, __m512 v,
                                                                            const enum op_act act)
{
    switch (act) {
    case OP_ACT_RELU: return _mm512_max_ps(v, _mm512_setzero_ps());
    case OP_ACT_LEAKY_RELU: {
        __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
        return _mm512_mask_mul_ps(v, neg, v, _mm512_set1_ps(e->alpha));
    }
    case OP_ACT_SIGMOID:
        return _mm512_div_ps(_mm512_set1_ps(1.0f),
                             _mm512_add_ps(_mm512_set1_ps(1.0f), exp512(_mm512_sub_ps(_mm512_setzero_ps(), v))));
    case OP_ACT_GELU: {
        __m512 h = _mm512_mul_ps(v, _mm512_set1_ps(0.5f));
        return _mm512_fmadd_ps(h, erf512(_mm512_mul_ps(v, _mm512_set1_ps(SQRT1_2))), h);
    }
    case OP_ACT_CLIP: return _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(e->lo)), _mm512_set1_ps(e->hi));
    case OP_ACT_NONE: break;
    }
    return v;
}

__attribute__((target("avx512f"), always_inline)) static inline void
row_avx512_act(const struct epilogue *e, float *c, int64_t i, int64_t j0, int64_t w, const enum op_act act)
{
    const float *res = e->residual ? e->residual + i * e->ldr + j0 : NULL;
    const float *bias = e->bias && !e->bias_per_row ? e->bias + j0 : NULL;
    __m512 rb = _mm512_set1_ps(e->bias && e->bias_per_row ? e->bias[i] : 0.0f);
    for (int64_t j = 0; j < w; j += 16) {
        __mmask16 m = w - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (w - j)) - 1);
        __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, c + j), rb);
        if (bias)
            v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, bias + j));
        if (res)
            v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, res + j));
        _mm512_mask_storeu_ps(c + j, m, act512(e, v, act));
    }
}

ROW_FOR_EACH_ACT(row_avx512, row_avx512_act, "avx512f")

__attribute__((target("avx2,fma"))) static inline __m256 exp256(__m256 x)
{
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(EXP_MIN)), _mm256_set1_ps(EXP_MAX));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
    __m256 p = _mm256_set1_ps(1.0f / 720);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

__attribute__((target("avx2,fma"))) static inline __m256 erf256(__m256 x)
{
    __m256 sign = _mm256_and_ps(x, _mm256_set1_ps(-0.0f));
    __m256 ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
    __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(ax, _mm256_set1_ps(ERF_P), _mm256_set1_ps(1.0f)));
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(ERF_A5), t, _mm256_set1_ps(ERF_A4));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(ERF_A3));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(ERF_A2));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(ERF_A1));
    p = _mm256_mul_ps(p, t);
    __m256 y = _mm256_fnmadd_ps(p, exp256(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(ax, ax))),
                                _mm256_set1_ps(1.0f));
    return _mm256_or_ps(y, sign);
}

__attribute__((target("avx2,fma"), always_inline)) static inline __m256 act256(const struct epilogue *e, __m256 v,
                                                                             const enum op_act act)
{
    switch (act) {
    case OP_ACT_RELU: return _mm256_max_ps(v, _mm256_setzero_ps());
    case OP_ACT_LEAKY_RELU:
        return _mm256_blendv_ps(v, _mm256_mul_ps(v, _mm256_set1_ps(e->alpha)),
                                _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ));
    case OP_ACT_SIGMOID:
        return _mm256_div_ps(_mm256_set1_ps(1.0f),
                             _mm256_add_ps(_mm256_set1_ps(1.0f), exp256(_mm256_sub_ps(_mm256_setzero_ps(), v))));
    case OP_ACT_GELU: {
        __m256 h = _mm256_mul_ps(v, _mm256_set1_ps(0.5f));
        return _mm256_fmadd_ps(h, erf256(_mm256_mul_ps(v, _mm256_set1_ps(SQRT1_2))), h);
    }
    case OP_ACT_CLIP: return _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(e->lo)), _mm256_set1_ps(e->hi));
    case OP_ACT_NONE: break;
    }
    return v;
}

__attribute__((target("avx2,fma"), always_inline)) static inline void
row_avx2_act(const struct epilogue *e, float *c, int64_t i, int64_t j0, int64_t w, const enum op_act act)
{
    const float *res = e->residual ? e->residual + i * e->ldr + j0 : NULL;
    const float *bias = e->bias && !e->bias_per_row ? e->bias + j0 : NULL;
    __m256 rb = _mm256_set1_ps(e->bias && e->bias_per_row ? e->bias[i] : 0.0f);
    int64_t j = 0;
    for (; j + 8 <= w; j += 8) {
        __m256 v = _mm256_add_ps(_mm256_loadu_ps(c + j), rb);
        if (bias)
            v = _mm256_add_ps(v, _mm256_loadu_ps(bias + j));
        if (res)
            v = _mm256_add_ps(v, _mm256_loadu_ps(res + j));
        _mm256_storeu_ps(c + j, act256(e, v, act));
    }
    if (j < w) { /* the tail through a full-width buffer, so every lane computes alike */
        float buf[8] = {0};
        for (int64_t q = j; q < w; q++)
            buf[q - j] = c[q] + (e->bias ? (e->bias_per_row ? e->bias[i] : e->bias[j0 + q]) : 0.0f) +
                         (res ? res[q] : 0.0f);
        _mm256_storeu_ps(buf, act256(e, _mm256_loadu_ps(buf), act));
        for (int64_t q = j; q < w; q++)
            c[q] = buf[q - j];
    }
}

ROW_FOR_EACH_ACT(row_avx2, row_avx2_act, "avx2,fma")
#endif

void epilogue_apply(const struct epilogue *e, float *c, int64_t ldc, int64_t i0, int64_t j0, int64_t h, int64_t w)
{
    if (!epilogue_active(e) || w <= 0)
        return;
    void (*row)(const struct epilogue *, float *, int64_t, int64_t, int64_t) = row_generic;
#if defined(__x86_64__)
    if (cpu_isa() >= CPU_ISA_AVX512)
        row = row_avx512;
    else if (cpu_isa() >= CPU_ISA_AVX2)
        row = row_avx2;
#endif
    for (int64_t i = 0; i < h; i++)
        row(e, c + (i0 + i) * ldc + j0, i0 + i, j0, w);
}


static int same_dims(const struct tensor *t, int rank, const int64_t *dims)
{
    if (t->rank != rank)
        return 0;
    for (int i = 0; i < rank; i++)
        if (t->dims[i] != dims[i])
            return 0;
    return 1;
}

/* Whether t holds `count` values along output axis `axis` of a rank-`rank` output and 1 elsewhere
 * (so adding it leaves the output's shape as it is). */
static int is_axis_vector(const struct tensor *t, int rank, int axis, int64_t count)
{
    if (!backend_is_float(t) || t->rank > rank)
        return 0;
    for (int i = 0; i < t->rank; i++) {
        int out_axis = rank - t->rank + i;
        if (t->dims[i] != (out_axis == axis ? count : 1))
            return 0;
    }
    return tensor_element_count(t) == count;
}

int epilogue_from_call(const struct op_call *call, struct epilogue *e, int rank, const int64_t *dims, int bias_axis,
                         int64_t bias_count, const float *own_bias, int bias_per_row)
{
    *e = (struct epilogue){.bias = own_bias, .bias_per_row = bias_per_row};
    const struct op_fused *f = call->fused;
    if (!f)
        return 0;
    if (f->residual && (!backend_is_float(f->residual) || !same_dims(f->residual, rank, dims)))
        return BACKEND_DECLINE;
    if (f->bias) {
        if (!is_axis_vector(f->bias, rank, bias_axis, bias_count))
            return BACKEND_DECLINE;
        const float *fb = f->bias->data;
        if (own_bias) {
            float *sum = arena_alloc(call->arena, (size_t)bias_count * sizeof *sum + 1);
            if (!sum)
                return BACKEND_DECLINE;
            for (int64_t i = 0; i < bias_count; i++)
                sum[i] = own_bias[i] + fb[i];
            fb = sum;
        }
        e->bias = fb;
    }
    e->residual = f->residual ? f->residual->data : NULL;
    e->ldr = bias_count; /* rows of the output are bias_count wide for MatMul/Gemm; Conv sets its own */
    e->act = f->act;
    e->alpha = f->alpha;
    e->lo = f->lo;
    e->hi = f->hi;
    return 0;
}

