/* Each loop exists as AVX-512, AVX2 and plain C; the plain C one also does
 * the tails. exp uses the Cephes range reduction and polynomial (relative
 * error about 2e-7 over the float range), which is what Sigmoid needs. */
#include "vecmath.h"

#include "cpu_isa.h"

#include <math.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

static float scalar_op(enum vec_op op, float x, float y)
{
    switch (op) {
    case VEC_ADD: return x + y;
    case VEC_SUB: return x - y;
    case VEC_MUL: return x * y;
    case VEC_DIV: return x / y;
    }
    return 0;
}

static float scalar_act(enum vec_act act, float x, float alpha)
{
    switch (act) {
    case VEC_RELU: return x > 0 ? x : 0;
    case VEC_LEAKY_RELU: return x < 0 ? alpha * x : x;
    case VEC_SIGMOID: return x >= 0 ? 1 / (1 + expf(-x)) : expf(x) / (1 + expf(x));
    case VEC_EXP: return expf(x);
    case VEC_ERF: return erff(x);
    case VEC_TANH: return tanhf(x);
    }
    return x;
}

static void binary_tail(enum vec_op op, float *out, const float *a, int a_step, const float *b, int b_step, int64_t i,
                        int64_t n)
{
    for (; i < n; i++)
        out[i] = scalar_op(op, a[i * a_step], b[i * b_step]);
}

#if HAVE_X86
#define DEFINE_BINARY(name, isa_str, V, W, load, set1, store, add, sub, mul, div)                                      \
    __attribute__((target(isa_str))) static int64_t name(enum vec_op op, float *out, const float *a, int a_step,       \
                                                         const float *b, int b_step, int64_t n)                        \
    {                                                                                                                  \
        int64_t i = 0;                                                                                                 \
        V sa = set1(a[0]), sb = set1(b[0]);                                                                            \
        for (; i + W <= n; i += W) {                                                                                   \
            V x = a_step ? load(a + i) : sa, y = b_step ? load(b + i) : sb, r;                                         \
            switch (op) {                                                                                              \
            case VEC_ADD: r = add(x, y); break;                                                                        \
            case VEC_SUB: r = sub(x, y); break;                                                                        \
            case VEC_MUL: r = mul(x, y); break;                                                                        \
            default: r = div(x, y); break;                                                                             \
            }                                                                                                          \
            store(out + i, r);                                                                                         \
        }                                                                                                              \
        return i;                                                                                                      \
    }
DEFINE_BINARY(binary_avx2, "avx2,fma", __m256, 8, _mm256_loadu_ps, _mm256_set1_ps, _mm256_storeu_ps, _mm256_add_ps,
              _mm256_sub_ps, _mm256_mul_ps, _mm256_div_ps)
DEFINE_BINARY(binary_avx512, "avx512f,avx2,fma", __m512, 16, _mm512_loadu_ps, _mm512_set1_ps, _mm512_storeu_ps,
              _mm512_add_ps, _mm512_sub_ps, _mm512_mul_ps, _mm512_div_ps)

__attribute__((target("avx2,fma"))) static __m256 exp_avx2(__m256 x)
{
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.3f));
    __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
    __m256 y = _mm256_set1_ps(1.9875691500E-4f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507E-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073E-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894E-2f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459E-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201E-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

/* Odd Taylor series for small |x|, where the closed forms below would lose
 * the relative accuracy to cancellation: coefficients c[k] of x^(2k+1). */
__attribute__((target("avx2,fma"))) static __m256 odd_series_avx2(__m256 x, const float *c, int n)
{
    __m256 x2 = _mm256_mul_ps(x, x), p = _mm256_set1_ps(c[n - 1]);
    for (int k = n - 2; k >= 0; k--)
        p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(c[k]));
    return _mm256_mul_ps(p, x);
}

/* erf: the Taylor series for |x| < 1 (terms fall as 1/(k!(2k+1)): 1e-8 after
 * 11), Abramowitz & Stegun 7.1.26 (absolute error 1.5e-7, erf ≥ 0.84 there)
 * above. Past 3.9 erf rounds to ±1; ±inf gives ±1 and NaN stays NaN. */
static const float erf_series[] = {1.1283791671f,   -0.37612638903f,  0.11283791671f,   -0.026866170645f,
                                   0.0052239776254f, -8.5483270234e-4f, 1.2055332982e-4f, -1.4925650358e-5f,
                                   1.6462114365e-6f, -1.6365844691e-7f, 1.4807192644e-8f};
