#include "builder/pipeline/build_run.h"

#include "builder/image/archive_prefill.h"
#include "builder/image/digest_prefetch.h"
#include "builder/image/dockerfile.h"
#include "builder/image/model_check.h"
#include "builder/image/oci_archive.h"
#include "builder/image/oci_layout.h"
#include "builder/image/plan.h"
#include "builder/image/sbom.h"
#include "builder/sys/fsutil.h"
#include "builder/sys/runtime_locate.h"
#include "builder/sys/vcs.h"
#include "cache/cache.h"
#include "common/err.h"
#include "common/path.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

const char *const build_format_names[3] = {"oci-archive", "docker-archive", "oci-layout"};

static int nomem(void)
{
    return err_set(ERR_NOMEM, "out of memory");
}

static int add_git_labels(struct plan *plan, const struct spec *spec)
{
    if (spec->inference.git_commit)
        return 0; /* the git source already named its commit and URL */
    struct vcs_info vcs;
    int rc = vcs_info_read(&vcs, spec->dir);
    if (rc)
        return rc;
    if (!vcs.revision)
        fprintf(stderr, "amlpkg build: --git-labels: '%s' is not in a git repository with a commit; no labels added\n",
                spec->dir);
    char *revision = NULL;
    if (vcs.revision && asprintf(&revision, "%s%s", vcs.revision, vcs.dirty ? "-dirty" : "") < 0) {
        revision = NULL;
        rc = nomem();
    }
    if (!rc && revision)
        rc = plan_set_label(plan, "org.opencontainers.image.revision", revision);
    if (!rc && vcs.source)
        rc = plan_set_label(plan, "org.opencontainers.image.source", vcs.source);
    free(revision);
    vcs_info_release(&vcs);
    return rc;
}

static char *default_output(const struct spec *spec, enum build_format format)
{
    char *s = NULL;
    if (asprintf(&s, "%s_%s%s", spec->image_name, spec->image_tag, format == BUILD_FORMAT_OCI_LAYOUT ? "" : ".tar") <
        0)
        return NULL;
    for (char *p = s; *p; p++)
        if (*p == '/')
            *p = '_';
    return s;
}

/* The output path as given (or the default), and the directory its staging goes in. */
static int output_paths(struct build_result *r, const struct spec *spec, const struct build_request *req,
                        char **out_dir)
{
    r->output = req->output ? strdup(req->output) : default_output(spec, req->format);
    for (size_t n = r->output ? strlen(r->output) : 0; n > 1 && r->output[n - 1] == '/'; n--)
        r->output[n - 1] = '\0'; /* "layout/" stages beside layout, not inside it */
    if (r->output && req->format == BUILD_FORMAT_OCI_LAYOUT) {
        /* A layout given as "." or "dir/..": stage beside its real path, never inside it. */
        char *real = realpath(r->output, NULL);
        *out_dir = real ? fs_dirname(real) : fs_dirname(r->output);
        free(real);
    } else if (r->output) {
        *out_dir = fs_dirname(r->output);
    }
    if (!r->output || !*out_dir)
        return nomem();
    /* Checked before anything is built, so a typo in -o costs a second, not the environment build. */
    struct stat st;
    if (stat(*out_dir, &st) != 0)
        return err_set_errno(ERR_NOTFOUND, "--output %s: the folder %s does not exist", r->output, *out_dir);
    if (!S_ISDIR(st.st_mode))
        return err_set(ERR_INVALID, "--output %s: %s is not a folder", r->output, *out_dir);
    if (access(*out_dir, W_OK | X_OK) != 0)
        return err_set_errno(ERR_IO, "--output %s: cannot write in %s", r->output, *out_dir);
    return 0;
}

/* The base's layers go into the output archive on another core as soon as the base is open (for a conda
 * environment: while it is installed), and the archive is finished around them (archive_prefill.h). */
struct prefill_start {
    const struct build_request *req;
    const char *target;
    long long epoch;
    struct archive_prefill *prefill;
};

static void start_prefill(void *ctx, const struct base_image *base)
{
    struct prefill_start *ps = ctx;
    const struct oci_base *b = base ? base_image_oci(base) : NULL;
    if (ps->prefill || !b || !b->n_layers || ps->req->format == BUILD_FORMAT_OCI_LAYOUT)
        return;
    if (archive_prefill_start(&ps->prefill, ps->target, ps->epoch, b->layers, b->n_layers))
        err_clear(); /* the archive is then written whole at the end, as without it */
}

static int write_image(const struct build_result *r, const struct build_request *req, long long epoch,
                       struct archive_prefill *prefill)
{
    unsigned flags = req->fsync ? OCI_ARCHIVE_SYNC : 0;
    switch (req->format) {
    case BUILD_FORMAT_OCI_ARCHIVE: return oci_archive_write(&r->image, r->output, epoch, flags, prefill);
    case BUILD_FORMAT_DOCKER_ARCHIVE: return oci_docker_archive_write(&r->image, r->output, epoch, flags, prefill);
    case BUILD_FORMAT_OCI_LAYOUT: return oci_layout_add(&r->image, r->output);
    }
    return err_set(ERR_INVALID, "unknown output format");
}

/* The SBOM names the image by the digest just written, so it comes after the image. In a layout it
 * also goes in as an artifact whose subject is the image; for a push it is laid out on its own. */
