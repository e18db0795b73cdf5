/* The option number parser: whole text only, ranges, overflow, signs, empty text, size suffixes, the
 * message naming the option, and the silent fallback form. */
#include "test.h"

#include "common/err.h"
#include "common/parse_number.h"

#include <limits.h>

static int int_fails(const char *text, long long min, long long max)
{
    long long v = 42;
    err_clear();
    int rc = parse_number_int(&v, "--n", text, min, max);
    return rc == ERR_INVALID && v == 42;
}

TEST(integers_in_range)
{
    long long v = 0;
    CHECK_EQ_INT(parse_number_int(&v, "--n", "17", 0, 100), 0);
    CHECK_EQ_INT(v, 17);
    CHECK_EQ_INT(parse_number_int(&v, "--n", "0", 0, 100), 0);
    CHECK_EQ_INT(v, 0);
    CHECK_EQ_INT(parse_number_int(&v, "--n", "100", 0, 100), 0);
    CHECK_EQ_INT(v, 100);
    CHECK_EQ_INT(parse_number_int(&v, "--n", "-5", -10, 10), 0);
    CHECK_EQ_INT(v, -5);
    /* As strtoll reads them, which the options accepted before: a plus sign, leading zeros and blanks. */
    CHECK_EQ_INT(parse_number_int(&v, "--n", "+7", 0, 10), 0);
    CHECK_EQ_INT(v, 7);
    CHECK_EQ_INT(parse_number_int(&v, "--n", "007", 0, 10), 0);
    CHECK_EQ_INT(v, 7);
    CHECK_EQ_INT(parse_number_int(&v, "--n", " 8", 0, 10), 0);
    CHECK_EQ_INT(v, 8);
    CHECK_EQ_INT(parse_number_int(&v, "--n", "9223372036854775807", 0, LLONG_MAX), 0);
    CHECK_EQ_INT(v, LLONG_MAX);
    CHECK_EQ_INT(parse_number_int(&v, "--n", "-9223372036854775808", LLONG_MIN, 0), 0);
    CHECK_EQ_INT(v, LLONG_MIN);
}

TEST(integers_refused)
{
    CHECK(int_fails("", 0, 10));
    CHECK(int_fails(NULL, 0, 10));
    CHECK(int_fails(" ", 0, 10));
    CHECK(int_fails("-", 0, 10));
    CHECK(int_fails("+", 0, 10));
    CHECK(int_fails("11", 0, 10));
    CHECK(int_fails("-1", 0, 10));
    CHECK(int_fails("5x", 0, 10));
    CHECK(int_fails("5 ", 0, 10));
    CHECK(int_fails("5.0", 0, 10));
    CHECK(int_fails("1e1", 0, 100));
    CHECK(int_fails("0x10", 0, 100));
    CHECK(int_fails("abc", 0, 10));
    CHECK(int_fails("9223372036854775808", 0, LLONG_MAX));
    CHECK(int_fails("-9223372036854775809", LLONG_MIN, 0));
    CHECK(int_fails("99999999999999999999999999", 0, LLONG_MAX));
}

TEST(message_names_the_option)
{
    long long v;
    err_clear();
    CHECK_EQ_INT(parse_number_int(&v, "--jobs", "65", 1, 64), ERR_INVALID);
    CHECK_STR(err_message(ERR_INVALID), "--jobs: expected an integer from 1 to 64, found '65'");
    err_clear();
    double d;
    CHECK_EQ_INT(parse_number_double(&d, "--duration", "soon", 0.1, 86400), ERR_INVALID);
    CHECK_STR(err_message(ERR_INVALID), "--duration: expected a number from 0.1 to 86400, found 'soon'");
    err_clear();
    CHECK_EQ_INT(parse_number_size(&v, "--max-size", "lots", 1000), ERR_INVALID);
    CHECK_STR(err_message(ERR_INVALID),
              "--max-size: expected a size in bytes (optionally with K, M or G) up to 1000, found 'lots'");
    err_clear();
}

