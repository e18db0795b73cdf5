/* SHA-256 / HMAC against the FIPS 180-4 and RFC 4231 vectors; HS256 token
 * verification: signature, alg, exp, nbf and malformed input. */
#include "test.h"

#include "runtime/jwt.h"
#include "common/sha256.h"

static void hex(char out[65], const unsigned char d[32])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + i * 2, 3, "%02x", d[i]);
}

TEST(sha256_matches_fips_vectors)
{
    unsigned char d[32];
    char h[65];
    struct sha256 s;
    sha256_init(&s);
    sha256_update(&s, "abc", 3);
    sha256_final(&s, d);
    hex(h, d);
    CHECK_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256_init(&s);
    for (const char *p = two; *p; p++) /* byte by byte: the block boundary logic */
        sha256_update(&s, p, 1);
    sha256_final(&s, d);
    hex(h, d);
    CHECK_STR(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(hmac_matches_rfc4231)
{
    unsigned char d[32];
    char h[65];
    hmac_sha256(d, "Jefe", 4, "what do ya want for nothing?", 28);
    hex(h, d);
    CHECK_STR(h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    unsigned char key[131];
    memset(key, 0xaa, sizeof key); /* longer than a block: hashed first */
    const char *msg = "Test Using Larger Than Block-Size Key - Hash Key First";
    hmac_sha256(d, key, sizeof key, msg, strlen(msg));
    hex(h, d);
    CHECK_STR(h, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

/* Mints a token: base64url(header).base64url(payload).base64url(hmac). */
static void b64url(char *out, const unsigned char *in, size_t n)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        out[o++] = a[v >> 18 & 63];
        out[o++] = a[v >> 12 & 63];
        if (i + 1 < n)
            out[o++] = a[v >> 6 & 63];
        if (i + 2 < n)
            out[o++] = a[v & 63];
    }
    out[o] = 0;
}

static const char secret[] = "a-shared-secret-of-some-length";

#define TOKEN_MAX 2048

static char *mint(char *buf, const char *header, const char *payload, const char *key)
{
    char h[512], p[512], sig[64];
    b64url(h, (const unsigned char *)header, strlen(header));
    b64url(p, (const unsigned char *)payload, strlen(payload));
    int n = snprintf(buf, TOKEN_MAX, "%s.%s", h, p);
    unsigned char mac[32];
    hmac_sha256(mac, key, strlen(key), buf, (size_t)n);
    b64url(sig, mac, 32);
    snprintf(buf + n, TOKEN_MAX - (size_t)n, ".%s", sig);
    return buf;
}

static enum jwt_result verify(const char *token, long long now)
{
    struct arena arena;
    arena_init(&arena, 4096, 1 << 20);
    enum jwt_result r =
        jwt_verify_hs256(token, strlen(token), (const unsigned char *)secret, strlen(secret), now, &arena);
    arena_release(&arena);
    return r;
}

TEST(hs256_tokens_are_verified)
{
    char t[TOKEN_MAX];
    const char *hs = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    CHECK_EQ_INT(verify(mint(t, hs, "{\"sub\":\"x\",\"exp\":2000}", secret), 1000), JWT_OK);
    CHECK_EQ_INT(verify(mint(t, hs, "{\"exp\":2000}", secret), 2000), JWT_EXPIRED);
    CHECK_EQ_INT(verify(mint(t, hs, "{\"exp\":2000,\"nbf\":1500}", secret), 1000), JWT_NOT_YET_VALID);
    CHECK_EQ_INT(verify(mint(t, hs, "{\"sub\":\"x\"}", secret), 1000), JWT_NO_EXP);
    CHECK_EQ_INT(verify(mint(t, hs, "{\"exp\":2000}", "another-secret-entirely"), 1000), JWT_BAD_SIGNATURE);
    CHECK_EQ_INT(verify(mint(t, "{\"alg\":\"none\"}", "{\"exp\":2000}", secret), 1000), JWT_BAD_ALG);
    CHECK_EQ_INT(verify(mint(t, "{\"alg\":\"HS512\"}", "{\"exp\":2000}", secret), 1000), JWT_BAD_ALG);
    CHECK_EQ_INT(verify(mint(t, hs, "{\"exp\":\"later\"}", secret), 1000), JWT_MALFORMED);
    /* A changed payload with the old signature. */
    mint(t, hs, "{\"exp\":2000}", secret);
    char *dot = strchr(t, '.');
    dot[1] = dot[1] == 'e' ? 'f' : 'e';
    CHECK_EQ_INT(verify(t, 1000), JWT_BAD_SIGNATURE);
    CHECK_EQ_INT(verify("", 1000), JWT_MALFORMED);
    CHECK_EQ_INT(verify("a.b", 1000), JWT_MALFORMED);
    CHECK_EQ_INT(verify("a.b.c.d", 1000), JWT_MALFORMED);
    CHECK_EQ_INT(verify("!!.??.**", 1000), JWT_MALFORMED);
}

int main(void)
{
    RUN(sha256_matches_fips_vectors);
    RUN(hmac_matches_rfc4231);
    RUN(hs256_tokens_are_verified);
    return test_failures != 0;
}
