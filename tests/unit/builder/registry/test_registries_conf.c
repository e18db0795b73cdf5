/* registries.conf: the TOML subset, strict refusals with file:line, and where a reference is pulled from. */
#include "builder/registry/registries_conf.h"
#include "common/err.h"
#include "test.h"

#include <unistd.h>

static struct registries_conf conf;

static int parse(const char *text)
{
    registries_conf_release(&conf);
    err_clear();
    return registries_conf_parse(&conf, text, strlen(text), "r.conf");
}

static const char *const mirror_conf = "# comment\n"
                                       "unqualified-search-registries = [\"docker.io\", 'quay.io',]\n"
                                       "[[registry]]\n"
                                       "prefix = \"mcr.microsoft.com\"  # trailing comment\n"
                                       "location = \"mcr.microsoft.com\"\n"
                                       "[[registry.mirror]]\n"
                                       "location = \"127.0.0.1:5000\"\n"
                                       "insecure = true\n"
                                       "[[registry.mirror]]\n"
                                       "location = 'mirror.example/mcr'\n"
                                       "pull-from-mirror = \"digest-only\"\n"
                                       "[[registry]]\n"
                                       "prefix = \"mcr.microsoft.com/azureml/special\"\n"
                                       "location = \"other.example/special\"\n"
                                       "[[registry]]\n"
                                       "location = \"blocked.example\"\n"
                                       "blocked = true\n"
                                       "[aliases]\n"
                                       "  \"centos\" = \"quay.io/centos/centos\"\n";

static int endpoints(struct registries_endpoint **eps, size_t *n, const char *text)
{
    struct reference ref;
    err_clear();
    if (reference_parse(&ref, text))
        return -100;
    return registries_conf_endpoints(eps, n, &conf, &ref);
}

TEST(parses_mirrors_in_order)
{
    CHECK_EQ_INT(parse(mirror_conf), 0);
    CHECK_EQ_INT(conf.n_entries, 3);
    CHECK_STR(conf.entries[0].prefix, "mcr.microsoft.com");
    CHECK_EQ_INT(conf.entries[0].n_mirrors, 2);
    CHECK_STR(conf.entries[0].mirrors[0].location, "127.0.0.1:5000");
    CHECK_EQ_INT(conf.entries[0].mirrors[0].insecure, 1);
    CHECK_EQ_INT(conf.entries[0].mirrors[1].pull_from, REGISTRIES_PULL_DIGEST_ONLY);
    CHECK_EQ_INT(conf.entries[2].blocked, 1);
    CHECK_EQ_INT(conf.entries[2].line, 15);
}

TEST(mirror_first_then_registry)
{
    CHECK_EQ_INT(parse(mirror_conf), 0);
    struct registries_endpoint *eps = NULL;
    size_t n = 0;
    CHECK_EQ_INT(endpoints(&eps, &n, "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04"), 0);
    CHECK_EQ_INT(n, 2); /* the digest-only mirror is skipped for a tag */
    CHECK_STR(eps[0].ref.registry, "127.0.0.1:5000");
    CHECK_STR(eps[0].ref.repository, "azureml/openmpi4.1.0-ubuntu22.04");
    CHECK_STR(eps[0].ref.tag, "latest");
    CHECK_EQ_INT(eps[0].mirror, 1);
    CHECK_EQ_INT(eps[0].insecure, 1);
    CHECK_STR(eps[1].ref.registry, "mcr.microsoft.com");
    CHECK_EQ_INT(eps[1].mirror, 0);
    free(eps);
}

