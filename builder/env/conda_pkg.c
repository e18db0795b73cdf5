#include "builder/env/conda_pkg.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/path.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INFO_FILE_LIMIT (256u << 20)

static int nomem(void)
{
    return err_set(ERR_NOMEM, "out of memory");
}

static const char *str_member(const struct json_value *obj, const char *key)
{
    const struct json_value *v = obj && obj->type == JSON_OBJECT ? json_member(obj, key) : NULL;
    return v && v->type == JSON_STRING ? v->as.string.ptr : NULL;
}

/* A path as a package lists it: relative, without "..", no NUL inside. */
static int check_path(const char *p, size_t len, const char *what, const char *file, size_t i)
{
    if (!len || p[0] == '/' || strlen(p) != len || !strcmp(p, "..") || !strncmp(p, "../", 3) || strstr(p, "/../") ||
        (len >= 3 && !strcmp(p + len - 3, "/..")))
        return err_set(ERR_INVALID, "%s: %s: path %zu ('%s') must be relative and stay inside the prefix", what, file,
                       i + 1, p);
    return 0;
}

/* One info/ JSON file into the package's arena, errors naming the package and the file. */
static int parse_info_json(struct json_value **root, struct conda_pkg_info *out, const char *text, const char *what,
                           const char *file)
{
    char source[600];
    snprintf(source, sizeof source, "%s: %s", what, file);
    return json_parse(root, &out->arena, text, strlen(text), source);
}

static int parse_index(struct conda_pkg_info *out, const char *text, const char *what)
{
    struct json_value *root = NULL;
    int rc = parse_info_json(&root, out, text, what, "info/index.json");
    if (rc)
        return rc;
    out->index = root;
    out->name = str_member(root, "name");
    out->version = str_member(root, "version");
    out->build = str_member(root, "build");
    out->subdir = str_member(root, "subdir");
    if (root->type != JSON_OBJECT || !out->name || !out->version || !out->build)
        return err_set(ERR_INVALID, "%s: info/index.json: expected an object with name, version and build", what);
    const char *noarch = str_member(root, "noarch");
    out->noarch_python = noarch && !strcmp(noarch, "python");
    return 0;
}

static int parse_paths_json(struct conda_pkg_info *out, const char *text, const char *what)
{
    struct json_value *root = NULL;
    int rc = parse_info_json(&root, out, text, what, "info/paths.json");
    if (rc)
        return rc;
    const struct json_value *paths = root->type == JSON_OBJECT ? json_member(root, "paths") : NULL;
    if (!paths || paths->type != JSON_ARRAY)
        return err_set(ERR_INVALID, "%s: info/paths.json: expected an object with a 'paths' array", what);
    if (paths->count && !(out->paths = arena_alloc(&out->arena, paths->count * sizeof *out->paths)))
        return nomem();
    size_t i = 0;
    for (const struct json_value *p = paths->child; p; p = p->next, i++) {
        const struct json_value *path = p->type == JSON_OBJECT ? json_member(p, "_path") : NULL;
        const char *type = str_member(p, "path_type"), *mode = str_member(p, "file_mode");
        if (!path || path->type != JSON_STRING)
            return err_set(ERR_INVALID, "%s: info/paths.json: paths[%zu] has no _path string (line %d)", what, i,
                           p->line);
        if ((rc = check_path(path->as.string.ptr, path->as.string.len, what, "info/paths.json", i)))
            return rc;
        struct conda_pkg_path *d = &out->paths[out->n_paths++];
        d->path = path->as.string.ptr;
        d->type = !type || !strcmp(type, "hardlink") ? CONDA_PATH_FILE
                  : !strcmp(type, "softlink")        ? CONDA_PATH_LINK
                  : !strcmp(type, "directory")       ? CONDA_PATH_DIR
                                                     : (enum conda_path_type) - 1;
        if ((int)d->type < 0)
            return err_set(ERR_INVALID, "%s: info/paths.json: paths[%zu] ('%s'): unknown path_type '%s' (line %d)",
                           what, i, d->path, type, p->line);
        d->placeholder = str_member(p, "prefix_placeholder");
        if (d->placeholder && !d->placeholder[0])
            d->placeholder = NULL;
        if (mode && strcmp(mode, "text") && strcmp(mode, "binary"))
            return err_set(ERR_INVALID, "%s: info/paths.json: paths[%zu] ('%s'): file_mode '%s' is not text or binary",
                           what, i, d->path, mode);
        d->binary = mode && !strcmp(mode, "binary");
    }
    return 0;
}