static int write_sbom(struct build_result *r, const struct build_request *req, const struct plan *plan,
                      const struct spec *spec, struct cache *cache, struct digest_prefetch *prefetch)
{
    /* A layout folder ("." included) gets its SBOM beside it, not inside it. */
    char real[PATH_MAX];
    const char *base = req->format == BUILD_FORMAT_OCI_LAYOUT && realpath(r->output, real) ? real : r->output;
    if (asprintf(&r->sbom_path, "%s.spdx.json", base) < 0) {
        r->sbom_path = NULL;
        return nomem();
    }
    const char *sbom_path = r->sbom_path;
    int rc = sbom_write(sbom_path, plan, spec, r->image.manifest.digest, cache, prefetch, req->fsync);
    if (!rc && (req->format == BUILD_FORMAT_OCI_LAYOUT || req->sbom_for_push)) {
        struct oci_blob blobs[2] = {0}, manifest = {0};
        rc = sbom_artifact(blobs, &manifest, r->work_dir, sbom_path, &r->image);
        if (!rc && req->format == BUILD_FORMAT_OCI_LAYOUT)
            rc = oci_layout_add_artifact(r->output, &manifest, SBOM_ARTIFACT_TYPE, r->image.ref_name, blobs, 2, 0);
        if (!rc && req->sbom_for_push && !(r->sbom_layout = path_join(r->work_dir, "sbom-layout")))
            rc = nomem();
        if (!rc && req->sbom_for_push)
            rc = sbom_artifact_layout(r->sbom_layout, blobs, &manifest);
        oci_blob_release(&blobs[0]);
        oci_blob_release(&blobs[1]);
        oci_blob_release(&manifest);
    }
    return rc;
}

int build_run(struct build_result *r, struct spec *spec, const struct build_request *req)
{
    *r = (struct build_result){0};
    struct plan *plan = NULL;
    struct base_image *base = NULL;
    struct cache *cache = NULL; /* the workspace tier, NULL with --no-cache */
    struct digest_prefetch *prefetch = NULL;
    char *runtime = NULL, *out_dir = NULL;
    long long epoch;
    int rc = plan_source_date_epoch(&epoch);
    struct prefill_start prefill = {.req = req, .epoch = epoch};
    if (rc || (rc = model_check_spec(spec)) || (rc = runtime_locate(&runtime, req->runtime)))
        goto done;
    if ((rc = plan_build(&plan, spec, runtime, epoch)) || (req->git_labels && (rc = add_git_labels(plan, spec))))
        goto done;
    if (!(r->image_name = strdup(plan->image_name)) || !(r->image_tag = strdup(plan->image_tag))) {
        rc = nomem();
        goto done;
    }
    if (req->dockerfile) {
        const char *slash = strrchr(spec->file, '/');
        rc = dockerfile_write(req->dockerfile, plan, slash ? slash + 1 : spec->file);
        r->wrote_dockerfile = !rc;
        goto done;
    }
    if (!req->no_cache && (rc = cache_open(&cache, req->cache_dir))) {
        fprintf(stderr, "cache unavailable (%s): building without it\n", err_message(rc));
        err_clear();
        cache = NULL;
    }
    struct env_source_options env = req->env;
    env.workspace = cache;
    if ((rc = output_paths(r, spec, req, &out_dir)) || (req->preflight && (rc = req->preflight(req->preflight_ctx))))
        goto done;
    prefill.target = r->output;
    env.base_ready = start_prefill;
    env.base_ready_ctx = &prefill;
    if ((rc = env_source_open(&base, &r->origin, plan, spec, &env)))
        goto done;
    start_prefill(&prefill, base); /* an environment from the cache, or a plain base */
    /* Blobs are staged beside the output so the final rename never crosses file systems. */
    if ((rc = fs_make_temp_dir(&r->work_dir, out_dir, ".amlpkg-build-")))
        goto done;
    /* The SBOM's digests of large files, hashed on another core while the layers are written. */
    if ((!req->no_sbom || cache) && (rc = oci_image_prefetch_digests(&prefetch, plan, cache)))
        goto done;
    rc = oci_image_build(&r->image, plan, base ? base_image_oci(base) : NULL, req->compression, r->work_dir, cache,
                         req->format == BUILD_FORMAT_OCI_LAYOUT ? 0 : OCI_IMAGE_FOR_ARCHIVE, prefetch);
    if (rc)
        goto done;
    if (req->check && strcmp(req->check, r->image.manifest.digest) != 0) {
        rc = err_set(ERR_MISMATCH, "--check: the built manifest digest is %s, not %s; nothing written to '%s'",
                     r->image.manifest.digest, req->check, r->output);
        goto done;
    }
    if (!(rc = write_image(r, req, epoch, prefill.prefill)) && !req->no_sbom)
        rc = write_sbom(r, req, plan, spec, cache, prefetch);
done:
    archive_prefill_free(prefill.prefill); /* before the base whose layers it reads */
    digest_prefetch_free(prefetch); /* before the cache it remembers into */
    base_image_free(base); /* its layer paths and the image's may point into the cache: close it after */
    cache_close(cache);
    plan_free(plan);
    free(runtime);
    free(out_dir);
    if (rc)
        build_result_release(r);
    return rc;
}

void build_result_release(struct build_result *r)
{
    if (r->work_dir)
        fs_remove_tree(r->work_dir);
    oci_image_release(&r->image);
    free(r->image_name);
    free(r->image_tag);
    free(r->output);
    free(r->sbom_path);
    free(r->sbom_layout);
    free(r->work_dir);
    *r = (struct build_result){0};
}
