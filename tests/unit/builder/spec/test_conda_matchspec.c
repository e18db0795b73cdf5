/* conda MatchSpec: the forms environment files use, conda's '=' rules, build globs, channels, the
 * bracket form, and refusals naming the spec. */
#include "builder/spec/conda_matchspec.h"
#include "common/err.h"
#include "test.h"

static struct conda_matchspec *spec(const char *s)
{
    struct conda_matchspec *m = NULL;
    err_clear();
    if (conda_matchspec_parse(&m, s, "env.yml:5: dependencies[2]"))
        printf("# cannot parse '%s': %s\n", s, err_message(0));
    return m;
}

static int match(const char *s, const char *name, const char *version, const char *build, long long bn)
{
    struct conda_matchspec *m = spec(s);
    struct conda_version *v = NULL;
    if (!m || conda_version_parse(&v, version, "t")) {
        conda_matchspec_free(m);
        return -1;
    }
    int r = conda_matchspec_match(m, name, v, build, bn);
    conda_matchspec_free(m);
    conda_version_free(v);
    return r;
}

TEST(forms_and_canonical_text)
{
    static const char *const cases[][2] = {
        {"numpy", "numpy"},
        {"NumPy >=1.24", "numpy >=1.24"},
        {"numpy >= 1.24 , < 2", "numpy >=1.24,<2"},
        {"numpy>=1.24,<2", "numpy >=1.24,<2"},
        {"python=3.11", "python 3.11.*"},
        {"python==3.11.4", "python 3.11.4"},
        {"python=3.11.4=h2755cc3_0", "python 3.11.4 h2755cc3_0"},
        {"python 3.11.* *_cpython", "python 3.11.* *_cpython"},
        {"conda-forge::numpy 1.26.*", "conda-forge::numpy 1.26.*"},
        {"conda-forge/linux-64::numpy", "conda-forge/linux-64::numpy"},
        {"numpy[version='>=1.2,<2', build=py311*]", "numpy >=1.2,<2 py311*"},
        {"numpy[build_number=3]", "numpy[build_number=3]"},
        {"pytorch * cpu*", "pytorch * cpu*"},
        {"scikit-learn  # a comment", "scikit-learn"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct conda_matchspec *m = spec(cases[i][0]);
        CHECK(m != NULL);
        if (strcmp(m->text, cases[i][1])) {
            printf("FAIL forms_and_canonical_text: '%s' -> '%s', expected '%s'\n", cases[i][0], m->text, cases[i][1]);
            conda_matchspec_free(m);
            test_failures++;
            test_current_failed = 1;
            return;
        }
        conda_matchspec_free(m);
    }
}

TEST(matching)
{
    CHECK_EQ_INT(match("numpy", "numpy", "1.26.4", "py311h", 0), 1);
    CHECK_EQ_INT(match("numpy", "scipy", "1.26.4", "py311h", 0), 0);
    CHECK_EQ_INT(match("python=3.11", "python", "3.11.4", "h_0", 0), 1);
    CHECK_EQ_INT(match("python=3.11", "python", "3.1", "h_0", 0), 0);
    CHECK_EQ_INT(match("python=3.11.4=h_0", "python", "3.11.4", "h_0", 0), 1);
    CHECK_EQ_INT(match("python=3.11.4=h_0", "python", "3.11.4", "h_1", 0), 0);
    CHECK_EQ_INT(match("python=3.11=h_0", "python", "3.11.4", "h_0", 0), 0); /* with a build, "=3.11" is exact */
    CHECK_EQ_INT(match("numpy >=1.24,<2", "numpy", "2.0.0", "b", 0), 0);
    CHECK_EQ_INT(match("numpy 1.26.* py311*", "numpy", "1.26.4", "py311h64a7726_0", 0), 1);
    CHECK_EQ_INT(match("numpy 1.26.* py311*", "numpy", "1.26.4", "py310h64a7726_0", 0), 0);
    CHECK_EQ_INT(match("numpy[build_number=3]", "numpy", "1", "b", 3), 1);
    CHECK_EQ_INT(match("numpy[build_number=3]", "numpy", "1", "b", 4), 0);
    CHECK_EQ_INT(match("numpy=1.26|1.25", "numpy", "1.25", "b", 0), 1);
}

TEST(refusals_name_the_spec)
{
    static const char *const bad[][2] = {
        {"", "expected a package name"},
        {">=1.2", "expected a package name"},
        {"num$py", "invalid character in the package name"},
        {"::numpy", "expected a channel before '::'"},
        {"numpy 1.2 py_0 extra", "expected NAME [VERSION [BUILD]]"},
        {"numpy[md5=abc]", "a [KEY=...] other than version, build, build_number or channel is not supported"},
        {"numpy[version='1.2]", "unterminated quote"},
        {"numpy[version=1.2] x", "[...] must end the spec"},
        {"numpy[build_number=x]", "build_number must be a whole number"},
        {"numpy ^1.2$", "regular expressions"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct conda_matchspec *m = NULL;
        err_clear();
        int rc = conda_matchspec_parse(&m, bad[i][0], "env.yml:5: dependencies[2]");
        if (rc == 0 || m || !strstr(err_message(rc), bad[i][1]) || !strstr(err_message(rc), "env.yml:5")) {
            printf("FAIL refusals_name_the_spec: '%s': got %d '%s'\n", bad[i][0], rc, err_message(rc));
            conda_matchspec_free(m);
            test_failures++;
            test_current_failed = 1;
            return;
        }
    }
}

int main(void)
{
    RUN(forms_and_canonical_text);
    RUN(matching);
    RUN(refusals_name_the_spec);
    return test_failures ? 1 : 0;
}
