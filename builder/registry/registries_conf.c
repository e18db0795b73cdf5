#include "builder/registry/registries_conf.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/path.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_ENTRIES 1000
#define MAX_MIRRORS 100
#define MAX_FILE_SIZE (4u << 20)

enum section { SEC_TOP, SEC_REGISTRY, SEC_MIRROR, SEC_ALIASES };
enum vtype { V_STRING, V_BOOL, V_ARRAY };

struct value {
    enum vtype type;
    char *s; /* V_STRING */
    int b;   /* V_BOOL */
};

struct reader {
    struct registries_conf *conf;
    const char *file;
    int line;
    enum section sec;
    unsigned seen; /* keys set in the current table, as bits of the key list */
};

static int nomem(void)
{
    return err_set(ERR_NOMEM, "out of memory");
}

static int bad(const struct reader *r, const char *what)
{
    return err_set(ERR_PARSE, "%s:%d: %s", r->file, r->line, what);
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* Only blanks and a comment may follow a value or a header. */
static int at_line_end(const char *p, const char *end)
{
    p = skip_ws(p, end);
    return p == end || *p == '#';
}

/* A basic ("...") or literal ('...') string starting at *pp; *pp moves past it. */
static int read_string(const struct reader *r, const char **pp, const char *end, char **out)
{
    const char *p = *pp;
    char quote = *p++;
    struct buf b;
    buf_init(&b, 64 * 1024);
    int rc = 0;
    while (!rc && p < end && *p != quote) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 && c != '\t') {
            rc = bad(r, "control character in a string");
            break;
        }
        if (quote == '"' && c == '\\') {
            if (++p == end)
                break;
            static const char from[] = "\"\\btnfr", to[] = "\"\\\b\t\n\f\r";
            const char *at = memchr(from, *p, sizeof from - 1);
            if (!at) {
                rc = err_set(ERR_PARSE, "%s:%d: unsupported escape '\\%c' in a string", r->file, r->line,
                             *p >= 0x20 && *p < 0x7f ? *p : '?');
                break;
            }
            rc = buf_append(&b, &to[at - from], 1);
        } else {
            rc = buf_append(&b, p, 1);
        }
        p++;
    }
    if (!rc && p == end)
        rc = bad(r, "unterminated string (strings end on their line)");
    if (!rc && !(*out = strdup(b.data ? b.data : "")))
        rc = nomem();
    buf_release(&b);
    if (!rc)
        *pp = p + 1;
    return rc;
}

static int read_value(const struct reader *r, const char **pp, const char *end, struct value *v)
{
    const char *p = *pp;
    memset(v, 0, sizeof *v);
    if (p < end && (*p == '"' || *p == '\'')) {
        v->type = V_STRING;
        return read_string(r, pp, end, &v->s);
    }
    if ((size_t)(end - p) >= 4 && !memcmp(p, "true", 4)) {
        v->type = V_BOOL, v->b = 1, *pp = p + 4;
        return 0;
    }
    if ((size_t)(end - p) >= 5 && !memcmp(p, "false", 5)) {
        v->type = V_BOOL, *pp = p + 5;
        return 0;
    }
    if (p < end && *p == '[') {
        /* One-line arrays of strings; the keys that take them are not used, so the strings are dropped. */
        v->type = V_ARRAY;
        p = skip_ws(p + 1, end);
        while (p < end && *p != ']') {
            char *s = NULL;
            if (*p != '"' && *p != '\'')
                return bad(r, "arrays hold strings, on one line");
            int rc = read_string(r, &p, end, &s);
            free(s);
            if (rc)
                return rc;
            p = skip_ws(p, end);
            if (p < end && *p == ',')
                p = skip_ws(p + 1, end);
            else if (p < end && *p != ']')
                return bad(r, "expected ',' or ']' in an array");
        }
        if (p == end)
            return bad(r, "unterminated array (arrays end on their line)");
        *pp = p + 1;
        return 0;
    }
    return bad(r, "expected a string, true, false or an array");
}

