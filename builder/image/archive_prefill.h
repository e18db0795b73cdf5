/* The start of an image archive, written on another core while the rest of the
 * build runs: the blobs/ directories and the base image's layers, which are
 * known as soon as the base is open and are most of the archive's bytes (a
 * 233 MB Python base against a 17 MB environment layer). oci_archive.c then
 * appends the rest of the image. Where the prefill cannot be used (it failed,
 * or the image does not hold what it wrote), the archive is written whole as
 * before and the prefill's file removed.
 *
 * The archive's order (oci_archive.h) starts with blobs/, blobs/sha256/ and
 * the layers in the manifest's order, so a prefill of the first layers is the
 * start of the very bytes the archive has without it: prefilled with the base's
 * layers or with the whole cached environment's, or not at all, the archive
 * is the same file. */
#ifndef AMLPKG_ARCHIVE_PREFILL_H
#define AMLPKG_ARCHIVE_PREFILL_H

#include "builder/image/oci_image.h"
#include "builder/image/tar_writer.h"

#include <stdint.h>

struct archive_prefill;

/* Starts writing the layers (copied: the caller's array may change) to a temporary file beside target. */
int archive_prefill_start(struct archive_prefill **out, const char *target, long long mtime,
                          const struct oci_blob *layers, size_t n_layers);
/* Whether it can start this image's archive: its layers are the image's first distinct layers, in order. */
int archive_prefill_fits(const struct archive_prefill *p, const struct oci_image *image);
/* How many (distinct) layers it writes. */
size_t archive_prefill_count(const struct archive_prefill *p);
/* Waits for it; 0 and t (fd, offset, mtime) and *tmp_path handed over, to go on writing at t->offset (the
 * caller sets t->target: p's copy goes with p). On its failure, that error (the caller falls back to writing
 * the archive whole). */
int archive_prefill_take(struct archive_prefill *p, struct tar_writer *t, char **tmp_path);
/* Waits for it and removes its file unless taken. NULL is fine. */
void archive_prefill_free(struct archive_prefill *p);

#endif
