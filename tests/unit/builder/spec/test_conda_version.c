/* conda's VersionOrder and VersionSpec: the order conda documents, prefix matching, the spec grammar,
 * and refusals that name the spec. */
#include "builder/spec/conda_version.h"
#include "common/err.h"
#include "test.h"

static struct conda_version *ver(const char *s)
{
    struct conda_version *v = NULL;
    err_clear();
    if (conda_version_parse(&v, s, "t") != 0)
        printf("# cannot parse '%s': %s\n", s, err_message(0));
    return v;
}

static int cmp(const char *a, const char *b)
{
    struct conda_version *x = ver(a), *y = ver(b);
    int c = x && y ? conda_version_compare(x, y) : 99;
    conda_version_free(x);
    conda_version_free(y);
    return c < 0 ? -1 : c > 0 ? 1 : c;
}

/* The order of conda's VersionOrder documentation; "==" marks an equal neighbour. */
TEST(documented_order)
{
    static const char *const order[] = {"0.4",      "==0.4.0",   "0.4.1.rc",  "==0.4.1.RC", "0.4.1",   "0.5a1",
                                        "0.5b3",    "0.5C1",     "0.5",       "0.9.6",      "0.960923", "1.0",
                                        "1.1dev1",  "1.1a1",     "1.1.0dev1", "==1.1.dev1", "1.1.a1",  "1.1.0rc1",
                                        "1.1.0",    "==1.1",     "1.1.0post1", "==1.1.post1", "1.1post1", "1996.07.12",
                                        "1!0.4.1",  "1!3.1.1.6", "2!0.4.1"};
    size_t n = sizeof order / sizeof order[0];
    for (size_t i = 1; i < n; i++) {
        const char *prev = order[i - 1][0] == '=' ? order[i - 1] + 2 : order[i - 1];
        const char *cur = order[i][0] == '=' ? order[i] + 2 : order[i];
        int want = order[i][0] == '=' ? 0 : -1;
        if (cmp(prev, cur) != want || cmp(cur, prev) != -want) {
            printf("FAIL documented_order: '%s' vs '%s': got %d, expected %d\n", prev, cur, cmp(prev, cur), want);
            test_failures++;
            test_current_failed = 1;
            return;
        }
    }
}

TEST(numbers_of_any_length_and_specials)
{
    CHECK_EQ_INT(cmp("1.10", "1.9"), 1);
    CHECK_EQ_INT(cmp("1.010", "1.10"), 0);
    CHECK_EQ_INT(cmp("20230101123456789012345", "20230101123456789012344"), 1);
    CHECK_EQ_INT(cmp("1.0-1", "1.0_1"), 0);        /* '-' read as '_' */
    CHECK_EQ_INT(cmp("1.0.1_", "1.0.1a"), -1);     /* openssl-like trailing '_' (conda's documented work-around) */
    CHECK_EQ_INT(cmp("1.0.1a", "1.0.1"), -1);      /* letters are pre-releases */
    CHECK_EQ_INT(cmp("1.0+local.2", "1.0+local.10"), -1);
    CHECK_EQ_INT(cmp("1.0+a", "1.0"), -1);         /* local "a" vs nothing (0): strings sort first */
    CHECK_EQ_INT(cmp("1.0dev", "1.0a"), -1);
    CHECK_EQ_INT(cmp("1.0*", "1.0dev"), -1);       /* '*' before 'DEV' */
}

