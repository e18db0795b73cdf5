/* Option, environment and configuration text to numbers: the one place that does it, for amlpkg's
 * options and spec fields and amlserve's options and environment.
 *
 * Each parser reads the whole text as strtoll/strtod do (leading white space and a sign allowed,
 * nothing after the number), checks the range, and stores into *out only on success. On failure it
 * returns ERR_INVALID with the message "WHAT: expected ..., found 'TEXT'" (err_set), so that a caller
 * prints it after its program name or returns it as is. Nothing is allocated; text and what are
 * borrowed. Data formats (JSON, YAML scalars' own syntax, HTTP headers, protobuf) keep their readers. */
#ifndef AMLPKG_PARSE_NUMBER_H
#define AMLPKG_PARSE_NUMBER_H

/* A decimal integer from min to max. */
int parse_number_int(long long *out, const char *what, const char *text, long long min, long long max);
/* A decimal number (as strtod reads it) from min to max; NaN is never in range. */
int parse_number_double(double *out, const char *what, const char *text, double min, double max);
/* A size in bytes: a non-negative number, optionally with K, M or G (powers of 1024) right after it
 * ("1.5G"), of at most max bytes; the product is truncated to whole bytes. */
int parse_number_size(long long *out, const char *what, const char *text, long long max);
/* For tuning knobs that fall back silently (AMLPKG_RETRIES...): text as parse_number_int reads it,
 * or fallback when text is NULL, empty or not an integer from min to max. Sets no message. */
long long parse_number_int_or(const char *text, long long min, long long max, long long fallback);

#endif
