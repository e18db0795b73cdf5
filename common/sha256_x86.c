#include "common/sha256_x86.h"

#if defined(__x86_64__) || defined(__i386__)

#include <cpuid.h>
#include <immintrin.h>

/* CPUID rather than __builtin_cpu_supports("sha"): clang 14, which builds the
 * fuzz targets, does not know that feature name. SHA-NI works on XMM
 * registers only, so no OS support check (XGETBV) is needed. */
int sha256_x86_available(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSSE3) || !(c & bit_SSE4_1))
        return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    return (b & bit_SHA) != 0;
}

/* SHA256RNDS2 runs two rounds on the state split as {A,B,E,F} and {C,D,G,H}
 * (A in the top lane), taking W[t]+K[t] for both rounds from the low 64 bits
 * of its third operand; its result is the new {A,B,E,F}, and the old one
 * becomes {C,D,G,H}. So the two variables swap roles on every call, and after
 * a pair of calls each holds its own half again. */
#define RNDS2_FIRST(x, t)                                                                                              \
    __m128i wk = _mm_add_epi32(x, _mm_load_si128((const __m128i *)(k + (t))));                                         \
    cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk)
#define RNDS2_SECOND() abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0e))

/* The message schedule, four words X = W[4j..4j+3] at a time:
 *   X[j] = MSG2(MSG1(X[j-4], X[j-3]) + W[4j-7..4j-4], X[j-1])
 * MSG1 adds sigma0, MSG2 adds sigma1, and W[4j-7..4j-4] is X[j-1]:X[j-2]
 * shifted by one word. Each step is issued as soon as its inputs exist, between
 * the rounds, so that the rounds, one long chain, never wait for it. In place:
 * MSG1 turns X[j-4] into the partial sum, and MSG2 completes it as X[j]. */
#define SCHED_MSG1(older, old) older = _mm_sha256msg1_epu32(older, old)
#define SCHED_MSG2(partial, cur, prev)                                                                                 \
    partial = _mm_sha256msg2_epu32(_mm_add_epi32(partial, _mm_alignr_epi8(cur, prev, 4)), cur)

/* Rounds 4g..4g+3 with X[g] in cur: completes X[g+1] in next and starts
 * X[g+3] in prev (which then no longer holds X[g-1]). */
#define GROUP(g, prev, cur, next)                                                                                      \
    do {                                                                                                               \
        RNDS2_FIRST(cur, 4 * (g));                                                                                     \
        SCHED_MSG2(next, cur, prev);                                                                                   \
        RNDS2_SECOND();                                                                                                \
        SCHED_MSG1(prev, cur);                                                                                         \
    } while (0)

__attribute__((target("sha,ssse3,sse4.1"))) void sha256_x86_compress(uint32_t state[8], const unsigned char *blocks,
                                                                     size_t n)
{
    const uint32_t *k = sha256_round_constants;
    /* The message is big-endian; this mask swaps the bytes of each 32-bit lane. */
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    /* Variables are named by lane from high to low; comments list lanes from low to high. */
    __m128i dcba = _mm_loadu_si128((const __m128i *)state);       /* A B C D */
    __m128i hgfe = _mm_loadu_si128((const __m128i *)(state + 4)); /* E F G H */
    __m128i cdab = _mm_shuffle_epi32(dcba, 0xb1);                 /* B A D C */
    __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1b);                 /* H G F E */
    __m128i abef = _mm_alignr_epi8(cdab, efgh, 8);                /* F E B A */
    __m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xf0);             /* H G D C */
    for (; n; n--, blocks += 64) {
        __m128i abef0 = abef, cdgh0 = cdgh;
        /* x0..x3 hold X[j] for j = 0, 1, 2, 3 modulo 4. */
        __m128i x0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)blocks), bswap);
        __m128i x1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(blocks + 16)), bswap);
        __m128i x2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(blocks + 32)), bswap);
        __m128i x3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(blocks + 48)), bswap);
        {
            RNDS2_FIRST(x0, 0);
            RNDS2_SECOND();
        }
        {
            RNDS2_FIRST(x1, 4);
            RNDS2_SECOND();
            SCHED_MSG1(x0, x1);
        }
        {
            RNDS2_FIRST(x2, 8);
            RNDS2_SECOND();
            SCHED_MSG1(x1, x2);
        }
        GROUP(3, x2, x3, x0);
        GROUP(4, x3, x0, x1);
        GROUP(5, x0, x1, x2);
        GROUP(6, x1, x2, x3);
        GROUP(7, x2, x3, x0);
        GROUP(8, x3, x0, x1);
        GROUP(9, x0, x1, x2);
        GROUP(10, x1, x2, x3);
        GROUP(11, x2, x3, x0);
        GROUP(12, x3, x0, x1);
        {
            RNDS2_FIRST(x1, 52);
            SCHED_MSG2(x2, x1, x0);
            RNDS2_SECOND();
        }
        {
            RNDS2_FIRST(x2, 56);
            SCHED_MSG2(x3, x2, x1);
            RNDS2_SECOND();
        }
        {
            RNDS2_FIRST(x3, 60);
            RNDS2_SECOND();
        }
        abef = _mm_add_epi32(abef, abef0);
        cdgh = _mm_add_epi32(cdgh, cdgh0);
    }
    __m128i feba = _mm_shuffle_epi32(abef, 0x1b); /* A B E F */
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xb1); /* G H C D */
    _mm_storeu_si128((__m128i *)state, _mm_blend_epi16(feba, dchg, 0xf0));
    _mm_storeu_si128((__m128i *)(state + 4), _mm_alignr_epi8(dchg, feba, 8));
}

#else

int sha256_x86_available(void)
{
    return 0;
}

void sha256_x86_compress(uint32_t state[8], const unsigned char *blocks, size_t n)
{
    (void)state, (void)blocks, (void)n;
}

#endif
