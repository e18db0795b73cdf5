#include "builder/env/env_source.h"
#include "builder/image/reference.h"

#include "builder/env/cache_registry.h"
#include "builder/env/conda_install.h"
#include "builder/env/conda_stage.h"
#include "builder/image/oci_layer.h"
#include "builder/sys/digest.h"
#include "builder/sys/fsutil.h"
#include "builder/sys/remove_later.h"
#include "builder/sys/progress.h"
#include "common/err.h"
#include "common/path.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int nomem(void)
{
    return err_set(ERR_NOMEM, "out of memory");
}

const char *env_origin_name(enum env_origin origin)
{
    static const char *const names[] = {"scratch", "workspace", "global", "registry", "source", "executor", "conda"};
    return origin <= ENV_ORIGIN_CONDA ? names[origin] : "?";
}

int env_source_cache_key(char out[65], const char *key, const char *platform)
{
    if (!platform || !strcmp(platform, BASE_IMAGE_DEFAULT_PLATFORM)) {
        snprintf(out, 65, "%s", key);
        return 0;
    }
    char *text = NULL, d[DIGEST_STRING_SIZE];
    if (asprintf(&text, "%s %s", key, platform) < 0)
        return nomem();
    int rc = digest_buffer(d, text, strlen(text));
    free(text);
    if (!rc)
        snprintf(out, 65, "%s", d + 7);
    return rc;
}

/* A temporary directory for what a tier fetches or builds; removed by the caller. */
static int temp_dir(char **out, const char *prefix)
{
    return fs_make_tmp_dir(out, prefix);
}

/* Opens a cache entry; a damaged one is dropped (cache_verify) and the lookup goes on (returns 1). */
static int open_entry(struct base_image **out, struct cache *cache, const struct cache_entry *entry,
                      const char *key, const char *context)
{
    int rc = base_image_open_cached(out, cache, entry, context);
    if (!rc || rc == ERR_NOMEM)
        return rc;
    fprintf(stderr, "environment %.12s: cache entry damaged (%s): dropping it, reading the base from its source\n",
            key, err_message(rc));
    err_clear();
    struct cache_report report = {0};
    cache_verify(cache, &report);
    cache_report_release(&report);
    err_clear();
    return 1;
}

/* A hit in the read-only global tier, copied into the workspace cache. */
static int import_global(struct cache_entry *out, struct cache *workspace, const char *dir, const char *key)
{
    struct cache *global = NULL;
    int rc = cache_open_readonly(&global, dir);
    if (!rc)
        rc = cache_import(workspace, global, key, out);
    if (rc && !(rc == ERR_NOTFOUND && global)) /* a plain miss says nothing */
        fprintf(stderr, "environment %.12s: global cache %s unusable (%s): going on without it\n", key, dir,
                err_message(rc));
    cache_close(global);
    err_clear();
    return rc == 0;
}

/* The local tiers: 0 and *out on a hit, 1 on a miss. */
static int from_local(struct base_image **out, enum env_origin *origin, const struct env_source_options *opt,
                      const char *key, const char *context)
{
    struct cache_entry entry;
    int rc = 1;
    if (cache_lookup(opt->workspace, key, &entry) == 0) {
        if (!(rc = open_entry(out, opt->workspace, &entry, key, context))) {
            *origin = ENV_ORIGIN_WORKSPACE;
            fprintf(stderr, "environment %.12s: cache hit (workspace)\n", key);
        }
    }
    err_clear(); /* a miss sets no message, but a failed lookup may */
    if (rc == 1 && opt->global_cache_dir && import_global(&entry, opt->workspace, opt->global_cache_dir, key) &&
        !(rc = open_entry(out, opt->workspace, &entry, key, context))) {
        *origin = ENV_ORIGIN_GLOBAL;
        fprintf(stderr, "environment %.12s: cache hit (global %s)\n", key, opt->global_cache_dir);
    }
    return rc;
}

/* The registry tier: 0 and *out on a hit (stored in the workspace), 1 on a miss or an unreachable
 * registry (the build goes on). */
