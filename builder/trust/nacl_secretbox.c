#include "builder/trust/nacl_secretbox.h"

#include "common/err.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>

static uint32_t rotl(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

static uint32_t load32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void store32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* The quarter-round of the specification on words a, b, c, d of x. */
#define QR(x, a, b, c, d)                                                                                              \
    do {                                                                                                               \
        x[b] ^= rotl(x[a] + x[d], 7);                                                                                  \
        x[c] ^= rotl(x[b] + x[a], 9);                                                                                  \
        x[d] ^= rotl(x[c] + x[b], 13);                                                                                 \
        x[a] ^= rotl(x[d] + x[c], 18);                                                                                 \
    } while (0)

/* The initial state: the constants "expand 32-byte k" on the diagonal, the key, the 16-byte input. */
static void setup(uint32_t x[16], const unsigned char key[32], const unsigned char in[16])
{
    static const unsigned char sigma[16] = "expand 32-byte k";
    x[0] = load32(sigma);
    x[5] = load32(sigma + 4);
    x[10] = load32(sigma + 8);
    x[15] = load32(sigma + 12);
    for (int i = 0; i < 4; i++) {
        x[1 + i] = load32(key + 4 * i);
        x[11 + i] = load32(key + 16 + 4 * i);
        x[6 + i] = load32(in + 4 * i);
    }
}

/* Ten double rounds (a column round, then a row round). */
static void rounds(uint32_t x[16])
{
    for (int i = 0; i < 10; i++) {
        QR(x, 0, 4, 8, 12);
        QR(x, 5, 9, 13, 1);
        QR(x, 10, 14, 2, 6);
        QR(x, 15, 3, 7, 11);
        QR(x, 0, 1, 2, 3);
        QR(x, 5, 6, 7, 4);
        QR(x, 10, 11, 8, 9);
        QR(x, 15, 12, 13, 14);
    }
}

void salsa20_block(unsigned char out[64], const unsigned char key[32], const unsigned char in[16])
{
    uint32_t x[16], start[16];
    setup(start, key, in);
    memcpy(x, start, sizeof x);
    rounds(x);
    for (int i = 0; i < 16; i++)
        store32(out + 4 * i, x[i] + start[i]);
}

void hsalsa20(unsigned char out[32], const unsigned char key[32], const unsigned char in[16])
{
    static const int words[8] = {0, 5, 10, 15, 6, 7, 8, 9};
    uint32_t x[16];
    setup(x, key, in);
    rounds(x);
    for (int i = 0; i < 8; i++)
        store32(out + 4 * i, x[words[i]]);
}

/* out = in XOR the XSalsa20 stream from byte 32 on (the first 32 bytes are Poly1305's key: otk). */
static void xsalsa20_xor(unsigned char *out, const unsigned char *in, size_t len, unsigned char otk[32],
                         const unsigned char nonce[24], const unsigned char key[32])
{
    unsigned char subkey[32], input[16], block[64];
    hsalsa20(subkey, key, nonce);
    memcpy(input, nonce + 16, 8);
    memset(input + 8, 0, 8);
    salsa20_block(block, subkey, input);
    memcpy(otk, block, 32);
    size_t used = 32;
    for (uint64_t counter = 0; len;) {
        if (used == 64) {
            counter++;
            for (int i = 0; i < 8; i++)
                input[8 + i] = (unsigned char)(counter >> (8 * i));
            salsa20_block(block, subkey, input);
            used = 0;
        }
        *out++ = *in++ ^ block[used++];
        len--;
    }
    OPENSSL_cleanse(subkey, sizeof subkey);
    OPENSSL_cleanse(block, sizeof block);
}

static int poly1305(unsigned char tag[16], const unsigned char *data, size_t len, const unsigned char otk[32])
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "POLY1305", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    size_t n = 0;
    int ok = ctx && EVP_MAC_init(ctx, otk, 32, NULL) == 1 && EVP_MAC_update(ctx, data, len) == 1 &&
             EVP_MAC_final(ctx, tag, &n, 16) == 1 && n == 16;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return ok ? 0 : err_set(ERR_UNSUPPORTED, "secretbox: OpenSSL's Poly1305 is not available");
}

int secretbox_seal(unsigned char *box, const unsigned char *message, size_t len,
                   const unsigned char nonce[SECRETBOX_NONCE_BYTES], const unsigned char key[SECRETBOX_KEY_BYTES])
{
    unsigned char otk[32];
    xsalsa20_xor(box + SECRETBOX_TAG_BYTES, message, len, otk, nonce, key);
    int rc = poly1305(box, box + SECRETBOX_TAG_BYTES, len, otk);
    OPENSSL_cleanse(otk, sizeof otk);
    return rc;
}

int secretbox_open(unsigned char *message, const unsigned char *box, size_t box_len,
                   const unsigned char nonce[SECRETBOX_NONCE_BYTES], const unsigned char key[SECRETBOX_KEY_BYTES])
{
    if (box_len < SECRETBOX_TAG_BYTES)
        return err_set(ERR_PARSE, "secretbox: %zu bytes, shorter than its tag", box_len);
    size_t len = box_len - SECRETBOX_TAG_BYTES;
    unsigned char otk[32], tag[16];
    /* The stream is computed first for its Poly1305 key; the message is kept only when the tag holds. */
    xsalsa20_xor(message, box + SECRETBOX_TAG_BYTES, len, otk, nonce, key);
    int rc = poly1305(tag, box + SECRETBOX_TAG_BYTES, len, otk);
    if (!rc && CRYPTO_memcmp(tag, box, SECRETBOX_TAG_BYTES) != 0)
        rc = err_set(ERR_MISMATCH, "secretbox: the tag does not authenticate the box (wrong key, or changed)");
    if (rc)
        OPENSSL_cleanse(message, len);
    OPENSSL_cleanse(otk, sizeof otk);
    return rc;
}
