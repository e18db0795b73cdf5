#include "builder/image/dockerfile.h"

#include "common/err.h"
#include "common/json.h"
#include "builder/image/oci_layer.h"
#include "builder/sys/fs_copy.h"
#include "builder/sys/fsutil.h"
#include "common/path.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* templates/Dockerfile.in and Dockerfile.gpu.in (environment.gpu.enabled), embedded at build time. */
extern const char dockerfile_template[];
extern const char dockerfile_gpu_template[];

#include "version.h"
/* Each layer's files are staged under CONTEXT_ROOT-<n> of the context, at their image paths. */
#define CONTEXT_ROOT "layer"

/* The inside of a Dockerfile double-quoted value: backslash, quote and '$' (variable expansion)
 * escaped, a newline written as \n, so nothing in it can end the line or expand. */
static int append_escaped(struct buf *b, const char *s)
{
    int rc = 0;
    for (; *s && !rc; s++) {
        if (*s == '"' || *s == '\\' || *s == '$')
            rc = buf_append(b, "\\", 1);
        if (!rc)
            rc = *s == '\n' ? buf_append(b, "\\n", 2) : buf_append(b, s, 1);
    }
    return rc;
}

static int append_quoted(struct buf *b, const char *s)
{
    int rc = buf_append(b, "\"", 1);
    rc = rc ? rc : append_escaped(b, s);
    return rc ? rc : buf_append(b, "\"", 1);
}

/* Text for a comment line: a file name with a newline must not start an instruction of its own. */
static int append_comment_text(struct buf *b, const char *text)
{
    int rc = 0;
    for (; *text && !rc; text++)
        rc = buf_append(b, (unsigned char)*text < ' ' || *text == 0x7f ? "?" : text, 1);
    return rc;
}

static int append_comment(struct buf *b, const char *text)
{
    int rc = buf_append(b, "# ", 2);
    rc = rc ? rc : append_comment_text(b, text);
    return rc ? rc : buf_append(b, "\n", 1);
}

/* One COPY per plan layer, so the image has the same layers as the daemonless one: each layer's
 * files are staged under CONTEXT_ROOT-<n>/ at their image paths and copied onto / together. */

static int render_copies(struct buf *b, const struct plan *plan)
{
    int rc = 0;
    for (size_t i = 0; i < plan->n_layers && !rc; i++) {
        rc = i ? buf_append(b, "\n", 1) : 0;
        rc = rc ? rc : append_comment(b, plan->layers[i].created_by);
        rc = rc ? rc : buf_appendf(b, "COPY [\"" CONTEXT_ROOT "-%zu/\", \"/\"]\n", i + 1);
    }
    return rc;
}

#define CONDA_SETUP_DIR "azureml-environment-setup"
#define CONDA_FILE CONDA_SETUP_DIR "/conda_dependencies.yml"
#define CONDA_LOCK CONDA_SETUP_DIR "/conda.lock"

/* The environment's steps: the Docker steps as written, then the conda environment created into its
 * prefix (as Azure ML's environment images do). They come before every COPY of ours. */
static int render_environment(struct buf *b, const struct plan_environment *e)
{
    int rc = 0;
    if (!e->n_docker_steps && !e->conda_prefix)
        return 0;
    rc = buf_appendf(b, "# environment %s\n", e->key);
    for (size_t i = 0; i < e->n_docker_steps && !rc; i++) {
        size_t n = strlen(e->docker_steps[i]);
        rc = buf_append(b, e->docker_steps[i], n);
        rc = rc ? rc : (n && e->docker_steps[i][n - 1] == '\n' ? 0 : buf_append(b, "\n", 1));
    }
    if (!rc && e->conda_prefix && e->conda_lock) { /* the lock (amlpkg lock): installed as is, no solve */
        rc = buf_appendf(b,
                         "COPY [\"" CONDA_LOCK "\", \"/" CONDA_LOCK "\"]\n"
                         "RUN conda create -y -p %s --file /" CONDA_LOCK " && conda clean -aqy\n",
                         e->conda_prefix);
        /* The lock's "# pip NAME @ URL#sha256=" lines (conda skips them as comments): pip installs exactly
         * those wheels, checking each hash, and resolves nothing. */
        if (!rc && strstr(e->conda_lock, "\n# pip "))
            rc = buf_appendf(b,
                             "RUN sed -n 's/^# pip //p' /" CONDA_LOCK " > /" CONDA_SETUP_DIR "/pip.lock && "
                             "%s/bin/python -m pip install --no-deps --no-cache-dir -r /" CONDA_SETUP_DIR "/pip.lock\n",
                             e->conda_prefix);
        if (!rc && !plan_env_is_scratch(e))
            rc = buf_appendf(b, "ENV PATH=\"%s/bin:$PATH\"\n", e->conda_prefix);
    } else if (!rc && e->conda_prefix) {
        rc = buf_appendf(b,
                         "COPY [\"" CONDA_FILE "\", \"/" CONDA_FILE "\"]\n"
                         "RUN conda env create -p %s -f /" CONDA_FILE " && conda clean -aqy\n",
                         e->conda_prefix);
        if (!rc && !plan_env_is_scratch(e)) /* the base's PATH stays behind the environment's */
            rc = buf_appendf(b, "ENV PATH=\"%s/bin:$PATH\"\n", e->conda_prefix);
    }
    return rc ? rc : buf_append(b, "\n", 1);
}

