/* One build, from a loaded spec to its outputs: models checked, plan, the
 * environment (env_source.h), the image's blobs, the output (oci-archive,
 * docker-archive, oci-layout, or a Dockerfile and its context), and the SBOM
 * beside it — in a layout also as an artifact whose subject is the image, and
 * laid out for a push when one follows.
 *
 * struct build_result is caller-owned: build_run fills it, build_result_release
 * frees it and removes its staging directory (which holds the SBOM layout that
 * a push sends), so release it after the push. */
#ifndef AMLPKG_BUILD_RUN_H
#define AMLPKG_BUILD_RUN_H

#include "builder/env/env_source.h"
#include "builder/image/oci_image.h"
#include "builder/spec/spec.h"

enum build_format { BUILD_FORMAT_OCI_ARCHIVE, BUILD_FORMAT_DOCKER_ARCHIVE, BUILD_FORMAT_OCI_LAYOUT };
/* "oci-archive", "docker-archive", "oci-layout", indexed by enum build_format. */
extern const char *const build_format_names[3];

struct build_request {
    const char *output;   /* NULL: NAME_TAG.tar (NAME_TAG/ for oci-layout) */
    enum build_format format;
    enum oci_compression compression;
    const char *dockerfile; /* write a Dockerfile and its context here instead of an image */
    const char *runtime;    /* the amlserve binary to embed; NULL: beside amlpkg */
    const char *check;      /* refuse (writing nothing) unless the manifest digest is this */
    int git_labels;
    int no_sbom;
    int fsync;
    int sbom_for_push;      /* lay the SBOM out as an artifact for a push (build_result.sbom_layout) */
    int no_cache;
    const char *cache_dir;  /* the workspace cache; NULL: the default one */
    struct env_source_options env; /* .workspace is build_run's own: leave it NULL */
    /* Run once the output folder is known to be writable and before the
     * environment and the layers are built (build --push checks its registry
     * here); non-zero stops the build with nothing written. */
    int (*preflight)(void *ctx);
    void *preflight_ctx;
};

struct build_result {
    int wrote_dockerfile;   /* 1: the request was a Dockerfile; nothing else below is set */
    char *image_name, *image_tag;
    char *output;           /* where the image went */
    struct oci_image image; /* digests, sizes and media types (its files are gone) */
    enum env_origin origin; /* where the environment came from */
    char *sbom_path;        /* the SBOM written beside the output, or NULL with no_sbom */
    char *sbom_layout;      /* with sbom_for_push: an OCI layout holding the SBOM artifact */
    char *work_dir;         /* staging beside the output, removed by build_result_release */
};

int build_run(struct build_result *out, struct spec *spec, const struct build_request *req);
void build_result_release(struct build_result *r);

#endif
