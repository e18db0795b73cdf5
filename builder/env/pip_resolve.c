#include "builder/env/pip_resolve.h"

#include "builder/env/pip_index.h"
#include "builder/env/wheel_metadata.h"
#include "builder/sys/digest.h"
#include "common/buf.h"
#include "common/err.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WHEEL_MAX_BYTES ((size_t)8 << 30)

static int nomem(void)
{
    return err_set(ERR_NOMEM, "out of memory");
}

/* One version of a project: its best wheel for the target, or why there is none. */
struct candidate {
    struct pep440_version v;
    char label[PEP508_MAX_NAME + PEP440_MAX_TEXT + 2]; /* "name 1.0", for messages */
    char version_text[PEP440_MAX_TEXT];
    struct pip_file *wheel; /* NULL: no wheel the target can install */
    long rank;
    struct pip_file *sdist, *other_wheel; /* for messages */
    int yanked, python_ok;
    int meta_loaded;
    struct pep508_req *deps;
    size_t n_deps;
};

struct project {
    char name[PEP508_MAX_NAME];
    const char *installed; /* the conda part's version, or NULL */
    struct pip_project files;
    struct candidate *cands; /* newest first */
    size_t n_cands;
    int loaded;
    int pin; /* index into cands, -1 when not chosen */
};

/* A requirement in force: on a project, from the environment file or from a chosen wheel. */
struct active {
    const struct pep508_req *req;
    size_t project;
    const char *from;
};

struct resolver {
    const struct conda_env *env;
    const char *source;
    const struct pip_resolve_options *opt;
    char *index; /* NULL: none (--no-index) */
    char **extra_indexes, **find_links;
    size_t n_extra, n_find;
    int no_index, pre;
    struct pep508_req *roots;
    char (*root_from)[64];
    size_t n_roots;
    struct project *projects;
    size_t n_projects;
    struct buf conflict; /* the first conflict met: what the error says when nothing resolves */
    long attempts;
    char python_full[32];
};

/* ---- options of the pip section ---- */

static int add_string(char ***list, size_t *n, const char *s, size_t len)
{
    char **grown = realloc(*list, (*n + 1) * sizeof *grown);
    if (!grown)
        return nomem();
    *list = grown;
    if (!(grown[*n] = strndup(s, len)))
        return nomem();
    (*n)++;
    return 0;
}

/* A --find-links given as a relative path is relative to the environment file, as pip reads it in a
 * requirements file. */
static int add_find_links(struct resolver *r, const char *v, size_t len)
{
    if (strstr(v, "://") && strstr(v, "://") < v + len)
        return add_string(&r->find_links, &r->n_find, v, len);
    if (v[0] == '/')
        return add_string(&r->find_links, &r->n_find, v, len);
    const char *slash = strrchr(r->source, '/');
    char *path = NULL;
    if (asprintf(&path, "%.*s%.*s", slash ? (int)(slash - r->source + 1) : 0, r->source, (int)len, v) < 0)
        return nomem();
    char *abs = realpath(path, NULL);
    int rc = abs ? add_string(&r->find_links, &r->n_find, abs, strlen(abs))
                 : err_set(ERR_NOTFOUND, "%s: dependencies: pip: --find-links %.*s: no such folder (%s)", r->source,
                           (int)len, v, path);
    free(abs);
    free(path);
    return rc;
}

static int read_options(struct resolver *r)
{
    int rc = 0;
    for (size_t i = 0; i < r->env->n_pip_options && !rc; i++) {
        const char *o = r->env->pip_options[i];
        size_t name_len = strcspn(o, " \t=");
        const char *v = o + name_len;
        while (*v == ' ' || *v == '\t' || *v == '=')
            v++;
        size_t vl = strcspn(v, " \t");
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(name_len < 63 ? name_len : 63), o);
        if (!strcmp(name, "-i") || !strcmp(name, "--index-url")) {
            if (!vl)
                goto needs_value;
            free(r->index);
            if (!(r->index = strndup(v, vl)))
                rc = nomem();
        } else if (!strcmp(name, "--extra-index-url")) {
            if (!vl)
                goto needs_value;
            rc = add_string(&r->extra_indexes, &r->n_extra, v, vl);
        } else if (!strcmp(name, "-f") || !strcmp(name, "--find-links")) {
            if (!vl)
                goto needs_value;
            rc = add_find_links(r, v, vl);
        } else if (!strcmp(name, "--no-index")) {
            r->no_index = 1;
        } else if (!strcmp(name, "--pre")) {
            r->pre = 1;
        } else if (!strcmp(name, "--only-binary") || !strcmp(name, "--prefer-binary") ||
                   !strcmp(name, "--trusted-host")) {
            /* only wheels are locked anyway; hosts are trusted by their certificates */
        } else {
            rc = err_set(ERR_UNSUPPORTED,
                         "%s: dependencies: pip: option '%s' is not understood by amlpkg lock (it reads --index-url, "
                         "--extra-index-url, --find-links, --no-index and --pre)",
                         r->source, o);
        }
        continue;
    needs_value:
        rc = err_set(ERR_INVALID, "%s: dependencies: pip: option '%s' needs a value", r->source, o);
    }
    return rc;
}

