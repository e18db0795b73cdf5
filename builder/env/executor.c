#include "builder/env/executor.h"

#include "common/err.h"
#include "builder/env/env_network.h"
#include "builder/image/dockerfile.h"
#include "builder/sys/engine_cmd.h"
#include "builder/sys/fsutil.h"
#include "common/path.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const names[] = {"none", "podman", "buildah", "docker"};
static const char *const env_vars[] = {NULL, "AMLPKG_PODMAN", "AMLPKG_BUILDAH", "AMLPKG_DOCKER"};

static int on_path(const char *program)
{
    const char *path = getenv("PATH");
    char candidate[4096];
    for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
        size_t n = strcspn(p, ":");
        snprintf(candidate, sizeof candidate, "%.*s/%s", (int)n, p, program);
        if (access(candidate, X_OK) == 0)
            return 1;
        p += n + (p[n] == ':');
    }
    return 0;
}

int executor_resolve(enum executor_kind *out, const char *requested)
{
    *out = EXECUTOR_NONE;
    if (!strcmp(requested, "none"))
        return 0;
    for (int k = EXECUTOR_PODMAN; k <= EXECUTOR_DOCKER; k++) {
        if (strcmp(requested, names[k]) && strcmp(requested, "auto"))
            continue;
        const char *set = getenv(env_vars[k]);
        if ((set && set[0]) || on_path(names[k]) || strcmp(requested, "auto")) {
            *out = (enum executor_kind)k;
            return 0;
        }
    }
    if (!strcmp(requested, "auto"))
        return 0; /* none found: the caller reports what needed one */
    return err_set(ERR_USAGE, "--executor '%s': expected auto, none, podman, buildah or docker", requested);
}

/* ---- what the build leaves in the engine's store ------------------------ */

/* The IDs an engine lists, one a line. */
struct id_set {
    struct buf text;
};

static int list_ids(struct id_set *out, const struct engine_cmd *cmd, enum executor_kind kind, int containers)
{
    static const char *const images[] = {"images", "-a", "-q", "--no-trunc", NULL};
    static const char *const podman_ps[] = {"ps", "-a", "-q", "--no-trunc", "--external", NULL};
    static const char *const docker_ps[] = {"ps", "-a", "-q", "--no-trunc", NULL};
    static const char *const buildah_ps[] = {"containers", "-a", "-q", "--notruncate", NULL};
    const char *const *args = !containers                 ? images
                              : kind == EXECUTOR_PODMAN  ? podman_ps
                              : kind == EXECUTOR_BUILDAH ? buildah_ps
                                                         : docker_ps;
    buf_init(&out->text, 0);
    int rc = engine_cmd_run(cmd, args, &out->text, NULL);
    if (!rc && buf_append(&out->text, "\0", 1))
        rc = ERR_NOMEM;
    return rc;
}

static int id_listed(const struct id_set *s, const char *id, size_t len)
{
    for (const char *p = s->text.data; p && *p;) {
        size_t n = strcspn(p, "\n");
        if (n == len && !memcmp(p, id, len))
            return 1;
        p += n + (p[n] == '\n');
    }
    return 0;
}

/* Removes every ID of after that before does not list: what this build added (the base it pulled,
 * intermediate images, containers a failed step left). Images another process adds to the same
 * store while the build runs would go too: the executor's store is best kept to itself. */
static void remove_new(const struct engine_cmd *cmd, enum executor_kind kind, const struct id_set *before,
                       const struct id_set *after, int containers)
{
    /* Twice: an image whose child is listed after it goes once the child has. */
    for (int pass = 0; pass < 2; pass++)
        for (const char *p = after->text.data; p && *p;) {
            size_t n = strcspn(p, "\n");
            if (n && n < 200 && !id_listed(before, p, n)) {
                char id[200];
                snprintf(id, sizeof id, "%.*s", (int)n, p);
                const char *force_container[] = {"rm", "-f", id, NULL};
                const char *buildah_container[] = {"rm", id, NULL};
                const char *image[] = {"rmi", id, NULL};
                const char *const *args = !containers                ? image
                                          : kind == EXECUTOR_BUILDAH ? buildah_container
                                                                     : force_container;
                engine_cmd_run(cmd, args, NULL, NULL);
            }
            p += n + (p[n] == '\n');
        }
    err_clear();
}

/* ---- the build ---------------------------------------------------------- */

