/* libFuzzer target: the option number parser (common/parse_number.c). Whatever the text, a parse
 * either fails with a message or stores a value inside the range it was given. */
#include "common/err.h"
#include "common/parse_number.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    static const long long mins[] = {0, 1, -1000, -9223372036854775807LL - 1};
    static const long long maxs[] = {0, 64, 65535, 9223372036854775807LL};
    for (size_t i = 0; i < 4; i++) {
        long long v;
        err_clear();
        if (parse_number_int(&v, "--n", s, mins[i], maxs[i]) == 0 && (v < mins[i] || v > maxs[i]))
            abort();
        long long w = parse_number_int_or(s, mins[i], maxs[i], mins[i]);
        if (w < mins[i] || w > maxs[i])
            abort();
        err_clear();
        if (parse_number_size(&v, "--s", s, maxs[i]) == 0 && (v < 0 || v > maxs[i]))
            abort();
        double d;
        err_clear();
        if (parse_number_double(&d, "--d", s, (double)mins[i], (double)maxs[i]) == 0 &&
            !(d >= (double)mins[i] && d <= (double)maxs[i]))
            abort();
    }
    err_clear();
    free(s);
    return 0;
}
