#include "builder/env/conda_repodata.h"

#include "common/arena.h"
#include "common/err.h"
#include "common/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int nomem(void)
{
    return err_set(ERR_NOMEM, "out of memory");
}

static void record_release(struct conda_record *r)
{
    free(r->channel);
    free(r->subdir);
    free(r->fn);
    free(r->name);
    free(r->build);
    conda_version_free(r->version);
    free(r->sha256);
    free(r->md5);
    for (size_t i = 0; i < r->n_depends; i++)
        free(r->depends[i]);
    free(r->depends);
    for (size_t i = 0; i < r->n_constrains; i++)
        free(r->constrains[i]);
    free(r->constrains);
}

void conda_repodata_release(struct conda_repodata *r)
{
    for (size_t i = 0; i < r->n_records; i++)
        record_release(&r->records[i]);
    free(r->records);
    memset(r, 0, sizeof *r);
}

static int bad(const char *source, const struct json_value *v, const char *fn, const char *what)
{
    return err_set(ERR_INVALID, "%s:%d:%d: packages['%s']: %s", source, v->line, v->column, fn, what);
}

static int string_member(char **out, const struct json_value *pkg, const char *key, int required, const char *source,
                         const char *fn)
{
    const struct json_value *v = json_member(pkg, key);
    if (!v || v->type == JSON_NULL) {
        if (!required)
            return 0;
        char what[64];
        snprintf(what, sizeof what, "%s: required field is missing", key);
        return bad(source, pkg, fn, what);
    }
    if (v->type != JSON_STRING || strlen(v->as.string.ptr) != v->as.string.len) {
        char what[64];
        snprintf(what, sizeof what, "%s: expected a string", key);
        return bad(source, v, fn, what);
    }
    return (*out = strdup(v->as.string.ptr)) ? 0 : nomem();
}

static int strings_member(char ***out, size_t *n, const struct json_value *pkg, const char *key, const char *source,
                          const char *fn)
{
    const struct json_value *v = json_member(pkg, key);
    if (!v || v->type == JSON_NULL)
        return 0;
    if (v->type != JSON_ARRAY || v->count > CONDA_REPODATA_MAX_DEPENDS) {
        char what[80];
        snprintf(what, sizeof what, "%s: expected an array of at most %d strings", key, CONDA_REPODATA_MAX_DEPENDS);
        return bad(source, v, fn, what);
    }
    if (v->count && !(*out = calloc(v->count, sizeof **out)))
        return nomem();
    for (const struct json_value *e = v->child; e; e = e->next) {
        if (e->type != JSON_STRING || strlen(e->as.string.ptr) != e->as.string.len) {
            char what[64];
            snprintf(what, sizeof what, "%s: expected strings", key);
            return bad(source, e, fn, what);
        }
        if (!((*out)[*n] = strdup(e->as.string.ptr)))
            return nomem();
        (*n)++;
    }
    return 0;
}

static int number_member(long long *out, const struct json_value *pkg, const char *key, const char *source,
                         const char *fn)
{
    const struct json_value *v = json_member(pkg, key);
    if (!v || v->type == JSON_NULL)
        return 0;
    if (v->type != JSON_NUMBER || v->as.number < 0 || v->as.number > 9e15 || v->as.number != (long long)v->as.number) {
        char what[64];
        snprintf(what, sizeof what, "%s: expected a whole number", key);
        return bad(source, v, fn, what);
    }
    *out = (long long)v->as.number;
    return 0;
}

/* track_features: one string of names separated by spaces or commas. */
static int count_features(const struct json_value *pkg)
{
    const struct json_value *v = json_member(pkg, "track_features");
    if (!v || v->type != JSON_STRING)
        return 0;
    int n = 0, in_word = 0;
    for (const char *p = v->as.string.ptr; *p; p++) {
        int sep = *p == ' ' || *p == ',';
        n += !sep && !in_word;
        in_word = !sep;
    }
    return n;
}