static int from_registry(struct base_image **out, const struct env_source_options *opt, const char *key,
                         const char *spec_dir, const char *context)
{
    char *work = NULL, *archive = NULL, *text = NULL;
    struct registry_options ro = opt->reg;
    ro.op = "pull";
    struct base_image_options bo = {.context = context};
    int rc = temp_dir(&work, "amlpkg-envpull-");
    if (!rc && !(archive = path_join(work, "environment.tar")))
        rc = nomem();
    rc = rc ? rc : cache_registry_pull(opt->cache_registry, key, &ro, archive);
    if (rc) {
        if (rc != ERR_NOTFOUND)
            fprintf(stderr, "environment %.12s: registry cache unavailable (%s): going on without it\n", key,
                    err_message(rc));
        err_clear();
        rc = 1;
    } else if (asprintf(&text, "oci-archive:%s", archive) < 0) {
        text = NULL;
        rc = nomem();
    } else if (!(rc = base_image_open(out, text, spec_dir, &bo))) {
        fprintf(stderr, "environment %.12s: cache hit (registry %s)\n", key, opt->cache_registry);
        int stored = base_image_store(*out, opt->workspace, key);
        if (stored) {
            fprintf(stderr, "environment %.12s: not stored in the workspace cache (%s)\n", key, err_message(stored));
            err_clear();
        }
    }
    if (work)
        fs_remove_tree(work);
    free(work);
    free(archive);
    free(text);
    return rc;
}

/* Docker steps or conda installs and no engine to run them. */
static int refuse_without_executor(const struct plan *plan, const struct spec *spec)
{
    return err_set(ERR_UNSUPPORTED,
                   "%s:%d: environment: %s must run in a container and no executor is available (--executor "
                   "podman|buildah|docker, or none found on PATH); or write the Dockerfile and its context with "
                   "--dockerfile DIR (environment steps first, so code and model edits never rebuild them) and "
                   "build it with podman or docker",
                   spec->file, spec->environment.line, plan->environment.needs_executor);
}

/* The engine reads file bases itself: give it absolute paths for the archive and layout forms. */
static char *engine_base(const char *base, const char *spec_dir)
{
    struct image_location loc;
    if (image_location_parse(&loc, base) || loc.transport == IMAGE_REGISTRY || loc.transport == IMAGE_UNSPECIFIED ||
        loc.rest[0] == '/') {
        err_clear();
        return strdup(base);
    }
    char *abs = fs_resolve(spec_dir, loc.rest), *out = NULL;
    char real[PATH_MAX];
    if (abs && asprintf(&out, "%s%s", image_transport_prefix(loc.transport), realpath(abs, real) ? real : abs) < 0)
        out = NULL;
    free(abs);
    return out;
}

/* The environment stage from the executor, saved to an archive and opened like any base. */
static int from_executor(struct base_image **out, const struct env_source_options *opt, const struct plan *plan,
                         const struct spec *spec, const struct base_image_options *bo)
{
    enum executor_kind kind = opt->executor;
    if (!opt->executor_given && executor_resolve(&kind, "auto"))
        return ERR_USAGE;
    if (kind == EXECUTOR_NONE)
        return refuse_without_executor(plan, spec);
    struct plan_environment env = plan->environment; /* shallow: only base_image (and conda) replaced */
    if (env.conda_native) /* the Docker steps alone: amlpkg installs the conda environment on top */
        env.conda_yaml = env.conda_lock = env.conda_prefix = NULL;
    char *work = NULL, *archive = NULL, *text = NULL, *base = engine_base(env.base_image, spec->dir);
    const char *format = NULL;
    int rc = base ? temp_dir(&work, "amlpkg-env-") : nomem();
    if (!rc && !(archive = path_join(work, "environment.tar")))
        rc = nomem();
    env.base_image = base;
    struct base_image_options engine_bo = *bo;
    rc = rc ? rc : executor_build_environment(kind, &env, work, archive, &format, &engine_bo.engine_steps);
    if (!rc && asprintf(&text, "%s:%s", format, archive) < 0)
        text = NULL, rc = nomem();
    rc = rc ? rc : base_image_open(out, text, spec->dir, &engine_bo);
    if (work)
        fs_remove_tree(work);
    free(work);
    free(archive);
    free(text);
    free(base);
    return rc;
}

/* The conda environment's layer: the tree amlpkg installed, under its prefix, written like every layer
 * of ours (sorted, mtime 0, modes normalised, owner 0:0), so the same lock gives the same digest. */
static int conda_layer(struct oci_blob *out, const char *work, const char *stage_root, const char *prefix)
{
    struct oci_layer_writer *w = NULL;
    char *host = path_join(stage_root, prefix + 1);
    int rc = host ? oci_layer_begin(&w, work, 0, OCI_COMPRESSION_GZIP, 1) : nomem();
    rc = rc ? rc : oci_layer_add_dir(w, &PLAN_ENVS_ROOT[1]); /* without the leading slash */
    rc = rc ? rc : oci_layer_add_tree_keeping_links(w, prefix + 1, host);
    if (w)
        rc = rc ? (oci_layer_abort(w), rc) : oci_layer_finish(w, out);
    free(host);
    return rc;
}

