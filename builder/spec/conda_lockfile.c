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

void conda_lockfile_entries_free(struct conda_lock_entry *e, size_t n)
{
    for (size_t i = 0; e && i < n; i++) {
        free(e[i].url);
        free(e[i].filename);
        free(e[i].name);
        free(e[i].version);
        free(e[i].build);
        free(e[i].channel);
        free(e[i].subdir);
    }
    free(e);
}

/* Fills e from one "URL#sha256" line (len bytes, no newline); 0, or an error naming file and line. */
static int parse_entry(struct conda_lock_entry *e, const char *s, size_t len, const char *file, int line)
{
    const char *hash = memchr(s, '#', len);
    size_t url_len = hash ? (size_t)(hash - s) : len;
    const char *base = NULL;
    for (size_t i = 0; i < url_len; i++)
        if (s[i] == '/')
            base = s + i + 1;
    size_t base_len = base ? url_len - (size_t)(base - s) : 0;
    int ok_scheme = !strncmp(s, "https://", 8) || !strncmp(s, "http://", 7) || !strncmp(s, "file://", 7);
    size_t ext = base_len > 6 && !memcmp(base + base_len - 6, ".conda", 6)     ? 6
                 : base_len > 8 && !memcmp(base + base_len - 8, ".tar.bz2", 8) ? 8
                                                                               : 0;
    if (!ok_scheme || !hash || len - url_len != 65 || strspn(hash + 1, "0123456789abcdef") < 64 || !ext ||
        memchr(s, ' ', len) || memchr(s, '\t', len))
        return err_set(ERR_INVALID,
                       "%s:%d: expected a package line 'URL#<sha256 hex>' of a .conda or .tar.bz2 file "
                       "(http, https or file URL)",
                       file, line);
    /* NAME-VERSION-BUILD: the last two dashes split it (names may hold dashes, versions and builds may not). */
    const char *stem_end = base + base_len - ext, *d2 = NULL, *d1 = NULL;
    for (const char *p = stem_end - 1; p > base && !d1; p--)
        if (*p == '-')
            d2 ? (void)(d1 = p) : (void)(d2 = p);
    /* The subdir is the directory holding the file, the channel what comes before it. */
    const char *sub_end = base - 1, *sub = sub_end;
    while (sub > s && sub[-1] != '/')
        sub--;
    if (!d1 || d1 == base || d2 - d1 < 2 || stem_end - d2 < 2 || sub == sub_end || sub - s < 9)
        return err_set(ERR_INVALID, "%s:%d: '%.*s': expected CHANNEL/SUBDIR/NAME-VERSION-BUILD%s", file, line,
                       (int)base_len, base, ext == 6 ? ".conda" : ".tar.bz2");
    e->line = line;
    memcpy(e->sha256, hash + 1, 64);
    e->sha256[64] = '\0';
    if (!(e->url = strndup(s, url_len)) || !(e->filename = strndup(base, base_len)) ||
        !(e->name = strndup(base, (size_t)(d1 - base))) || !(e->version = strndup(d1 + 1, (size_t)(d2 - d1 - 1))) ||
        !(e->build = strndup(d2 + 1, (size_t)(stem_end - d2 - 1))) ||
        !(e->subdir = strndup(sub, (size_t)(sub_end - sub))) || !(e->channel = strndup(s, (size_t)(sub - 1 - s))))
        return err_set(ERR_NOMEM, "out of memory");
    return 0;
}

int conda_lockfile_entries(struct conda_lock_entry **out, size_t *n, const char *text, const char *file)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    int line = 0, rc = 0, explicit = 0;
    struct conda_lock_entry *v = NULL;
    for (const char *s = text; *s && !rc;) {
        const char *end = strchr(s, '\n');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        line++;
        size_t l = len;
        while (l && (s[l - 1] == '\r' || s[l - 1] == ' ' || s[l - 1] == '\t'))
            l--;
        if (l == 9 && !memcmp(s, "@EXPLICIT", 9))
            explicit = 1;
        else if (l && s[0] != '#' && !explicit)
            rc = err_set(ERR_INVALID, "%s:%d: a package line before @EXPLICIT", file, line);
        else if (l && s[0] != '#') {
            if (*n == cap) {
                struct conda_lock_entry *grown = realloc(v, (cap = cap ? cap * 2 : 32) * sizeof *v);
                if (!grown) {
                    rc = err_set(ERR_NOMEM, "out of memory");
                    break;
                }
                v = grown;
            }
            memset(&v[*n], 0, sizeof v[*n]);
            rc = parse_entry(&v[*n], s, l, file, line);
            (*n)++;
        }
        s = end ? end + 1 : s + len;
    }
    if (!rc && !explicit)
        rc = err_set(ERR_INVALID, "%s: no @EXPLICIT line: not a conda explicit lock", file);
    if (rc) {
        conda_lockfile_entries_free(v, *n);
        *n = 0;
        return rc;
    }
    *out = v;
    return 0;
}