static int read_record(struct conda_record *r, const struct json_value *pkg, const char *source, const char *channel,
                       int priority, const char *subdir)
{
    char *version = NULL;
    const char *fn = pkg->key;
    if (pkg->type != JSON_OBJECT)
        return bad(source, pkg, fn, "expected an object");
    r->priority = priority;
    r->build_number = 0;
    int rc = (r->fn = strdup(fn)) && (r->channel = strdup(channel)) ? 0 : nomem();
    rc = rc ? rc : string_member(&r->name, pkg, "name", 1, source, fn);
    rc = rc ? rc : string_member(&version, pkg, "version", 1, source, fn);
    rc = rc ? rc : string_member(&r->build, pkg, "build", 1, source, fn);
    rc = rc ? rc : string_member(&r->subdir, pkg, "subdir", 0, source, fn);
    rc = rc ? rc : string_member(&r->sha256, pkg, "sha256", 0, source, fn);
    rc = rc ? rc : string_member(&r->md5, pkg, "md5", 0, source, fn);
    rc = rc ? rc : number_member(&r->build_number, pkg, "build_number", source, fn);
    rc = rc ? rc : number_member(&r->size, pkg, "size", source, fn);
    rc = rc ? rc : strings_member(&r->depends, &r->n_depends, pkg, "depends", source, fn);
    rc = rc ? rc : strings_member(&r->constrains, &r->n_constrains, pkg, "constrains", source, fn);
    if (!rc && !r->subdir && !(r->subdir = strdup(subdir)))
        rc = nomem();
    if (!rc && r->sha256 && (strlen(r->sha256) != 64 || strspn(r->sha256, "0123456789abcdef") != 64))
        rc = bad(source, json_member(pkg, "sha256"), fn, "sha256: expected 64 lower-case hex digits");
    if (!rc) {
        char context[600];
        snprintf(context, sizeof context, "%s:%d:%d: packages['%s'].version", source, pkg->line, pkg->column, fn);
        rc = conda_version_parse(&r->version, version, context);
    }
    r->n_track_features = count_features(pkg);
    free(version);
    return rc;
}

static int has_key(const struct json_value *packages, const char *key)
{
    for (const struct json_value *p = packages ? packages->child : NULL; p; p = p->next)
        if (!strcmp(p->key, key))
            return 1;
    return 0;
}

int conda_repodata_parse(struct conda_repodata *into, const char *text, size_t len, const char *source,
                         const char *channel, int priority, const char *subdir)
{
    struct arena arena;
    arena_init(&arena, 1u << 20, (size_t)4 << 30); /* conda-forge's linux-64 index is hundreds of MB */
    struct json_value *root = NULL;
    int rc = json_parse(&root, &arena, text, len, source);
    if (!rc && root->type != JSON_OBJECT)
        rc = err_set(ERR_INVALID, "%s: expected a JSON object (a conda repodata.json)", source);
    const struct json_value *tars = rc ? NULL : json_member(root, "packages");
    const struct json_value *condas = rc ? NULL : json_member(root, "packages.conda");
    const struct json_value *lists[2] = {condas, tars};
    for (int l = 0; l < 2 && !rc; l++) {
        const struct json_value *list = lists[l];
        if (!list || list->type == JSON_NULL)
            continue;
        if (list->type != JSON_OBJECT) {
            rc = err_set(ERR_INVALID, "%s:%d:%d: %s: expected an object", source, list->line, list->column,
                         l ? "packages" : "packages.conda");
            break;
        }
        for (const struct json_value *pkg = list->child; pkg && !rc; pkg = pkg->next) {
            if (l == 1 && strlen(pkg->key) > 8 && !strcmp(pkg->key + strlen(pkg->key) - 8, ".tar.bz2")) {
                char conda_fn[1024];
                snprintf(conda_fn, sizeof conda_fn, "%.*s.conda", (int)strlen(pkg->key) - 8, pkg->key);
                if (has_key(condas, conda_fn)) /* the same package in both formats: .conda wins */
                    continue;
            }
            struct conda_record *grown = realloc(into->records, (into->n_records + 1) * sizeof *grown);
            if (!grown) {
                rc = nomem();
                break;
            }
            into->records = grown;
            struct conda_record *r = &into->records[into->n_records];
            memset(r, 0, sizeof *r);
            if ((rc = read_record(r, pkg, source, channel, priority, subdir)))
                record_release(r);
            else
                into->n_records++;
        }
    }
    arena_release(&arena);
    return rc;
}

int conda_repodata_add_virtual(struct conda_repodata *into, const char *name, const char *version)
{
    struct conda_record *grown = realloc(into->records, (into->n_records + 1) * sizeof *grown);
    if (!grown)
        return nomem();
    into->records = grown;
    struct conda_record *r = &into->records[into->n_records];
    memset(r, 0, sizeof *r);
    r->is_virtual = 1;
    int rc = (r->name = strdup(name)) && (r->build = strdup("0")) && (r->channel = strdup("@")) &&
                     (r->subdir = strdup("")) && (r->fn = strdup(name))
                 ? 0
                 : nomem();
    rc = rc ? rc : conda_version_parse(&r->version, version, "virtual package");
    if (rc)
        record_release(r);
    else
        into->n_records++;
    return rc;
}