static struct registries_entry *current_entry(const struct reader *r)
{
    return &r->conf->entries[r->conf->n_entries - 1];
}

static int new_entry(struct reader *r)
{
    struct registries_conf *c = r->conf;
    if (c->n_entries >= MAX_ENTRIES)
        return bad(r, "too many [[registry]] tables");
    struct registries_entry *e = realloc(c->entries, (c->n_entries + 1) * sizeof *e);
    if (!e)
        return nomem();
    c->entries = e;
    e = &c->entries[c->n_entries];
    memset(e, 0, sizeof *e);
    e->line = r->line;
    if (!(e->file = strdup(r->file)))
        return nomem();
    c->n_entries++;
    return 0;
}

static int new_mirror(struct reader *r)
{
    if (r->sec != SEC_REGISTRY && r->sec != SEC_MIRROR)
        return bad(r, "[[registry.mirror]] must follow a [[registry]] table");
    struct registries_entry *e = current_entry(r);
    if (e->n_mirrors >= MAX_MIRRORS)
        return bad(r, "too many mirrors for one registry");
    struct registries_mirror *m = realloc(e->mirrors, (e->n_mirrors + 1) * sizeof *m);
    if (!m)
        return nomem();
    e->mirrors = m;
    memset(&m[e->n_mirrors], 0, sizeof *m);
    m[e->n_mirrors++].line = r->line;
    return 0;
}

/* A host[:port][/path] as registries.conf writes it: no scheme, no wildcard, no tag. */
static int check_location(const struct reader *r, const char *key, const char *s)
{
    if (!s[0])
        return err_set(ERR_INVALID, "%s:%d: %s: empty", r->file, r->line, key);
    if (strstr(s, "://"))
        return err_set(ERR_INVALID, "%s:%d: %s: '%s': write host[:port][/path], without a scheme", r->file,
                       r->line, key, s);
    if (strchr(s, '*'))
        return err_set(ERR_UNSUPPORTED, "%s:%d: %s: '%s': wildcard prefixes are not supported by amlpkg", r->file,
                       r->line, key, s);
    if (strchr(s, '@') || s[strlen(s) - 1] == '/' || strchr(s, ' '))
        return err_set(ERR_INVALID, "%s:%d: %s: '%s' is not a registry or repository location", r->file, r->line,
                       key, s);
    return 0;
}

static int want(const struct reader *r, const char *key, const struct value *v, enum vtype type)
{
    static const char *const names[] = {"a string", "true or false", "an array of strings"};
    if (v->type == type)
        return 0;
    return err_set(ERR_INVALID, "%s:%d: %s: expected %s", r->file, r->line, key, names[type]);
}