__attribute__((target("avx2,fma"))) static __m256 erf_avx2(__m256 x)
{
    __m256 sign = _mm256_and_ps(x, _mm256_set1_ps(-0.0f)), ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
    __m256 small = odd_series_avx2(x, erf_series, 11);
    __m256 a = _mm256_min_ps(ax, _mm256_set1_ps(9.0f)); /* also maps +inf to a finite 9 */
    __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(a, _mm256_set1_ps(0.3275911f), _mm256_set1_ps(1.0f)));
    __m256 p = _mm256_set1_ps(1.061405429f);
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
    p = _mm256_mul_ps(p, t);
    __m256 big = _mm256_fnmadd_ps(p, exp_avx2(_mm256_mul_ps(_mm256_sub_ps(_mm256_setzero_ps(), a), a)),
                                  _mm256_set1_ps(1.0f));
    big = _mm256_or_ps(big, sign);
    __m256 r = _mm256_blendv_ps(big, small, _mm256_cmp_ps(ax, _mm256_set1_ps(1.0f), _CMP_LT_OQ));
    return _mm256_blendv_ps(r, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

/* tanh: the Taylor series for |x| < 0.625 (ratio (2x/π)² = 0.16 per term:
 * 1e-7 after 9), 1 - 2/(e^2|x| + 1) above (tanh ≥ 0.55 there, e^2|x| clamped
 * finite so large |x| gives exactly ±1). NaN stays NaN. */
static const float tanh_series[] = {1.0f,
                                    -0.33333333333f,
                                    0.13333333333f,
                                    -0.053968253968f,
                                    0.021869488536f,
                                    -0.0088632355299f,
                                    0.0035921280366f,
                                    -0.0014558343870f,
                                    5.9002744094e-4f};
__attribute__((target("avx2,fma"))) static __m256 tanh_avx2(__m256 x)
{
    __m256 sign = _mm256_and_ps(x, _mm256_set1_ps(-0.0f)), ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
    __m256 small = odd_series_avx2(x, tanh_series, 9);
    __m256 e = exp_avx2(_mm256_min_ps(_mm256_add_ps(ax, ax), _mm256_set1_ps(80.0f)));
    __m256 big = _mm256_sub_ps(_mm256_set1_ps(1.0f),
                               _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, _mm256_set1_ps(1.0f))));
    big = _mm256_or_ps(big, sign);
    __m256 r = _mm256_blendv_ps(big, small, _mm256_cmp_ps(ax, _mm256_set1_ps(0.625f), _CMP_LT_OQ));
    return _mm256_blendv_ps(r, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

__attribute__((target("avx2,fma"))) static int64_t act_avx2(enum vec_act act, float *out, const float *in, int64_t n,
                                                            float alpha)
{
    int64_t i = 0;
    __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f), al = _mm256_set1_ps(alpha);
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(in + i), r;
        switch (act) {
        case VEC_RELU: r = _mm256_max_ps(x, zero); break;
        case VEC_LEAKY_RELU: r = _mm256_blendv_ps(x, _mm256_mul_ps(x, al), _mm256_cmp_ps(x, zero, _CMP_LT_OQ)); break;
        case VEC_SIGMOID:
            r = _mm256_div_ps(one, _mm256_add_ps(one, exp_avx2(_mm256_sub_ps(zero, x))));
            r = _mm256_blendv_ps(r, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q)); /* NaN stays NaN */
            break;
        case VEC_ERF: r = erf_avx2(x); break;
        case VEC_TANH: r = tanh_avx2(x); break;
        default: r = exp_avx2(x); break;
        }
        /* exp past the polynomial's range (overflow to inf, results below FLT_MIN, NaN): libm's answer
         * (from x: out may be in, already overwritten) */
        if (act == VEC_EXP &&
            _mm256_movemask_ps(_mm256_cmp_ps(_mm256_and_ps(_mm256_cmp_ps(x, _mm256_set1_ps(-87.3f), _CMP_GE_OQ),
                                                           _mm256_cmp_ps(x, _mm256_set1_ps(88.3f), _CMP_LE_OQ)),
                                             zero, _CMP_EQ_OQ))) {
            float xs[8], rs[8];
            _mm256_storeu_ps(xs, x);
            _mm256_storeu_ps(rs, r);
            for (int j = 0; j < 8; j++)
                if (!(xs[j] >= -87.3f && xs[j] <= 88.3f))
                    rs[j] = expf(xs[j]);
            r = _mm256_loadu_ps(rs);
        }
        _mm256_storeu_ps(out + i, r);
    }
    return i;
}
#endif

