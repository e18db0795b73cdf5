/* SHA-256 digests in the OCI form "sha256:<64 hex>".
 *
 * struct digest is caller-owned (digest_init/digest_release) and streams data
 * so layers are hashed while they are written, in one pass. The hashing is
 * runtime/sha256.c's: it holds no resources, so release has nothing to free,
 * but callers still pair it with init. */
#ifndef AMLPKG_DIGEST_H
#define AMLPKG_DIGEST_H

#include "common/sha256.h"

#include <stddef.h>
#include <stdint.h>

#define DIGEST_STRING_SIZE 72 /* "sha256:" + 64 hex + NUL */

struct digest {
    struct sha256 sha;
};

int digest_init(struct digest *d);
int digest_update(struct digest *d, const void *data, size_t len);
/* Writes "sha256:<hex>" into out; the digest is done (init starts another). */
int digest_final(struct digest *d, char out[DIGEST_STRING_SIZE]);
void digest_release(struct digest *d);
/* Digest and size of a whole file, read in one pass. */
int digest_file(const char *path, char out[DIGEST_STRING_SIZE], int64_t *size);
/* One-shot digest of a buffer. */
int digest_buffer(char out[DIGEST_STRING_SIZE], const void *data, size_t len);

#endif
