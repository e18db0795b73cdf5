/* Local images to read: an OCI image layout directory, an oci-archive
 * tarball (plain or compressed tar of such a layout), or a docker-archive
 * (`docker save`, `podman save --format docker-archive`), which is turned into
 * an OCI layout: config as it is, layers as the archive holds them. "DIR:NAME:TAG" names
 * one image of a layout that holds several (by its ref.name annotation).
 * The transport prefixes oci:, oci-archive: and docker-archive: (reference.h)
 * may stand before the path and are then checked against what it is.
 *
 * A layout directory is read in place. A tarball is unpacked lazily with
 * libarchive into a private temporary directory, removed by
 * image_source_free: opening it reads index.json and the small blobs
 * (manifests, indexes, configs: at most IMAGE_SOURCE_SMALL_BLOB bytes each,
 * IMAGE_SOURCE_SMALL_BUDGET in all) and only notes the others' names and
 * sizes; a large blob is unpacked when it is asked for (image_source_fetch,
 * image_source_read_blob), never past the size its descriptor declares. So a
 * small compressed archive whose unreferenced entry expands to gigabytes
 * costs its decompression and nothing in $TMPDIR. Links, odd paths and other
 * entries are ignored. Blobs are files so they can be uploaded in parallel by
 * offset. */
#ifndef AMLPKG_IMAGE_SOURCE_H
#define AMLPKG_IMAGE_SOURCE_H

#include "common/buf.h"

#include <stdint.h>

#define IMAGE_SOURCE_SMALL_BLOB (256 << 10)
#define IMAGE_SOURCE_SMALL_BUDGET (16 << 20)

/* A blob entry of a tarball, as its tar header declares it. */
struct image_source_entry {
    char hex[65];
    int64_t size;
};

struct image_source {
    char *root;     /* the layout directory */
    char *temp_dir; /* owned temporary directory, or NULL */
    char *path;     /* as given, for messages */
    char *select;   /* ref name to pick from index.json, or NULL */
    int docker_archive; /* a docker-archive (docker save's manifest.json), with or without an OCI layout */
    char *archive;  /* the oci-archive blobs are unpacked from on demand, or NULL */
    struct image_source_entry *entries; /* its blob entries */
    size_t n_entries;
};

/* A blob wanted under root, with the size its descriptor declares. */
struct image_source_want {
    const char *digest;
    int64_t size;
};

int image_source_open(struct image_source **out, const char *path);
void image_source_free(struct image_source *src);
/* "<root>/blobs/sha256/<hex>" (malloc'd), or NULL for a bad digest / no memory. */
char *image_source_blob_path(const struct image_source *src, const char *digest);
/* Makes the wanted blobs present under root, each checked against its
 * descriptor's size: an archive's are unpacked in one pass (those and no
 * others, reading at most size + 1 bytes of each), a layout's are checked
 * with stat (a regular file no larger than size). One larger than its
 * descriptor is refused ("blob sha256:... is larger than its descriptor's N
 * bytes", naming the source). A blob the source lacks is left missing for the
 * caller to name. */
int image_source_fetch(const struct image_source *src, const struct image_source_want *want, size_t n);
/* An archive's blob taken from file (a hard link: same file system only) instead of unpacked: the
 * caller has checked file against digest. ERR_UNSUPPORTED for a layout (read in place). */
int image_source_adopt_blob(const struct image_source *src, const char *digest, const char *file);
/* Unpacks every blob of an archive (no-op for a layout): `amlpkg cache add` takes them all. */
int image_source_fetch_all(const struct image_source *src);
/* Reads a small blob (manifest, index) into b (at most b's limit), verifying
 * its digest; an archive's blob is unpacked first when it is not yet. */
int image_source_read_blob(const struct image_source *src, struct buf *b, const char *digest);
/* The top descriptor of index.json: the one manifest, or the one whose
 * org.opencontainers.image.ref.name equals the selected name ("DIR:NAME:TAG"). */
int image_source_top(const struct image_source *src, char digest[72], char media_type[256], int64_t *size,
                     char ref_name[256]);

#endif