/* Sets key in the current table; takes v->s when it keeps it. */
static int set_key(struct reader *r, const char *key, struct value *v)
{
    static const char *const top[] = {"unqualified-search-registries", "short-name-mode", "credential-helpers"};
    static const enum vtype top_types[] = {V_ARRAY, V_STRING, V_ARRAY};
    static const char *const reg[] = {"prefix", "location", "insecure", "blocked", "mirror-by-digest-only"};
    static const enum vtype reg_types[] = {V_STRING, V_STRING, V_BOOL, V_BOOL, V_BOOL};
    static const char *const mir[] = {"location", "insecure", "pull-from-mirror"};
    static const enum vtype mir_types[] = {V_STRING, V_BOOL, V_STRING};
    const char *const *names = top;
    const enum vtype *types = top_types;
    size_t n = 3;
    if (r->sec == SEC_ALIASES)
        return want(r, key, v, V_STRING); /* short-name aliases: amlpkg's references are never short names */
    if (r->sec == SEC_REGISTRY)
        names = reg, types = reg_types, n = 5;
    else if (r->sec == SEC_MIRROR)
        names = mir, types = mir_types, n = 3;
    size_t i = 0;
    while (i < n && strcmp(names[i], key))
        i++;
    if (i == n)
        return err_set(ERR_UNSUPPORTED, "%s:%d: '%s': not a key amlpkg reads in %s", r->file, r->line, key,
                       r->sec == SEC_TOP        ? "the top level"
                       : r->sec == SEC_REGISTRY ? "[[registry]]"
                                                : "[[registry.mirror]]");
    if (r->seen & (1u << i))
        return err_set(ERR_INVALID, "%s:%d: '%s' is set twice in one table", r->file, r->line, key);
    r->seen |= 1u << i;
    int rc = want(r, key, v, types[i]);
    if (rc || r->sec == SEC_TOP)
        return rc;
    if (r->sec == SEC_REGISTRY) {
        struct registries_entry *e = current_entry(r);
        if (i <= 1 && (rc = check_location(r, key, v->s)))
            return rc;
        if (i == 0)
            e->prefix = v->s, v->s = NULL;
        else if (i == 1)
            e->location = v->s, v->s = NULL;
        else
            *(i == 2 ? &e->insecure : i == 3 ? &e->blocked : &e->mirror_by_digest_only) = v->b;
        return 0;
    }
    struct registries_entry *e = current_entry(r);
    struct registries_mirror *m = &e->mirrors[e->n_mirrors - 1];
    if (i == 0) {
        if ((rc = check_location(r, key, v->s)))
            return rc;
        m->location = v->s, v->s = NULL;
    } else if (i == 1) {
        m->insecure = v->b;
    } else if (!strcmp(v->s, "all") || !strcmp(v->s, "digest-only") || !strcmp(v->s, "tag-only")) {
        m->pull_from = !strcmp(v->s, "all")           ? REGISTRIES_PULL_ALL
                       : !strcmp(v->s, "digest-only") ? REGISTRIES_PULL_DIGEST_ONLY
                                                      : REGISTRIES_PULL_TAG_ONLY;
    } else {
        return err_set(ERR_INVALID, "%s:%d: pull-from-mirror: '%s': expected all, digest-only or tag-only", r->file,
                       r->line, v->s);
    }
    return 0;
}

/* What a finished table must have. */
static int finish_table(const struct reader *r)
{
    if (r->sec == SEC_REGISTRY || r->sec == SEC_MIRROR) {
        const struct registries_entry *e = current_entry(r);
        if (r->sec == SEC_MIRROR && !e->mirrors[e->n_mirrors - 1].location)
            return err_set(ERR_INVALID, "%s:%d: [[registry.mirror]]: location is required", r->file,
                           e->mirrors[e->n_mirrors - 1].line);
        if (r->sec == SEC_REGISTRY && !e->prefix && !e->location)
            return err_set(ERR_INVALID, "%s:%d: [[registry]]: set prefix or location", r->file, e->line);
    }
    return 0;
}

static int read_header(struct reader *r, const char *p, const char *end)
{
    int dbl = end - p >= 2 && p[1] == '[';
    p += dbl ? 2 : 1;
    const char *close = p;
    while (close < end && *close != ']')
        close++;
    if (close == end || (dbl && (close + 1 == end || close[1] != ']')))
        return bad(r, "unterminated table header");
    const char *a = skip_ws(p, close), *b = close;
    while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
        b--;
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(b - a), a);
    if (!at_line_end(close + (dbl ? 2 : 1), end))
        return bad(r, "text after a table header");
    int rc = finish_table(r);
    if (rc)
        return rc;
    r->seen = 0;
    if (dbl && !strcmp(name, "registry")) {
        r->sec = SEC_REGISTRY;
        return new_entry(r);
    }
    if (dbl && !strcmp(name, "registry.mirror")) {
        rc = new_mirror(r);
        r->sec = SEC_MIRROR;
        return rc;
    }
    if (!dbl && !strcmp(name, "aliases")) {
        r->sec = SEC_ALIASES;
        return 0;
    }
    if (!dbl && !strncmp(name, "registries.", 11))
        return err_set(ERR_UNSUPPORTED,
                       "%s:%d: [%s]: the version 1 format is not supported: write [[registry]] tables "
                       "(containers-registries.conf(5))",
                       r->file, r->line, name);
    return err_set(ERR_UNSUPPORTED, "%s:%d: [%s%s%s]: not a table amlpkg reads", r->file, r->line, dbl ? "[" : "",
                   name, dbl ? "]" : "");
}

