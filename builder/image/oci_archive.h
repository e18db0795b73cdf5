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
 * order with fixed metadata, so the same image gives the same bytes. A layer
 * staged with room for its header (oci_blob.offset, see oci_image_build)
 * becomes the archive's first entry where it lies: the largest such layer is
 * never copied. */
#ifndef AMLPKG_OCI_ARCHIVE_H
#define AMLPKG_OCI_ARCHIVE_H

#include "builder/image/oci_image.h"

enum {
    OCI_ARCHIVE_SYNC = 1,   /* fsync the archive before renaming it into place */
    OCI_ARCHIVE_DOCKER = 2, /* internal: the docker-archive layout */
};

int oci_archive_write(const struct oci_image *image, const char *target, long long mtime, unsigned flags);
/* Layers must be tar or tar+gzip: docker load knows no zstd (ERR_UNSUPPORTED). */
int oci_docker_archive_write(const struct oci_image *image, const char *target, long long mtime, unsigned flags);

#endif
