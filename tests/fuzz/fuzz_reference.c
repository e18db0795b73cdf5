/* libFuzzer target: image reference and transport parsing (push/pull/copy/inspect arguments). */
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
    err_clear();
    struct image_location loc;
    if (image_location_parse(&loc, s) == 0) {
        if (loc.rest < s || loc.rest > s + size || (loc.transport != IMAGE_UNSPECIFIED && !loc.rest[0]))
            abort();
        (void)image_transport_prefix(loc.transport);
    }
    free(s);
    return 0;
}
