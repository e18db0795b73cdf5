/* Image reference grammar, including Docker Hub defaults. */
#include "builder/image/reference.h"
#include "common/err.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static struct reference r;

static int parse(const char *s)
{
    err_clear();
    return reference_parse(&r, s);
}

TEST(hub_short_name)
{
    CHECK_EQ_INT(parse("ubuntu"), 0);
    CHECK_STR(r.registry, "docker.io");
    CHECK_STR(r.repository, "library/ubuntu");
    CHECK_STR(r.tag, "latest");
    CHECK_STR(r.digest, "");
    CHECK_STR(reference_api_host(&r), "registry-1.docker.io");
}

TEST(hub_user_repo_tag)
{
    CHECK_EQ_INT(parse("team/ridge:prod"), 0);
    CHECK_STR(r.registry, "docker.io");
    CHECK_STR(r.repository, "team/ridge");
    CHECK_STR(r.tag, "prod");
    CHECK_EQ_INT(parse("index.docker.io/library/busybox:1.36"), 0);
    CHECK_STR(r.registry, "docker.io");
    CHECK_STR(r.repository, "library/busybox");
}

TEST(registry_with_port)
{
    CHECK_EQ_INT(parse("localhost:5000/ridge:1"), 0);
    CHECK_STR(r.registry, "localhost:5000");
    CHECK_STR(r.repository, "ridge");
    CHECK_STR(r.tag, "1");
    CHECK_EQ_INT(parse("127.0.0.1:40123/a/b/c"), 0);
    CHECK_STR(r.registry, "127.0.0.1:40123");
    CHECK_STR(r.repository, "a/b/c");
    CHECK_STR(r.tag, "latest");
    CHECK_EQ_INT(parse("localhost/ridge"), 0);
    CHECK_STR(r.registry, "localhost");
    CHECK_EQ_INT(parse("myacr.azurecr.io/azureml/azureml_0123abcd:latest"), 0);
    CHECK_STR(r.registry, "myacr.azurecr.io");
    CHECK_STR(r.repository, "azureml/azureml_0123abcd");
    CHECK_EQ_INT(parse("[::1]:5000/x:y"), 0);
    CHECK_STR(r.registry, "[::1]:5000");
    CHECK(reference_host_is_loopback(r.registry));
}

TEST(digest_forms)
{
    const char *d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char text[200];
    snprintf(text, sizeof text, "reg.example.com/x@%s", d);
    CHECK_EQ_INT(parse(text), 0);
    CHECK_STR(r.tag, "");
    CHECK_STR(r.digest, d);
    CHECK_STR(reference_manifest_id(&r), d);
    snprintf(text, sizeof text, "reg.example.com:443/x:v1@%s", d);
    CHECK_EQ_INT(parse(text), 0);
    CHECK_STR(r.tag, "v1");
    CHECK_STR(reference_manifest_id(&r), d);
    char back[400];
    reference_format(back, sizeof back, &r);
    CHECK_STR(back, text);
}

TEST(separators)
{
    CHECK_EQ_INT(parse("x/a.b_c__d---e/f"), 0);
    CHECK_STR(r.repository, "x/a.b_c__d---e/f");
    CHECK_EQ_INT(parse("x:Tag_1.2-rc"), 0);
    CHECK_STR(r.tag, "Tag_1.2-rc");
}

TEST(rejects)
{
    const char *bad[] = {
        "",
        "Ubuntu",
        "team/Ridge",
        "a//b",
        "/a",
        "a/",
        "a:",
        "a:-x",
        "a:.x",
        "a@sha256:12",
        "a@md5:00",
        "a___b",
        "a_",
        ".a",
        "host:99999999/x",
        "-host.com/x",
        "host-.com/x",
        "a b",
        "a/b:c:d",
        "reg.io/",
        "a@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (parse(bad[i]) != ERR_INVALID) {
            printf("FAIL rejects: '%s' was accepted\n", bad[i]);
            test_failures++;
            test_current_failed = 1;
        }
    }
    parse("team/Ridge");
    CHECK(strstr(err_message(ERR_INVALID), "lower-case") != NULL);
}

TEST(loopback)
{
    CHECK(reference_host_is_loopback("localhost:5000"));
    CHECK(reference_host_is_loopback("127.0.0.1:1"));
    CHECK(reference_host_is_loopback("127.0.0.1"));
    CHECK(!reference_host_is_loopback("127.example.com"));
    CHECK(!reference_host_is_loopback("localhost.example.com"));
    CHECK(!reference_host_is_loopback("docker.io"));
}

