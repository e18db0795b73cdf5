/* A wheel's core metadata (the METADATA file of its .dist-info, or the PEP 658 "<wheel URL>.metadata"
 * the index serves beside it): the fields a resolver needs, Name, Version, Requires-Python and every
 * Requires-Dist. The format is RFC 822 headers (continuation lines start with white space) ending at
 * the first blank line, where the description begins.
 *
 * Ownership: struct wheel_metadata is caller-owned (zero it; wheel_metadata_release frees its strings). */
#ifndef AMLPKG_WHEEL_METADATA_H
#define AMLPKG_WHEEL_METADATA_H

#include "common/buf.h"

#include <stddef.h>

#define WHEEL_METADATA_MAX_BYTES ((size_t)16 << 20)
#define WHEEL_METADATA_MAX_REQUIRES 4096

struct wheel_metadata {
    char *name, *version;  /* as written; NULL when absent */
    char *requires_python; /* NULL when absent */
    char **requires_dist;
    size_t n_requires_dist;
};

int wheel_metadata_parse(struct wheel_metadata *out, const char *text, size_t len, const char *source);
/* The bytes of NAME.dist-info/METADATA in the wheel (a zip, wheel[0..len)) into out; source (the wheel's
 * URL) names it in errors. */
int wheel_metadata_extract(struct buf *out, const void *wheel, size_t len, const char *source);
void wheel_metadata_release(struct wheel_metadata *m);

#endif
