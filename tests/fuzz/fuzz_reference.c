/* libFuzzer target: image reference parsing (push/pull/copy arguments). */
#include "builder/image/reference.h"
#include "common/err.h"

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
    err_clear();
    struct reference r;
    if (reference_parse(&r, s) == 0) {
        /* A parsed reference must format into something that parses to the same parts. */
        char back[800];
        reference_format(back, sizeof back, &r);
        struct reference again;
        if (reference_parse(&again, back) != 0 || strcmp(again.repository, r.repository) ||
            strcmp(again.registry, r.registry) || strcmp(again.tag, r.tag) || strcmp(again.digest, r.digest))
            abort();
        (void)reference_api_host(&r);
        (void)reference_host_is_loopback(r.registry);
    }
    free(s);
    return 0;
}