/* The transports skopeo writes: prefix split off, rest kept as written. */
TEST(transports)
{
    struct image_location loc;
    CHECK_EQ_INT(image_location_parse(&loc, "docker://127.0.0.1:5000/team/ridge:1"), 0);
    CHECK_EQ_INT(loc.transport, IMAGE_REGISTRY);
    CHECK_STR(loc.rest, "127.0.0.1:5000/team/ridge:1");
    CHECK_EQ_INT(parse("docker://127.0.0.1:5000/team/ridge:1"), 0);
    CHECK_STR(r.registry, "127.0.0.1:5000");
    CHECK_STR(r.repository, "team/ridge");
    CHECK_EQ_INT(parse("docker://ubuntu"), 0);
    CHECK_STR(r.repository, "library/ubuntu");
    CHECK_EQ_INT(image_location_parse(&loc, "oci-archive:out/ridge.tar"), 0);
    CHECK_EQ_INT(loc.transport, IMAGE_OCI_ARCHIVE);
    CHECK_STR(loc.rest, "out/ridge.tar");
    CHECK_EQ_INT(image_location_parse(&loc, "docker-archive:/abs/d.tar"), 0);
    CHECK_EQ_INT(loc.transport, IMAGE_DOCKER_ARCHIVE);
    CHECK_STR(loc.rest, "/abs/d.tar");
    CHECK_EQ_INT(image_location_parse(&loc, "oci:layout:ridge:1"), 0);
    CHECK_EQ_INT(loc.transport, IMAGE_OCI_LAYOUT);
    CHECK_STR(loc.rest, "layout:ridge:1");
    CHECK_EQ_INT(image_location_parse(&loc, "ridge.tar"), 0);
    CHECK_EQ_INT(loc.transport, IMAGE_UNSPECIFIED);
    CHECK_STR(loc.rest, "ridge.tar");
    CHECK_STR(image_transport_prefix(IMAGE_OCI_LAYOUT), "oci:");
    CHECK_STR(image_transport_prefix(IMAGE_LOCAL_PATH), "");
    err_clear();
    CHECK_EQ_INT(image_location_parse(&loc, "oci-archive:"), ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "nothing after 'oci-archive:'") != NULL);
    CHECK_EQ_INT(image_location_parse(&loc, "docker://"), ERR_INVALID);
    CHECK_EQ_INT(image_location_parse(&loc, "docker://Bad/Name"), ERR_INVALID);
    CHECK_EQ_INT(image_location_parse(&loc, ""), ERR_INVALID);
    /* Unknown prefixes are not transports: they stay paths (or references). */
    CHECK_EQ_INT(image_location_parse(&loc, "containers-storage:x"), 0);
    CHECK_EQ_INT(loc.transport, IMAGE_UNSPECIFIED);
}

/* Without a transport: an existing path, else a reference that names its registry. */
TEST(resolve_plain)
{
    struct image_location loc;
    char dir[] = "/tmp/amlpkg-refloc-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    image_location_parse(&loc, dir);
    CHECK_EQ_INT(image_location_resolve(&loc, dir), 0);
    CHECK_EQ_INT(loc.transport, IMAGE_LOCAL_PATH);
    char named[128];
    snprintf(named, sizeof named, "%s:ridge:1", dir); /* DIR:NAME of a layout */
    image_location_parse(&loc, named);
    CHECK_EQ_INT(image_location_resolve(&loc, named), 0);
    CHECK_EQ_INT(loc.transport, IMAGE_LOCAL_PATH);
    image_location_parse(&loc, "127.0.0.1:5000/team/ridge:1");
    CHECK_EQ_INT(image_location_resolve(&loc, "127.0.0.1:5000/team/ridge:1"), 0);
    CHECK_EQ_INT(loc.transport, IMAGE_REGISTRY);
    image_location_parse(&loc, "localhost/ridge");
    CHECK_EQ_INT(image_location_resolve(&loc, "localhost/ridge"), 0);
    CHECK_EQ_INT(loc.transport, IMAGE_REGISTRY);
    err_clear();
    image_location_parse(&loc, "missing-ridge.tar");
    CHECK_EQ_INT(image_location_resolve(&loc, "missing-ridge.tar"), ERR_NOTFOUND);
    CHECK(strstr(err_message(ERR_NOTFOUND), "missing-ridge.tar: no such file") != NULL);
    image_location_parse(&loc, "./out/ridge.tar");
    CHECK_EQ_INT(image_location_resolve(&loc, "./out/ridge.tar"), ERR_NOTFOUND);
    image_location_parse(&loc, "team/ridge:1"); /* Docker Hub, but no registry written: not guessed */
    CHECK_EQ_INT(image_location_resolve(&loc, "team/ridge:1"), ERR_NOTFOUND);
    rmdir(dir);
}

int main(void)
{
    RUN(transports);
    RUN(resolve_plain);
    RUN(hub_short_name);
    RUN(hub_user_repo_tag);
    RUN(registry_with_port);
    RUN(digest_forms);
    RUN(separators);
    RUN(rejects);
    RUN(loopback);
    return test_failures ? 1 : 0;
}
