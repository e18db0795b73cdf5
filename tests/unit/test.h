/* Minimal unit-test harness. Each test binary prints one line per check:
 * "PASS name", "FAIL name: why" or "SKIP name: reason"; tests/run.sh counts
 * them. The binary exits non-zero when any check failed. */
#ifndef AMLPKG_TEST_H
#define AMLPKG_TEST_H

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static int test_failures;
static const char *test_current = "?";
static int test_current_failed;

#define TEST(name) static void name(void)
#define RUN(name)                                                                                                      \
    do {                                                                                                               \
        test_current = #name;                                                                                          \
        test_current_failed = 0;                                                                                       \
        name();                                                                                                        \
        if (!test_current_failed)                                                                                      \
            printf("PASS %s\n", #name);                                                                                \
    } while (0)

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            printf("FAIL %s: %s:%d: %s\n", test_current, __FILE__, __LINE__, #cond);                                   \
            test_failures++;                                                                                           \
            test_current_failed = 1;                                                                                   \
            return;                                                                                                    \
        }                                                                                                              \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                                             \
    do {                                                                                                               \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                                          \
        if (va_ != vb_) {                                                                                              \
            printf("FAIL %s: %s:%d: %s == %lld, expected %lld\n", test_current, __FILE__, __LINE__, #a, va_, vb_);     \
            test_failures++;                                                                                           \
            test_current_failed = 1;                                                                                   \
            return;                                                                                                    \
        }                                                                                                              \
    } while (0)

#define CHECK_STR(a, b)                                                                                                \
    do {                                                                                                               \
        const char *sa_ = (a), *sb_ = (b);                                                                             \
        if (!sa_ || strcmp(sa_, sb_) != 0) {                                                                           \
            printf("FAIL %s: %s:%d: %s == \"%s\", expected \"%s\"\n", test_current, __FILE__, __LINE__, #a,            \
                   sa_ ? sa_ : "(null)", sb_);                                                                         \
            test_failures++;                                                                                           \
            test_current_failed = 1;                                                                                   \
            return;                                                                                                    \
        }                                                                                                              \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                                          \
    do {                                                                                                               \
        double da_ = (double)(a), db_ = (double)(b);                                                                   \
        if (!(fabs(da_ - db_) <= (tol))) {                                                                             \
            printf("FAIL %s: %s:%d: %s == %.9g, expected %.9g\n", test_current, __FILE__, __LINE__, #a, da_, db_);     \
            test_failures++;                                                                                           \
            test_current_failed = 1;                                                                                   \
            return;                                                                                                    \
        }                                                                                                              \
    } while (0)

#define TEST_EXIT() return test_failures ? 1 : 0

#endif