/* The GPU variables (GPU template only): LD_LIBRARY_PATH keeps the base's after CUDA's, as the
 * daemonless build merges it (see oci_image.h). */
static int render_gpu_env(struct buf *b, const struct plan *plan)
{
    int rc = 0, first = 1;
    for (size_t i = 0; i < plan->n_env && !rc; i++) {
        const char *eq = strchr(plan->env[i], '=');
        if (!eq || !plan_env_is_gpu_variable(&plan->environment, plan->env[i]))
            continue;
        rc = buf_appendf(b, "%sENV %.*s=\"", first ? "" : "\n", (int)(eq - plan->env[i]), plan->env[i]);
        rc = rc ? rc : append_escaped(b, eq + 1);
        if (!rc && !plan_env_is_scratch(&plan->environment) && !strncmp(plan->env[i], "LD_LIBRARY_PATH=", 16))
            rc = buf_append_str(b, "${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}");
        rc = rc ? rc : buf_append(b, "\"", 1);
        first = 0;
    }
    return rc;
}

static int render_env(struct buf *b, const struct plan *plan)
{
    int rc = 0, first = 1;
    int keep_base_path = !plan_env_is_scratch(&plan->environment);
    for (size_t i = 0; i < plan->n_env && !rc; i++) {
        const char *eq = strchr(plan->env[i], '=');
        if (!eq || (keep_base_path && !strncmp(plan->env[i], "PATH=", 5)))
            continue; /* on a base image, PATH is the base's (plus the environment's, above) */
        if (plan_env_is_gpu_variable(&plan->environment, plan->env[i]))
            continue; /* in the GPU template's own block */
        rc = buf_appendf(b, "%sENV %.*s=", first ? "" : "\n", (int)(eq - plan->env[i]), plan->env[i]);
        rc = rc ? rc : append_quoted(b, eq + 1);
        first = 0;
    }
    return rc;
}

static int render_labels(struct buf *b, const struct plan *plan)
{
    int rc = 0;
    for (size_t i = 0; i < plan->n_labels && !rc; i++) {
        rc = buf_appendf(b, "%sLABEL ", i ? "\n" : "");
        rc = rc ? rc : append_quoted(b, plan->labels[i].key);
        rc = rc ? rc : buf_append(b, "=", 1);
        rc = rc ? rc : append_quoted(b, plan->labels[i].value);
    }
    return rc;
}

