#include "builder/env/executor.h"

#include "common/err.h"
#include "builder/env/env_network.h"
#include "common/json.h"
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

/* Builds the Dockerfile in ctx as tag and saves it to archive_out; stdout captured into out when given
 * (else streamed with the engine's prefix). The engine's store is left as it was found. */
static int build_and_save(enum executor_kind kind, const struct engine_cmd *cmd, const char *ctx, const char *tag,
                          const char *archive_out, const char **format, struct buf *out)
{
    char prefix[32];
    snprintf(prefix, sizeof prefix, "[%s] ", names[kind]);
    /* What the store holds before: the clean-up removes only what this build adds. */
    struct id_set images_before = {0}, containers_before = {0}, images_after = {0}, containers_after = {0};
    int snapshot = !list_ids(&images_before, cmd, kind, 0) && !list_ids(&containers_before, cmd, kind, 1);
    if (!snapshot)
        err_clear(); /* the build can go on; only the tag is removed afterwards */
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
    int rc = engine_cmd_run(cmd, kind == EXECUTOR_DOCKER ? build_docker : build_podman, out, out ? NULL : prefix);
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
    rc = rc ? rc : engine_cmd_run(cmd, save, NULL, prefix);
    /* The stage lives on in amlpkg's cache, not in the engine's store: the tag goes, then whatever
     * this build added (on failure too, keeping the failure's message). */
    char failure[1024] = "";
    if (rc)
        snprintf(failure, sizeof failure, "%s", err_message(rc));
    const char *remove[] = {"rmi", tag, NULL};
    engine_cmd_run(cmd, remove, NULL, NULL);
    if (snapshot && !list_ids(&containers_after, cmd, kind, 1) && !list_ids(&images_after, cmd, kind, 0)) {
        remove_new(cmd, kind, &containers_before, &containers_after, 1);
        remove_new(cmd, kind, &images_before, &images_after, 0);
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
    return rc;
}

int executor_build_environment(enum executor_kind kind, const struct plan_environment *env, const char *work_dir,
                               const char *archive_out, const char **format, size_t *engine_steps)
{
    struct engine_cmd cmd;
    char *ctx = path_join(work_dir, "environment");
    char tag[64];
    snprintf(tag, sizeof tag, "localhost/amlpkg-environment:%.16s", env->key);
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
    if (!rc) {
        fprintf(stderr, "amlpkg build: environment %.12s: building with %s (Docker steps and conda installs)\n",
                env->key, names[kind]);
        env_network_warn(env);
        rc = build_and_save(kind, &cmd, ctx, tag, archive_out, format, NULL);
    }
    fs_remove_tree(ctx);
    engine_cmd_release(&cmd);
    free(ctx);
    return rc;
}

/* ---- post-link scripts ---------------------------------------------------- */

#define SCRIPT_START "amlpkg-post-link-start "
#define SCRIPT_FAILED "amlpkg-post-link-failed "

/* s in single quotes for sh. */
static int sh_quote(struct buf *b, const char *s)
{
    int rc = buf_append(b, "'", 1);
    for (; *s && !rc; s++)
        rc = *s == '\'' ? buf_append_str(b, "'\\''") : buf_append(b, s, 1);
    return rc ? rc : buf_append(b, "'", 1);
}

/* One RUN step: the script run as conda runs it (bash -x, or sh without bash), with conda's variables, between
 * two marker lines that let the failure be told apart from the engine's own output. */
static int script_step(struct buf *df, const char *prefix, const struct conda_script *s)
{
    char id[600], num[32];
    snprintf(id, sizeof id, "%s-%s-%s", s->name, s->version, s->build);
    snprintf(num, sizeof num, "%ld", s->build_number);
    struct buf sh;
    buf_init(&sh, 0);
    int rc = buf_append_str(&sh, "echo " SCRIPT_START);
    rc = rc ? rc : sh_quote(&sh, id);
    rc = rc ? rc : buf_append_str(&sh, "; export PREFIX=");
    rc = rc ? rc : sh_quote(&sh, prefix);
    rc = rc ? rc : buf_append_str(&sh, " ROOT_PREFIX=");
    rc = rc ? rc : sh_quote(&sh, prefix);
    rc = rc ? rc : buf_append_str(&sh, " PKG_NAME=");
    rc = rc ? rc : sh_quote(&sh, s->name);
    rc = rc ? rc : buf_append_str(&sh, " PKG_VERSION=");
    rc = rc ? rc : sh_quote(&sh, s->version);
    rc = rc ? rc : buf_appendf(&sh, " PKG_BUILDNUM=%s PKG_BUILDNUMBER=%s; export PATH=\"$PREFIX/bin:$PATH\"; ", num,
                               num);
    rc = rc ? rc : buf_append_str(&sh, "if command -v bash >/dev/null; then run='bash -x'; else run='sh -x'; fi; "
                                       "$run \"$PREFIX/bin/.$PKG_NAME-post-link.sh\" 2>&1; status=$?; "
                                       "if [ $status -ne 0 ]; then echo " SCRIPT_FAILED);
    rc = rc ? rc : sh_quote(&sh, id);
    rc = rc ? rc : buf_append_str(&sh, " $status; exit $status; fi");
    rc = rc ? rc : buf_append_str(df, "RUN [\"/bin/sh\", \"-c\", ");
    rc = rc ? rc : json_write_string(df, sh.data, sh.len);
    rc = rc ? rc : buf_append_str(df, "]\n");
    buf_release(&sh);
    return rc;
}

/* The failed script's package and output, from the engine's captured output: the lines between the last
 * start marker and the failure marker. */
static int script_failure(const struct buf *out, int rc)
{
    const char *text = out->data ? out->data : "", *failed = NULL, *start = NULL;
    for (const char *p = text; (p = strstr(p, "\n" SCRIPT_FAILED)); p++)
        failed = p + 1;
    if (!failed)
        return rc; /* the engine failed before or after the scripts: its own message stands */
    for (const char *p = text; (p = strstr(p, "\n" SCRIPT_START)) && p < failed; p++)
        start = p + 1;
    const char *id = failed + strlen(SCRIPT_FAILED), *eol = strchr(id, '\n');
    int line_len = eol ? (int)(eol - id) : (int)strlen(id), id_len = line_len;
    while (id_len > 0 && id[id_len - 1] != ' ')
        id_len--; /* "NAME-VERSION-BUILD STATUS" */
    const char *status = id + id_len;
    int status_len = line_len - id_len;
    id_len = id_len > 0 ? id_len - 1 : line_len;
    const char *body = start ? strchr(start, '\n') : NULL;
    body = body ? body + 1 : failed;
    size_t len = (size_t)(failed - body);
    if (len > 600) { /* the end of a long output is what explains the failure (the message holds 1 KiB) */
        body = failed - 600;
        len = 600;
    }
    err_clear(); /* the engine's "build failed" gives way to what failed in it */
    return err_set(ERR_IO, "post-link script of package %.*s failed (exit status %.*s); its output:\n%.*s", id_len,
                   id, status_len, status, (int)len, body);
}

int executor_run_scripts(enum executor_kind kind, const char *base_archive, const char *prefix,
                         const struct conda_script *scripts, size_t n, const char *key, const char *work_dir,
                         const char *archive_out, const char **format)
{
    struct engine_cmd cmd;
    char *ctx = path_join(work_dir, "scripts"), *file = ctx ? path_join(ctx, "Dockerfile") : NULL;
    char tag[64];
    snprintf(tag, sizeof tag, "localhost/amlpkg-post-link:%.16s", key);
    int rc = file ? engine_cmd_init(&cmd, env_vars[kind], names[kind]) : err_set(ERR_NOMEM, "out of memory");
    if (rc) {
        free(ctx);
        free(file);
        return rc;
    }
    struct buf df, out;
    buf_init(&df, 0);
    buf_init(&out, 64u << 20);
    if (mkdir(ctx, 0700) != 0)
        rc = err_set_errno(ERR_IO, "cannot create '%s'", ctx);
    rc = rc ? rc
            : buf_appendf(&df,
                          "# The post-link scripts of environment %s, run by amlpkg's executor.\n"
                          "FROM oci-archive:%s\n",
                          key, base_archive);
    for (size_t i = 0; i < n && !rc; i++)
        rc = script_step(&df, prefix, &scripts[i]);
    FILE *f = rc ? NULL : fopen(file, "wx");
    if (!rc && !f)
        rc = err_set_errno(ERR_IO, "cannot create '%s'", file);
    if (f && (fwrite(df.data, 1, df.len, f) != df.len) + (fclose(f) != 0))
        rc = err_set_write(ERR_IO, "cannot write '%s'", file);
    if (!rc) {
        fprintf(stderr, "amlpkg build: environment %.12s: running %zu post-link script%s with %s\n", key, n,
                n == 1 ? "" : "s", names[kind]);
        rc = build_and_save(kind, &cmd, ctx, tag, archive_out, format, &out);
        /* The scripts' output (and the engine's), for the user to read, failure or not. */
        for (const char *p = out.data; p && *p;) {
            size_t len = strcspn(p, "\n");
            fprintf(stderr, "[%s] %.*s\n", names[kind], (int)len, p);
            p += len + (p[len] == '\n');
        }
        if (rc)
            rc = script_failure(&out, rc);
    }
    buf_release(&df);
    buf_release(&out);
    fs_remove_tree(ctx);
    engine_cmd_release(&cmd);
    free(ctx);
    free(file);
    return rc;
}
