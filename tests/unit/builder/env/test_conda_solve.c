/* The conda solver on libsolv: highest versions within ranges, build strings, strict channel priority,
 * track_features de-prioritised, constrains, virtual packages, and unsatisfiable requests explained
 * with the conflicting specs named. The channels are repodata.json documents as conda writes them. */
#include "builder/env/conda_solve.h"
#include "common/err.h"
#include "test.h"

#define PKG(fn, name, ver, build, deps) "\"" fn "\": {\"name\": \"" name "\", \"version\": \"" ver "\", \"build\": \"" build "\", \"build_number\": 0, \"depends\": [" deps "]}"

static const char main_channel[] =
    "{\"info\": {\"subdir\": \"linux-64\"}, \"packages\": {"
    PKG("python-3.11.4-h_0.tar.bz2", "python", "3.11.4", "h_0", "\"__glibc >=2.17\"") ","
    PKG("python-3.12.0-h_0.tar.bz2", "python", "3.12.0", "h_0", "\"__glibc >=2.17\"") ","
    PKG("numpy-1.24.0-py311_0.tar.bz2", "numpy", "1.24.0", "py311_0", "\"python >=3.11,<3.12\"") ","
    PKG("numpy-1.26.4-py311_0.tar.bz2", "numpy", "1.26.4", "py311_0", "\"python 3.11.*\"") ","
    PKG("numpy-1.26.4-py312_0.tar.bz2", "numpy", "1.26.4", "py312_0", "\"python 3.12.*\"") ","
    PKG("numpy-2.0.0-py312_0.tar.bz2", "numpy", "2.0.0", "py312_0", "\"python >=3.12\"") ","
    PKG("a-1.0-0.tar.bz2", "a", "1.0", "0", "") ","
    PKG("a-2.0-0.tar.bz2", "a", "2.0", "0", "") ","
    PKG("b-1.0-0.tar.bz2", "b", "1.0", "0", "\"a <2\"") ","
    "\"c-1.0-0.tar.bz2\": {\"name\": \"c\", \"version\": \"1.0\", \"build\": \"0\", \"constrains\": [\"a <2\"]},"
    "\"blas-1.0-mkl.tar.bz2\": {\"name\": \"blas\", \"version\": \"1.0\", \"build\": \"mkl\", \"build_number\": 0},"
    "\"blas-1.0-openblas.tar.bz2\": {\"name\": \"blas\", \"version\": \"1.0\", \"build\": \"openblas\", \"build_number\": 5, "
    "\"track_features\": \"blas_openblas\"},"
    PKG("requests-1.0-0.tar.bz2", "requests", "1.0", "0", "") "},"
    "\"packages.conda\": {"
    PKG("a-1.0-0.conda", "a", "1.0", "0", "") "}}";

static const char second_channel[] = "{\"packages\": {"
    PKG("requests-2.0-0.tar.bz2", "requests", "2.0", "0", "") ","
    PKG("onlyhere-1.0-0.tar.bz2", "onlyhere", "1.0", "0", "\"requests\"") "}}";

static struct conda_repodata repo;
static char result[4096];

static int load(const char *glibc)
{
    conda_repodata_release(&repo);
    err_clear();
    int rc = conda_repodata_parse(&repo, main_channel, sizeof main_channel - 1, "main/linux-64/repodata.json",
                                  "main", 0, "linux-64");
    rc = rc ? rc : conda_repodata_parse(&repo, second_channel, sizeof second_channel - 1,
                                        "second/noarch/repodata.json", "second", 1, "noarch");
    rc = rc ? rc : conda_repodata_add_virtual(&repo, "__glibc", glibc);
    rc = rc ? rc : conda_repodata_add_virtual(&repo, "__linux", "6.1");
    if (rc)
        printf("# load: %s\n", err_message(rc));
    return rc;
}

/* "name=version=build ..." of the solution, or the error. */
static const char *solve(const char *const *specs, size_t n)
{
    size_t *picked = NULL, n_picked = 0;
    err_clear();
    int rc = conda_solve(&picked, &n_picked, &repo, specs, n, "env.yml");
    result[0] = '\0';
    if (rc) {
        snprintf(result, sizeof result, "ERROR %s", err_message(rc));
        return result;
    }
    size_t len = 0;
    for (size_t i = 0; i < n_picked && len < sizeof result; i++) {
        const struct conda_record *r = &repo.records[picked[i]];
        len += (size_t)snprintf(result + len, sizeof result - len, "%s%s=%s=%s", i ? " " : "", r->name,
                                conda_version_text(r->version), r->build);
    }
    free(picked);
    return result;
}

#define SOLVE(...) solve((const char *const[]){__VA_ARGS__}, sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *))

TEST(highest_versions_within_ranges)
{
    CHECK_EQ_INT(load("2.35"), 0);
    CHECK_STR(SOLVE("numpy"), "numpy=2.0.0=py312_0 python=3.12.0=h_0");
    CHECK_STR(SOLVE("numpy <2", "python"), "numpy=1.26.4=py312_0 python=3.12.0=h_0");
    CHECK_STR(SOLVE("numpy", "python 3.11.*"), "numpy=1.26.4=py311_0 python=3.11.4=h_0");
    CHECK_STR(SOLVE("numpy >=1.20,<1.25"), "numpy=1.24.0=py311_0 python=3.11.4=h_0");
}