/* ---- projects and their candidates ---- */

static int compare_candidates(const void *a, const void *b)
{
    const struct candidate *x = a, *y = b;
    return pep440_compare(&y->v, &x->v); /* newest first */
}

/* The version an sdist's name gives ("Foo-1.0.tar.gz" for project foo), or -1. */
static int sdist_version(struct pep440_version *v, char *text, size_t size, const char *filename, const char *name)
{
    static const char *const exts[] = {".tar.gz", ".zip", ".tar.bz2", ".tgz", NULL};
    size_t l = strlen(filename), ext = 0;
    for (size_t i = 0; exts[i] && !ext; i++)
        if (l > strlen(exts[i]) && !strcmp(filename + l - strlen(exts[i]), exts[i]))
            ext = strlen(exts[i]);
    if (!ext)
        return -1;
    char norm[PEP508_MAX_NAME];
    const char *why;
    for (const char *dash = strchr(filename, '-'); dash; dash = strchr(dash + 1, '-')) {
        if (pep508_normalize_name(norm, sizeof norm, filename, (size_t)(dash - filename)) || strcmp(norm, name))
            continue;
        size_t vl = l - ext - (size_t)(dash + 1 - filename);
        if (vl < size && !pep440_parse(v, dash + 1, vl, &why)) {
            snprintf(text, size, "%.*s", (int)vl, dash + 1);
            return 0;
        }
    }
    return -1;
}