/* The post-link scripts, run by the executor on top of *out (the base and amlpkg's conda layer): *out is
 * replaced by the engine's result, whose new layer is normalised like every executor layer. */
static int run_scripts(struct base_image **out, const struct env_source_options *opt, const struct plan *plan,
                       const struct spec *spec, const struct base_image_options *bo,
                       const struct conda_install_stats *stats)
{
    enum executor_kind kind = opt->executor;
    if (!opt->executor_given && executor_resolve(&kind, "auto"))
        return ERR_USAGE;
    if (kind == EXECUTOR_NONE)
        return err_set(ERR_UNSUPPORTED,
                       "%s: package %s-%s-%s has a post-link script and no executor is available to run it "
                       "(--executor podman|buildah|docker, or none found on PATH)",
                       spec->environment.lock_file, stats->scripts[0].name, stats->scripts[0].version,
                       stats->scripts[0].build);
    char *work = NULL, *base = NULL, *archive = NULL, *text = NULL;
    const char *format = NULL;
    int rc = temp_dir(&work, "amlpkg-scripts-");
    if (!rc && (!(base = path_join(work, "base.tar")) || !(archive = path_join(work, "environment.tar"))))
        rc = nomem();
    rc = rc ? rc : base_image_write_archive(*out, work, base);
    rc = rc ? rc
            : executor_run_scripts(kind, base, plan->environment.conda_prefix, stats->scripts, stats->n_scripts,
                                   plan->environment.key, work, archive, &format);
    if (!rc && asprintf(&text, "%s:%s", format, archive) < 0)
        text = NULL, rc = nomem();
    struct base_image_options engine_bo = *bo;
    engine_bo.engine_steps = stats->n_scripts;
    struct base_image *after = NULL;
    rc = rc ? rc : base_image_open(&after, text, spec->dir, &engine_bo);
    if (!rc) {
        base_image_free(*out);
        *out = after;
    }
    if (work)
        fs_remove_tree(work);
    free(work);
    free(base);
    free(archive);
    free(text);
    return rc;
}

/* The base with the locked conda environment on top, installed without a container engine. */
static int from_conda(struct base_image **out, const struct env_source_options *opt, const struct plan *plan,
                      const struct spec *spec, const struct base_image_options *bo)
{
    const struct plan_environment *e = &plan->environment;
    char *work = NULL, *stage_dir = NULL, *stage = NULL, *created_by = NULL;
    struct oci_blob layer = {0};
    struct conda_install_stats stats = {0};
    int in_memory = 0;
    int rc = e->needs_executor ? from_executor(out, opt, plan, spec, bo) /* the Docker steps */
                               : base_image_open(out, e->base_image, spec->dir, bo);
    if (!rc && opt->base_ready)
        opt->base_ready(opt->base_ready_ctx, *out);
    rc = rc ? rc : temp_dir(&work, "amlpkg-conda-"); /* the layer's file, kept with the image */
    /* The unpacked tree, in memory when it surely fits (conda_stage.h); one that filled up goes to disk. */
    for (int attempt = 0; !rc && attempt < 2; attempt++) {
        rc = conda_stage_dir(&stage_dir, &in_memory, !attempt, e->conda_lock, spec->environment.lock_file,
                             opt->workspace);
        if (!rc && !(stage = path_join(stage_dir, "root")))
            rc = nomem();
        rc = rc ? rc
                : conda_install(&stats, e->conda_lock, spec->environment.lock_file, opt->workspace, stage_dir,
                                e->conda_prefix, stage, opt->allow_scripts || spec->environment.allow_scripts);
        if (rc != ERR_IO || !in_memory || attempt)
            break;
        fprintf(stderr, "environment %.12s: %s: staging on disk instead of in memory\n", plan->environment.key,
                err_message(rc));
        err_clear();
        rc = 0;
        fs_remove_tree(stage_dir);
        free(stage_dir);
        free(stage);
        stage_dir = stage = NULL;
    }
    double t0 = progress_now();
    rc = rc ? rc : conda_layer(&layer, work, stage, e->conda_prefix);
    const char *lock = spec->environment.lock_file, *slash = strrchr(lock, '/');
    if (!rc && asprintf(&created_by, "amlpkg: conda environment %s (%zu packages%s from %s)", e->conda_prefix,
                        stats.packages, stats.wheels ? " and pip wheels" : "", slash ? slash + 1 : lock) < 0)
        created_by = NULL, rc = nomem();
    fs_remove_tree_later(stage_dir); /* thousands of files: gone on another core while the build goes on */
    if (!rc && !(rc = base_image_append_layer(*out, &layer, created_by, work))) {
        work = NULL; /* the base image removes it with the layer's file */
        char wheels[48] = "";
        if (stats.wheels)
            snprintf(wheels, sizeof wheels, " and %zu pip wheel%s", stats.wheels, stats.wheels == 1 ? "" : "s");
        fprintf(stderr,
                "environment %.12s: conda environment installed without an engine: %zu packages%s, fetch %.2f s, "
                "link %.2f s (%s), layer %.2f s\n",
                plan->environment.key, stats.packages, wheels, stats.seconds_fetch, stats.seconds_link,
                in_memory ? "in memory" : "on disk", progress_now() - t0);
    }
    oci_blob_release(&layer);
    if (!rc && stats.n_scripts)
        rc = run_scripts(out, opt, plan, spec, bo, &stats);
    if (rc) {
        base_image_free(*out);
        *out = NULL;
    }
    conda_install_stats_release(&stats);
    if (work)
        fs_remove_tree(work);
    free(work);
    free(stage_dir);
    free(stage);
    free(created_by);
    return rc;
}

