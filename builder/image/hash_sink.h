/* Writes a stream to a file while a second thread hashes and writes it: the
 * caller only copies into a buffer, so producing the stream (reading model
 * files, building the tar) overlaps with SHA-256 and the write on another
 * core. Used for the blob bytes of layers (oci_layer.c).
 *
 * Bytes are written at the file descriptor's current offset, in order. An
 * error (a failed write) is reported by the next call and by finish. */
#ifndef AMLPKG_HASH_SINK_H
#define AMLPKG_HASH_SINK_H

#include "builder/sys/digest.h"

#include <stddef.h>
#include <stdint.h>

struct hash_sink;

/* path names the file in messages. */
int hash_sink_start(struct hash_sink **out, int fd, const char *path);
int hash_sink_write(struct hash_sink *s, const void *data, size_t len);
/* Waits for the worker; the digest and count of everything written. Frees s. */
int hash_sink_finish(struct hash_sink *s, char digest[DIGEST_STRING_SIZE], int64_t *size);
/* Stops the worker and frees s (after an error elsewhere). NULL is fine. */
void hash_sink_abort(struct hash_sink *s);

#endif