TEST(decimals)
{
    double d = 0;
    CHECK_EQ_INT(parse_number_double(&d, "--d", "2.5", 0, 10), 0);
    CHECK_NEAR(d, 2.5, 0);
    CHECK_EQ_INT(parse_number_double(&d, "--d", "1e3", 0, 1e9), 0);
    CHECK_NEAR(d, 1000, 0);
    CHECK_EQ_INT(parse_number_double(&d, "--d", "-0.5", -1, 1), 0);
    CHECK_NEAR(d, -0.5, 0);
    CHECK_EQ_INT(parse_number_double(&d, "--d", "0.1", 0.1, 1), 0);
    CHECK_NEAR(d, 0.1, 0);
    d = 42;
    err_clear();
    CHECK_EQ_INT(parse_number_double(&d, "--d", "", 0, 10), ERR_INVALID);
    CHECK_EQ_INT(parse_number_double(&d, "--d", "nan", -1e9, 1e9), ERR_INVALID);
    CHECK_EQ_INT(parse_number_double(&d, "--d", "inf", 0, 1e9), ERR_INVALID);
    CHECK_EQ_INT(parse_number_double(&d, "--d", "1e999", 0, 1e308), ERR_INVALID);
    CHECK_EQ_INT(parse_number_double(&d, "--d", "1e-999", 0, 1), ERR_INVALID);
    CHECK_EQ_INT(parse_number_double(&d, "--d", "3s", 0, 10), ERR_INVALID);
    CHECK_EQ_INT(parse_number_double(&d, "--d", "11", 0, 10), ERR_INVALID);
    CHECK_EQ_INT(parse_number_double(&d, "--d", "0.05", 0.1, 1), ERR_INVALID);
    CHECK_NEAR(d, 42, 0);
    err_clear();
}

TEST(sizes)
{
    long long v = 0;
    const long long max = 9000000000000000000LL;
    CHECK_EQ_INT(parse_number_size(&v, "--s", "0", max), 0);
    CHECK_EQ_INT(v, 0);
    CHECK_EQ_INT(parse_number_size(&v, "--s", "123", max), 0);
    CHECK_EQ_INT(v, 123);
    CHECK_EQ_INT(parse_number_size(&v, "--s", "2K", max), 0);
    CHECK_EQ_INT(v, 2048);
    CHECK_EQ_INT(parse_number_size(&v, "--s", "1.5K", max), 0);
    CHECK_EQ_INT(v, 1536);
    CHECK_EQ_INT(parse_number_size(&v, "--s", "3M", max), 0);
    CHECK_EQ_INT(v, 3LL << 20);
    CHECK_EQ_INT(parse_number_size(&v, "--s", "10G", max), 0);
    CHECK_EQ_INT(v, 10LL << 30);
    CHECK_EQ_INT(parse_number_size(&v, "--s", "0.3", max), 0);
    CHECK_EQ_INT(v, 0);
    CHECK_EQ_INT(parse_number_size(&v, "--s", "9e18", max), 0);
    CHECK_EQ_INT(v, max);
    v = 42;
    err_clear();
    static const char *const bad[] = {"",   "K",   "-1",  "-1K",    "1k",    "1KB", "1 K",
                                      "1T", "nan", "inf", "9.1e18", "1e999", "x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ_INT(parse_number_size(&v, "--s", bad[i], max), ERR_INVALID);
    CHECK_EQ_INT(parse_number_size(&v, "--s", "2K", 2047), ERR_INVALID);
    /* A limit near LLONG_MAX never lets the product overflow the conversion. */
    CHECK_EQ_INT(parse_number_size(&v, "--s", "8G", LLONG_MAX), 0);
    CHECK_EQ_INT(v, 8LL << 30);
    CHECK_EQ_INT(parse_number_size(&v, "--s", "9223372036854775807", LLONG_MAX), ERR_INVALID);
    err_clear();
}

TEST(fallback_form_is_silent)
{
    err_clear();
    CHECK_EQ_INT(parse_number_int_or("12", 0, 100, 5), 12);
    CHECK_EQ_INT(parse_number_int_or(NULL, 0, 100, 5), 5);
    CHECK_EQ_INT(parse_number_int_or("", 0, 100, 5), 5);
    CHECK_EQ_INT(parse_number_int_or("12x", 0, 100, 5), 5);
    CHECK_EQ_INT(parse_number_int_or("101", 0, 100, 5), 5);
    CHECK_STR(err_message(ERR_INVALID), "invalid value");
}

int main(void)
{
    RUN(integers_in_range);
    RUN(integers_refused);
    RUN(message_names_the_option);
    RUN(decimals);
    RUN(sizes);
    RUN(fallback_form_is_silent);
    TEST_EXIT();
}