TEST(bad_versions_say_why)
{
    static const char *const bad[][2] = {{"", "empty conda version"},
                                         {"1..2", "empty version component"},
                                         {"1.2+", "empty version component"},
                                         {"1!2!3", "duplicated epoch"},
                                         {"a!1", "epoch"},
                                         {"1+2+3", "duplicated local"},
                                         {"1.2$", "invalid character"},
                                         {"1-2_3", "invalid character"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct conda_version *v = NULL;
        err_clear();
        int rc = conda_version_parse(&v, bad[i][0], "env.yml:3: dependencies[0]");
        CHECK(rc != 0 && v == NULL);
        CHECK(strstr(err_message(rc), bad[i][1]) != NULL);
        CHECK(strstr(err_message(rc), "env.yml:3: dependencies[0]") != NULL);
    }
}

static int match(const char *spec, const char *version)
{
    struct conda_vspec *s = NULL;
    struct conda_version *v = ver(version);
    err_clear();
    int rc = conda_vspec_parse(&s, spec, "t");
    int m = rc || !v ? -1 : conda_vspec_match(s, v);
    if (rc)
        printf("# cannot parse spec '%s': %s\n", spec, err_message(rc));
    conda_vspec_free(s);
    conda_version_free(v);
    return m;
}

TEST(spec_operators)
{
    CHECK_EQ_INT(match("1.2.*", "1.2.3"), 1);
    CHECK_EQ_INT(match("1.2.*", "1.2"), 1);
    CHECK_EQ_INT(match("1.2.*", "1.20"), 0);
    CHECK_EQ_INT(match("1.2*", "1.2.7"), 1);
    CHECK_EQ_INT(match("=1.2", "1.2.9"), 1);
    CHECK_EQ_INT(match("1.2", "1.2.0"), 1);
    CHECK_EQ_INT(match("1.2", "1.2.1"), 0);
    CHECK_EQ_INT(match("==1.2", "1.2.1"), 0);
    CHECK_EQ_INT(match("!=1.2", "1.2.1"), 1);
    CHECK_EQ_INT(match("!=1.2.*", "1.2.1"), 0);
    CHECK_EQ_INT(match("!=1.2.*", "1.3"), 1);
    CHECK_EQ_INT(match(">=1.2,<2", "1.9.9"), 1);
    CHECK_EQ_INT(match(">=1.2,<2", "2.0"), 0);
    CHECK_EQ_INT(match(">=1.2,<2", "2.0a1"), 1); /* a pre-release of 2.0 is below 2.0 */
    CHECK_EQ_INT(match("<1.0|>2.0", "0.5"), 1);
    CHECK_EQ_INT(match("<1.0|>2.0", "1.5"), 0);
    CHECK_EQ_INT(match("1.5|(1.6|1.7),1.8", "1.8"), 0);
    CHECK_EQ_INT(match("(1.6|1.8),>=1.7", "1.8"), 1);
    CHECK_EQ_INT(match("~=1.2.3", "1.2.9"), 1);
    CHECK_EQ_INT(match("~=1.2.3", "1.3.0"), 0);
    CHECK_EQ_INT(match("~=1.2.3", "1.2.2"), 0);
    CHECK_EQ_INT(match("*", "0.0.1"), 1);
    CHECK_EQ_INT(match(">=1.2.*", "1.2.0"), 1);
    CHECK_EQ_INT(match(" >=1.2 , <2 ", "1.5"), 1);
    CHECK_EQ_INT(match("3.11.*", "3.11.4"), 1);
    CHECK_EQ_INT(match("1.2a*", "1.2alpha"), 1);
}

TEST(spec_canonical_text)
{
    struct conda_vspec *s = NULL;
    CHECK_EQ_INT(conda_vspec_parse(&s, " (1.6 | 1.8*) , >=1.7 ", "t"), 0);
    CHECK_STR(conda_vspec_text(s), "(1.6|1.8.*),>=1.7");
    conda_vspec_free(s);
}

TEST(bad_specs_say_why)
{
    static const char *const bad[][2] = {{"^1.2$", "regular expressions"},   {"1.*.3", "a '*' inside a version"},
                                         {">=", "expected a version"},       {"(1.2", "expected ')'"},
                                         {"1.2)", "unbalanced ')'"},         {"1.2,", "empty version spec"},
                                         {"<>1.2", "expected a version after the operator"},
                                         {"~=1", "two components"},          {"1.2 3", "space inside a version"},
                                         {"", "empty version spec"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct conda_vspec *s = NULL;
        err_clear();
        int rc = conda_vspec_parse(&s, bad[i][0], "env.yml:4: dependencies[1]");
        if (rc == 0 || s || !strstr(err_message(rc), bad[i][1]) || !strstr(err_message(rc), "env.yml:4")) {
            printf("FAIL bad_specs_say_why: '%s': got %d '%s'\n", bad[i][0], rc, err_message(rc));
            conda_vspec_free(s);
            test_failures++;
            test_current_failed = 1;
            return;
        }
    }
    char deep[41];
    memset(deep, '(', 40);
    deep[40] = '\0';
    struct conda_vspec *s = NULL;
    CHECK(conda_vspec_parse(&s, deep, "t") != 0);
}

int main(void)
{
    RUN(documented_order);
    RUN(numbers_of_any_length_and_specials);
    RUN(bad_versions_say_why);
    RUN(spec_operators);
    RUN(spec_canonical_text);
    RUN(bad_specs_say_why);
    return test_failures ? 1 : 0;
}
