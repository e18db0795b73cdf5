/* Adds an image to an OCI image layout directory (oci-layout, index.json,
 * blobs/sha256/...), new or existing, under its ref name: the index entry
 * annotated org.opencontainers.image.ref.name = "name:tag" replaces any entry
 * with the same name; other entries and index members are kept as they are.
 *
 * Blobs are linked (or copied) into place under their digest before the index
 * names them, and index.json is replaced by rename, so a failure leaves the
 * layout as it was apart from unreferenced blobs. Writers to one layout are
 * serialized with an flock on the directory. The image is borrowed; its blob
 * files are left where they are. */
#ifndef AMLPKG_OCI_LAYOUT_H
#define AMLPKG_OCI_LAYOUT_H

#include "builder/image/oci_image.h"

int oci_layout_add(const struct oci_image *image, const char *dir);
/* Adds an artifact manifest (with its blobs) that refers to the image named for_ref: its index
 * entry carries artifactType and the annotation com.amlpkg.artifact.for = for_ref, and replaces an
 * earlier artifact of that type for that name, unless keep_earlier (several artifacts of one type,
 * such as sigstore bundles, each listed once). */
int oci_layout_add_artifact(const char *dir, const struct oci_blob *manifest, const char *artifact_type,
                            const char *for_ref, const struct oci_blob *blobs, size_t n_blobs, int keep_earlier);

#endif
