/* The part of an epilogue (epilogue.h) a kernel applies in registers as it
 * stores: Relu, LeakyRelu and Clip on a vector. Sigmoid and Gelu ("late")
 * need exp and erf; a kernel stores without them and runs epilogue_apply on
 * the stored block (bias and residual included) while it is in cache. */
#ifndef AMLSERVE_EPILOGUE_SIMD_H
#define AMLSERVE_EPILOGUE_SIMD_H

#include "epilogue.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* Whether e's activation is left to epilogue_apply. */
static inline int epilogue_late(const struct epilogue *e)
{
    return e && (e->act == OP_ACT_SIGMOID || e->act == OP_ACT_GELU);
}

#if defined(__x86_64__)
/* v with e's activation when it is one applied in registers (e NULL: none). */
__attribute__((target("avx512f"), always_inline)) static inline __m512 epilogue_act512(const struct epilogue *e,
                                                                                       __m512 v)
{
    switch (e ? e->act : OP_ACT_NONE) {
    case OP_ACT_RELU: return _mm512_max_ps(v, _mm512_setzero_ps());
    case OP_ACT_LEAKY_RELU:
        return _mm512_mask_mul_ps(v, _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ), v,
                                  _mm512_set1_ps(e->alpha));
    case OP_ACT_CLIP: return _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(e->lo)), _mm512_set1_ps(e->hi));
    default: return v;
    }
}
#endif

#endif
