#include "common/sha256.h"

#include "common/sha256_x86.h"

#include <stdatomic.h>
#include <string.h>

_Alignas(16) const uint32_t sha256_round_constants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t rotr(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static void compress_block(uint32_t state[8], const unsigned char block[64])
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)block[i * 4] << 24 | (uint32_t)block[i * 4 + 1] << 16 | (uint32_t)block[i * 4 + 2] << 8 |
               block[i * 4 + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
    uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 =
            h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + sha256_round_constants[i] + w[i];
        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    state[0] += a, state[1] += b, state[2] += c, state[3] += d;
    state[4] += e, state[5] += f, state[6] += g, state[7] += h;
}

static void compress_portable(uint32_t state[8], const unsigned char *blocks, size_t n)
{
    for (; n; n--, blocks += 64)
        compress_block(state, blocks);
}

typedef void compress_fn(uint32_t state[8], const unsigned char *blocks, size_t n);

/* Picked on first use, from CPUID; a relaxed atomic because racing threads
 * all store the same answer. */
static _Atomic(compress_fn *) chosen;

static compress_fn *pick(void)
{
    return sha256_x86_available() ? sha256_x86_compress : compress_portable;
}

static compress_fn *compressor(void)
{
    compress_fn *f = atomic_load_explicit(&chosen, memory_order_relaxed);
    if (!f) {
        f = pick();
        atomic_store_explicit(&chosen, f, memory_order_relaxed);
    }
    return f;
}

int sha256_accelerated(void)
{
    return compressor() == sha256_x86_compress;
}

void sha256_force_portable(int on)
{
    atomic_store_explicit(&chosen, on ? compress_portable : pick(), memory_order_relaxed);
}

void sha256_init(struct sha256 *s)
{
    static const uint32_t initial[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->state, initial, sizeof initial);
    s->length = 0;
    s->used = 0;
}

void sha256_update(struct sha256 *s, const void *data, size_t len)
{
    const unsigned char *p = data;
    if (!len) /* data may then be NULL, which memcpy must not see */
        return;
    s->length += len;
    if (s->used) {
        size_t take = 64 - s->used < len ? 64 - s->used : len;
        memcpy(s->block + s->used, p, take);
        s->used += take, p += take, len -= take;
        if (s->used < 64)
            return;
        compressor()(s->state, s->block, 1);
        s->used = 0;
    }
    /* Whole blocks are hashed where they lie, in one call: no copy, and the
     * SHA-NI path keeps the state in registers from block to block. */
    if (len >= 64) {
        compressor()(s->state, p, len / 64);
        p += len & ~(size_t)63;
        len &= 63;
    }
    if (len)
        memcpy(s->block, p, len);
    s->used = len;
}

void sha256_final(struct sha256 *s, unsigned char out[SHA256_BYTES])
{
    uint64_t bits = s->length * 8;
    s->block[s->used++] = 0x80;
    if (s->used > 56) { /* no room for the length: it goes in one more block */
        memset(s->block + s->used, 0, 64 - s->used);
        compressor()(s->state, s->block, 1);
        s->used = 0;
    }
    memset(s->block + s->used, 0, 56 - s->used);
    for (int i = 0; i < 8; i++)
        s->block[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
    compressor()(s->state, s->block, 1);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4; j++)
            out[i * 4 + j] = (unsigned char)(s->state[i] >> (24 - 8 * j));
}

void hmac_sha256(unsigned char out[SHA256_BYTES], const void *key, size_t key_len, const void *data, size_t len)
{
    unsigned char k[64] = {0}, pad[64], inner[SHA256_BYTES];
    struct sha256 s;
    if (key_len > 64) { /* long keys are hashed first */
        sha256_init(&s);
        sha256_update(&s, key, key_len);
        sha256_final(&s, k);
    } else {
        memcpy(k, key, key_len);
    }
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x36;
    sha256_init(&s);
    sha256_update(&s, pad, 64);
    sha256_update(&s, data, len);
    sha256_final(&s, inner);
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x5c;
    sha256_init(&s);
    sha256_update(&s, pad, 64);
    sha256_update(&s, inner, SHA256_BYTES);
    sha256_final(&s, out);
}
