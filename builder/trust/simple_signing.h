/* cosign's "simple signing" payload: the document a cosign signature signs.
 *
 *   {"critical":{"identity":{"docker-reference":REF},
 *                "image":{"docker-manifest-digest":DIGEST},
 *                "type":"cosign container image signature"},
 *    "optional":{"creator":..., "timestamp":SECONDS}}
 *
 * containers/image (podman, skopeo, CRI-O) reads "critical" strictly: exactly
 * those members, the type exactly that string; "optional" may hold anything
 * (or be null). The reader here applies the same rules, so what it accepts
 * podman accepts too. struct simple_signing is caller-owned, fixed buffers. */
#ifndef AMLPKG_SIMPLE_SIGNING_H
#define AMLPKG_SIMPLE_SIGNING_H

#include "common/buf.h"

#include <stddef.h>

#define SIMPLE_SIGNING_TYPE "cosign container image signature"
#define SIMPLE_SIGNING_MEDIA_TYPE "application/vnd.dev.cosign.simplesigning.v1+json"
#define SIMPLE_SIGNING_LIMIT (64u << 10)

struct simple_signing {
    char identity[512];  /* critical.identity.docker-reference */
    char digest[72];     /* critical.image.docker-manifest-digest */
    char creator[256];   /* optional.creator or "" */
    long long timestamp; /* optional.timestamp, or -1 */
};

/* Appends the payload for (identity, digest) to out, creator and timestamp in "optional". */
int simple_signing_write(struct buf *out, const char *identity, const char *digest, const char *creator,
                         long long timestamp);
/* Reads a payload; what names it in messages ("sha256-<hex>.sig layer 0"). */
int simple_signing_parse(struct simple_signing *out, const char *data, size_t len, const char *what);

#endif