int executor_build_environment(enum executor_kind kind, const struct plan_environment *env, const char *work_dir,
                               const char *archive_out, const char **format, size_t *engine_steps)
{
    struct engine_cmd cmd;
    char *ctx = path_join(work_dir, "environment");
    char tag[64], prefix[32];
    snprintf(tag, sizeof tag, "localhost/amlpkg-environment:%.16s", env->key);
    snprintf(prefix, sizeof prefix, "[%s] ", names[kind]);
    *engine_steps = 0;
    int rc = ctx ? engine_cmd_init(&cmd, env_vars[kind], names[kind]) : err_set(ERR_NOMEM, "out of memory");
    if (rc) {
        free(ctx);
        return rc;
    }
    if (mkdir(ctx, 0700) != 0)
        rc = err_set_errno(ERR_IO, "cannot create '%s'", ctx);
    rc = rc ? rc : dockerfile_write_environment(ctx, env);
    rc = rc ? rc : dockerfile_environment_instructions(engine_steps, env);
    /* What the store holds before: the clean-up removes only what this build adds. */
    struct id_set images_before = {0}, containers_before = {0}, images_after = {0}, containers_after = {0};
    int snapshot = !rc && !list_ids(&images_before, &cmd, kind, 0) && !list_ids(&containers_before, &cmd, kind, 1);
    if (!snapshot)
        err_clear(); /* the build can go on; only the tag is removed afterwards */
    fprintf(stderr, "amlpkg build: environment %.12s: building with %s (Docker steps and conda installs)\n", env->key,
            names[kind]);
    env_network_warn(env);
    /* Fixed timestamps where the engine takes them (podman and buildah: --timestamp; Docker's BuildKit:
     * the SOURCE_DATE_EPOCH build argument), no version label, no intermediate images, no container
     * left by a failed step. The layers are re-written reproducibly afterwards in any case. */
    const char *build_podman[] = {kind == EXECUTOR_BUILDAH ? "bud" : "build",
                                  "--timestamp",
                                  "0",
                                  "--identity-label=false",
                                  "--layers=false",
                                  "--force-rm",
                                  "-t",
                                  tag,
                                  ctx,
                                  NULL};
    const char *build_docker[] = {"build", "--force-rm", "--build-arg", "SOURCE_DATE_EPOCH=0", "-t", tag, ctx, NULL};
    rc = rc ? rc : engine_cmd_run(&cmd, kind == EXECUTOR_DOCKER ? build_docker : build_podman, NULL, prefix);
    *format = kind == EXECUTOR_DOCKER ? "docker-archive" : "oci-archive";
    char dest[4200];
    snprintf(dest, sizeof dest, "oci-archive:%s", archive_out);
    /* Layers as plain tars (their bytes are their diff_ids, the same everywhere); amlpkg compresses. */
    const char *save_podman[] = {"save", "--format", "oci-archive", "--uncompressed", "-o", archive_out, tag, NULL};
    const char *save_buildah[] = {"push", "--disable-compression", tag, dest, NULL};
    const char *save_docker[] = {"save", "-o", archive_out, tag, NULL};
    const char *const *save = kind == EXECUTOR_PODMAN    ? save_podman
                              : kind == EXECUTOR_BUILDAH ? save_buildah
                                                         : save_docker;
    rc = rc ? rc : engine_cmd_run(&cmd, save, NULL, prefix);
    /* The stage lives on in amlpkg's cache, not in the engine's store: the tag goes, then whatever
     * this build added (on failure too, keeping the failure's message). */
    char failure[1024] = "";
    if (rc)
        snprintf(failure, sizeof failure, "%s", err_message(rc));
    const char *remove[] = {"rmi", tag, NULL};
    engine_cmd_run(&cmd, remove, NULL, NULL);
    if (snapshot && !list_ids(&containers_after, &cmd, kind, 1) && !list_ids(&images_after, &cmd, kind, 0)) {
        remove_new(&cmd, kind, &containers_before, &containers_after, 1);
        remove_new(&cmd, kind, &images_before, &images_after, 0);
    }
    buf_release(&images_before.text);
    buf_release(&images_after.text);
    buf_release(&containers_before.text);
    buf_release(&containers_after.text);
    err_clear(); /* a failed clean-up is not the build's failure */
    if (rc) {
        err_set(rc, "%s", failure);
        unlink(archive_out);
    }
    fs_remove_tree(ctx);
    engine_cmd_release(&cmd);
    free(ctx);
    return rc;
}