static int read_line(struct reader *r, const char *p, const char *end)
{
    p = skip_ws(p, end);
    if (p == end || *p == '#')
        return 0;
    if (*p == '[')
        return read_header(r, p, end);
    char key[128];
    if (*p == '"' || *p == '\'') {
        char *k = NULL;
        int rc = read_string(r, &p, end, &k);
        if (rc)
            return rc;
        snprintf(key, sizeof key, "%s", k);
        free(k);
        if (r->sec != SEC_ALIASES)
            return err_set(ERR_UNSUPPORTED, "%s:%d: '%s': not a key amlpkg reads", r->file, r->line, key);
    } else {
        const char *k = p;
        while (p < end && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                           *p == '-' || *p == '_'))
            p++;
        if (p == k || p - k >= (long)sizeof key)
            return bad(r, "expected a key, a table header or a comment");
        snprintf(key, sizeof key, "%.*s", (int)(p - k), k);
    }
    p = skip_ws(p, end);
    if (p == end || *p != '=')
        return err_set(ERR_PARSE, "%s:%d: '%s': expected '=' after the key (dotted keys are not supported)", r->file,
                       r->line, key);
    p = skip_ws(p + 1, end);
    struct value v;
    int rc = read_value(r, &p, end, &v);
    if (!rc && !at_line_end(p, end))
        rc = bad(r, "text after the value");
    rc = rc ? rc : set_key(r, key, &v);
    free(v.s);
    return rc;
}

int registries_conf_parse(struct registries_conf *conf, const char *text, size_t len, const char *file)
{
    struct reader r = {.conf = conf, .file = file, .sec = SEC_TOP};
    const char *p = text, *end = text + len;
    int rc = 0;
    while (!rc && p < end) {
        r.line++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        if (n && p[n - 1] == '\r')
            n--;
        const char *stop = p + n;
        if (strnlen(p, n) < n)
            rc = bad(&r, "NUL byte");
        else
            rc = read_line(&r, p, stop);
        p = nl ? nl + 1 : end;
    }
    return rc ? rc : finish_table(&r);
}

static int parse_file(struct registries_conf *conf, const char *path)
{
    struct buf b;
    buf_init(&b, MAX_FILE_SIZE);
    int rc = buf_read_file(&b, path);
    if (!rc)
        rc = registries_conf_parse(conf, b.data ? b.data : "", b.len, path);
    buf_release(&b);
    return rc;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* registries.conf.d/ *.conf, in name order, after the main file (as podman reads them). */
static int parse_drop_ins(struct registries_conf *conf, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    char **names = NULL;
    size_t n = 0;
    int rc = 0;
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len <= 5 || strcmp(de->d_name + len - 5, ".conf") || de->d_name[0] == '.')
            continue;
        char **grown = realloc(names, (n + 1) * sizeof *names);
        if (!grown || !(grown[n] = path_join(dir, de->d_name))) {
            names = grown ? grown : names;
            rc = nomem();
            break;
        }
        names = grown;
        n++;
    }
    closedir(d);
    if (names)
        qsort(names, n, sizeof *names, compare_names);
    for (size_t i = 0; i < n && !rc; i++)
        rc = parse_file(conf, names[i]);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

int registries_conf_load(struct registries_conf **out, const char *path)
{
    *out = NULL;
    struct registries_conf *c = calloc(1, sizeof *c);
    if (!c)
        return nomem();
    const char *env = getenv(REGISTRIES_CONF_ENV);
    int rc = 0;
    if (!path && env && env[0])
        path = env;
    if (path) {
        rc = parse_file(c, path);
    } else {
        struct stat st;
        if (stat(REGISTRIES_CONF_SYSTEM, &st) == 0)
            rc = parse_file(c, REGISTRIES_CONF_SYSTEM);
        rc = rc ? rc : parse_drop_ins(c, REGISTRIES_CONF_SYSTEM ".d");
    }
    if (rc)
        registries_conf_free(c);
    else
        *out = c;
    return rc;
}