void vec_binary(enum vec_op op, float *out, const float *a, int a_step, const float *b, int b_step, int64_t n)
{
    int64_t i = 0;
#if HAVE_X86
    enum cpu_isa isa = cpu_isa();
    if (isa == CPU_ISA_AVX512)
        i = binary_avx512(op, out, a, a_step, b, b_step, n);
    else if (isa == CPU_ISA_AVX2)
        i = binary_avx2(op, out, a, a_step, b, b_step, n);
#endif
    binary_tail(op, out, a, a_step, b, b_step, i, n);
}

void vec_activation(enum vec_act act, float *out, const float *in, int64_t n, float alpha)
{
    int64_t i = 0;
#if HAVE_X86
    if (cpu_isa() >= CPU_ISA_AVX2)
        i = act_avx2(act, out, in, n, alpha);
#endif
    for (; i < n; i++)
        out[i] = scalar_act(act, in[i], alpha);
}

#if HAVE_X86
__attribute__((target("avx2,fma"))) static int64_t scale_shift_avx2(float *out, const float *in, int64_t n, float k,
                                                                    float off)
{
    int64_t i = 0;
    __m256 vk = _mm256_set1_ps(k), vo = _mm256_set1_ps(off);
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_fmadd_ps(_mm256_loadu_ps(in + i), vk, vo));
    return i;
}
#endif

void vec_scale_shift(float *out, const float *in, int64_t n, float k, float off)
{
    int64_t i = 0;
#if HAVE_X86
    if (cpu_isa() >= CPU_ISA_AVX2)
        i = scale_shift_avx2(out, in, n, k, off);
#endif
    for (; i < n; i++)
        out[i] = in[i] * k + off;
}

#if HAVE_X86
__attribute__((target("avx2,fma"))) static int64_t sum_avx2(const float *in, int64_t n, double *out)
{
    int64_t i = 0;
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(in + i);
        lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(x)));
        hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)));
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, _mm256_add_pd(lo, hi));
    *out = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    return i;
}

/* NaN anywhere makes the maximum NaN (the callers' results are NaN either way). */
__attribute__((target("avx2,fma"))) static int64_t max_avx2(const float *in, int64_t n, float *out)
{
    int64_t i = 0;
    __m256 m = _mm256_set1_ps(in[0]), nan = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(in + i);
        m = _mm256_max_ps(m, x);
        nan = _mm256_or_ps(nan, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, m);
    float r = lanes[0];
    for (int j = 1; j < 8; j++)
        r = lanes[j] > r ? lanes[j] : r;
    *out = _mm256_movemask_ps(nan) ? NAN : r;
    return i;
}

/* Σ (in[i] - mean)² in double over float lanes; mean = hi + lo, as in vec_normalize. */
__attribute__((target("avx2,fma"))) static int64_t sq_dev_avx2(const float *in, int64_t n, float mean_hi,
                                                               float mean_lo, double *out)
{
    int64_t i = 0;
    __m256 vm = _mm256_set1_ps(mean_hi), vl = _mm256_set1_ps(mean_lo);
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    for (; i + 8 <= n; i += 8) {
        __m256 d = _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(in + i), vm), vl);
        __m256 d2 = _mm256_mul_ps(d, d);
        lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(d2)));
        hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(d2, 1)));
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, _mm256_add_pd(lo, hi));
    *out = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    return i;
}

__attribute__((target("avx2,fma"))) static int64_t normalize_avx2(float *out, const float *in, int64_t n, float mean_hi,
                                                                  float mean_lo, float inv, const float *scale,
                                                                  const float *bias)
{
    int64_t i = 0;
    __m256 vm = _mm256_set1_ps(mean_hi), vl = _mm256_set1_ps(mean_lo), vi = _mm256_set1_ps(inv);
    for (; i + 8 <= n; i += 8) {
        __m256 z = _mm256_mul_ps(_mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(in + i), vm), vl), vi);
        __m256 b = bias ? _mm256_loadu_ps(bias + i) : _mm256_setzero_ps();
        _mm256_storeu_ps(out + i, _mm256_fmadd_ps(z, _mm256_loadu_ps(scale + i), b));
    }
    return i;
}

/* out = exp(in - shift), returning Σ out in double (Softmax's pass); lanes past the polynomial's
 * range take libm's answer, as act_avx2's exp does. */
