/* SHA-256 on both compress paths (SHA-NI where the CPU has it, and the
 * portable code): the FIPS 180-4 examples, then OpenSSL as the oracle for
 * random data at every length up to 1024 bytes, fed in random pieces from
 * unaligned addresses. */
#include "test.h"

#include "common/sha256.h"

#include <openssl/evp.h>

static void hex(char out[65], const unsigned char d[32])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + i * 2, 3, "%02x", d[i]);
}

static void sha256_hex(char out[65], const void *data, size_t len)
{
    unsigned char d[32];
    struct sha256 s;
    sha256_init(&s);
    sha256_update(&s, data, len);
    sha256_final(&s, d);
    hex(out, d);
}

/* xorshift64: the same data on every run, so a failure can be replayed. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void fips_vectors(void)
{
    char h[65];
    sha256_hex(h, NULL, 0);
    CHECK_STR(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha256_hex(h, "abc", 3);
    CHECK_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256_hex(h, m448, strlen(m448));
    CHECK_STR(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                       "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    sha256_hex(h, m896, strlen(m896));
    CHECK_STR(h, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    char *million = malloc(1000000);
    CHECK(million);
    memset(million, 'a', 1000000);
    sha256_hex(h, million, 1000000);
    free(million);
    CHECK_STR(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Every length 0..1024, each split into up to four update calls at random
 * points, from a random offset so blocks are read unaligned too. */
static void matches_openssl(void)
{
    static unsigned char buf[1024 + 16];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)rng();
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    CHECK(ctx);
    for (size_t len = 0; len <= 1024; len++) {
        for (int trial = 0; trial < 4; trial++) {
            const unsigned char *data = buf + rng() % 16;
            unsigned char want[32], got[32];
            unsigned int n = 0;
            int ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(ctx, data, len) == 1 &&
                     EVP_DigestFinal_ex(ctx, want, &n) == 1 && n == 32;
            if (!ok)
                EVP_MD_CTX_free(ctx);
            CHECK(ok);
            struct sha256 s;
            sha256_init(&s);
            size_t done = 0;
            for (int piece = 0; piece < 3 && done < len; piece++) {
                size_t take = (size_t)(rng() % (len - done + 1));
                sha256_update(&s, data + done, take);
                done += take;
            }
            sha256_update(&s, data + done, len - done);
            sha256_final(&s, got);
            if (memcmp(got, want, 32) != 0) {
                printf("FAIL %s: length %zu, trial %d differs from OpenSSL\n", test_current, len, trial);
                test_failures++;
                test_current_failed = 1;
                EVP_MD_CTX_free(ctx);
                return;
            }
        }
    }
    EVP_MD_CTX_free(ctx);
}

TEST(portable_matches_fips_vectors)
{
    sha256_force_portable(1);
    fips_vectors();
    sha256_force_portable(0);
}

TEST(portable_matches_openssl)
{
    sha256_force_portable(1);
    matches_openssl();
    sha256_force_portable(0);
}

TEST(sha_ni_matches_fips_vectors)
{
    fips_vectors();
}

TEST(sha_ni_matches_openssl)
{
    matches_openssl();
}

/* The two paths take turns on one context: the state they hand over has one layout. */
TEST(paths_interchange_mid_message)
{
    static unsigned char buf[4096];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)rng();
    char want[65], got[65];
    sha256_force_portable(1);
    sha256_hex(want, buf, sizeof buf);
    unsigned char d[32];
    struct sha256 s;
    sha256_init(&s);
    for (size_t off = 0; off < sizeof buf; off += 1000) {
        sha256_force_portable((int)(off / 1000) % 2);
        sha256_update(&s, buf + off, sizeof buf - off < 1000 ? sizeof buf - off : 1000);
    }
    sha256_final(&s, d);
    sha256_force_portable(0);
    hex(got, d);
    CHECK_STR(got, want);
}

int main(void)
{
    RUN(portable_matches_fips_vectors);
    RUN(portable_matches_openssl);
    if (sha256_accelerated()) {
        RUN(sha_ni_matches_fips_vectors);
        RUN(sha_ni_matches_openssl);
    } else {
        printf("SKIP sha_ni: this CPU has no SHA extensions\n");
    }
    RUN(paths_interchange_mid_message);
    TEST_EXIT();
}
