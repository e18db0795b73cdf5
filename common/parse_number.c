#include "common/parse_number.h"

#include "common/err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* 0 when text is a whole integer from min to max. Empty text and text with anything after the number
 * fail; so does overflow (strtoll's ERANGE), which also covers digits beyond long long. */
static int scan_int(long long *out, const char *text, long long min, long long max)
{
    if (!text || !text[0])
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end || errno || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int parse_number_int(long long *out, const char *what, const char *text, long long min, long long max)
{
    if (scan_int(out, text, min, max))
        return err_set(ERR_INVALID, "%s: expected an integer from %lld to %lld, found '%s'", what, min, max,
                       text ? text : "");
    return 0;
}

long long parse_number_int_or(const char *text, long long min, long long max, long long fallback)
{
    long long v;
    return scan_int(&v, text, min, max) ? fallback : v;
}

/* The number at the start of text; *end after it. -1 when there is none or it under/overflows. */
static int scan_double(double *out, char **end, const char *text)
{
    if (!text || !text[0])
        return -1;
    errno = 0;
    *out = strtod(text, end);
    return *end == text || errno ? -1 : 0;
}

int parse_number_double(double *out, const char *what, const char *text, double min, double max)
{
    double v;
    char *end;
    /* !(in range) rather than (out of range): NaN compares false both ways. */
    if (scan_double(&v, &end, text) || *end || !(v >= min && v <= max))
        return err_set(ERR_INVALID, "%s: expected a number from %g to %g, found '%s'", what, min, max,
                       text ? text : "");
    *out = v;
    return 0;
}

int parse_number_size(long long *out, const char *what, const char *text, long long max)
{
    double v, unit = -1;
    char *end;
    if (!scan_double(&v, &end, text))
        unit = !*end               ? 1
               : !strcmp(end, "K") ? 1024.0
               : !strcmp(end, "M") ? 1048576.0
               : !strcmp(end, "G") ? 1073741824.0
                                   : -1;
    /* The last test keeps the conversion below defined when max is near LLONG_MAX. */
    if (unit < 0 || !(v >= 0 && v * unit <= (double)max && v * unit < 9223372036854775808.0))
        return err_set(ERR_INVALID, "%s: expected a size in bytes (optionally with K, M or G) up to %lld, found '%s'",
                       what, max, text ? text : "");
    /* (double)max may have rounded up: the whole bytes are checked again. */
    long long bytes = (long long)(v * unit);
    if (bytes > max)
        return err_set(ERR_INVALID, "%s: expected a size in bytes (optionally with K, M or G) up to %lld, found '%s'",
                       what, max, text);
    *out = bytes;
    return 0;
}
