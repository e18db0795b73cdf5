/* Whole images between a local source, a registry and an oci-archive:
 * push, pull and copy. The manifest graph (an index and its manifests, or one
 * manifest) is read first; blobs then move in parallel (jobs threads, one
 * registry connection each); manifests go last, children before the index,
 * so a tag never names an image whose blobs are not all in place. */
#ifndef AMLPKG_REGISTRY_IMAGE_H
#define AMLPKG_REGISTRY_IMAGE_H

#include "builder/image/image_source.h"
#include "builder/sys/progress.h"
#include "builder/registry/registry.h"

struct image_transfer {
    int jobs;
    int tty;              /* draw progress */
    const char *platform; /* "os/arch[/variant]" for pull (default linux/<host>) */
    /* results */
    char digest[72]; /* of the top manifest pushed or pulled */
    int blobs, existed, mounted, uploaded, downloaded;
    int manifests_put;      /* manifests (and tags) the registry did not have already */
    int referrers_fallback; /* a referrer went into the sha256-<hex> tag index (no referrers API) */
    long long bytes;        /* payload bytes of all blobs */
    long long bytes_moved;  /* bytes actually sent or received */
    double seconds;
};

struct json_value;
/* 1 when an index entry's platform is platform ("os/arch" or "os/arch/variant"). */
int registry_image_platform_matches(const struct json_value *descriptor, const char *platform);

int registry_image_push(struct registry *reg, const char *repo, const char *id, const struct image_source *src,
                        struct image_transfer *x);
/* Pushes one manifest of src (by digest; an artifact beside the image, such as its signature) and
 * what it names, tagged id when set; a manifest with a subject is recorded as its referrer. */
int registry_image_push_manifest(struct registry *reg, const char *repo, const char *id,
                                 const struct image_source *src, const char *digest, struct image_transfer *x);
/* Writes an oci-archive at out_path whose index names the image ref_name. */
int registry_image_pull(struct registry *reg, const char *repo, const char *id, const char *out_path,
                        const char *ref_name, struct image_transfer *x);
/* Same registry: blobs are mounted. Otherwise they pass through a temporary directory. */
int registry_image_copy(struct registry *src_reg, const char *src_repo, const char *src_id, struct registry *dst_reg,
                        const char *dst_repo, const char *dst_id, struct image_transfer *x);

#endif