int dockerfile_render(struct buf *out, const struct plan *plan, const char *spec_name)
{
    struct buf copies, env, labels, entry, environment, gpu_env, cuda;
    buf_init(&gpu_env, 0);
    buf_init(&cuda, 0);
    buf_init(&environment, 0);
    buf_init(&copies, 0);
    buf_init(&env, 0);
    buf_init(&labels, 0);
    buf_init(&entry, 0);
    char port[16];
    snprintf(port, sizeof port, "%d", plan->port);
    int rc = render_environment(&environment, &plan->environment);
    rc = rc ? rc : render_copies(&copies, plan);
    rc = rc ? rc : render_env(&env, plan);
    rc = rc ? rc : render_labels(&labels, plan);
    rc = rc ? rc : buf_append(&entry, "[", 1);
    rc = rc ? rc : json_write_string(&entry, plan->entrypoint, strlen(plan->entrypoint));
    rc = rc ? rc : buf_append(&entry, "]", 1);
    rc = rc ? rc : render_gpu_env(&gpu_env, plan);
    rc = rc ? rc
            : append_comment_text(&cuda, plan->environment.cuda_version ? plan->environment.cuda_version
                                                                        : "as the base image has it");
    const char *names[] = {"VERSION", "SPEC",    "BASE", "ENVIRONMENT", "COPY",    "ENV",
                           "LABELS",  "WORKDIR", "PORT", "ENTRYPOINT",  "GPU_ENV", "CUDA"};
    const char *values[] = {AMLPKG_VERSION,
                            spec_name,
                            plan->environment.base_image,
                            environment.data ? environment.data : "",
                            copies.data ? copies.data : "",
                            env.data ? env.data : "",
                            labels.data ? labels.data : "",
                            plan->workdir,
                            port,
                            entry.data ? entry.data : "",
                            gpu_env.data ? gpu_env.data : "",
                            cuda.data ? cuda.data : ""};
    /* {{NAME}} placeholders; the template is ours, so an unknown one is a bug worth failing on. */
    const char *template = plan->environment.gpu ? dockerfile_gpu_template : dockerfile_template;
    for (const char *p = template; *p && !rc;) {
        const char *open = strstr(p, "{{");
        if (!open) {
            rc = buf_append_str(out, p);
            break;
        }
        const char *close = strstr(open, "}}");
        if (!close) {
            rc = err_set(ERR_INVALID, "templates/Dockerfile*.in: unclosed placeholder");
            break;
        }
        rc = buf_append(out, p, (size_t)(open - p));
        size_t k = 0, n = (size_t)(close - open - 2);
        while (k < sizeof names / sizeof names[0] && (strlen(names[k]) != n || strncmp(names[k], open + 2, n)))
            k++;
        if (k == sizeof names / sizeof names[0]) {
            rc = err_set(ERR_INVALID, "templates/Dockerfile*.in: unknown placeholder '%.*s'", (int)n, open + 2);
            break;
        }
        rc = rc ? rc : buf_append_str(out, values[k]);
        p = close + 2;
    }
    buf_release(&gpu_env);
    buf_release(&cuda);
    buf_release(&environment);
    buf_release(&copies);
    buf_release(&env);
    buf_release(&labels);
    buf_release(&entry);
    return rc;
}

static int dir_is_empty_or_missing(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT;
    struct dirent *de;
    int empty = 1;
    while (empty && (de = readdir(d)))
        empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
    closedir(d);
    return empty;
}

/* COPY keeps the context's modes, so the staged files get the modes amlpkg's
 * own layers have (0644, 0755 for executables and folders): the engine's
 * image then does not depend on the umask of whoever checked the files out. */
static int normalise_mode(const char *path, const struct stat *st, int type, struct FTW *where)
{
    (void)where;
    if (type == FTW_SL || type == FTW_SLN)
        return 0;
    if (chmod(path, oci_layer_mode(st->st_mode)) != 0)
        return err_set_errno(ERR_IO, "cannot set the mode of '%s'", path);
    return 0;
}

static int stage_files(const char *ctx, const struct plan *plan)
{
    int rc = 0;
    for (size_t i = 0; i < plan->n_layers && !rc; i++)
        for (size_t j = 0; j < plan->layers[i].n_entries && !rc; j++) {
            const struct plan_entry *e = &plan->layers[i].entries[j];
            char dst[8192];
            snprintf(dst, sizeof dst, "%s/" CONTEXT_ROOT "-%zu/%s", ctx, i + 1, e->image_path);
            char *parent = fs_dirname(dst);
            rc = parent ? fs_make_dirs(parent) : err_set(ERR_NOMEM, "out of memory");
            free(parent);
            rc = rc ? rc : fs_copy_tree(e->host_path, dst);
            if (!rc) {
                int walked = nftw(dst, normalise_mode, 16, FTW_PHYS);
                rc = walked < 0 ? err_set_errno(ERR_IO, "cannot walk '%s'", dst) : walked;
            }
        }
    return rc;
}

