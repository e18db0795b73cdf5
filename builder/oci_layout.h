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

#include "oci_image.h"

int oci_layout_add(const struct oci_image *image, const char *dir);

#endif
