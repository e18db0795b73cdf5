/* The simple-signing payload: what cosign writes (optional null) is read, what amlpkg writes reads
 * back, and what containers/image would refuse (extra or missing critical members, another type)
 * is refused here too. */
#include "test.h"

#include "builder/trust/simple_signing.h"
#include "common/err.h"

#define DIGEST "sha256:4c5d6e0e1a9b3f2c7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e"

TEST(reads_cosign_payload)
{
    /* As cosign sign writes it when no annotations are given. */
    static const char p[] = "{\"critical\":{\"identity\":{\"docker-reference\":\"registry.example/team/ridge\"},"
                            "\"image\":{\"docker-manifest-digest\":\"" DIGEST "\"},"
                            "\"type\":\"cosign container image signature\"},\"optional\":null}";
    struct simple_signing s;
    CHECK(simple_signing_parse(&s, p, sizeof p - 1, "t") == 0);
    CHECK_STR(s.identity, "registry.example/team/ridge");
    CHECK_STR(s.digest, DIGEST);
    CHECK_STR(s.creator, "");
    CHECK_EQ_INT(s.timestamp, -1);
}

TEST(round_trip)
{
    struct buf b;
    buf_init(&b, 0);
    CHECK(simple_signing_write(&b, "127.0.0.1:5000/a/b:1", DIGEST, "amlpkg 0.1.0", 1700000000) == 0);
    struct simple_signing s;
    CHECK(simple_signing_parse(&s, b.data, b.len, "t") == 0);
    CHECK_STR(s.identity, "127.0.0.1:5000/a/b:1");
    CHECK_STR(s.digest, DIGEST);
    CHECK_STR(s.creator, "amlpkg 0.1.0");
    CHECK_EQ_INT(s.timestamp, 1700000000);
    buf_release(&b);
}

TEST(refuses_what_podman_refuses)
{
    static const char *const bad[] = {
        "{\"critical\":{\"identity\":{\"docker-reference\":\"r\"},\"image\":{\"docker-manifest-digest\":\"d\"},"
        "\"type\":\"atomic container signature\"},\"optional\":null}",
        "{\"critical\":{\"identity\":{\"docker-reference\":\"r\"},\"image\":{\"docker-manifest-digest\":\"d\"},"
        "\"type\":\"cosign container image signature\",\"extra\":1},\"optional\":null}",
        "{\"critical\":{\"image\":{\"docker-manifest-digest\":\"d\"},"
        "\"type\":\"cosign container image signature\"},\"optional\":null}",
        "{\"critical\":{\"identity\":{\"docker-reference\":\"r\",\"x\":1},\"image\":{\"docker-manifest-digest\":\"d\"},"
        "\"type\":\"cosign container image signature\"},\"optional\":null}",
        "{\"critical\":{\"identity\":{\"docker-reference\":\"r\"},\"image\":{\"docker-manifest-digest\":\"d\"},"
        "\"type\":\"cosign container image signature\"}}",
        "{\"critical\":{\"identity\":{\"docker-reference\":\"r\"},\"image\":{\"docker-manifest-digest\":\"d\"},"
        "\"type\":\"cosign container image signature\"},\"optional\":null,\"more\":1}",
        "{\"critical\":{\"identity\":{\"docker-reference\":7},\"image\":{\"docker-manifest-digest\":\"d\"},"
        "\"type\":\"cosign container image signature\"},\"optional\":null}",
        "[]",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct simple_signing s;
        err_clear();
        if (simple_signing_parse(&s, bad[i], strlen(bad[i]), "t") == 0) {
            printf("FAIL %s: accepted #%zu\n", test_current, i);
            test_failures++;
            test_current_failed = 1;
            return;
        }
    }
}

int main(void)
{
    RUN(reads_cosign_payload);
    RUN(round_trip);
    RUN(refuses_what_podman_refuses);
    TEST_EXIT();
}
