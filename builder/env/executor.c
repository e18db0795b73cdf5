#include "builder/env/executor.h"

#include "common/err.h"
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

int executor_build_environment(enum executor_kind kind, const struct plan_environment *env, const char *work_dir,
                               const char *archive_out, const char **format)
{
    struct engine_cmd cmd;
    char *ctx = path_join(work_dir, "environment");
    char tag[64], prefix[32];
    snprintf(tag, sizeof tag, "localhost/amlpkg-environment:%.16s", env->key);
    snprintf(prefix, sizeof prefix, "[%s] ", names[kind]);
    int rc = ctx ? engine_cmd_init(&cmd, env_vars[kind], names[kind]) : err_set(ERR_NOMEM, "out of memory");
    if (rc) {
        free(ctx);
        return rc;
    }
    if (mkdir(ctx, 0700) != 0)
        rc = err_set_errno(ERR_IO, "cannot create '%s'", ctx);
    rc = rc ? rc : dockerfile_write_environment(ctx, env);
    fprintf(stderr, "amlpkg build: environment %.12s: building with %s (Docker steps and conda installs)\n", env->key,
            names[kind]);
    const char *build[] = {kind == EXECUTOR_BUILDAH ? "bud" : "build", "-t", tag, ctx, NULL};
    rc = rc ? rc : engine_cmd_run(&cmd, build, NULL, prefix);
    *format = kind == EXECUTOR_DOCKER ? "docker-archive" : "oci-archive";
    char dest[4200];
    snprintf(dest, sizeof dest, "oci-archive:%s", archive_out);
    const char *save_podman[] = {"save", "--format", "oci-archive", "-o", archive_out, tag, NULL};
    const char *save_buildah[] = {"push", tag, dest, NULL};
    const char *save_docker[] = {"save", "-o", archive_out, tag, NULL};
    const char *const *save = kind == EXECUTOR_PODMAN    ? save_podman
                              : kind == EXECUTOR_BUILDAH ? save_buildah
                                                         : save_docker;
    rc = rc ? rc : engine_cmd_run(&cmd, save, NULL, prefix);
    /* The stage lives on in amlpkg's cache, not in the engine's image store. */
    const char *remove[] = {"rmi", tag, NULL};
    engine_cmd_run(&cmd, remove, NULL, NULL);
    if (!rc)
        err_clear(); /* a failed clean-up is not the build's failure; an earlier message stays as set */
    if (rc)
        unlink(archive_out);
    fs_remove_tree(ctx);
    engine_cmd_release(&cmd);
    free(ctx);
    return rc;
}