static struct candidate *candidate_for(struct project *p, const struct pep440_version *v, const char *text)
{
    for (size_t i = 0; i < p->n_cands; i++)
        if (!pep440_compare(&p->cands[i].v, v))
            return &p->cands[i];
    struct candidate *grown = realloc(p->cands, (p->n_cands + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    p->cands = grown;
    struct candidate *c = memset(&grown[p->n_cands++], 0, sizeof *c);
    c->v = *v;
    c->yanked = 1;
    c->python_ok = 1;
    snprintf(c->version_text, sizeof c->version_text, "%s", text);
    snprintf(c->label, sizeof c->label, "%s %s", p->name, text);
    return c;
}

static int python_allows(const struct resolver *r, const char *requires_python)
{
    struct pep440_specset s;
    struct pep440_version v;
    const char *why;
    if (!requires_python || pep440_specset_parse(&s, requires_python, strlen(requires_python), &why) ||
        pep440_parse(&v, r->python_full, strlen(r->python_full), &why))
        return 1; /* an unreadable Requires-Python does not exclude, as pip ignores it */
    return pep440_specset_contains(&s, &v, r->python_full, 1);
}

static int load_project(struct resolver *r, struct project *p)
{
    int rc = 0;
    p->loaded = 1;
    if (r->index && !r->no_index)
        rc = pip_index_project(&p->files, r->index, p->name);
    for (size_t i = 0; i < r->n_extra && !rc && !r->no_index; i++)
        rc = pip_index_project(&p->files, r->extra_indexes[i], p->name);
    for (size_t i = 0; i < r->n_find && !rc; i++)
        rc = pip_index_find_links(&p->files, r->find_links[i], p->name);
    for (size_t i = 0; i < p->files.n_files && !rc; i++) {
        struct pip_file *f = &p->files.files[i];
        struct wheel_filename w;
        struct pep440_version sv;
        char stext[PEP440_MAX_TEXT];
        const char *why;
        if (!wheel_filename_parse(&w, f->filename, &why)) {
            if (strcmp(w.name, p->name))
                continue;
            struct candidate *c = candidate_for(p, &w.version, w.version_text);
            if (!c)
                return nomem();
            long rank = wheel_tags_rank(&r->opt->target, &w);
            int python_ok = python_allows(r, f->requires_python);
            if (rank >= 0 && python_ok && (!c->wheel || rank < c->rank || (rank == c->rank && c->wheel->yanked))) {
                c->wheel = f;
                c->rank = rank;
            } else if (rank >= 0 && !python_ok && !c->wheel) {
                c->python_ok = 0;
            }
            if (!c->other_wheel)
                c->other_wheel = f;
            c->yanked &= f->yanked;
        } else if (!sdist_version(&sv, stext, sizeof stext, f->filename, p->name)) {
            struct candidate *c = candidate_for(p, &sv, stext);
            if (!c)
                return nomem();
            if (!c->sdist)
                c->sdist = f;
            c->yanked &= f->yanked;
        }
    }
    for (size_t i = 0; i < p->n_cands; i++)
        if (p->cands[i].wheel)
            p->cands[i].python_ok = 1;
    if (!rc && p->n_cands) /* no candidates: cands may be NULL, which qsort must not get */
        qsort(p->cands, p->n_cands, sizeof *p->cands, compare_candidates);
    return rc;
}

static size_t find_project(struct resolver *r, const char *name)
{
    for (size_t i = 0; i < r->n_projects; i++)
        if (!strcmp(r->projects[i].name, name))
            return i;
    return (size_t)-1;
}

static int project_of(size_t *out, struct resolver *r, const char *name, const struct pip_installed *installed,
                      size_t n_installed)
{
    size_t i = find_project(r, name);
    if (i != (size_t)-1) {
        *out = i;
        return 0;
    }
    struct project *grown = realloc(r->projects, (r->n_projects + 1) * sizeof *grown);
    if (!grown)
        return nomem();
    r->projects = grown;
    struct project *p = memset(&grown[r->n_projects], 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->pin = -1;
    for (size_t k = 0; k < n_installed; k++) {
        char norm[PEP508_MAX_NAME];
        if (!pep508_normalize_name(norm, sizeof norm, installed[k].name, strlen(installed[k].name)) &&
            !strcmp(norm, name))
            p->installed = installed[k].version;
    }
    *out = r->n_projects++;
    return 0;
}

/* ---- a wheel's metadata ---- */

static int check_sha256(const char *want, const char *have, const char *url)
{
    if (want[0] && strcmp(want, have))
        return err_set(ERR_MISMATCH, "%s: sha256 mismatch: the index says %s, the file has %s", url, want, have);
    return 0;
}

/* Downloads the wheel (verified against the index's sha256, or hashed) and returns its bytes in body; with a
 * cache, the wheel is kept there under its sha256, so the build that installs the lock downloads nothing. */
static int fetch_wheel(struct buf *body, struct pip_file *f, struct cache *cache)
{
    char digest[DIGEST_STRING_SIZE], kept[CACHE_DIGEST_SIZE];
    int rc = pip_index_fetch(body, f->url, NULL, NULL);
    rc = rc ? rc : digest_buffer(digest, body->data ? body->data : "", body->len);
    rc = rc ? rc : check_sha256(f->sha256, digest + 7, f->url);
    if (!rc && !f->sha256[0])
        snprintf(f->sha256, sizeof f->sha256, "%s", digest + 7);
    return rc || !cache ? rc : cache_put_blob_buffer(cache, body->data ? body->data : "", body->len, kept);
}

/* 1 when the cache holds the wheel with this sha256 (hex). */
static int wheel_cached(struct cache *cache, const char *sha256)
{
    char digest[CACHE_DIGEST_SIZE], *path = NULL;
    snprintf(digest, sizeof digest, "sha256:%s", sha256);
    int rc = cache_blob_path(cache, digest, &path), have = !rc && path && access(path, R_OK) == 0;
    free(path);
    err_clear();
    return have;
}

static int load_metadata(struct resolver *r, struct project *p, struct candidate *c)
{
    struct buf text, wheel;
    buf_init(&text, WHEEL_METADATA_MAX_BYTES);
    buf_init(&wheel, WHEEL_MAX_BYTES);
    struct wheel_metadata m = {0};
    char *url = NULL, digest[DIGEST_STRING_SIZE];
    struct pip_file *f = c->wheel;
    int rc = 0;
    if (f->has_metadata) { /* PEP 658: the metadata alone, not the whole wheel */
        if (asprintf(&url, "%s.metadata", f->url) < 0)
            url = NULL, rc = nomem();
        rc = rc ? rc : pip_index_fetch(&text, url, NULL, NULL);
        rc = rc ? rc : digest_buffer(digest, text.data ? text.data : "", text.len);
        rc = rc ? rc : check_sha256(f->metadata_sha256, digest + 7, url);
        if (rc == ERR_NOTFOUND) { /* offered but missing: read the wheel instead */
            err_clear();
            rc = 0;
            buf_reset(&text);
            f->has_metadata = 0;
        }
    }
    if (!rc && !f->has_metadata) {
        rc = fetch_wheel(&wheel, f, r->opt->cache);
        rc = rc ? rc : wheel_metadata_extract(&text, wheel.data, wheel.len, f->url);
    }
    const char *where = url && f->has_metadata ? url : f->url;
    rc = rc ? rc : wheel_metadata_parse(&m, text.data ? text.data : "", text.len, where);
    char norm[PEP508_MAX_NAME];
    struct pep440_version v;
    const char *why = NULL;
    if (!rc && (!m.name || pep508_normalize_name(norm, sizeof norm, m.name, strlen(m.name)) || strcmp(norm, p->name) ||
                !m.version || pep440_parse(&v, m.version, strlen(m.version), &why) || pep440_compare(&v, &c->v)))
        rc = err_set(ERR_INVALID, "%s: the metadata names %s %s, not %s", where, m.name ? m.name : "(no Name)",
                     m.version ? m.version : "(no Version)", c->label);
    if (!rc && !python_allows(r, m.requires_python))
        c->python_ok = 0;
    if (!rc && m.n_requires_dist && !(c->deps = calloc(m.n_requires_dist, sizeof *c->deps)))
        rc = nomem();
    for (size_t i = 0; i < m.n_requires_dist && !rc; i++) {
        if (pep508_parse(&c->deps[i], m.requires_dist[i], &why))
            rc = err_set(ERR_INVALID, "%s: Requires-Dist '%s': %s", where, m.requires_dist[i], why);
        else
            c->n_deps++;
    }
    c->meta_loaded = !rc;
    wheel_metadata_release(&m);
    buf_release(&text);
    buf_release(&wheel);
    free(url);
    return rc;
}

/* ---- resolution ---- */

/* Does the marker hold for the target, with no extra or one of the extras asked for on the project? */
static int marker_holds(struct resolver *r, const struct pep508_req *req, const struct active *list, size_t n,
                        size_t project)
{
    const char *why;
    if (!req->marker[0] || pep508_marker_eval(req->marker, &r->opt->markers, "", &why) == 1)
        return 1;
    if (!strstr(req->marker, "extra"))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (list[i].project == project)
            for (size_t e = 0; e < list[i].req->n_extras; e++)
                if (pep508_marker_eval(req->marker, &r->opt->markers, list[i].req->extras[e], &why) == 1)
                    return 1;
    return 0;
}

static int push_active(struct active **list, size_t *n, size_t *cap, const struct pep508_req *req, size_t project,
                       const char *from)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        struct active *grown = realloc(*list, c * sizeof *grown);
        if (!grown)
            return nomem();
        *list = grown;
        *cap = c;
    }
    (*list)[(*n)++] = (struct active){.req = req, .project = project, .from = from};
    return 0;
}

/* The requirements in force given the choices so far: the roots, then what each chosen wheel needs
 * (for the extras asked for on it). Extras are judged on the previous pass's list; passes repeat until
 * the list stops growing (it only grows: more entries ask for more extras). */
static int collect(struct resolver *r, struct active **out, size_t *n_out, const struct pip_installed *installed,
                   size_t n_installed)
{
    struct active *prev = NULL;
    size_t prev_n = 0;
    for (int pass = 0;; pass++) {
        struct active *list = NULL;
        size_t n = 0, cap = 0;
        int rc = 0;
        const char *why;
        for (size_t i = 0; i < r->n_roots && !rc; i++) {
            if (r->roots[i].marker[0] && pep508_marker_eval(r->roots[i].marker, &r->opt->markers, "", &why) != 1)
                continue;
            size_t proj;
            rc = project_of(&proj, r, r->roots[i].name, installed, n_installed);
            rc = rc ? rc : push_active(&list, &n, &cap, &r->roots[i], proj, r->root_from[i]);
        }
        for (size_t p = 0; p < r->n_projects && !rc; p++) {
            if (r->projects[p].pin < 0)
                continue;
            struct candidate *c = &r->projects[p].cands[r->projects[p].pin];
            for (size_t d = 0; d < c->n_deps && !rc; d++) {
                if (!marker_holds(r, &c->deps[d], prev ? prev : list, prev ? prev_n : n, p))
                    continue;
                size_t proj;
                rc = project_of(&proj, r, c->deps[d].name, installed, n_installed);
                rc = rc ? rc : push_active(&list, &n, &cap, &c->deps[d], proj, c->label);
            }
        }
        free(prev);
        if (rc) {
            free(list);
            return rc;
        }
        if (pass > 0 && n == prev_n) {
            *out = list;
            *n_out = n;
            return 0;
        }
        prev = list;
        prev_n = n;
    }
}

static void describe(struct resolver *r, const struct active *list, size_t n, size_t project, const char *what)
{
    if (r->conflict.len)
        return;
    struct project *p = &r->projects[project];
    buf_appendf(&r->conflict, "%s; the requirements on %s:", what, p->name);
    for (size_t i = 0; i < n; i++)
        if (list[i].project == project) {
            char spec[1024];
            pep440_specset_format(spec, sizeof spec, &list[i].req->spec);
            buf_appendf(&r->conflict, "\n  '%s%s' (%s)", p->name, spec[0] ? spec : "", list[i].from);
        }
}

/* 1 when c satisfies every requirement in force on the project. */
static int satisfies(const struct active *list, size_t n, size_t project, const struct pep440_version *v,
                     const char *text, int allow_pre)
{
    for (size_t i = 0; i < n; i++)
        if (list[i].project == project && !pep440_specset_contains(&list[i].req->spec, v, text, allow_pre))
            return 0;
    return 1;
}

static int pinned_exactly(const struct active *list, size_t n, size_t project)
{
    for (size_t i = 0; i < n; i++)
        if (list[i].project == project)
            for (size_t k = 0; k < list[i].req->spec.n; k++)
                if ((list[i].req->spec.clauses[k].op == PEP440_EQ && !list[i].req->spec.clauses[k].wildcard) ||
                    list[i].req->spec.clauses[k].op == PEP440_ARBITRARY)
                    return 1;
    return 0;
}

static int wants_pre(const struct resolver *r, const struct active *list, size_t n, size_t project)
{
    if (r->pre)
        return 1;
    for (size_t i = 0; i < n; i++)
        if (list[i].project == project && pep440_specset_allows_pre(&list[i].req->spec))
            return 1;
    return 0;
}

static const char *target_text(const struct resolver *r, char *out, size_t size)
{
    const struct wheel_target *t = &r->opt->target;
    snprintf(out, size, "CPython %d.%d on glibc %d.%d %s", t->py_major, t->py_minor, t->glibc_major, t->glibc_minor,
             t->arch);
    return out;
}

/* 0: resolved; 1: no resolution under the current choices (backtrack); <0: an error. */
static int solve(struct resolver *r, const struct pip_installed *installed, size_t n_installed)
{
    struct active *list = NULL;
    size_t n = 0;
    int rc = collect(r, &list, &n, installed, n_installed);
    if (rc)
        goto done;
    /* Everything chosen (or installed by conda) must still satisfy what is now asked of it. */
    for (size_t i = 0; i < n && !rc; i++) {
        struct project *p = &r->projects[list[i].project];
        if (p->installed) {
            struct pep440_version v;
            const char *why;
            if (!pep440_parse(&v, p->installed, strlen(p->installed), &why) &&
                !pep440_specset_contains(&list[i].req->spec, &v, p->installed, 1)) {
                char what[512];
                snprintf(what, sizeof what, "the conda packages install %s %s, which does not satisfy it", p->name,
                         p->installed);
                describe(r, list, n, list[i].project, what);
                rc = 1;
            }
        } else if (p->pin >= 0) {
            struct candidate *c = &p->cands[p->pin];
            if (!satisfies(list, n, list[i].project, &c->v, c->version_text, 1)) {
                char what[512];
                snprintf(what, sizeof what, "%s was chosen, but does not satisfy every requirement", c->label);
                describe(r, list, n, list[i].project, what);
                rc = 1;
            }
        }
    }
    if (rc)
        goto done;
    size_t next = (size_t)-1;
    for (size_t i = 0; i < n && next == (size_t)-1; i++) {
        struct project *p = &r->projects[list[i].project];
        if (!p->installed && p->pin < 0)
            next = list[i].project;
    }
    if (next == (size_t)-1)
        goto done; /* every requirement is met */
    struct project *p = &r->projects[next];
    if (!p->loaded && (rc = load_project(r, p)))
        goto done;
    int exact = pinned_exactly(list, n, next), pre = wants_pre(r, list, n, next), any_final = 0;
    for (size_t k = 0; k < p->n_cands && !pre; k++) /* pre-releases only when nothing final matches */
        any_final |= p->cands[k].wheel && !pep440_is_prerelease(&p->cands[k].v) &&
                     satisfies(list, n, next, &p->cands[k].v, p->cands[k].version_text, 0);
    pre = pre || !any_final;
    int tried = 0;
    const struct candidate *sdist_only = NULL; /* the newest matching version with nothing but an sdist */
    for (size_t k = 0; k < p->n_cands; k++) {
        /* Re-read each time: a deeper solve() adds projects and may move r->projects. */
        p = &r->projects[next];
        struct candidate *c = &p->cands[k];
        if (!satisfies(list, n, next, &c->v, c->version_text, pre) || (c->yanked && !exact))
            continue;
        if (!c->wheel) { /* skipped, as pip --only-binary :all: skips it */
            if (c->sdist && !c->other_wheel && !sdist_only)
                sdist_only = c;
            continue;
        }
        if (++r->attempts > PIP_RESOLVE_MAX_ATTEMPTS) {
            rc = err_set(ERR_LIMIT, "%s: dependencies: pip: no resolution after trying %d versions; pin some "
                                    "requirements (==) to narrow the search",
                         r->source, PIP_RESOLVE_MAX_ATTEMPTS);
            goto done;
        }
        if (!c->meta_loaded && (rc = load_metadata(r, p, c)))
            goto done;
        if (!c->python_ok)
            continue;
        tried = 1;
        p->pin = (int)k;
        rc = solve(r, installed, n_installed);
        if (rc <= 0)
            goto done; /* resolved, or an error */
        p = &r->projects[next];
        p->pin = -1;
    }
    p = &r->projects[next];
    rc = 1;
    if (!tried && sdist_only) {
        rc = err_set(ERR_UNSUPPORTED,
                     "%s: dependencies: pip: %s has no wheel, only a source distribution (%s): amlpkg lock "
                     "resolves wheels only, because building an sdist runs its code; build without "
                     "environment.lock_file (the executor route runs pip), or put a wheel of it in a "
                     "--find-links folder",
                     r->source, sdist_only->label, sdist_only->sdist->filename);
    } else if (!tried) {
        char what[1024], tgt[128];
        size_t with_wheels = 0;
        for (size_t k = 0; k < p->n_cands; k++)
            with_wheels += p->cands[k].other_wheel != NULL;
        if (!p->n_cands)
            snprintf(what, sizeof what, "no source has %s (%s%s%zu --find-links)", p->name,
                     r->index && !r->no_index ? r->index : "", r->index && !r->no_index ? " and " : "", r->n_find);
        else if (with_wheels && !satisfies(list, n, next, &p->cands[0].v, p->cands[0].version_text, 1))
            snprintf(what, sizeof what, "no version of %s satisfies every requirement (the newest is %s)", p->name,
                     p->cands[0].version_text);
        else
            snprintf(what, sizeof what, "no version of %s that matches has a wheel for %s (e.g. %s)", p->name,
                     target_text(r, tgt, sizeof tgt),
                     p->cands[0].other_wheel ? p->cands[0].other_wheel->filename : "none");
        describe(r, list, n, next, what);
    }
done:
    free(list);
    return rc;
}

static void release(struct resolver *r)
{
    free(r->index);
    for (size_t i = 0; i < r->n_extra; i++)
        free(r->extra_indexes[i]);
    free(r->extra_indexes);
    for (size_t i = 0; i < r->n_find; i++)
        free(r->find_links[i]);
    free(r->find_links);
    free(r->roots);
    free(r->root_from);
    for (size_t i = 0; i < r->n_projects; i++) {
        for (size_t k = 0; k < r->projects[i].n_cands; k++)
            free(r->projects[i].cands[k].deps);
        free(r->projects[i].cands);
        pip_project_release(&r->projects[i].files);
    }
    free(r->projects);
    buf_release(&r->conflict);
}

void pip_pins_free(struct pip_pin *pins, size_t n)
{
    for (size_t i = 0; pins && i < n; i++) {
        free(pins[i].name);
        free(pins[i].version);
        free(pins[i].filename);
        free(pins[i].url);
    }
    free(pins);
}

static int compare_pins(const void *a, const void *b)
{
    return strcmp(((const struct pip_pin *)a)->name, ((const struct pip_pin *)b)->name);
}

/* The chosen wheels, each with its sha256 (downloaded and hashed when the index gave none). */
static int make_pins(struct pip_pin **out, size_t *n_out, struct resolver *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_projects; i++)
        n += r->projects[i].pin >= 0;
    struct pip_pin *pins = calloc(n + 1, sizeof *pins);
    if (!pins)
        return nomem();
    size_t k = 0;
    int rc = 0;
    for (size_t i = 0; i < r->n_projects && !rc; i++) {
        struct project *p = &r->projects[i];
        if (p->pin < 0)
            continue;
        struct candidate *c = &p->cands[p->pin];
        if (!c->wheel->sha256[0] || (r->opt->cache && !wheel_cached(r->opt->cache, c->wheel->sha256))) {
            struct buf body;
            buf_init(&body, WHEEL_MAX_BYTES);
            rc = fetch_wheel(&body, c->wheel, r->opt->cache);
            buf_release(&body);
        }
        struct pip_pin *pin = &pins[k++];
        pin->name = strdup(p->name);
        pin->version = strdup(c->version_text);
        pin->filename = strdup(c->wheel->filename);
        pin->url = strdup(c->wheel->url);
        snprintf(pin->sha256, sizeof pin->sha256, "%s", c->wheel->sha256);
        if (!rc && (!pin->name || !pin->version || !pin->filename || !pin->url))
            rc = nomem();
    }
    if (rc) {
        pip_pins_free(pins, k);
        return rc;
    }
    qsort(pins, k, sizeof *pins, compare_pins);
    *out = pins;
    *n_out = k;
    return 0;
}

