#include "builder/env/pip_index.h"

#include "builder/spec/pep508.h"
#include "builder/sys/url_fetch.h"
#include "common/arena.h"
#include "common/err.h"
#include "common/json.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static int nomem(void)
{
    return err_set(ERR_NOMEM, "out of memory");
}

void pip_project_release(struct pip_project *p)
{
    for (size_t i = 0; i < p->n_files; i++) {
        free(p->files[i].filename);
        free(p->files[i].url);
        free(p->files[i].requires_python);
    }
    free(p->files);
    p->files = NULL;
    p->n_files = 0;
}

static int is_hex64(const char *s, size_t n)
{
    if (n != 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static void copy_hex(char out[65], const char *s)
{
    for (size_t i = 0; i < 64; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[64] = '\0';
}

/* RFC 3986's remove_dot_segments on the path of url (after "scheme://host", or "file://"), in place. */
static void remove_dot_segments(char *url)
{
    char *scheme = strstr(url, "://");
    if (!scheme)
        return;
    char *path = !strncmp(url, "file://", 7) ? url + 7 : strchr(scheme + 3, '/');
    if (!path)
        return;
    size_t end = strcspn(path, "?#");
    char *out = path, *in = path;
    char tail[4096];
    snprintf(tail, sizeof tail, "%s", path + end);
    path[end] = '\0';
    while (*in) {
        char *seg = in + (*in == '/');
        size_t len = strcspn(seg, "/");
        int last = !seg[len];
        if (len == 1 && seg[0] == '.') {
            in = seg + len;
            if (last)
                *out++ = '/';
            continue;
        }
        if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            while (out > path && *--out != '/')
                ;
            in = seg + len;
            if (last)
                *out++ = '/';
            continue;
        }
        memmove(out, in, (size_t)(seg + len - in));
        out += seg + len - in;
        in = seg + len;
    }
    *out = '\0';
    memmove(out, tail, strlen(tail) + 1);
}

static char *join_url(const char *base, const char *link);

char *pip_index_join_url(const char *base, const char *link)
{
    char *url = join_url(base, link);
    if (url)
        remove_dot_segments(url);
    return url;
}

static char *join_url(const char *base, const char *link)
{
    size_t ll = strcspn(link, "#");
    char *out = NULL;
    const char *colon = strstr(link, "://");
    int absolute = colon && colon < link + ll &&
                   strspn(link, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-") == (size_t)(colon - link);
    const char *scheme_end = strstr(base, "://");
    if (absolute || !scheme_end) {
        out = strndup(link, ll);
    } else if (link[0] == '/' && link[1] == '/') {
        if (asprintf(&out, "%.*s:%.*s", (int)(scheme_end - base), base, (int)ll, link) < 0)
            out = NULL;
    } else if (link[0] == '/') {
        const char *host_end = strchr(scheme_end + 3, '/');
        size_t keep = host_end ? (size_t)(host_end - base) : strlen(base);
        if (!strncmp(base, "file://", 7))
            keep = 7;
        if (asprintf(&out, "%.*s%.*s", (int)keep, base, (int)ll, link) < 0)
            out = NULL;
    } else {
        size_t bl = strcspn(base, "?#");
        const char *host_end = strchr(scheme_end + 3, '/');
        size_t floor = host_end && !strncmp(base, "file://", 7) ? 7 : host_end ? (size_t)(host_end - base) : bl;
        while (bl > floor && base[bl - 1] != '/')
            bl--;
        const char *sep = base[bl - 1] == '/' ? "" : "/";
        if (asprintf(&out, "%.*s%s%.*s", (int)bl, base, sep, (int)ll, link) < 0)
            out = NULL;
    }
    return out;
}

static int add_file(struct pip_project *into, const char *filename, size_t fl, const char *url, const char *source)
{
    if (into->n_files == PIP_INDEX_MAX_FILES)
        return err_set(ERR_LIMIT, "%s: more than %d files", source, PIP_INDEX_MAX_FILES);
    static const char *const exts[] = {".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz", NULL};
    int distribution = 0;
    for (size_t i = 0; exts[i]; i++)
        distribution |= fl > strlen(exts[i]) && !strncmp(filename + fl - strlen(exts[i]), exts[i], strlen(exts[i]));
    if (!distribution || memchr(filename, '/', fl) || memchr(filename, '\0', fl))
        return 0; /* a link that names no distribution (navigation, a signature) is not a file to install */
    struct pip_file *grown = realloc(into->files, (into->n_files + 1) * sizeof *grown);
    if (!grown)
        return nomem();
    into->files = grown;
    struct pip_file *f = memset(&grown[into->n_files], 0, sizeof *f);
    f->filename = strndup(filename, fl);
    f->url = strdup(url);
    if (!f->filename || !f->url) {
        free(f->filename);
        free(f->url);
        return nomem();
    }
    into->n_files++;
    return 0;
}

/* ---- HTML (PEP 503) ---- */

/* Decodes the entities HTML pages use in URLs and names (&amp; &lt; &gt; &quot; &#39; &#NN; &#xNN;). */
static char *decode_entities(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    size_t o = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '&') {
            out[o++] = s[i];
            continue;
        }
        static const struct {
            const char *name;
            char c;
        } named[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
        size_t k = 0;
        for (; k < sizeof named / sizeof named[0]; k++)
            if (n - i - 1 >= strlen(named[k].name) && !strncmp(s + i + 1, named[k].name, strlen(named[k].name)))
                break;
        if (k < sizeof named / sizeof named[0]) {
            out[o++] = named[k].c;
            i += strlen(named[k].name);
            continue;
        }
        if (i + 2 < n && s[i + 1] == '#') {
            int hex = s[i + 2] == 'x' || s[i + 2] == 'X';
            size_t j = i + 2 + hex;
            unsigned long v = 0;
            while (j < n && (hex ? isxdigit((unsigned char)s[j]) : isdigit((unsigned char)s[j])) && v < 0x110000)
                v = v * (hex ? 16 : 10) + (unsigned long)(isdigit((unsigned char)s[j]) ? s[j] - '0' : (tolower((unsigned char)s[j]) - 'a' + 10)), j++;
            if (j < n && s[j] == ';' && v > 0 && v < 128) {
                out[o++] = (char)v;
                i = j;
                continue;
            }
        }
        out[o++] = '&';
    }
    out[o] = '\0';
    return out;
}

struct tag_attr {
    const char *name, *value;
    size_t name_len, value_len;
};

/* Attributes of the tag whose name ends at p, until its '>'; returns the position after '>' or NULL. */
static const char *read_attrs(const char *p, const char *end, struct tag_attr *attrs, size_t max, size_t *n)
{
    *n = 0;
    while (p < end) {
        while (p < end && isspace((unsigned char)*p))
            p++;
        if (p < end && (*p == '>' || *p == '/')) {
            if (*p == '/') {
                p++;
                continue;
            }
            return p + 1;
        }
        const char *name = p;
        while (p < end && !isspace((unsigned char)*p) && *p != '=' && *p != '>' && *p != '/')
            p++;
        if (p == name)
            return NULL;
        struct tag_attr a = {.name = name, .name_len = (size_t)(p - name), .value = "", .value_len = 0};
        while (p < end && isspace((unsigned char)*p))
            p++;
        if (p < end && *p == '=') {
            p++;
            while (p < end && isspace((unsigned char)*p))
                p++;
            if (p < end && (*p == '"' || *p == '\'')) {
                const char *close = memchr(p + 1, *p, (size_t)(end - p - 1));
                if (!close)
                    return NULL;
                a.value = p + 1;
                a.value_len = (size_t)(close - p - 1);
                p = close + 1;
            } else {
                a.value = p;
                while (p < end && !isspace((unsigned char)*p) && *p != '>')
                    p++;
                a.value_len = (size_t)(p - a.value);
            }
        }
        if (*n < max)
            attrs[(*n)++] = a;
    }
    return NULL;
}

static const struct tag_attr *attr(const struct tag_attr *attrs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (attrs[i].name_len == strlen(name) && !strncasecmp(attrs[i].name, name, attrs[i].name_len))
            return &attrs[i];
    return NULL;
}

static int tag_is(const char *p, const char *end, const char *name)
{
    size_t l = strlen(name);
    return (size_t)(end - p) > l && !strncasecmp(p, name, l) && (isspace((unsigned char)p[l]) || p[l] == '>');
}

/* The metadata attribute's value: "true", or "sha256=HEX" (PEP 714); "false" says there is none. */
static void read_metadata_attr(struct pip_file *f, const struct tag_attr *a)
{
    if (!a || (a->value_len == 5 && !strncasecmp(a->value, "false", 5)))
        return;
    f->has_metadata = 1;
    if (a->value_len == 71 && !strncmp(a->value, "sha256=", 7) && is_hex64(a->value + 7, 64))
        copy_hex(f->metadata_sha256, a->value + 7);
}

int pip_index_parse_html(struct pip_project *into, const char *text, size_t len, const char *base_url,
                         const char *source)
{
    const char *p = text, *end = text + len;
    char *base = strdup(base_url);
    int rc = base ? 0 : nomem();
    while (!rc && (p = memchr(p, '<', (size_t)(end - p)))) {
        p++;
        struct tag_attr attrs[16];
        size_t n = 0;
        if (tag_is(p, end, "base")) {
            const char *after = read_attrs(p + 4, end, attrs, 16, &n);
            const struct tag_attr *h = attr(attrs, n, "href");
            char *href = h ? decode_entities(h->value, h->value_len) : NULL;
            char *joined = href ? pip_index_join_url(base, href) : NULL;
            if (joined) {
                free(base);
                base = joined;
            }
            free(href);
            p = after ? after : end;
            continue;
        }
        if (!tag_is(p, end, "a"))
            continue;
        const char *after = read_attrs(p + 1, end, attrs, 16, &n);
        if (!after) {
            int line = 1;
            for (const char *q = text; q < p; q++)
                line += *q == '\n';
            rc = err_set(ERR_PARSE, "%s:%d: an <a> tag is never closed", source, line);
            break;
        }
        const struct tag_attr *h = attr(attrs, n, "href");
        const char *close = after;
        while (close < end && !(close[0] == '<' && close + 1 < end && close[1] == '/'))
            close++;
        p = close;
        if (!h)
            continue;
        char *href = decode_entities(h->value, h->value_len);
        char *label = decode_entities(after, (size_t)(close - after));
        char *url = href ? pip_index_join_url(base, href) : NULL;
        if (!href || !label || !url) {
            rc = nomem();
        } else {
            char *name = label;
            while (isspace((unsigned char)*name))
                name++;
            size_t nl = strlen(name);
            while (nl && isspace((unsigned char)name[nl - 1]))
                nl--;
            if (!nl) { /* no text: the URL's last segment names the file */
                name = strrchr(url, '/') ? strrchr(url, '/') + 1 : url;
                nl = strcspn(name, "?");
            }
            size_t before = into->n_files;
            rc = add_file(into, name, nl, url, source);
            if (!rc && into->n_files > before) {
                struct pip_file *f = &into->files[before];
                const char *frag = strstr(href, "#sha256=");
                if (frag && is_hex64(frag + 8, strlen(frag + 8)))
                    copy_hex(f->sha256, frag + 8);
                const struct tag_attr *rp = attr(attrs, n, "data-requires-python");
                if (rp && rp->value_len && !(f->requires_python = decode_entities(rp->value, rp->value_len)))
                    rc = nomem();
                const struct tag_attr *md = attr(attrs, n, "data-core-metadata");
                read_metadata_attr(f, md ? md : attr(attrs, n, "data-dist-info-metadata"));
                f->yanked = attr(attrs, n, "data-yanked") != NULL;
            }
        }
        free(href);
        free(label);
        free(url);
    }
    free(base);
    return rc;
}

/* ---- JSON (PEP 691) ---- */

static int json_fail(const char *source, const struct json_value *v, const char *what)
{
    return err_set(ERR_PARSE, "%s:%d:%d: %s", source, v->line, v->column, what);
}

int pip_index_parse_json(struct pip_project *into, const char *text, size_t len, const char *base_url,
                         const char *source)
{
    struct arena arena;
    arena_init(&arena, 1u << 20, (size_t)2 << 30);
    struct json_value *root = NULL;
    int rc = json_parse(&root, &arena, text, len, source);
    const struct json_value *files = rc ? NULL : json_member(root, "files");
    if (!rc && (root->type != JSON_OBJECT || !files || files->type != JSON_ARRAY))
        rc = json_fail(source, root, "a PEP 691 project page is an object with a \"files\" array");
    for (const struct json_value *f = files ? files->child : NULL; f && !rc; f = f->next) {
        const struct json_value *fn = json_member(f, "filename"), *url = json_member(f, "url");
        if (f->type != JSON_OBJECT || !fn || fn->type != JSON_STRING || !url || url->type != JSON_STRING) {
            rc = json_fail(source, f, "files[]: each file has a \"filename\" and a \"url\" string");
            break;
        }
        char *abs = pip_index_join_url(base_url, url->as.string.ptr);
        size_t before = into->n_files;
        rc = abs ? add_file(into, fn->as.string.ptr, strlen(fn->as.string.ptr), abs, source) : nomem();
        free(abs);
        if (rc || into->n_files == before)
            continue;
        struct pip_file *pf = &into->files[before];
        const struct json_value *hashes = json_member(f, "hashes"), *sha = hashes ? json_member(hashes, "sha256") : NULL;
        if (sha && sha->type == JSON_STRING && is_hex64(sha->as.string.ptr, sha->as.string.len))
            copy_hex(pf->sha256, sha->as.string.ptr);
        const struct json_value *rp = json_member(f, "requires-python");
        if (rp && rp->type == JSON_STRING && rp->as.string.len && !(pf->requires_python = strdup(rp->as.string.ptr)))
            rc = nomem();
        const struct json_value *md = json_member(f, "core-metadata");
        if (!md)
            md = json_member(f, "dist-info-metadata");
        if (md && md->type == JSON_BOOL)
            pf->has_metadata = md->as.boolean;
        else if (md && md->type == JSON_OBJECT) {
            pf->has_metadata = 1;
            const struct json_value *ms = json_member(md, "sha256");
            if (ms && ms->type == JSON_STRING && is_hex64(ms->as.string.ptr, ms->as.string.len))
                copy_hex(pf->metadata_sha256, ms->as.string.ptr);
        }
        const struct json_value *y = json_member(f, "yanked");
        pf->yanked = y && ((y->type == JSON_BOOL && y->as.boolean) || y->type == JSON_STRING);
    }
    arena_release(&arena);
    return rc;
}

/* ---- fetching ---- */

int pip_index_fetch(struct buf *out, const char *url, const char *accept, char **content_type)
{
    return url_fetch(out, url, accept, content_type);
}

static int parse_page(struct pip_project *into, const struct buf *body, const char *type, const char *url)
{
    const char *text = body->data ? body->data : "";
    size_t skip = 0;
    while (skip < body->len && isspace((unsigned char)text[skip]))
        skip++;
    int json = type ? strstr(type, "json") != NULL : (skip < body->len && text[skip] == '{');
    if (!type && !json && strlen(text) != body->len)
        return err_set(ERR_PARSE, "%s: not an index page (binary data)", url);
    return json ? pip_index_parse_json(into, text, body->len, url, url)
                : pip_index_parse_html(into, text, body->len, url, url);
}

int pip_index_project(struct pip_project *into, const char *index_url, const char *name)
{
    char *url = NULL, *type = NULL;
    size_t il = strlen(index_url);
    if (asprintf(&url, "%s%s%s/", index_url, il && index_url[il - 1] == '/' ? "" : "/", name) < 0)
        return nomem();
    struct buf body;
    buf_init(&body, PIP_INDEX_MAX_BYTES);
    int rc = 0;
    if (!strncmp(url, "file://", 7)) { /* a folder has no content negotiation: index.html or index.json */
        char *page = NULL;
        if (asprintf(&page, "%sindex.html", url) < 0)
            rc = nomem();
        rc = rc ? rc : pip_index_fetch(&body, page, NULL, NULL);
        struct stat st;
        if (rc && stat(page + 7, &st) != 0) { /* the folder does not know the project */
            err_clear();
            rc = 0;
            buf_reset(&body);
        }
        rc = rc ? rc : parse_page(into, &body, NULL, url);
        free(page);
    } else {
        rc = pip_index_fetch(&body, url, "application/vnd.pypi.simple.v1+json, text/html;q=0.1", &type);
        if (rc == ERR_NOTFOUND) { /* the index does not know the project */
            err_clear();
            rc = 0;
        } else if (!rc) {
            rc = parse_page(into, &body, type, url);
        }
    }
    free(type);
    free(url);
    buf_release(&body);
    return rc;
}

/* 1 when filename is a distribution of project name: "name-1.0-...whl", "name-1.0.tar.gz", "Name_x-1.0.zip". */
static int file_is_for(const char *filename, const char *name)
{
    char norm[PEP508_MAX_NAME];
    for (const char *dash = strchr(filename, '-'); dash; dash = strchr(dash + 1, '-')) {
        if (!isdigit((unsigned char)dash[1]) && dash[1] != 'v')
            continue;
        if (!pep508_normalize_name(norm, sizeof norm, filename, (size_t)(dash - filename)) && !strcmp(norm, name))
            return 1;
        size_t l = strlen(filename);
        if (l > 4 && !strcmp(filename + l - 4, ".whl"))
            return 0; /* a wheel's name ends at its first '-' */
    }
    return 0;
}

static int is_distribution(const char *fn)
{
    static const char *const exts[] = {".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz", NULL};
    size_t l = strlen(fn);
    for (size_t i = 0; exts[i]; i++)
        if (l > strlen(exts[i]) && !strcmp(fn + l - strlen(exts[i]), exts[i]))
            return 1;
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_folder(struct pip_project *into, const char *dir, const char *name)
{
    DIR *d = opendir(dir);
    if (!d)
        return err_set_errno(ERR_IO, "--find-links %s", dir);
    char **names = NULL;
    size_t n = 0;
    int rc = 0;
    for (struct dirent *e; !rc && (e = readdir(d));) {
        if (e->d_name[0] == '.' || !is_distribution(e->d_name) || !file_is_for(e->d_name, name))
            continue;
        char **grown = realloc(names, (n + 1) * sizeof *grown);
        if (!grown || !(grown[n] = strdup(e->d_name))) {
            names = grown ? grown : names;
            rc = nomem();
            break;
        }
        names = grown;
        n++;
    }
    closedir(d);
    if (!rc)
        qsort(names, n, sizeof *names, compare_names);
    for (size_t i = 0; i < n && !rc; i++) {
        char *url = NULL;
        if (asprintf(&url, "file://%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", names[i]) < 0)
            rc = nomem();
        else
            rc = add_file(into, names[i], strlen(names[i]), url, dir);
        free(url);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

int pip_index_find_links(struct pip_project *into, const char *location, const char *name)
{
    const char *path = !strncmp(location, "file://", 7) ? location + 7 : location[0] == '/' ? location : NULL;
    struct stat st;
    if (path && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return list_folder(into, path, name);
    if (path && strncmp(location, "file://", 7))
        return err_set(ERR_NOTFOUND, "--find-links %s: no such folder", location);
    struct pip_project page = {0};
    struct buf body;
    buf_init(&body, PIP_INDEX_MAX_BYTES);
    int rc = pip_index_fetch(&body, location, "text/html", NULL);
    rc = rc ? rc : pip_index_parse_html(&page, body.data ? body.data : "", body.len, location, location);
    for (size_t i = 0; i < page.n_files && !rc; i++) {
        if (!file_is_for(page.files[i].filename, name))
            continue;
        struct pip_file *grown = realloc(into->files, (into->n_files + 1) * sizeof *grown);
        if (!grown) {
            rc = nomem();
            break;
        }
        into->files = grown;
        into->files[into->n_files++] = page.files[i];
        memset(&page.files[i], 0, sizeof page.files[i]);
    }
    pip_project_release(&page);
    buf_release(&body);
    return rc;
}