TEST(build_strings)
{
    CHECK_EQ_INT(load("2.35"), 0);
    CHECK_STR(SOLVE("numpy 1.26.* py311*"), "numpy=1.26.4=py311_0 python=3.11.4=h_0");
    CHECK_STR(SOLVE("numpy=1.26.4=py312_0"), "numpy=1.26.4=py312_0 python=3.12.0=h_0");
}

TEST(strict_channel_priority)
{
    CHECK_EQ_INT(load("2.35"), 0);
    CHECK_STR(SOLVE("requests"), "requests=1.0=0"); /* 2.0 is in the second channel only */
    CHECK_STR(SOLVE("onlyhere"), "onlyhere=1.0=0 requests=1.0=0");
    CHECK_STR(SOLVE("second::requests"), "requests=2.0=0"); /* naming the channel overrides priority */
    CHECK_STR(SOLVE("second::requests >=2", "onlyhere"), "onlyhere=1.0=0 requests=2.0=0");
    CHECK(strstr(SOLVE("nosuch::requests"), "nothing in the channels matches 'nosuch::requests'") != NULL);
    const char *r = SOLVE("requests >=2");
    CHECK(strstr(r, "ERROR env.yml: the specs cannot be satisfied together") == r);
    CHECK(strstr(r, "nothing in the channels matches 'requests >=2'") != NULL);
}

TEST(track_features_lose_to_a_lower_build_number)
{
    CHECK_EQ_INT(load("2.35"), 0);
    CHECK_STR(SOLVE("blas"), "blas=1.0=mkl");
    CHECK_STR(SOLVE("blas * openblas"), "blas=1.0=openblas");
}

TEST(constrains_and_conflicts_name_both_specs)
{
    CHECK_EQ_INT(load("2.35"), 0);
    CHECK_STR(SOLVE("a"), "a=2.0=0");
    CHECK_STR(SOLVE("a", "c"), "a=1.0=0 c=1.0=0");
    CHECK_STR(SOLVE("a", "b"), "a=1.0=0 b=1.0=0");
    const char *r = SOLVE("a >=2", "b");
    CHECK(strstr(r, "ERROR") == r);
    CHECK(strstr(r, "'a >=2'") != NULL);
    CHECK(strstr(r, "b 1.0 0 needs 'a <2'") != NULL);
    r = SOLVE("a >=2", "c");
    CHECK(strstr(r, "'a >=2'") != NULL);
    CHECK(strstr(r, "c 1.0 0 constrains 'a <2'") != NULL);
}

TEST(virtual_packages)
{
    CHECK_EQ_INT(load("2.35"), 0);
    CHECK_STR(SOLVE("python 3.11.*"), "python=3.11.4=h_0"); /* __glibc is not in the result */
    CHECK_EQ_INT(load("2.12"), 0);
    const char *r = SOLVE("python");
    CHECK(strstr(r, "ERROR") == r);
    CHECK(strstr(r, "needs '__glibc >=2.17', which nothing in the channels matches") != NULL);
}

TEST(unknown_package_and_bad_spec)
{
    CHECK_EQ_INT(load("2.35"), 0);
    CHECK(strstr(SOLVE("nosuchpkg"), "nothing in the channels matches 'nosuchpkg'") != NULL);
    { const char *r = SOLVE("numpy >>1"); if (!strstr(r, "ERROR env.yml: dependencies[0]:")) printf("# %s\n", r); CHECK(strstr(r, "ERROR env.yml: dependencies[0]:") != NULL && strstr(r, "invalid version spec")); }
}

TEST(bad_repodata_names_source_and_line)
{
    struct conda_repodata r = {0};
    const char text[] = "{\"packages\": {\n  \"x-1-0.tar.bz2\": {\"name\": \"x\", \"build\": \"0\"}}}";
    err_clear();
    int rc = conda_repodata_parse(&r, text, sizeof text - 1, "ch/linux-64/repodata.json", "ch", 0, "linux-64");
    CHECK(rc != 0);
    CHECK(strstr(err_message(rc), "ch/linux-64/repodata.json:2:") != NULL);
    CHECK(strstr(err_message(rc), "packages['x-1-0.tar.bz2']: version: required field is missing") != NULL);
    const char bad_sha[] = "{\"packages\": {\"x-1-0.tar.bz2\": {\"name\": \"x\", \"version\": \"1\", \"build\": \"0\", "
                           "\"sha256\": \"XYZ\"}}}";
    err_clear();
    CHECK(conda_repodata_parse(&r, bad_sha, sizeof bad_sha - 1, "ch", "ch", 0, "linux-64") != 0);
    CHECK(strstr(err_message(0), "sha256: expected 64 lower-case hex digits") != NULL);
    conda_repodata_release(&r);
}

int main(void)
{
    RUN(highest_versions_within_ranges);
    RUN(build_strings);
    RUN(strict_channel_priority);
    RUN(track_features_lose_to_a_lower_build_number);
    RUN(constrains_and_conflicts_name_both_specs);
    RUN(virtual_packages);
    RUN(unknown_package_and_bad_spec);
    RUN(bad_repodata_names_source_and_line);
    conda_repodata_release(&repo);
    return test_failures ? 1 : 0;
}
