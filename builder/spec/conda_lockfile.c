#include "builder/spec/conda_lockfile.h"

#include "common/buf.h"
#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int conda_lockfile_input_digest(char out[DIGEST_STRING_SIZE], const struct conda_env *env, const char *subdir)
{
    struct buf b;
    buf_init(&b, 0);
    char **specs = calloc(env->n_deps + 1, sizeof *specs);
    int rc = specs ? buf_appendf(&b, "amlpkg-lock-1\nsubdir %s\n", subdir) : err_set(ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < env->n_channels && !rc; i++)
        rc = buf_appendf(&b, "channel %s\n", env->channels[i]);
    for (size_t i = 0; i < env->n_deps && !rc; i++)
        specs[i] = env->deps[i].canon;
    if (!rc)
        qsort(specs, env->n_deps, sizeof *specs, compare_strings);
    for (size_t i = 0; i < env->n_deps && !rc; i++)
        rc = buf_appendf(&b, "spec %s\n", specs[i]);
    for (size_t i = 0; i < env->n_pip && !rc; i++)
        rc = buf_appendf(&b, "pip %s\n", env->pip[i].canon);
    for (size_t i = 0; i < env->n_pip_options && !rc; i++) /* where wheels come from changes what is locked */
        rc = buf_appendf(&b, "pip-option %s\n", env->pip_options[i]);
    rc = rc ? rc : digest_buffer(out, b.data, b.len);
    free(specs);
    buf_release(&b);
    return rc;
}

/* The rest of the line starting with prefix, into out (NUL-terminated, at most size-1 bytes); 0 when found. */
static int header(char *out, size_t size, const char *text, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, prefix, n))
            continue;
        const char *v = line + n, *end = strchr(v, '\n');
        size_t len = end ? (size_t)(end - v) : strlen(v);
        if (len >= size)
            return -1;
        snprintf(out, size, "%.*s", (int)len, v);
        return 0;
    }
    return -1;
}

int conda_lockfile_check(char out_content[DIGEST_STRING_SIZE], const char *path, const struct conda_env *env,
                         const char *context)
{
    struct buf b;
    buf_init(&b, CONDA_LOCKFILE_MAX_BYTES);
    char recorded[DIGEST_STRING_SIZE + 8], subdir[64], now[DIGEST_STRING_SIZE];
    int rc = buf_read_file(&b, path);
    if (rc)
        goto done;
    const char *text = b.data ? b.data : "";
    if (strlen(text) != b.len || header(recorded, sizeof recorded, text, CONDA_LOCKFILE_INPUT_PREFIX) ||
        strncmp(recorded, "sha256:", 7) || strlen(recorded) != 71 || strspn(recorded + 7, "0123456789abcdef") != 64 ||
        header(subdir, sizeof subdir, text, CONDA_LOCKFILE_PLATFORM_PREFIX) || !subdir[0] ||
        !strstr(text, "\n@EXPLICIT\n")) {
        rc = err_set(ERR_INVALID, "%s: '%s' is not a lock written by amlpkg lock (no '%ssha256:...', '%s' or "
                                  "@EXPLICIT line): write it with amlpkg lock",
                     context, path, CONDA_LOCKFILE_INPUT_PREFIX, CONDA_LOCKFILE_PLATFORM_PREFIX);
        goto done;
    }
    if ((rc = conda_lockfile_input_digest(now, env, subdir)))
        goto done;
    if (strcmp(now, recorded)) {
        rc = err_set(ERR_INVALID,
                     "%s: '%s' is stale: it was resolved from another environment (%s), this one is %s: "
                     "run amlpkg lock again",
                     context, path, recorded, now);
        goto done;
    }
    rc = digest_buffer(out_content, b.data, b.len);
done:
    buf_release(&b);
    return rc;
}