int pip_resolve(struct pip_pin **out, size_t *n_out, const struct conda_env *env, const char *source,
                const struct pip_installed *installed, size_t n_installed, const struct pip_resolve_options *opt)
{
    *out = NULL;
    *n_out = 0;
    struct resolver r = {.env = env, .source = source, .opt = opt};
    buf_init(&r.conflict, 1u << 20);
    snprintf(r.python_full, sizeof r.python_full, "%s",
             opt->markers.python_full_version ? opt->markers.python_full_version : "");
    int rc = (r.index = strdup(opt->index_mirror ? opt->index_mirror : PIP_INDEX_DEFAULT)) ? 0 : nomem();
    rc = rc ? rc : read_options(&r);
    if (!rc && (!(r.roots = calloc(env->n_pip + 1, sizeof *r.roots)) ||
                !(r.root_from = calloc(env->n_pip + 1, sizeof *r.root_from))))
        rc = nomem();
    for (size_t i = 0; i < env->n_pip && !rc; i++) {
        const char *why = NULL;
        if (pep508_parse(&r.roots[i], env->pip[i].text, &why))
            rc = err_set(ERR_INVALID, "%s:%d: dependencies: pip: '%s': %s%s", source, env->pip[i].line,
                         env->pip[i].text, why,
                         strstr(env->pip[i].text, "://") || env->pip[i].text[0] == '.' || env->pip[i].text[0] == '/'
                             ? " (URLs and paths are not locked: put the wheel in a --find-links folder and name it)"
                             : "");
        else if (r.roots[i].url[0])
            rc = err_set(ERR_UNSUPPORTED,
                         "%s:%d: dependencies: pip: '%s': direct references (name @ URL) are not locked: put the "
                         "wheel in a --find-links folder and name the project",
                         source, env->pip[i].line, env->pip[i].text);
        snprintf(r.root_from[i], sizeof r.root_from[i], "%s:%d", source, env->pip[i].line);
        r.n_roots += !rc;
    }
    if (!rc) {
        rc = solve(&r, installed, n_installed);
        if (rc == 1)
            rc = err_set(ERR_INVALID, "%s: dependencies: pip: the requirements cannot be satisfied together: %s",
                         source, r.conflict.data ? r.conflict.data : "no resolution");
    }
    rc = rc ? rc : make_pins(out, n_out, &r);
    release(&r);
    return rc;
}