/* What had to be built (or read from its source) goes to the registry tier for the next machine. */
static void push_to_registry(const struct env_source_options *opt, const struct base_image *b, const char *key)
{
    struct registry_options ro = opt->reg;
    ro.op = "push";
    int rc = cache_registry_push(opt->cache_registry, key, cache_dir(opt->workspace), base_image_manifest_digest(b),
                                 &ro);
    if (rc)
        fprintf(stderr, "environment %.12s: not stored in the registry cache (%s)\n", key, err_message(rc));
    else
        fprintf(stderr, "environment %.12s: stored in the registry cache %s\n", key, opt->cache_registry);
    err_clear();
}

int env_source_open(struct base_image **out, enum env_origin *origin, const struct plan *plan,
                    const struct spec *spec, const struct env_source_options *opt)
{
    *out = NULL;
    *origin = ENV_ORIGIN_SCRATCH;
    if (plan_env_is_scratch(&plan->environment) && !plan->environment.needs_executor)
        return 0;
    char context[1200], key[65];
    if (spec->environment.line)
        snprintf(context, sizeof context, "%s:%d: environment.base_image", spec->file, spec->environment.line);
    else /* no environment section: the base is a default (spec_finish) */
        snprintf(context, sizeof context, "%s: environment.base_image (default %s)", spec->file,
                 plan->environment.base_image);
    /* Allowing scripts is another environment: without it, a lock with post-link scripts must be refused,
     * never served from an entry built with them. */
    char scripted[80], d[DIGEST_STRING_SIZE];
    snprintf(scripted, sizeof scripted, "%s allow-scripts", plan->environment.key);
    int allow = plan->environment.conda_native && (opt->allow_scripts || spec->environment.allow_scripts);
    int rc = allow ? digest_buffer(d, scripted, strlen(scripted)) : 0;
    rc = rc ? rc : env_source_cache_key(key, allow ? d + 7 : plan->environment.key, opt->platform);
    if (rc)
        return rc;
    rc = 1; /* 1: not found yet */
    if (opt->workspace)
        rc = from_local(out, origin, opt, key, context);
    if (rc == 1 && opt->workspace && opt->cache_registry && !(rc = from_registry(out, opt, key, spec->dir, context)))
        *origin = ENV_ORIGIN_REGISTRY;
    if (rc != 1)
        return rc;

    /* The base is pulled anonymously (the --creds of --push are not the base's); only the mirrors carry over. */
    struct base_image_options bo = {.platform = opt->platform, .context = context, .cache = opt->workspace};
    bo.reg.registries_conf = opt->reg.registries_conf;
    *origin = plan->environment.conda_native     ? ENV_ORIGIN_CONDA
              : plan->environment.needs_executor ? ENV_ORIGIN_EXECUTOR
                                                 : ENV_ORIGIN_SOURCE;
    rc = *origin == ENV_ORIGIN_EXECUTOR ? from_executor(out, opt, plan, spec, &bo)
         : *origin == ENV_ORIGIN_CONDA  ? from_conda(out, opt, plan, spec, &bo)
                                        : base_image_open(out, plan->environment.base_image, spec->dir, &bo);
    if (rc || !opt->workspace)
        return rc;
    int stored = base_image_store(*out, opt->workspace, key);
    if (stored)
        fprintf(stderr, "environment %.12s: cache miss: not stored (%s)\n", key, err_message(stored));
    else
        fprintf(stderr, "environment %.12s: cache miss: stored\n", key);
    err_clear();
    if (!stored && opt->cache_registry)
        push_to_registry(opt, *out, key);
    return 0;
}