static int stage_text(const char *dir, const char *name, const char *text)
{
    char path[8300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wx");
    if (!f)
        return err_set_errno(ERR_IO, "cannot create '%s'", path);
    /* COPY keeps the mode it finds: 0644 whatever the umask, so the layer is the same everywhere. */
    if (fchmod(fileno(f), 0644) != 0) {
        fclose(f);
        return err_set_errno(ERR_IO, "cannot set the mode of '%s'", path);
    }
    if ((fputs(text, f) < 0) + (fclose(f) != 0))
        return err_set_write(ERR_IO, "cannot write '%s'", path);
    return 0;
}

/* The conda file (always: it documents the environment) and, with one, the lock that is installed. */
static int stage_conda_file(const char *ctx, const struct plan_environment *e)
{
    if (!e->conda_yaml)
        return 0;
    char dir[8192];
    snprintf(dir, sizeof dir, "%s/" CONDA_SETUP_DIR, ctx);
    int rc = fs_make_dirs(dir);
    rc = rc ? rc : stage_text(dir, "conda_dependencies.yml", e->conda_yaml);
    if (!rc && e->conda_lock)
        rc = stage_text(dir, "conda.lock", e->conda_lock);
    return rc;
}

int dockerfile_write(const char *dir, const struct plan *plan, const char *spec_name)
{
    if (!dir_is_empty_or_missing(dir))
        return err_set(ERR_EXISTS, "--dockerfile: '%s' exists and is not empty; remove it or choose another folder",
                       dir);
    struct buf text;
    buf_init(&text, 0);
    char *parent = fs_dirname(dir), *ctx = NULL, *file = NULL;
    int rc = parent ? fs_make_temp_dir(&ctx, parent, ".amlpkg-context-") : err_set(ERR_NOMEM, "out of memory");
    rc = rc ? rc : dockerfile_render(&text, plan, spec_name);
    rc = rc ? rc : stage_files(ctx, plan);
    rc = rc ? rc : stage_conda_file(ctx, &plan->environment);
    if (!rc && !(file = path_join(ctx, "Dockerfile")))
        rc = err_set(ERR_NOMEM, "out of memory");
    FILE *f = NULL;
    char *tmp = NULL;
    if (!rc && !(rc = fs_temp_beside(&f, &tmp, file))) {
        if (fwrite(text.data, 1, text.len, f) != text.len) {
            fclose(f);
            unlink(tmp);
            rc = err_set_write(ERR_IO, "cannot write '%s'", file);
        } else {
            rc = fs_commit(f, tmp, file);
        }
    }
    /* An empty target folder is replaced; the context appears there complete or not at all. */
    if (!rc && rmdir(dir) != 0 && errno != ENOENT)
        rc = err_set_errno(ERR_IO, "cannot replace '%s'", dir);
    if (!rc && rename(ctx, dir) != 0)
        rc = err_set_errno(ERR_IO, "cannot move the context to '%s'", dir);
    if (!rc)
        fs_temp_dir_forget(ctx);
    if (rc && ctx)
        fs_remove_tree(ctx);
    free(tmp);
    free(file);
    free(ctx);
    free(parent);
    buf_release(&text);
    return rc;
}

/* Instructions in Dockerfile text: a logical line (joined at a trailing backslash) that is neither
 * blank nor a comment. */
static size_t count_instructions(const char *text)
{
    size_t n = 0;
    int continued = 0;
    for (const char *line = text; *line;) {
        size_t len = strcspn(line, "\n");
        const char *p = line;
        while (p < line + len && (*p == ' ' || *p == '\t'))
            p++;
        int blank_or_comment = p == line + len || *p == '#' || *p == '\r';
        const char *end = line + len;
        while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
            end--;
        if (!blank_or_comment) {
            if (!continued)
                n++;
            continued = end > p && end[-1] == '\\';
        }
        line += len + (line[len] == '\n');
    }
    return n;
}

int dockerfile_environment_instructions(size_t *out, const struct plan_environment *env)
{
    struct buf text;
    buf_init(&text, 0);
    int rc = render_environment(&text, env);
    *out = rc || !text.data ? 0 : count_instructions(text.data);
    buf_release(&text);
    return rc;
}

int dockerfile_write_environment(const char *dir, const struct plan_environment *env)
{
    struct buf text;
    buf_init(&text, 0);
    char *file = path_join(dir, "Dockerfile");
    int rc = file ? buf_appendf(&text, "# The environment %s, built by amlpkg's executor.\nFROM %s\n", env->key,
                                env->base_image)
                  : err_set(ERR_NOMEM, "out of memory");
    rc = rc ? rc : render_environment(&text, env);
    rc = rc ? rc : stage_conda_file(dir, env);
    FILE *f = rc ? NULL : fopen(file, "wx");
    if (!rc && !f)
        rc = err_set_errno(ERR_IO, "cannot create '%s'", file);
    if (f && (fwrite(text.data, 1, text.len, f) != text.len) + (fclose(f) != 0))
        rc = err_set_write(ERR_IO, "cannot write '%s'", file);
    free(file);
    buf_release(&text);
    return rc;
}