__attribute__((target("avx2,fma"))) static int64_t exp_sum_avx2(float *out, const float *in, int64_t n, float shift,
                                                                double *sum)
{
    int64_t i = 0;
    __m256 sh = _mm256_set1_ps(shift);
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_sub_ps(_mm256_loadu_ps(in + i), sh), r = exp_avx2(x);
        int in_range = _mm256_movemask_ps(_mm256_and_ps(_mm256_cmp_ps(x, _mm256_set1_ps(-87.3f), _CMP_GE_OQ),
                                                        _mm256_cmp_ps(x, _mm256_set1_ps(88.3f), _CMP_LE_OQ)));
        if (in_range != 0xff) {
            float xs[8], rs[8];
            _mm256_storeu_ps(xs, x);
            _mm256_storeu_ps(rs, r);
            for (int j = 0; j < 8; j++)
                if (!(in_range >> j & 1))
                    rs[j] = expf(xs[j]);
            r = _mm256_loadu_ps(rs);
        }
        _mm256_storeu_ps(out + i, r);
        lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(r)));
        hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(r, 1)));
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, _mm256_add_pd(lo, hi));
    *sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    return i;
}

/* The same loops 16 lanes wide; sums still in double (two 8-lane halves). */
__attribute__((target("avx512f,avx2,fma"))) static int64_t sum_avx512(const float *in, int64_t n, double *out)
{
    int64_t i = 0;
    __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
    for (; i + 16 <= n; i += 16) {
        __m512 x = _mm512_loadu_ps(in + i);
        lo = _mm512_add_pd(lo, _mm512_cvtps_pd(_mm512_castps512_ps256(x)));
        hi = _mm512_add_pd(hi, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1))));
    }
    *out = _mm512_reduce_add_pd(_mm512_add_pd(lo, hi));
    return i;
}

__attribute__((target("avx512f,avx2,fma"))) static int64_t max_avx512(const float *in, int64_t n, float *out)
{
    int64_t i = 0;
    __m512 m = _mm512_set1_ps(in[0]);
    __mmask16 nan = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 x = _mm512_loadu_ps(in + i);
        m = _mm512_max_ps(m, x);
        nan |= _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    }
    *out = nan ? NAN : _mm512_reduce_max_ps(m);
    return i;
}

__attribute__((target("avx512f,avx2,fma"))) static int64_t sq_dev_avx512(const float *in, int64_t n, float mean_hi,
                                                                         float mean_lo, double *out)
{
    int64_t i = 0;
    __m512 vm = _mm512_set1_ps(mean_hi), vl = _mm512_set1_ps(mean_lo);
    __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
    for (; i + 16 <= n; i += 16) {
        __m512 d = _mm512_sub_ps(_mm512_sub_ps(_mm512_loadu_ps(in + i), vm), vl);
        __m512 d2 = _mm512_mul_ps(d, d);
        lo = _mm512_add_pd(lo, _mm512_cvtps_pd(_mm512_castps512_ps256(d2)));
        hi = _mm512_add_pd(hi, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(d2), 1))));
    }
    *out = _mm512_reduce_add_pd(_mm512_add_pd(lo, hi));
    return i;
}

__attribute__((target("avx512f,avx2,fma"))) static int64_t normalize_avx512(float *out, const float *in, int64_t n,
                                                                            float mean_hi, float mean_lo, float inv,
                                                                            const float *scale, const float *bias)
{
    int64_t i = 0;
    __m512 vm = _mm512_set1_ps(mean_hi), vl = _mm512_set1_ps(mean_lo), vi = _mm512_set1_ps(inv);
    for (; i + 16 <= n; i += 16) {
        __m512 z = _mm512_mul_ps(_mm512_sub_ps(_mm512_sub_ps(_mm512_loadu_ps(in + i), vm), vl), vi);
        __m512 b = bias ? _mm512_loadu_ps(bias + i) : _mm512_setzero_ps();
        _mm512_storeu_ps(out + i, _mm512_fmadd_ps(z, _mm512_loadu_ps(scale + i), b));
    }
    return i;
}

/* exp_avx2's Cephes reduction and polynomial, 16 lanes. */
__attribute__((target("avx512f,avx2,fma"))) static __m512 exp_avx512(__m512 x)
{
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.3f)), _mm512_set1_ps(88.3f));
    __m512 fx = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
    x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(-2.12194440e-4f), x);
    __m512 y = _mm512_set1_ps(1.9875691500E-4f);
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.3981999507E-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(8.3334519073E-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(4.1665795894E-2f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.6666665459E-1f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(5.0000001201E-1f));
    y = _mm512_fmadd_ps(y, _mm512_mul_ps(x, x), _mm512_add_ps(x, _mm512_set1_ps(1.0f)));
    __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(fx), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(y, _mm512_castsi512_ps(e));
}

