/* The base image a build starts from (environment.base_image), resolved to
 * verified blob files and the parts of its config that carry over.
 *
 * Forms (paths relative to the spec's directory):
 *   oci-archive:PATH        a tar of an OCI image layout (plain or compressed)
 *   docker-archive:PATH     the `docker save` / `podman save` layout
 *   oci:DIR[:TAG]           an OCI image layout directory (TAG: its ref.name)
 *   REGISTRY/REPO[:TAG|@D]  pulled with the registry client (as `amlpkg pull`)
 * An image index or manifest list is resolved to one platform (linux/amd64
 * unless given). Layers are reused byte for byte: Docker media types become
 * their OCI equivalents, the bytes never change. Every blob is SHA-256
 * verified, every layer's uncompressed digest checked against the config's
 * rootfs.diff_ids, and every layer's tar entries scanned: absolute paths,
 * "..", links leaving the root, device files, truncated or unknown data are
 * refused with a message naming the file. A layer that expands past
 * AMLPKG_MAX_LAYER_MB (65536) while it is scanned is refused.
 *
 * Where a build finds its base (cache tiers, registry tier, executor) is
 * builder/env/env_source.h's decision; this module reads one source, or one
 * cache entry, and stores a base in a cache.
 *
 * struct base_image comes from base_image_open (or _open_cached) and is freed with
 * base_image_free, which removes its temporary files. Its oci member borrows
 * from it and its layer paths point into its own files, so it must outlive
 * every use of the image it builds. */
#ifndef AMLPKG_BASE_IMAGE_H
#define AMLPKG_BASE_IMAGE_H

#include "cache/cache.h"
#include "builder/image/oci_image.h"
#include "builder/registry/registry.h"

#define BASE_IMAGE_DEFAULT_PLATFORM "linux/amd64"

struct base_image_options {
    const char *platform; /* "os/arch[/variant]" for indexes; NULL: linux/amd64 */
    struct registry_options reg;
    const char *context; /* message prefix, e.g. "spec.yaml:7: environment.base_image" */
    /* The executor's environment stage: its last engine_steps history entries came from our
     * Dockerfile, so the layers they made are the engine's. Those layers are re-written by
     * layer_normalise (mtime 0) and the config follows (their diff_ids; "created" of the image and
     * of those entries at 0), so the same steps give the same digests on every machine. 0: none. */
    size_t engine_steps;
    /* When set, an archive's layers this cache holds already are linked from it instead of unpacked
     * (each still hashed against its digest). Borrowed. */
    struct cache *cache;
};

struct base_image;

/* The base from its source. text: the base as written; spec_dir resolves
 * relative paths. Every blob verified, every layer scanned. */
int base_image_open(struct base_image **out, const char *text, const char *spec_dir,
                    const struct base_image_options *opt);
/* The base a cache entry holds, every blob re-hashed: an error means a damaged
 * entry. cache is borrowed and must outlive *out (its layer paths point into it). */
int base_image_open_cached(struct base_image **out, struct cache *cache, const struct cache_entry *entry,
                           const char *context);
/* Stores every blob of b in cache and records its manifest under key (named
 * azureml/azureml_<key>, as Azure ML names cached environment images). */
int base_image_store(const struct base_image *b, struct cache *cache, const char *key);
void base_image_free(struct base_image *b);
/* What oci_image_build takes (borrowed from b). */
const struct oci_base *base_image_oci(const struct base_image *b);
/* The digest of the base's manifest in OCI form (what the cache records). */
const char *base_image_manifest_digest(const struct base_image *b);

/* Adds a layer on top of b (the environment amlpkg built itself): layer is moved into b, its file must
 * stay where it is until b is freed; dir (may be NULL) is a directory b takes over and removes when
 * freed. The config gets the layer's diff_id and a history entry saying created_by; the manifest
 * digest follows. */
int base_image_append_layer(struct base_image *b, struct oci_blob *layer, const char *created_by, char *dir);

/* Writes b as an oci-archive at target (what a container engine reads as `FROM oci-archive:target`);
 * dir holds the config and manifest files while it is written. */
int base_image_write_archive(const struct base_image *b, const char *dir, const char *target);

/* Checks one layer blob: its uncompressed bytes hash to diff_id (when not
 * NULL) and every tar entry stays inside the image root. what names the layer
 * in messages. Exposed for tests. */
int base_image_scan_layer(const char *path, const char *what, const char *diff_id);

#endif
