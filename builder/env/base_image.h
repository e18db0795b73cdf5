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
 * refused with a message naming the file.
 *
 * The local cache tiers: with a cache (options.cache), the environment
 * key names the resolved base in the amlpkg cache. A hit is read from the
 * cache alone (each blob re-hashed; a damaged entry is dropped with
 * cache_verify and the source read instead); a workspace miss looks in the
 * global tier (options.global_cache_dir, read-only) and copies a hit into the
 * workspace; a miss in both reads the source, stores every blob and records
 * the key. One line on stderr says which: "cache hit (workspace)", "cache hit
 * (global DIR)" or "cache miss".
 *
 * struct base_image comes from base_image_open and is freed with
 * base_image_free, which removes its temporary files. Its oci member borrows
 * from it and its layer paths point into its own files, so it must outlive
 * every use of the image it builds. */
#ifndef AMLPKG_BASE_IMAGE_H
#define AMLPKG_BASE_IMAGE_H

#include "cache/cache.h"
#include "builder/image/oci_image.h"
#include "builder/registry/registry.h"

struct base_image_options {
    const char *platform;         /* "os/arch[/variant]" for indexes; NULL: linux/amd64 */
    struct cache *cache;          /* the workspace cache (borrowed), or NULL for none */
    const char *global_cache_dir; /* read-only shared tier after the workspace, or NULL */
    struct registry_options reg;
    const char *context; /* message prefix, e.g. "spec.yaml:7: environment.base_image" */
};

struct base_image;

/* text: the base as written; spec_dir resolves relative paths; key: the
 * environment key (64 hex) that indexes the cache. */
int base_image_open(struct base_image **out, const char *text, const char *spec_dir, const char *key,
                    const struct base_image_options *opt);
void base_image_free(struct base_image *b);
/* What oci_image_build takes (borrowed from b). */
const struct oci_base *base_image_oci(const struct base_image *b);
/* The digest of the base's manifest in OCI form (what the cache records). */
const char *base_image_manifest_digest(const struct base_image *b);

/* Checks one layer blob: its uncompressed bytes hash to diff_id (when not
 * NULL) and every tar entry stays inside the image root. what names the layer
 * in messages. Exposed for tests. */
int base_image_scan_layer(const char *path, const char *what, const char *diff_id);

#endif
