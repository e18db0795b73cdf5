/* Turns a plan into the blobs of an OCI image: one layer per plan layer, the
 * image config and the manifest, all as files in a work directory.
 *
 * struct oci_image is caller-owned (oci_image_build fills it,
 * oci_image_release frees it and deletes nothing on disk; the caller removes
 * the work directory). */
#ifndef AMLPKG_OCI_IMAGE_H
#define AMLPKG_OCI_IMAGE_H

#include "cache/cache.h"
#include "builder/image/oci_layer.h"
#include "builder/image/plan.h"

#define OCI_MEDIA_TYPE_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_MEDIA_TYPE_CONFIG "application/vnd.oci.image.config.v1+json"
#define OCI_MEDIA_TYPE_INDEX "application/vnd.oci.image.index.v1+json"

/* What a build takes from its base image (environment.base_image), borrowed
 * for the duration of oci_image_build: layers reused byte for byte (verified
 * blob files with OCI media types and their diff_ids) and the parts of the
 * base's config that carry over. How they merge with the plan's:
 *   Env          base's, then ours; ours win per name. PATH: the conda prefix
 *                (when there is one) goes in front of the base's PATH; without
 *                a base PATH, the plan's default PATH is used. LD_LIBRARY_PATH of a
 *                GPU plan: PLAN_CUDA_LIBRARY_PATH, then the base's (when not empty)
 *   User         the base's
 *   WorkingDir, Entrypoint, StopSignal   ours; Cmd cleared
 *   Labels       merged, ours win
 *   ExposedPorts union of the base's and ours
 *   history      the base's entries, then ours; rootfs.diff_ids likewise
 *   architecture, os, variant   the base's
 * Everything else in the base's config (Volumes, Healthcheck, Shell, OnBuild)
 * is not carried over. */
struct oci_base {
    const struct oci_blob *layers;
    size_t n_layers;
    const char *architecture, *os, *variant; /* variant may be NULL */
    char *const *env;                        /* "NAME=value" */
    size_t n_env;
    const char *user;                /* NULL or "" for none */
    const struct plan_label *labels; /* any order */
    size_t n_labels;
    char *const *ports; /* "80/tcp" */
    size_t n_ports;
    char *const *history; /* each one JSON object, written as is */
    size_t n_history;
};

struct oci_image {
    struct oci_blob *layers;
    size_t n_layers;
    struct oci_blob config;
    struct oci_blob manifest;
    char *ref_name; /* "name:tag" */
};

/* compression applies to every layer; AUTO decides per layer (see
 * oci_layer_choose_compression). base is NULL for scratch; its layers come
 * first, their paths copied (the files stay where they are). With a
 * layer_cache, compressed layers whose tar was compressed the same way before
 * come from it (layer_cache.h), their paths pointing into the cache. */
enum {
    /* Going into an archive (oci_archive.h): plain tar layers are staged with
     * room for their tar header in front (oci_blob.offset). */
    OCI_IMAGE_FOR_ARCHIVE = 1,
};
/* Files this large (model weights) are hashed for the SBOM on another core
 * from the start of the build, alongside the layers (digest_prefetch.h). */
#define OCI_IMAGE_PREFETCH_MIN_FILE (8 << 20)
struct digest_prefetch;
int oci_image_prefetch_digests(struct digest_prefetch **out, const struct plan *plan, struct cache *memo);

/* prefetch (may be NULL) is waited for before a layer whose cache key needs
 * the digests of files it is hashing. */
int oci_image_build(struct oci_image *out, const struct plan *plan, const struct oci_base *base,
                    enum oci_compression compression, const char *work_dir, struct cache *layer_cache, unsigned flags,
                    struct digest_prefetch *prefetch);
void oci_image_release(struct oci_image *image);
/* The Go-style platform architecture name of this host ("amd64", "arm64"). */
const char *oci_host_architecture(void);

#endif