void registries_conf_release(struct registries_conf *conf)
{
    for (size_t i = 0; i < conf->n_entries; i++) {
        struct registries_entry *e = &conf->entries[i];
        for (size_t j = 0; j < e->n_mirrors; j++)
            free(e->mirrors[j].location);
        free(e->mirrors);
        free(e->prefix);
        free(e->location);
        free(e->file);
    }
    free(conf->entries);
    memset(conf, 0, sizeof *conf);
}

void registries_conf_free(struct registries_conf *conf)
{
    if (!conf)
        return;
    registries_conf_release(conf);
    free(conf);
}

/* ref with its "registry/repository" prefix (plen bytes of name) replaced by location. */
static int rewrite(struct reference *out, const struct reference *ref, const char *name, size_t plen,
                   const char *location, const struct registries_entry *e)
{
    char text[1024];
    int n = snprintf(text, sizeof text, "%s%s", location, name + plen);
    if (n < 0 || (size_t)n >= sizeof text)
        return err_set(ERR_INVALID, "%s:%d: '%s': the rewritten reference is too long", e->file, e->line, location);
    err_clear();
    int rc = reference_parse(out, text);
    if (rc)
        return err_set(ERR_INVALID, "%s:%d: '%s' makes '%s' of '%s', which is not an image reference", e->file,
                       e->line, location, text, name);
    snprintf(out->tag, sizeof out->tag, "%s", ref->tag);
    snprintf(out->digest, sizeof out->digest, "%s", ref->digest);
    return 0;
}

int registries_conf_endpoints(struct registries_endpoint **out, size_t *n_out, const struct registries_conf *conf,
                              const struct reference *ref)
{
    *out = NULL;
    *n_out = 0;
    char name[600];
    snprintf(name, sizeof name, "%s/%s", ref->registry, ref->repository);
    const struct registries_entry *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; conf && i < conf->n_entries; i++) {
        const struct registries_entry *e = &conf->entries[i];
        const char *prefix = e->prefix ? e->prefix : e->location;
        size_t len = strlen(prefix);
        if (!strncmp(name, prefix, len) && (name[len] == '\0' || name[len] == '/') && len > best_len)
            best = e, best_len = len;
    }
    if (best && best->blocked)
        return err_set(ERR_UNSUPPORTED, "%s:%d: '%s' is blocked (blocked = true): not pulling '%s'", best->file,
                       best->line, best->prefix ? best->prefix : best->location, name);
    size_t cap = best ? best->n_mirrors + 1 : 1;
    struct registries_endpoint *eps = calloc(cap, sizeof *eps);
    if (!eps)
        return nomem();
    size_t n = 0;
    int rc = 0;
    int by_digest = ref->digest[0] != '\0';
    for (size_t j = 0; best && j < best->n_mirrors && !rc; j++) {
        const struct registries_mirror *m = &best->mirrors[j];
        enum registries_pull_from from = best->mirror_by_digest_only ? REGISTRIES_PULL_DIGEST_ONLY : m->pull_from;
        if ((from == REGISTRIES_PULL_DIGEST_ONLY && !by_digest) || (from == REGISTRIES_PULL_TAG_ONLY && by_digest))
            continue;
        if (!(rc = rewrite(&eps[n].ref, ref, name, best_len, m->location, best))) {
            eps[n].insecure = m->insecure;
            eps[n++].mirror = 1;
        }
    }
    if (!rc && best)
        rc = rewrite(&eps[n].ref, ref, name, best_len, best->location ? best->location : best->prefix, best);
    else if (!rc)
        eps[n].ref = *ref;
    if (!rc) {
        eps[n++].insecure = best ? best->insecure : 0;
        *out = eps;
        *n_out = n;
    } else {
        free(eps);
    }
    return rc;
}
