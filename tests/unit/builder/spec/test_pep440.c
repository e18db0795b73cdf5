/* PEP 440 versions and specifiers, PEP 508 requirements and markers: the examples of the PEPs' texts and
 * of pip's own `packaging` tests. */
#include "builder/spec/pep440.h"
#include "builder/spec/pep508.h"
#include "test.h"

static int cmp(const char *a, const char *b)
{
    struct pep440_version x, y;
    const char *why;
    if (pep440_parse(&x, a, strlen(a), &why) || pep440_parse(&y, b, strlen(b), &why))
        return 99;
    int c = pep440_compare(&x, &y);
    return (c > 0) - (c < 0);
}

static int contains(const char *version, const char *spec, int allow_pre)
{
    struct pep440_version v;
    struct pep440_specset s;
    const char *why;
    if (pep440_parse(&v, version, strlen(version), &why) || pep440_specset_parse(&s, spec, strlen(spec), &why))
        return -1;
    return pep440_specset_contains(&s, &v, version, allow_pre);
}

/* The order of PEP 440's "Summary of permitted suffixes and relative ordering", with epochs and locals. */
TEST(pep_order)
{
    static const char *const order[] = {"1.0.dev456",  "1.0a1",       "1.0a2.dev456", "1.0a12.dev456",
                                        "1.0a12",      "1.0b1.dev456", "1.0b2",        "1.0b2.post345.dev456",
                                        "1.0b2.post345", "1.0b2-346",  "1.0c1.dev456", "1.0c1",
                                        "1.0rc2",      "1.0c3",       "1.0",          "1.0+abc.5",
                                        "1.0+abc.7",   "1.0+5",       "1.0.post456.dev34", "1.0.post456",
                                        "1.1.dev1",    "1.1",         "2.0",          "1!0.1"};
    for (size_t i = 1; i < sizeof order / sizeof order[0]; i++) {
        if (cmp(order[i - 1], order[i]) != -1 || cmp(order[i], order[i - 1]) != 1) {
            printf("FAIL pep_order: '%s' < '%s' gives %d\n", order[i - 1], order[i], cmp(order[i - 1], order[i]));
            test_failures++;
            test_current_failed = 1;
            return;
        }
    }
}

