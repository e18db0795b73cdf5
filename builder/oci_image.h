/* Turns a plan into the blobs of an OCI image: one layer per plan layer, the
 * image config and the manifest, all as files in a work directory.
 *
 * struct oci_image is caller-owned (oci_image_build fills it,
 * oci_image_release frees it and deletes nothing on disk; the caller removes
 * the work directory). */
#ifndef AMLPKG_OCI_IMAGE_H
#define AMLPKG_OCI_IMAGE_H

#include "oci_layer.h"
#include "plan.h"

#define OCI_MEDIA_TYPE_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_MEDIA_TYPE_CONFIG "application/vnd.oci.image.config.v1+json"
#define OCI_MEDIA_TYPE_INDEX "application/vnd.oci.image.index.v1+json"

struct oci_image {
    struct oci_blob *layers;
    size_t n_layers;
    struct oci_blob config;
    struct oci_blob manifest;
    char *ref_name; /* "name:tag" */
};

/* compression applies to every layer; AUTO decides per layer (see
 * oci_layer_choose_compression). */
int oci_image_build(struct oci_image *out, const struct plan *plan, enum oci_compression compression,
                    const char *work_dir);
void oci_image_release(struct oci_image *image);
/* The Go-style platform architecture name of this host ("amd64", "arm64"). */
const char *oci_host_architecture(void);

#endif