TEST(digest_uses_digest_only_mirror)
{
    CHECK_EQ_INT(parse(mirror_conf), 0);
    struct registries_endpoint *eps = NULL;
    size_t n = 0;
    CHECK_EQ_INT(endpoints(&eps, &n,
                           "mcr.microsoft.com/azureml/x@sha256:"
                           "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
                 0);
    CHECK_EQ_INT(n, 3);
    CHECK_STR(eps[1].ref.registry, "mirror.example");
    CHECK_STR(eps[1].ref.repository, "mcr/azureml/x");
    CHECK_STR(eps[1].ref.digest, "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    free(eps);
}

TEST(longest_prefix_at_component_boundary)
{
    CHECK_EQ_INT(parse(mirror_conf), 0);
    struct registries_endpoint *eps = NULL;
    size_t n = 0;
    CHECK_EQ_INT(endpoints(&eps, &n, "mcr.microsoft.com/azureml/special/img:2"), 0);
    CHECK_EQ_INT(n, 1);
    CHECK_STR(eps[0].ref.registry, "other.example");
    CHECK_STR(eps[0].ref.repository, "special/img");
    CHECK_STR(eps[0].ref.tag, "2");
    free(eps);
    /* "special2" is not under "special". */
    CHECK_EQ_INT(endpoints(&eps, &n, "mcr.microsoft.com/azureml/special2"), 0);
    CHECK_EQ_INT(n, 2);
    CHECK_STR(eps[0].ref.registry, "127.0.0.1:5000");
    free(eps);
    CHECK_EQ_INT(endpoints(&eps, &n, "docker.io/library/ubuntu"), 0);
    CHECK_EQ_INT(n, 1);
    CHECK_STR(eps[0].ref.registry, "docker.io");
    free(eps);
}

TEST(blocked_names_file_and_line)
{
    CHECK_EQ_INT(parse(mirror_conf), 0);
    struct registries_endpoint *eps = NULL;
    size_t n = 0;
    CHECK_EQ_INT(endpoints(&eps, &n, "blocked.example/x"), ERR_UNSUPPORTED);
    CHECK(strstr(err_message(0), "r.conf:15: 'blocked.example' is blocked"));
}

TEST(refusals_name_file_and_line)
{
    struct {
        const char *text, *msg;
    } cases[] = {
        {"[registries.search]\nregistries = []\n", "r.conf:1: [registries.search]: the version 1 format"},
        {"\n[[registry]]\nprefix = \"*.example.com\"\n", "r.conf:3: prefix: '*.example.com': wildcard"},
        {"[[registry]]\nlocation = \"x.io\"\nfoo = true\n", "r.conf:3: 'foo': not a key amlpkg reads in [[registry]]"},
        {"[[registry]]\nlocation = \"x.io\"\ninsecure = \"yes\"\n", "r.conf:3: insecure: expected true or false"},
        {"[[registry]]\nlocation = \"x.io\"\nlocation = \"y.io\"\n", "r.conf:3: 'location' is set twice"},
        {"[[registry.mirror]]\nlocation = \"x.io\"\n", "r.conf:1: [[registry.mirror]] must follow"},
        {"[[registry]]\ninsecure = true\n", "r.conf:1: [[registry]]: set prefix or location"},
        {"[[registry]]\nlocation = \"x.io\"\n[[registry.mirror]]\ninsecure = true\n",
         "r.conf:3: [[registry.mirror]]: location is required"},
        {"[[registry]]\nlocation = \"https://x.io\"\n", "r.conf:2: location: 'https://x.io': write host"},
        {"[[registry]]\nlocation = \"x.io\n", "r.conf:2: unterminated string"},
        {"[[registry]]\nlocation = \"x\\q\"\n", "r.conf:2: unsupported escape '\\q'"},
        {"a.b = 1\n", "r.conf:1: 'a': expected '=' after the key (dotted keys are not supported)"},
        {"[[registry]]\nlocation = \"x.io\" junk\n", "r.conf:2: text after the value"},
        {"[foo]\n", "r.conf:1: [foo]: not a table amlpkg reads"},
        {"unqualified-search-registries = [\"a\",\n\"b\"]\n", "r.conf:1: unterminated array"},
        {"[[registry]]\nprefix = \"x.io\"\n[[registry.mirror]]\nlocation = \"m.io\"\npull-from-mirror = \"some\"\n",
         "r.conf:5: pull-from-mirror: 'some'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = parse(cases[i].text);
        if (rc == 0 || !strstr(err_message(rc), cases[i].msg)) {
            printf("FAIL refusals_name_file_and_line: case %zu: got '%s', expected '%s'\n", i, err_message(rc),
                   cases[i].msg);
            test_failures++;
            test_current_failed = 1;
            return;
        }
    }
}

TEST(load_named_file_and_env)
{
    struct registries_conf *c = NULL;
    err_clear();
    CHECK(registries_conf_load(&c, "/nonexistent/registries.conf") != 0);
    CHECK(c == NULL);
    char path[] = "/tmp/amlpkg-regconf-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char text[] = "[[registry]]\nprefix = \"mcr.microsoft.com\"\n[[registry.mirror]]\nlocation = \"l:1\"\n";
    CHECK(write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1));
    close(fd);
    setenv(REGISTRIES_CONF_ENV, path, 1);
    int rc = registries_conf_load(&c, NULL);
    unsetenv(REGISTRIES_CONF_ENV);
    unlink(path);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(c->n_entries, 1);
    CHECK_STR(c->entries[0].file, path);
    registries_conf_free(c);
}

int main(void)
{
    RUN(parses_mirrors_in_order);
    RUN(mirror_first_then_registry);
    RUN(digest_uses_digest_only_mirror);
    RUN(longest_prefix_at_component_boundary);
    RUN(blocked_names_file_and_line);
    RUN(refusals_name_file_and_line);
    RUN(load_named_file_and_env);
    registries_conf_release(&conf);
    return test_failures ? 1 : 0;
}
