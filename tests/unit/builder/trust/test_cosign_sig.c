/* cosign's signature manifest: the tag, a manifest written and read back, and another tool's
 * layers (their annotations, e.g. a Rekor bundle) kept as they were when a signature is added. */
#include "test.h"

#include "builder/trust/cosign_sig.h"
#include "builder/trust/simple_signing.h"
#include "common/err.h"

#define HEX "4c5d6e0e1a9b3f2c7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e"

TEST(tag)
{
    char t[80];
    cosign_sig_tag(t, "sha256:" HEX);
    CHECK_STR(t, "sha256-" HEX ".sig");
}

TEST(keeps_foreign_layers)
{
    static const char m[] =
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{},\"layers\":["
        "{\"mediaType\":\"application/vnd.dev.cosign.simplesigning.v1+json\",\"size\":10,\"digest\":\"sha256:" HEX "\","
        "\"annotations\":{\"dev.cosignproject.cosign/signature\":\"MEUC\",\"dev.sigstore.cosign/bundle\":\"{}\"}}]}";
    struct cosign_layer *l = NULL, *back = NULL;
    size_t n = 0, n_back = 0;
    CHECK(cosign_sig_parse(&l, &n, m, sizeof m - 1, "t") == 0);
    CHECK_EQ_INT(n, 1);
    CHECK_STR(l[0].signature, "MEUC");
    CHECK_EQ_INT(l[0].size, 10);
    struct cosign_layer *grown = realloc(l, 2 * sizeof *l);
    CHECK(grown);
    l = grown;
    memset(&l[1], 0, sizeof l[1]);
    snprintf(l[1].digest, sizeof l[1].digest, "sha256:%064d", 0);
    l[1].size = 3;
    snprintf(l[1].signature, sizeof l[1].signature, "AAAA");
    n = 2;
    struct buf man, cfg;
    buf_init(&man, 0);
    buf_init(&cfg, 0);
    CHECK(cosign_sig_manifest(&man, &cfg, l, n) == 0);
    CHECK(strstr(man.data, "dev.sigstore.cosign/bundle") != NULL);
    CHECK(cosign_sig_parse(&back, &n_back, man.data, man.len, "t") == 0);
    CHECK_EQ_INT(n_back, 2);
    CHECK_STR(back[1].media_type, SIMPLE_SIGNING_MEDIA_TYPE);
    CHECK_STR(back[1].signature, "AAAA");
    CHECK(strstr(cfg.data, "\"diff_ids\":[\"sha256:" HEX "\"") != NULL);
    cosign_layers_free(l, n);
    cosign_layers_free(back, n_back);
    buf_release(&man);
    buf_release(&cfg);
}

TEST(refuses_bad_manifests)
{
    static const char *const bad[] = {"{}",
                                      "{\"layers\":{}}",
                                      "{\"layers\":[{\"size\":1}]}",
                                      "{\"layers\":[{\"digest\":\"sha256:x\"}]}",
                                      "[]",
                                      "{\"layers\":[{\"digest\":\"sha256:x\",\"size\":NaN}]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct cosign_layer *l = NULL;
        size_t n = 0;
        err_clear();
        CHECK(cosign_sig_parse(&l, &n, bad[i], strlen(bad[i]), "t") != 0);
        CHECK(l == NULL);
    }
}

int main(void)
{
    RUN(tag);
    RUN(keeps_foreign_layers);
    RUN(refuses_bad_manifests);
    TEST_EXIT();
}