static int parse_files(struct conda_pkg_info *out, const char *text, const char *what)
{
    size_t lines = 1;
    for (const char *s = text; *s; s++)
        lines += *s == '\n';
    if (!(out->paths = arena_alloc(&out->arena, lines * sizeof *out->paths)))
        return nomem();
    for (const char *s = text; *s;) {
        const char *end = strchr(s, '\n');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        while (len && s[len - 1] == '\r')
            len--;
        if (len) {
            char *p = arena_strndup(&out->arena, s, len);
            if (!p)
                return nomem();
            int rc = check_path(p, len, what, "info/files", out->n_paths);
            if (rc)
                return rc;
            out->paths[out->n_paths++] = (struct conda_pkg_path){.path = p, .type = CONDA_PATH_FILE};
        }
        s = end ? end + 1 : s + strlen(s);
    }
    return 0;
}

/* One field of a has_prefix line: bare, or in double quotes (paths with spaces). */
static const char *next_field(struct arena *a, const char **s, const char *end)
{
    while (*s < end && **s == ' ')
        (*s)++;
    if (*s >= end)
        return NULL;
    const char *start = *s, *stop;
    if (*start == '"') {
        start++;
        stop = memchr(start, '"', (size_t)(end - start));
        if (!stop)
            return NULL;
        *s = stop + 1;
    } else {
        stop = start;
        while (stop < end && *stop != ' ')
            stop++;
        *s = stop;
    }
    return arena_strndup(a, start, (size_t)(stop - start));
}

static int parse_has_prefix(struct conda_pkg_info *out, const char *text, const char *what)
{
    int line = 0;
    for (const char *s = text; *s;) {
        const char *nl = strchr(s, '\n'), *end = nl ? nl : s + strlen(s);
        line++;
        while (end > s && (end[-1] == '\r' || end[-1] == ' '))
            end--;
        const char *f[4] = {0}, *cur = s;
        int n = 0;
        while (n < 4 && (f[n] = next_field(&out->arena, &cur, end)))
            n++;
        if (n != 0 && n != 1 && n != 3)
            return err_set(ERR_INVALID, "%s: info/has_prefix:%d: expected 'PATH' or 'PLACEHOLDER MODE PATH'", what,
                           line);
        if (n == 3 && strcmp(f[1], "text") && strcmp(f[1], "binary"))
            return err_set(ERR_INVALID, "%s: info/has_prefix:%d: mode '%s' is not text or binary", what, line, f[1]);
        const char *path = n == 3 ? f[2] : f[0];
        struct conda_pkg_path *hit = NULL;
        for (size_t i = 0; n && i < out->n_paths && !hit; i++)
            if (!strcmp(out->paths[i].path, path))
                hit = &out->paths[i];
        if (n && !hit)
            return err_set(ERR_INVALID, "%s: info/has_prefix:%d: '%s' is not in info/files", what, line, path);
        if (hit) {
            hit->placeholder = n == 3 ? f[0] : CONDA_PKG_DEFAULT_PLACEHOLDER;
            hit->binary = n == 3 && !strcmp(f[1], "binary");
        }
        s = nl ? nl + 1 : s + strlen(s);
    }
    return 0;
}

