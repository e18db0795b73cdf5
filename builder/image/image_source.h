/* Local images to read: an OCI image layout directory, an oci-archive
 * tarball (plain or compressed tar of such a layout), or a docker-archive
 * (`docker save`, `podman save --format docker-archive`), which is turned into
 * an OCI layout: config as it is, layers as the archive holds them. "DIR:NAME:TAG" names
 * one image of a layout that holds several (by its ref.name annotation).
 * The transport prefixes oci:, oci-archive: and docker-archive: (reference.h)
 * may stand before the path and are then checked against what it is.
 *
 * A layout directory is read in place. A tarball is unpacked with libarchive
 * into a private temporary directory (only "oci-layout", "index.json" and
 * "blobs/sha256/<hex>" entries; anything else, links and odd paths are
 * ignored) so blobs can be uploaded in parallel from files by offset; the
 * directory is removed by image_source_free. */
#ifndef AMLPKG_IMAGE_SOURCE_H
#define AMLPKG_IMAGE_SOURCE_H

#include "common/buf.h"

#include <stdint.h>

struct image_source {
    char *root;     /* the layout directory */
    char *temp_dir; /* owned temporary directory, or NULL */
    char *path;     /* as given, for messages */
    char *select;   /* ref name to pick from index.json, or NULL */
};

int image_source_open(struct image_source **out, const char *path);
void image_source_free(struct image_source *src);
/* "<root>/blobs/sha256/<hex>" (malloc'd), or NULL for a bad digest / no memory. */
char *image_source_blob_path(const struct image_source *src, const char *digest);
/* Reads a small blob (manifest, index) into b, verifying its digest. */
int image_source_read_blob(const struct image_source *src, struct buf *b, const char *digest);
/* The top descriptor of index.json: the one manifest, or the one whose
 * org.opencontainers.image.ref.name equals the selected name ("DIR:NAME:TAG"). */
int image_source_top(const struct image_source *src, char digest[72], char media_type[256], int64_t *size,
                     char ref_name[256]);

#endif