__attribute__((target("avx512f,avx2,fma"))) static int64_t exp_sum_avx512(float *out, const float *in, int64_t n,
                                                                          float shift, double *sum)
{
    int64_t i = 0;
    __m512 sh = _mm512_set1_ps(shift);
    __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
    for (; i + 16 <= n; i += 16) {
        __m512 x = _mm512_sub_ps(_mm512_loadu_ps(in + i), sh), r = exp_avx512(x);
        __mmask16 in_range = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.3f), _CMP_GE_OQ) &
                             _mm512_cmp_ps_mask(x, _mm512_set1_ps(88.3f), _CMP_LE_OQ);
        if (in_range != 0xffff) {
            float xs[16], rs[16];
            _mm512_storeu_ps(xs, x);
            _mm512_storeu_ps(rs, r);
            for (int j = 0; j < 16; j++)
                if (!(in_range >> j & 1))
                    rs[j] = expf(xs[j]);
            r = _mm512_loadu_ps(rs);
        }
        _mm512_storeu_ps(out + i, r);
        lo = _mm512_add_pd(lo, _mm512_cvtps_pd(_mm512_castps512_ps256(r)));
        hi = _mm512_add_pd(hi, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(r), 1))));
    }
    *sum = _mm512_reduce_add_pd(_mm512_add_pd(lo, hi));
    return i;
}
#endif

double vec_exp_sum(float *out, const float *in, int64_t n, float shift)
{
    double s = 0;
    int64_t i = 0;
#if HAVE_X86
    if (cpu_isa() >= CPU_ISA_AVX512)
        i = exp_sum_avx512(out, in, n, shift, &s);
    else if (cpu_isa() >= CPU_ISA_AVX2)
        i = exp_sum_avx2(out, in, n, shift, &s);
#endif
    for (; i < n; i++) {
        out[i] = expf(in[i] - shift);
        s += out[i];
    }
    return s;
}

double vec_sum(const float *in, int64_t n)
{
    double s = 0;
    int64_t i = 0;
#if HAVE_X86
    if (cpu_isa() >= CPU_ISA_AVX512)
        i = sum_avx512(in, n, &s);
    else if (cpu_isa() >= CPU_ISA_AVX2)
        i = sum_avx2(in, n, &s);
#endif
    for (; i < n; i++)
        s += in[i];
    return s;
}

float vec_max(const float *in, int64_t n)
{
    float m = in[0];
    int64_t i = 1;
#if HAVE_X86
    if (cpu_isa() >= CPU_ISA_AVX2) {
        i = cpu_isa() >= CPU_ISA_AVX512 ? max_avx512(in, n, &m) : max_avx2(in, n, &m);
        if (isnan(m))
            return m;
    }
#endif
    for (; i < n; i++)
        if (in[i] > m)
            m = in[i];
    return m;
}

/* The mean as two floats: x - hi is exact for x near the mean (rows with a
 * large offset), and lo carries what rounding the mean to float would lose. */
static void split_mean(double mean, float *hi, float *lo)
{
    *hi = (float)mean;
    *lo = (float)(mean - *hi);
}

double vec_sq_dev(const float *in, int64_t n, double mean)
{
    double s = 0;
    int64_t i = 0;
    float hi, lo;
    split_mean(mean, &hi, &lo);
#if HAVE_X86
    if (cpu_isa() >= CPU_ISA_AVX512)
        i = sq_dev_avx512(in, n, hi, lo, &s);
    else if (cpu_isa() >= CPU_ISA_AVX2)
        i = sq_dev_avx2(in, n, hi, lo, &s);
#endif
    for (; i < n; i++) {
        float d = in[i] - hi - lo;
        s += (double)d * d;
    }
    return s;
}

void vec_normalize(float *out, const float *in, int64_t n, double mean, float inv, const float *scale,
                   const float *bias)
{
    int64_t i = 0;
    float hi, lo;
    split_mean(mean, &hi, &lo);
#if HAVE_X86
    if (cpu_isa() >= CPU_ISA_AVX512)
        i = normalize_avx512(out, in, n, hi, lo, inv, scale, bias);
    else if (cpu_isa() >= CPU_ISA_AVX2)
        i = normalize_avx2(out, in, n, hi, lo, inv, scale, bias);
#endif
    for (; i < n; i++)
        out[i] = (in[i] - hi - lo) * inv * scale[i] + (bias ? bias[i] : 0);
}
