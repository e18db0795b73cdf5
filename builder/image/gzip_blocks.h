/* Deterministic gzip over several cores. The stream is cut into blocks of
 * GZIP_BLOCK_BYTES (or earlier, where the caller changes the level), each block
 * is compressed on its own by a pool of threads (libdeflate) into one gzip
 * member, and the members are handed to `emit` in order. A gzip file is a series
 * of members (RFC 1952, 2.2): gzip, zlib's gunzip loop, Go's compress/gzip
 * (containerd, podman, skopeo), Python and libarchive read it as one stream, as
 * they read eStargz layers. The bytes depend on the input, the level choices
 * and the libdeflate version only, never on the number of threads or timing.
 *
 * emit is called on the caller's thread (from write, set_level and finish). */
#ifndef AMLPKG_GZIP_BLOCKS_H
#define AMLPKG_GZIP_BLOCKS_H

#include <stddef.h>

#define GZIP_BLOCK_BYTES (1 << 20)

struct gzip_blocks;

typedef int (*gzip_emit_fn)(void *ctx, const void *data, size_t len);

/* level 0 (stored) to 12; threads 0 picks the machine's cores (at most 8). */
int gzip_blocks_start(struct gzip_blocks **out, int level, int threads, gzip_emit_fn emit, void *ctx);
int gzip_blocks_write(struct gzip_blocks *g, const void *data, size_t len);
/* The bytes written from now on use level; a block in progress at another level ends here. */
int gzip_blocks_set_level(struct gzip_blocks *g, int level);
/* Compresses and emits what is left, then frees g (also on error). */
int gzip_blocks_finish(struct gzip_blocks *g);
/* Stops the workers and frees g; nothing more is emitted. NULL is fine. */
void gzip_blocks_abort(struct gzip_blocks *g);

#endif