TEST(normalisation)
{
    static const char *const same[][2] = {{"1.0", "1.0.0"},        {"1.0c1", "1.0rc1"},     {"1.0-1", "1.0.post1"},
                                          {"1.0.ALPHA.1", "1.0a1"}, {"v1.0", "1.0"},          {"1.0-r4", "1.0.post4"},
                                          {"1.0a", "1.0a0"},        {"1.0.dev", "1.0.dev0"}, {"1.0+Ubuntu-1", "1.0+ubuntu.1"},
                                          {"1.0preview2", "1.0rc2"}, {"0!1.0", "1.0"}};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
        CHECK(cmp(same[i][0], same[i][1]) == 0);
    struct pep440_version v;
    const char *why;
    char text[PEP440_MAX_TEXT];
    CHECK(!pep440_parse(&v, " 1!2.0C1-3.DEV4+Ubuntu_1 ", 25, &why));
    pep440_format(text, sizeof text, &v);
    CHECK_STR(text, "1!2.0rc1.post3.dev4+ubuntu.1");
    static const char *const bad[] = {"", "1.0+", "1.0+a..b", "french toast", "1.0-", "1..0", "1.0a1a1", "1.0+_x",
                                      "99999999999999999999.0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(pep440_parse(&v, bad[i], strlen(bad[i]), &why) != 0);
}

TEST(specifiers)
{
    static const struct {
        const char *version, *spec;
        int pre, want;
    } cases[] = {
        {"2.0", "==2", 0, 1},           {"2.0", "==2.0.0", 0, 1},       {"2.0+deadbeef", "==2", 0, 1},
        {"2.0+deadbeef", "==2.0+deadbeef", 0, 1}, {"2.0", "==2.0+deadbeef", 0, 0}, {"2.0", "==2.*", 0, 1},
        {"2.0", "==2.0.0.*", 0, 1},     {"2.1+local.version", "==2.1.*", 0, 1}, {"2.1rc1", "==2.1.*", 1, 1},
        {"2.10", "==2.1.*", 0, 0},      {"1.0", "!=1.0.*", 0, 0},       {"1.1", "!=1.0.*", 0, 1},
        {"2.0", "~=2.0", 0, 1},         {"2.9", "~=2.0", 0, 1},         {"3.0", "~=2.0", 0, 0},
        {"2.0.9", "~=2.0.0", 0, 1},     {"2.1", "~=2.0.0", 0, 0},       {"2.0.post1", "~=2.0", 0, 1},
        {"1.9", "<2", 0, 1},            {"2.0.dev1", "<2", 1, 0},       {"2.0a1", "<2", 1, 0},
        {"1.9a1", "<2", 1, 1},          {"2.0a1", "<2.0b1", 1, 1},      {"2.0.post1", ">2", 0, 0},
        {"2.0+local", ">2", 0, 0},      {"2.0.1", ">2", 0, 1},          {"2.0.post2", ">2.0.post1", 0, 1},
        {"1.0.dev1", ">=1.0", 1, 0},    {"1.0", ">=1.0,<2,!=1.5", 0, 1}, {"1.5", ">=1.0,<2,!=1.5", 0, 0},
        {"1.0a1", ">=0.9", 0, 0},       {"1.0a1", ">=0.9", 1, 1},       {"1.0a1", ">=1.0a1", 0, 1},
        {"1.0", "===1.0", 0, 1},        {"1.0.0", "===1.0", 0, 0},      {"1.0", "", 0, 1},
        {"1.0", "<=1.0", 0, 1},         {"1.0+x", "<=1.0", 0, 1},       {"1!1.0", ">=2.0", 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = contains(cases[i].version, cases[i].spec, cases[i].pre);
        if (got != cases[i].want) {
            printf("FAIL specifiers: '%s' in '%s': got %d, expected %d\n", cases[i].version, cases[i].spec, got,
                   cases[i].want);
            test_failures++;
            test_current_failed = 1;
            return;
        }
    }
    struct pep440_specset s;
    const char *why;
    static const char *const bad[] = {"=1.0", "~=1", "==1.0.*.post1", ">=1.0.*", "<1.0+local", ">=", "1.0", "==1.0,"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(pep440_specset_parse(&s, bad[i], strlen(bad[i]), &why) != 0);
    char text[256];
    CHECK(!pep440_specset_parse(&s, " >= 1.0 , != 1.5.* ,<2.0RC1", 27, &why));
    pep440_specset_format(text, sizeof text, &s);
    CHECK_STR(text, ">=1.0,!=1.5.*,<2.0rc1");
    CHECK(pep440_specset_allows_pre(&s) == 0);
    CHECK(!pep440_specset_parse(&s, "==2.0b1", 7, &why) && pep440_specset_allows_pre(&s));
}

static const struct pep508_env target = {.python_version = "3.11",
                                         .python_full_version = "3.11.4",
                                         .os_name = "posix",
                                         .sys_platform = "linux",
                                         .platform_machine = "x86_64",
                                         .platform_system = "Linux",
                                         .platform_python_implementation = "CPython",
                                         .implementation_name = "cpython",
                                         .implementation_version = "3.11.4"};

TEST(requirements)
{
    struct pep508_req r;
    const char *why;
    CHECK(!pep508_parse(&r, "Requests[Security, tests_X] >= 2.8.1, == 2.8.* ; python_version < \"2.7\"", &why));
    CHECK_STR(r.name, "requests");
    CHECK_EQ_INT(r.n_extras, 2);
    CHECK_STR(r.extras[1], "tests-x");
    CHECK_EQ_INT(r.spec.n, 2);
    CHECK_STR(r.marker, "python_version < \"2.7\"");
    CHECK_EQ_INT(pep508_marker_eval(r.marker, &target, "", &why), 0);
    CHECK(!pep508_parse(&r, "foo (>=1.0,<2)", &why) && r.spec.n == 2 && !r.marker[0]);
    CHECK(!pep508_parse(&r, "name @ https://x.example/y-1.0-py3-none-any.whl ; os_name == 'posix'", &why));
    CHECK_STR(r.url, "https://x.example/y-1.0-py3-none-any.whl");
    CHECK(!pep508_parse(&r, "A.B__c", &why));
    CHECK_STR(r.name, "a-b-c");
    static const char *const bad[] = {"foo-", "-foo", "foo >=", "foo [bar", "foo ; ", "foo ; python_version >=",
                                      "foo ; python_version >= '3' and", "foo bar", "foo ; (os_name == 'a'",
                                      "foo ; nonsense == 'a'", "foo ; os_name = 'a'", "foo ; os_name == 'a"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (!pep508_parse(&r, bad[i], &why)) {
            printf("FAIL requirements: '%s' was accepted\n", bad[i]);
            test_failures++;
            test_current_failed = 1;
            return;
        }
}

TEST(markers)
{
    static const struct {
        const char *marker, *extra;
        int want;
    } cases[] = {
        {"python_version >= \"3.8\" and (sys_platform == \"linux\" or platform_machine == \"arm64\")", "", 1},
        {"python_version < '3.10'", "", 0},
        {"python_full_version >= '3.11.4'", "", 1},
        {"python_version ~= '3.9'", "", 1},
        {"sys_platform == 'win32' or os_name == 'nt'", "", 0},
        {"platform_machine in 'x86_64 aarch64'", "", 1},
        {"'linux' not in sys_platform", "", 0},
        {"extra == 'Test_X'", "test-x", 1},
        {"extra == 'test'", "", 0},
        {"implementation_name == 'cpython' and platform_python_implementation != 'PyPy'", "", 1},
        {"platform_system == 'Linux' and python_version > '3.11'", "", 0},
        {"python_version > '3.9' and python_version < '3.12' or extra == 'x'", "", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *why = NULL;
        int got = pep508_marker_eval(cases[i].marker, &target, cases[i].extra, &why);
        if (got != cases[i].want) {
            printf("FAIL markers: '%s' gives %d (%s), expected %d\n", cases[i].marker, got, why ? why : "",
                   cases[i].want);
            test_failures++;
            test_current_failed = 1;
            return;
        }
    }
}

int main(void)
{
    RUN(pep_order);
    RUN(normalisation);
    RUN(specifiers);
    RUN(requirements);
    RUN(markers);
    return test_failures != 0;
}
