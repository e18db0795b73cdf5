/* DSSE: the pre-authentication encoding (the spec's test vector and edge cases), envelopes written
 * and read back, signatures over PAE with real keys (a payload type is bound to its signature), and
 * envelopes that are refused. */
#include "test.h"

#include "builder/trust/dsse.h"
#include "builder/trust/trust_key.h"
#include "common/err.h"

#include <stdlib.h>
#include <unistd.h>

static int pae_is(const char *type, const char *body, size_t len, const char *want, size_t want_len)
{
    struct buf b;
    buf_init(&b, 0);
    int ok = dsse_pae(&b, type, body, len) == 0 && b.len == want_len && memcmp(b.data, want, want_len) == 0;
    buf_release(&b);
    return ok;
}

TEST(pae_test_vectors)
{
    /* The DSSE protocol's example. */
    static const char v1[] = "DSSEv1 29 http://example.com/HelloWorld 11 hello world";
    CHECK(pae_is("http://example.com/HelloWorld", "hello world", 11, v1, sizeof v1 - 1));
    static const char v2[] = "DSSEv1 0  0 ";
    CHECK(pae_is("", "", 0, v2, sizeof v2 - 1));
    /* Lengths are bytes, and the body may hold anything (a NUL, a space, UTF-8). */
    static const char v3[] = "DSSEv1 28 application/vnd.in-toto+json 6 a\0 \xc3\xa9!";
    CHECK(pae_is("application/vnd.in-toto+json", "a\0 \xc3\xa9!", 6, v3, sizeof v3 - 1));
}

TEST(envelope_round_trip)
{
    struct buf b;
    buf_init(&b, 0);
    static const unsigned char sig[] = {1, 2, 3, 250};
    CHECK(dsse_envelope_write(&b, "application/vnd.in-toto+json", "{\"a\":1}", 7, sig, sizeof sig, "key1") == 0);
    struct dsse_envelope e;
    CHECK(dsse_envelope_parse(&e, b.data, b.len, "t") == 0);
    CHECK_STR(e.payload_type, "application/vnd.in-toto+json");
    CHECK_EQ_INT(e.payload_len, 7);
    CHECK(memcmp(e.payload, "{\"a\":1}", 7) == 0);
    CHECK_EQ_INT(e.n_signatures, 1);
    CHECK_STR(e.signatures[0].keyid, "key1");
    CHECK_EQ_INT(e.signatures[0].sig_len, 4);
    CHECK(memcmp(e.signatures[0].sig, sig, 4) == 0);
    dsse_envelope_release(&e);
    buf_release(&b);
}

TEST(refuses_bad_envelopes)
{
    static const char *const bad[] = {
        "[]",
        "{\"payload\":\"e30=\",\"signatures\":[{\"sig\":\"AQ==\"}]}",                       /* no payloadType */
        "{\"payloadType\":\"t\",\"signatures\":[{\"sig\":\"AQ==\"}]}",                      /* no payload */
        "{\"payloadType\":\"t\",\"payload\":\"e30\",\"signatures\":[{\"sig\":\"AQ==\"}]}",  /* not base64 */
        "{\"payloadType\":\"t\",\"payload\":\"e30=\",\"signatures\":[]}",                   /* no signature */
        "{\"payloadType\":\"t\",\"payload\":\"e30=\",\"signatures\":[{\"keyid\":\"k\"}]}",  /* no sig */
        "{\"payloadType\":\"t\",\"payload\":\"e30=\",\"signatures\":[{\"sig\":\"!!!!\"}]}", /* sig not base64 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct dsse_envelope e;
        err_clear();
        if (dsse_envelope_parse(&e, bad[i], strlen(bad[i]), "t") == 0) {
            printf("FAIL %s: accepted %s\n", test_current, bad[i]);
            test_failures++;
            test_current_failed = 1;
            dsse_envelope_release(&e);
            return;
        }
    }
}

/* A real key pair in a temporary directory. */
static int key_pair(struct trust_key **priv, struct trust_key **pub, enum trust_algorithm alg, char *dir)
{
    char prefix[300], path[310];
    if (!mkdtemp(dir))
        return -1;
    snprintf(prefix, sizeof prefix, "%s/k", dir);
    setenv(TRUST_PASSWORD_ENV, "", 1);
    if (trust_keygen(prefix, alg, TRUST_KEY_PEM, 0))
        return -1;
    snprintf(path, sizeof path, "%s.key", prefix);
    int rc = trust_key_load_private(priv, path);
    unlink(path);
    snprintf(path, sizeof path, "%s.pub", prefix);
    rc = rc ? rc : trust_key_load_public(pub, path);
    unlink(path);
    rmdir(dir);
    return rc;
}

static void signs_pae(enum trust_algorithm alg)
{
    char dir[] = "/tmp/amlpkg-test-dsse-XXXXXX";
    struct trust_key *priv = NULL, *pub = NULL;
    struct buf pae, other, sig;
    buf_init(&pae, 0);
    buf_init(&other, 0);
    buf_init(&sig, 0);
    CHECK(key_pair(&priv, &pub, alg, dir) == 0);
    static const char body[] = "{\"_type\":\"https://in-toto.io/Statement/v1\"}";
    CHECK(dsse_pae(&pae, "application/vnd.in-toto+json", body, sizeof body - 1) == 0);
    CHECK(trust_sign(&sig, priv, pae.data, pae.len) == 0);
    CHECK(trust_verify(pub, pae.data, pae.len, sig.data, sig.len) == 0);
    /* The same body under another payload type, or the body alone, does not verify. */
    CHECK(dsse_pae(&other, "application/json", body, sizeof body - 1) == 0);
    CHECK(trust_verify(pub, other.data, other.len, sig.data, sig.len) == ERR_MISMATCH);
    CHECK(trust_verify(pub, body, sizeof body - 1, sig.data, sig.len) == ERR_MISMATCH);
    err_clear();
    trust_key_free(priv);
    trust_key_free(pub);
    buf_release(&pae);
    buf_release(&other);
    buf_release(&sig);
}

TEST(ecdsa_p256_signs_pae)
{
    signs_pae(TRUST_ECDSA_P256);
}

TEST(ed25519_signs_pae)
{
    signs_pae(TRUST_ED25519);
}

int main(void)
{
    RUN(pae_test_vectors);
    RUN(envelope_round_trip);
    RUN(refuses_bad_envelopes);
    RUN(ecdsa_p256_signs_pae);
    RUN(ed25519_signs_pae);
    TEST_EXIT();
}
