/* Where a build's environment comes from: the one owner of that decision.
 *
 * The environment is the image a package starts from: a base image as the
 * spec names it, or that base with Docker steps and conda installs run on it
 * by a container engine (the executor). It is looked up in this order, under
 * one cache key that tells platforms apart (env_source_cache_key):
 *   workspace cache -> global cache (read-only; a hit is copied in) ->
 *   registry cache (<prefix>/azureml/azureml_<key>; a hit is stored locally) ->
 *   its source: the base read and checked, or the executor run on it, or, for
 *   a conda lock (plan_environment.conda_native), the base — or what the
 *   executor made of the Docker steps on it — with one more layer: the
 *   environment amlpkg installs itself (conda_install.h).
 * What came from its source is stored in the workspace cache and pushed to the
 * registry cache for the next machine. A damaged cache entry is dropped and the
 * lookup goes on. One line on stderr says which tier answered.
 *
 * This is the only place that opens the global cache or the registry tier for
 * an environment; the caller owns the workspace cache (it caches layers too). */
#ifndef AMLPKG_ENV_SOURCE_H
#define AMLPKG_ENV_SOURCE_H

#include "builder/env/base_image.h"
#include "builder/env/executor.h"
#include "builder/image/plan.h"
#include "builder/spec/spec.h"
#include "cache/cache.h"

enum env_origin {
    ENV_ORIGIN_SCRATCH,   /* nothing below the package's own layers */
    ENV_ORIGIN_WORKSPACE, /* the workspace cache */
    ENV_ORIGIN_GLOBAL,    /* the shared read-only cache directory */
    ENV_ORIGIN_REGISTRY,  /* the registry cache */
    ENV_ORIGIN_SOURCE,    /* the base image, read from where the spec says */
    ENV_ORIGIN_EXECUTOR,  /* built by a container engine */
    ENV_ORIGIN_CONDA,     /* the base with the locked conda environment amlpkg installed itself */
};

struct env_source_options {
    const char *platform;           /* "os/arch[/variant]"; NULL: linux/amd64 */
    struct cache *workspace;        /* borrowed; NULL: no cache tiers at all (--no-cache) */
    const char *global_cache_dir;   /* the read-only shared tier, or NULL */
    const char *cache_registry;     /* REGISTRY/PREFIX of the registry tier, or NULL */
    struct registry_options reg;    /* for the registry tier */
    enum executor_kind executor;    /* for Docker steps and conda installs */
    int executor_given;             /* 0: the first engine found on PATH */
    int allow_scripts;              /* build --allow-scripts or environment.allow_scripts: run post-link scripts */
    /* Told the base as soon as it is open, before an environment is installed on it (conda); may be NULL. */
    void (*base_ready)(void *ctx, const struct base_image *base);
    void *base_ready_ctx;
};

/* The environment of plan: *out is NULL for scratch, else freed by the caller
 * with base_image_free before opt->workspace is closed. *origin says where it
 * came from. */
int env_source_open(struct base_image **out, enum env_origin *origin, const struct plan *plan,
                    const struct spec *spec, const struct env_source_options *opt);
/* "workspace", "global", "registry", "source", "executor", "conda" or "scratch". */
const char *env_origin_name(enum env_origin origin);
/* The cache key of an environment for a platform: the environment key itself
 * for linux/amd64 (NULL), sha256("<key> <platform>") in hex for any other, so
 * that another platform is another entry in every tier. */
int env_source_cache_key(char out[65], const char *key, const char *platform);

#endif