static int parse_link(struct conda_pkg_info *out, const char *text, const char *what)
{
    struct json_value *root = NULL;
    int rc = parse_info_json(&root, out, text, what, "info/link.json");
    if (rc)
        return rc;
    const struct json_value *noarch = root->type == JSON_OBJECT ? json_member(root, "noarch") : NULL;
    const struct json_value *eps = noarch && noarch->type == JSON_OBJECT ? json_member(noarch, "entry_points") : NULL;
    if (!eps)
        return 0;
    if (eps->type != JSON_ARRAY)
        return err_set(ERR_INVALID, "%s: info/link.json: noarch.entry_points is not an array (line %d)", what,
                       eps->line);
    if (eps->count && !(out->entry_points = arena_alloc(&out->arena, eps->count * sizeof *out->entry_points)))
        return nomem();
    for (const struct json_value *e = eps->child; e; e = e->next) {
        const char *eq = e->type == JSON_STRING ? strchr(e->as.string.ptr, '=') : NULL;
        const char *colon = eq ? strchr(eq, ':') : NULL;
        if (!colon || eq == e->as.string.ptr)
            return err_set(ERR_INVALID,
                           "%s: info/link.json: entry point '%s' is not 'NAME = module:function' (line %d)", what,
                           e->type == JSON_STRING ? e->as.string.ptr : "", e->line);
        out->entry_points[out->n_entry_points++] = e->as.string.ptr;
    }
    return 0;
}

int conda_pkg_info_parse(struct conda_pkg_info *out, const char *index_json, const char *paths_json, const char *files,
                         const char *has_prefix, const char *link_json, const char *what)
{
    memset(out, 0, sizeof *out);
    arena_init(&out->arena, 1 << 16, INFO_FILE_LIMIT * 4);
    if (!index_json)
        return err_set(ERR_INVALID, "%s: no info/index.json: not a conda package", what);
    int rc = parse_index(out, index_json, what);
    if (!rc && paths_json)
        rc = parse_paths_json(out, paths_json, what);
    else if (!rc && files) {
        rc = parse_files(out, files, what);
        if (!rc && has_prefix)
            rc = parse_has_prefix(out, has_prefix, what);
    } else if (!rc)
        rc = err_set(ERR_INVALID, "%s: neither info/paths.json nor info/files: the package lists no files", what);
    if (!rc && link_json)
        rc = parse_link(out, link_json, what);
    return rc;
}

/* dir/info/name's text into out (NULL when the file does not exist). */
static int read_info(char **out, const char *dir, const char *name)
{
    *out = NULL;
    char rel[64];
    snprintf(rel, sizeof rel, "info/%s", name);
    char *path = path_join(dir, rel);
    if (!path)
        return nomem();
    struct buf b;
    buf_init(&b, INFO_FILE_LIMIT);
    int rc = buf_read_file(&b, path);
    if (rc == ERR_NOTFOUND) {
        err_clear();
        rc = 0;
    } else if (!rc && !(*out = strndup(b.data ? b.data : "", b.len)))
        rc = nomem();
    buf_release(&b);
    free(path);
    return rc;
}

int conda_pkg_info_read(struct conda_pkg_info *out, const char *dir, const char *what)
{
    char *index = NULL, *paths = NULL, *files = NULL, *has_prefix = NULL, *link = NULL;
    int rc = read_info(&index, dir, "index.json");
    rc = rc ? rc : read_info(&paths, dir, "paths.json");
    rc = rc ? rc : read_info(&files, dir, "files");
    rc = rc ? rc : read_info(&has_prefix, dir, "has_prefix");
    rc = rc ? rc : read_info(&link, dir, "link.json");
    if (rc) {
        memset(out, 0, sizeof *out);
        arena_init(&out->arena, 1 << 12, 1 << 12);
    } else
        rc = conda_pkg_info_parse(out, index, paths, files, has_prefix, link, what);
    free(index);
    free(paths);
    free(files);
    free(has_prefix);
    free(link);
    return rc;
}

void conda_pkg_info_release(struct conda_pkg_info *info)
{
    arena_release(&info->arena);
    memset(info, 0, sizeof *info);
}
