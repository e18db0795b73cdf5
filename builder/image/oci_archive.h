/* Writes an image as a tarball: an oci-archive, a tar of an OCI image layout
 * (oci-layout, index.json, blobs/sha256/...), the format `podman load`,
 * `skopeo ... oci-archive:` and umoci read; or a docker-archive, the
 * `docker save` layout (manifest.json naming the config and layer files, and
 * the image by RepoTags) that `docker load` and `podman load` read, written
 * beside the same OCI layout as Docker 25's `docker save` does: the OCI
 * manifest stays in the file, so push and inspect show the digest build
 * printed.
 *
 * The archive is written beside the target and renamed into place when
 * complete; on any error the target is left untouched. Entries are in a fixed
 * order with fixed metadata, so the same image gives the same bytes: blobs/,
 * blobs/sha256/, the layers in the manifest's order (each once),
 * manifest.json (docker-archive), oci-layout, index.json, the config, the
 * manifest. A layer staged with room for its header (oci_blob.offset, see
 * oci_image_build) becomes the archive's first entry where it lies: the
 * largest such layer is never copied, unless a prefill (archive_prefill.h)
 * already holds the rest of the layers and they are the bigger part. */
#ifndef AMLPKG_OCI_ARCHIVE_H
#define AMLPKG_OCI_ARCHIVE_H

#include "builder/image/oci_image.h"
#include "builder/image/tar_writer.h"

struct archive_prefill;

enum {
    OCI_ARCHIVE_SYNC = 1,   /* fsync the archive before renaming it into place */
    OCI_ARCHIVE_DOCKER = 2, /* internal: the docker-archive layout */
};

/* prefill: the archive's start written beforehand (archive_prefill.h), used when it fits the image; NULL:
 * none. Either way the caller frees it. */
int oci_archive_write(const struct oci_image *image, const char *target, long long mtime, unsigned flags,
                      struct archive_prefill *prefill);
/* Layers must be tar or tar+gzip: docker load knows no zstd (ERR_UNSUPPORTED). */
int oci_docker_archive_write(const struct oci_image *image, const char *target, long long mtime, unsigned flags,
                             struct archive_prefill *prefill);
/* Whether blobs[i] repeats an earlier blob of the array (identical layers are stored once). */
int oci_blob_repeats_earlier(const struct oci_blob *blobs, size_t i);
/* One blob as the entry blobs/sha256/<hex>, copied from its file. */
int oci_archive_put_blob(struct tar_writer *t, const struct oci_blob *blob);

#endif
