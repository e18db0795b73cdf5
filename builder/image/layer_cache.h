/* Compressed layers reused by content, so an unchanged layer (the amlserve
 * runtime, an unchanged app or model) costs a lookup (at most a hash), not a gzip.
 *
 * A layer's bytes depend only on what the writer puts in its tar (paths,
 * types, modes, sizes, link targets, file contents, the epoch), the
 * compression asked for (auto included: its choice depends on the bytes) and
 * the writer and compressor versions. The key is the SHA-256 of those, file
 * contents by digest: cache_file_digest remembers them by stat, so an
 * unchanged file is not even read. The compressed blob and its entry (kind
 * "layer") live in the environment cache (cache/cache.h), so gc, verify and
 * --max-size treat them like the rest.
 *
 * Uncompressed layers are not kept: writing them costs what the hashing
 * pass does. Cache trouble never fails a build: the layer is built instead. */
#ifndef AMLPKG_LAYER_CACHE_H
#define AMLPKG_LAYER_CACHE_H

#include "cache/cache.h"
#include "builder/image/oci_layer.h"
#include "builder/image/plan.h"

struct layer_cache_key {
    char hex[65];
};

/* Computes the key of layer written with compression (AUTO, GZIP or ZSTD). */
int layer_cache_key(struct layer_cache_key *key, struct cache *c, const struct plan_layer *layer,
                    enum oci_compression compression, int64_t mtime);
/* 0 and *out (path inside the cache, each byte re-hashed) on a hit; ERR_NOTFOUND, no message, on a miss. */
int layer_cache_find(struct cache *c, const struct layer_cache_key *key, struct oci_blob *out);
/* Keeps a built compressed layer for next time; a failure only warns. */
void layer_cache_keep(struct cache *c, const struct layer_cache_key *key, const struct oci_blob *built);

#endif
