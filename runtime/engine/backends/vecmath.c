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
        default: r = exp_avx2(x); break;
        }
        _mm256_storeu_ps(out + i, r);
        /* exp past the polynomial's range (overflow to inf, results below FLT_MIN, NaN): libm's answer */
        if (act == VEC_EXP &&
            _mm256_movemask_ps(_mm256_cmp_ps(_mm256_and_ps(_mm256_cmp_ps(x, _mm256_set1_ps(-87.3f), _CMP_GE_OQ),
                                                           _mm256_cmp_ps(x, _mm256_set1_ps(88.3f), _CMP_LE_OQ)),
                                             zero, _CMP_EQ_OQ)))
            for (int j = 0; j < 8; j++)
                if (!(in[i + j] >= -87.3f && in[i + j] <= 88.3f))
                    out[i + j] = expf(in[i + j]);
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

double vec_sum(const float *in, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += in[i];
    return s;
}

float vec_max(const float *in, int64_t n)
{
    float m = in[0];
    for (int64_t i = 1; i < n; i++)
        if (in[i] > m)
            m = in[i];
    return m;
}
