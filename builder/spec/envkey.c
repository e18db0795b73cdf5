#include "builder/spec/envkey.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "builder/spec/conda.h"
#include "builder/sys/digest.h"

#include <stdlib.h>
#include <string.h>

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

int envkey_normalise_step_line(struct buf *out, const char *line, size_t len)
{
    size_t start = 0, end = len;
    while (start < end && is_blank(line[start]))
        start++;
    while (end > start && is_blank(line[end - 1]))
        end--;
    if (start == end || line[start] == '#')
        return 0;
    char quote = 0;
    int rc = 0;
    for (size_t i = start; i < end && !rc; i++) {
        char c = line[i];
        if (quote) {
            if (c == '\\' && quote == '"' && i + 1 < end) {
                rc = buf_append(out, line + i, 2);
                i++;
                continue;
            }
            if (c == quote)
                quote = 0;
        } else if (c == '"' || c == '\'') {
            quote = c;
        } else if (is_blank(c)) {
            while (i + 1 < end && is_blank(line[i + 1]))
                i++;
            c = ' ';
        }
        rc = buf_append(out, &c, 1);
    }
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A JSON array of the given strings: sorted and de-duplicated when sort is set. */
static int write_strings(struct buf *b, const char **items, size_t n, int sort)
{
    if (sort && n > 1)
        qsort(items, n, sizeof *items, cmp_str);
    int rc = buf_append(b, "[", 1);
    int first = 1;
    for (size_t i = 0; i < n && !rc; i++) {
        if (sort && i && !strcmp(items[i], items[i - 1]))
            continue;
        if (!first)
            rc = buf_append(b, ",", 1);
        first = 0;
        if (!rc)
            rc = json_write_string(b, items[i], strlen(items[i]));
    }
    if (!rc)
        rc = buf_append(b, "]", 1);
    return rc;
}

struct pair {
    const char *name, *value;
};

static int cmp_pair(const void *a, const void *b)
{
    return strcmp(((const struct pair *)a)->name, ((const struct pair *)b)->name);
}

/* A JSON object of name/value pairs sorted by name (names are unique). */
static int write_pairs(struct buf *b, struct pair *pairs, size_t n)
{
    if (n > 1)
        qsort(pairs, n, sizeof *pairs, cmp_pair);
    int rc = buf_append(b, "{", 1);
    for (size_t i = 0; i < n && !rc; i++) {
        if (i)
            rc = buf_append(b, ",", 1);
        if (!rc)
            rc = json_write_string(b, pairs[i].name, strlen(pairs[i].name));
        if (!rc)
            rc = buf_append(b, ":", 1);
        if (!rc)
            rc = json_write_string(b, pairs[i].value, strlen(pairs[i].value));
    }
    if (!rc)
        rc = buf_append(b, "}", 1);
    return rc;
}

static int write_docker_steps(struct buf *b, const struct spec_environment *env)
{
    /* Steps are normalised line by line; a list of steps and the same lines as
     * one block string mean the same Dockerfile, so both give the same array. */
    struct buf lines;
    buf_init(&lines, 0);
    size_t n = 0, cap = 0;
    size_t *offsets = NULL;
    int rc = 0;
    for (size_t i = 0; i < env->n_docker_steps && !rc; i++) {
        const char *s = env->docker_steps[i];
        while (!rc) {
            const char *nl = strchr(s, '\n');
            size_t len = nl ? (size_t)(nl - s) : strlen(s);
            size_t before = lines.len;
            rc = envkey_normalise_step_line(&lines, s, len);
            if (!rc && lines.len > before) {
                if (n == cap) {
                    cap = cap ? cap * 2 : 16;
                    size_t *p = realloc(offsets, cap * sizeof *p);
                    if (!p) {
                        rc = ERR_NOMEM;
                        break;
                    }
                    offsets = p;
                }
                offsets[n++] = before;
                rc = buf_append(&lines, "", 1); /* each line NUL-terminated in place */
            }
            if (!nl)
                break;
            s = nl + 1;
        }
    }
    const char **items = NULL;
    if (!rc && n && !(items = malloc(n * sizeof *items)))
        rc = ERR_NOMEM;
    for (size_t i = 0; i < n && !rc; i++)
        items[i] = lines.data + offsets[i];
    if (!rc)
        rc = write_strings(b, items, n, 0);
    free(items);
    free(offsets);
    buf_release(&lines);
    return rc;
}

static int write_deps(struct buf *b, const struct conda_dep *deps, size_t n)
{
    const char **items = n ? malloc(n * sizeof *items) : NULL;
    if (n && !items)
        return ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        items[i] = deps[i].canon;
    int rc = write_strings(b, items, n, 1);
    free(items);
    return rc;
}

static int write_conda(struct buf *b, const struct conda_env *c)
{
    if (!c)
        return buf_append_str(b, "null");
    int rc = buf_append_str(b, "{\"channels\":");
    /* Channel order is priority order; a repeated channel adds nothing. */
    const char **channels = c->n_channels ? malloc(c->n_channels * sizeof *channels) : NULL;
    size_t k = 0;
    if (c->n_channels && !channels)
        rc = ERR_NOMEM;
    for (size_t i = 0; i < c->n_channels && !rc; i++) {
        int seen = 0;
        for (size_t j = 0; j < k && !seen; j++)
            seen = !strcmp(channels[j], c->channels[i]);
        if (!seen)
            channels[k++] = c->channels[i];
    }
    if (!rc)
        rc = write_strings(b, channels, k, 0);
    free(channels);
    if (!rc)
        rc = buf_append_str(b, ",\"dependencies\":");
    if (!rc)
        rc = write_deps(b, c->deps, c->n_deps);
    if (!rc)
        rc = buf_append_str(b, ",\"pip\":");
    if (!rc)
        rc = write_deps(b, c->pip, c->n_pip);
    if (!rc)
        rc = buf_append_str(b, ",\"pip_options\":");
    if (!rc)
        rc = write_strings(b, (const char **)c->pip_options, c->n_pip_options, 0);
    if (!rc)
        rc = buf_append_str(b, ",\"variables\":");
    struct pair *vars = c->n_vars ? malloc(c->n_vars * sizeof *vars) : NULL;
    if (!rc && c->n_vars && !vars)
        rc = ERR_NOMEM;
    for (size_t i = 0; i < c->n_vars && !rc; i++)
        vars[i] = (struct pair){c->vars[i].name, c->vars[i].value};
    if (!rc)
        rc = write_pairs(b, vars, c->n_vars);
    free(vars);
    if (!rc)
        rc = buf_append(b, "}", 1);
    return rc;
}

static int write_document(struct buf *b, const struct spec_environment *env, const char *runtime_version)
{
    int rc = buf_append_str(b, "{\"base_image\":");
    if (!rc)
        rc = json_write_string(b, env->base_image, strlen(env->base_image));
    if (!rc)
        rc = buf_append_str(b, ",\"conda\":");
    if (!rc)
        rc = write_conda(b, env->conda);
    /* Only with a lock: keys of environments without one stay what they were. */
    if (!rc && env->lock_digest[0])
        rc = buf_appendf(b, ",\"conda_lock\":\"%s\"", env->lock_digest);
    if (!rc)
        rc = buf_append_str(b, ",\"docker_steps\":");
    if (!rc)
        rc = write_docker_steps(b, env);
    if (!rc)
        rc = buf_append_str(b, ",\"env\":");
    struct pair *vars = env->n_env ? malloc(env->n_env * sizeof *vars) : NULL;
    if (!rc && env->n_env && !vars)
        rc = ERR_NOMEM;
    for (size_t i = 0; i < env->n_env && !rc; i++)
        vars[i] = (struct pair){env->env[i].name, env->env[i].value};
    if (!rc)
        rc = write_pairs(b, vars, env->n_env);
    free(vars);
    if (!rc)
        rc = buf_appendf(b, ",\"gpu\":{\"cuda_version\":");
    if (!rc)
        rc = env->gpu_enabled && env->cuda_version ? json_write_string(b, env->cuda_version, strlen(env->cuda_version))
                                                   : buf_append_str(b, "null");
    if (!rc)
        rc = buf_appendf(b, ",\"enabled\":%s},\"python\":{\"interpreter_path\":", env->gpu_enabled ? "true" : "false");
    if (!rc)
        rc = json_write_string(b, env->python_interpreter, strlen(env->python_interpreter));
    if (!rc)
        rc = buf_appendf(b, ",\"user_managed\":%s},\"runtime\":", env->python_user_managed ? "true" : "false");
    if (!rc)
        rc = json_write_string(b, runtime_version, strlen(runtime_version));
    if (!rc)
        rc = buf_appendf(b, ",\"schema\":%d}", ENVKEY_SCHEMA);
    return rc;
}

int envkey_compute(struct envkey *out, const struct spec_environment *env, const char *runtime_version)
{
    memset(out, 0, sizeof *out);
    if (!env->base_image || !env->python_interpreter || !runtime_version)
        return err_set(ERR_INVALID, "environment key: the environment has no defaults filled in");
    struct buf b;
    buf_init(&b, 0);
    int rc = write_document(&b, env, runtime_version);
    if (rc) {
        buf_release(&b);
        return err_set(ERR_NOMEM, "out of memory");
    }
    char digest[DIGEST_STRING_SIZE];
    if ((rc = digest_buffer(digest, b.data, b.len))) {
        buf_release(&b);
        return rc;
    }
    memcpy(out->hex, digest + 7, 64);
    out->hex[64] = '\0';
    out->document = b.data;
    out->document_len = b.len;
    return 0;
}

void envkey_release(struct envkey *k)
{
    free(k->document);
    k->document = NULL;
    k->document_len = 0;
}
