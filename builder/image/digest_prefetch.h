/* Hashes the large files of an image's layers on another core while the
 * layers themselves are written (and hashed) on this one, so the SBOM's
 * per-file SHA-256 of a model costs no extra time: the digests are
 * remembered in the cache's file memo (cache_file_digest), where the SBOM and
 * the layer cache's keys find them.
 *
 * Files already remembered are skipped. The worker only reads and hashes;
 * the memo is written by the caller's thread in digest_prefetch_wait. */
#ifndef AMLPKG_DIGEST_PREFETCH_H
#define AMLPKG_DIGEST_PREFETCH_H

#include "cache/cache.h"

#include <stddef.h>
#include <stdint.h>

struct digest_prefetch;

/* Starts hashing the regular files of at least min_size under host_paths
 * (files or trees). *out is NULL when there is nothing to do. memo may be
 * NULL (--no-cache): the digests then serve this run only, by lookup. */
int digest_prefetch_start(struct digest_prefetch **out, struct cache *memo, const char *const *host_paths, size_t n,
                          int64_t min_size);
/* Whether any file being hashed lies under one of host_paths. NULL: no. */
int digest_prefetch_covers(const struct digest_prefetch *p, const char *const *host_paths, size_t n);
/* Waits for the worker and remembers what it hashed in the memo (once). NULL is fine. */
void digest_prefetch_wait(struct digest_prefetch *p);
/* The digest ("sha256:<hex>") of path if it was hashed and has not changed
 * since (waits first); ERR_NOTFOUND without a message otherwise. */
int digest_prefetch_lookup(struct digest_prefetch *p, const char *path, char out[CACHE_DIGEST_SIZE]);
/* Waits and frees. NULL is fine. */
void digest_prefetch_free(struct digest_prefetch *p);

#endif
