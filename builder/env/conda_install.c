#include "builder/env/conda_install.h"

#include "builder/env/conda_extract.h"
#include "builder/env/conda_fetch.h"
#include "builder/env/conda_pkg.h"
#include "builder/env/conda_prefix.h"
#include "builder/env/pip_install.h"
#include "builder/spec/conda_lockfile.h"
#include "builder/sys/fs_copy.h"
#include "builder/sys/fsutil.h"
#include "builder/sys/progress.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/path.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int nomem(void)
{
    return err_set(ERR_NOMEM, "out of memory");
}

/* What the post-link scripts' order needs from one installed package. */
struct installed {
    char **depends; /* dependency names, from info/index.json */
    size_t n_depends;
    long build_number;
    int post_link, visited;
};

/* What one install needs at hand. */
struct install {
    const char *prefix;      /* in the image */
    char *stage;             /* stage_root + prefix */
    char python_version[16]; /* "3.11", or "" when the lock has no python */
    const char *lock_name;
    struct buf history;
    int allow_scripts;
    struct installed *installed; /* one per lock entry, for the post-link scripts' order */
};

/* "3.11" from the lock's python package ("3.11.4"); "" when there is none. */
static void python_version(char out[16], const struct conda_lock_entry *e, size_t n)
{
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (strcmp(e[i].name, "python"))
            continue;
        const char *v = e[i].version, *dot = strchr(v, '.');
        size_t len = dot ? strspn(dot + 1, "0123456789") : 0;
        if (dot && len)
            snprintf(out, 16, "%.*s", (int)(dot + 1 + len - v) < 15 ? (int)(dot + 1 + len - v) : 15, v);
    }
}

/* Where a package's path goes in the prefix: noarch: python moves site-packages/ and python-scripts/. */
static char *target_path(const struct install *in, const struct conda_pkg_info *info, const char *path)
{
    char *out = NULL;
    if (info->noarch_python && !strncmp(path, "site-packages/", 14)) {
        if (asprintf(&out, "lib/python%s/site-packages/%s", in->python_version, path + 14) < 0)
            out = NULL;
    } else if (info->noarch_python && !strncmp(path, "python-scripts/", 15)) {
        if (asprintf(&out, "bin/%s", path + 15) < 0)
            out = NULL;
    } else
        out = strdup(path);
    return out;
}

/* Package scripts are code run at install time. Without allow_scripts each is refused, naming the package, the
 * script and the flag; with it a post-link script is recorded to run (*post_link set), a pre-unlink script is left
 * alone (conda runs it only when the package is removed) and a pre-link script is still refused (conda
 * deprecated them, and they would have to run before the package's files are in place). */
static int check_scripts(int *post_link, const struct conda_pkg_info *info, const struct conda_lock_entry *e,
                         int allow_scripts)
{
    static const char *const kinds[] = {"pre-link", "post-link", "pre-unlink"};
    *post_link = 0;
    for (size_t i = 0; i < info->n_paths; i++)
        for (size_t k = 0; k < 3; k++) {
            char want[512];
            snprintf(want, sizeof want, "bin/.%s-%s.sh", info->name, kinds[k]);
            if (strcmp(info->paths[i].path, want))
                continue;
            if (allow_scripts && k == 1)
                *post_link = 1;
            else if (allow_scripts && k == 0)
                return err_set(ERR_UNSUPPORTED,
                               "%s: package %s-%s-%s has a pre-link script (%s): amlpkg runs post-link scripts "
                               "(--allow-scripts) but not pre-link ones, which conda has deprecated",
                               e->url, e->name, e->version, e->build, want);
            else if (!allow_scripts)
                return err_set(ERR_UNSUPPORTED,
                               "%s: package %s-%s-%s has a %s script (%s): amlpkg does not run package scripts "
                               "unless asked to: build with --allow-scripts (or environment.allow_scripts: true) to "
                               "run post-link scripts through the executor on top of the installed environment",
                               e->url, e->name, e->version, e->build, kinds[k], want);
        }
    return 0;
}

static int append_path_data(struct buf *paths, const char *path, const char *type, const struct conda_pkg_path *p)
{
    int rc = buf_append_str(paths, paths->len ? ",{\"_path\":" : "{\"_path\":");
    rc = rc ? rc : json_write_string(paths, path, strlen(path));
    rc = rc ? rc : buf_appendf(paths, ",\"path_type\":\"%s\"", type);
    if (!rc && p && p->placeholder) {
        rc = buf_appendf(paths, ",\"file_mode\":\"%s\",\"prefix_placeholder\":", p->binary ? "binary" : "text");
        rc = rc ? rc : json_write_string(paths, p->placeholder, strlen(p->placeholder));
    }
    return rc ? rc : buf_append(paths, "}", 1);
}

static int append_file(struct buf *files, const char *path)
{
    int rc = files->len ? buf_append(files, ",", 1) : 0;
    return rc ? rc : json_write_string(files, path, strlen(path));
}

/* Moves one unpacked path into the prefix, replacing the build prefix; records it. */
static int link_path(struct install *in, const struct conda_pkg_info *info, const struct conda_pkg_path *p,
                     const char *pkg_dir, const char *what, struct buf *files, struct buf *paths)
{
    char *rel = target_path(in, info, p->path), *src = path_join(pkg_dir, p->path), *dst = NULL, *msg = NULL;
    char *land = NULL; /* rel with an earlier package's linked folders followed (lib64 -> lib) */
    int rc = rel && src ? conda_prefix_resolve_dirs(&land, in->stage, in->prefix, rel, what) : nomem();
    rc = rc ? rc : (dst = path_join(in->stage, land)) ? 0 : nomem();
    if (!rc && asprintf(&msg, "%s: %s", what, rel) < 0)
        msg = NULL, rc = nomem();
    if (!rc)
        rc = fs_make_parents_inside(in->stage, land, what);
    if (rc)
        goto done;
    struct stat st;
    if (p->type == CONDA_PATH_DIR) {
        if (mkdir(dst, 0755) < 0 && errno != EEXIST)
            rc = err_set_errno(ERR_IO, "%s: cannot create", msg);
        rc = rc ? rc : append_path_data(paths, rel, "directory", NULL);
        goto done;
    }
    if (lstat(src, &st) < 0) {
        rc = err_set(ERR_INVALID, "%s: the package lists '%s' but does not hold it", what, p->path);
        goto done;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = err_set(ERR_INVALID, "%s: '%s' is listed as a file but is a directory", what, p->path);
        goto done;
    }
    if ((unlink(dst) < 0 && errno != ENOENT) || rename(src, dst) < 0) {
        rc = err_set_errno(ERR_IO, "%s: cannot link into the environment", msg);
        goto done;
    }
    if (p->placeholder && !S_ISLNK(st.st_mode))
        rc = conda_prefix_replace_file(dst, p->placeholder, in->prefix, p->binary, msg);
    rc = rc ? rc : append_file(files, rel);
    rc = rc ? rc : append_path_data(paths, rel, S_ISLNK(st.st_mode) ? "softlink" : "hardlink", p);
done:
    free(rel);
    free(land);
    free(src);
    free(dst);
    free(msg);
    return rc;
}

/* bin/NAME for "NAME = module:function", as conda writes it for noarch: python entry points. */
static int write_entry_point(struct install *in, const char *spec, const char *what, struct buf *files,
                             struct buf *paths)
{
    const char *eq = strchr(spec, '='), *colon = strchr(eq, ':');
    const char *n0 = spec, *n1 = eq, *m0 = eq + 1, *m1 = colon, *f0 = colon + 1, *f1 = colon + strlen(colon);
    while (n1 > n0 && n1[-1] == ' ')
        n1--;
    while (*m0 == ' ')
        m0++;
    while (m1 > m0 && m1[-1] == ' ')
        m1--;
    while (*f0 == ' ')
        f0++;
    while (f1 > f0 && (f1[-1] == ' ' || f1[-1] == '\n'))
        f1--;
    if (n1 == n0 || m1 == m0 || f1 == f0 || memchr(n0, '/', (size_t)(n1 - n0)))
        return err_set(ERR_INVALID, "%s: info/link.json: entry point '%s' is not 'NAME = module:function'", what, spec);
    /* The function may be "main" or "Cli.main": what is imported is its first part. */
    const char *dot = memchr(f0, '.', (size_t)(f1 - f0));
    size_t import_len = dot ? (size_t)(dot - f0) : (size_t)(f1 - f0);
    char *rel = NULL, *path = NULL;
    struct buf b;
    buf_init(&b, 0);
    int rc = asprintf(&rel, "bin/%.*s", (int)(n1 - n0), n0) < 0 ? (rel = NULL, nomem()) : 0;
    rc = rc ? rc : (path = path_join(in->stage, rel)) ? 0 : nomem();
    rc = rc ? rc
            : buf_appendf(&b,
                          "#!%s/bin/python\n# -*- coding: utf-8 -*-\nimport re\nimport sys\n\nfrom %.*s import %.*s\n\n"
                          "if __name__ == '__main__':\n"
                          "    sys.argv[0] = re.sub(r'(-script\\.pyw?|\\.exe)?$', '', sys.argv[0])\n"
                          "    sys.exit(%.*s())\n",
                          in->prefix, (int)(m1 - m0), m0, (int)import_len, f0, (int)(f1 - f0), f0);
    rc = rc ? rc : fs_make_parents_inside(in->stage, rel, what);
    if (!rc) {
        unlink(path);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
        if (fd < 0 || write(fd, b.data, b.len) != (ssize_t)b.len)
            rc = err_set_errno(ERR_IO, "%s: cannot write the entry point '%s'", what, rel);
        if (fd >= 0)
            close(fd);
    }
    rc = rc ? rc : append_file(files, rel);
    rc = rc ? rc : append_path_data(paths, rel, "hardlink", NULL);
    buf_release(&b);
    free(rel);
    free(path);
    return rc;
}

static int is_added_key(const char *key, size_t len)
{
    static const char *const added[] = {"channel",
                                        "files",
                                        "fn",
                                        "link",
                                        "paths_data",
                                        "requested_spec",
                                        "sha256",
                                        "url",
                                        "extracted_package_dir",
                                        "package_tarball_full_path"};
    for (size_t i = 0; i < sizeof added / sizeof added[0]; i++)
        if (strlen(added[i]) == len && !memcmp(added[i], key, len))
            return 1;
    return 0;
}

/* conda-meta/NAME-VERSION-BUILD.json: the package's index.json with what conda adds when it links. */
static int write_record(struct install *in, const struct conda_pkg_info *info, const struct conda_lock_entry *e,
                        const struct buf *files, const struct buf *paths)
{
    struct buf b;
    buf_init(&b, 0);
    int rc = buf_append(&b, "{", 1);
    for (const struct json_value *m = info->index->child; m && !rc; m = m->next) {
        if (is_added_key(m->key, m->key_len))
            continue;
        rc = json_write_string(&b, m->key, m->key_len);
        rc = rc ? rc : buf_append(&b, ":", 1);
        rc = rc ? rc : json_write_value(&b, m);
        rc = rc ? rc : buf_append(&b, ",", 1);
    }
    rc = rc ? rc : buf_append_str(&b, "\"channel\":");
    rc = rc ? rc : json_write_string(&b, e->channel, strlen(e->channel));
    rc = rc ? rc : buf_appendf(&b, ",\"files\":[%.*s],\"fn\":", (int)files->len, files->data ? files->data : "");
    rc = rc ? rc : json_write_string(&b, e->filename, strlen(e->filename));
    rc = rc ? rc
            : buf_appendf(&b,
                          ",\"link\":{\"source\":\"\",\"type\":1},\"paths_data\":{\"paths\":[%.*s],"
                          "\"paths_version\":1},\"requested_spec\":\"\",\"sha256\":\"%s\",\"url\":",
                          (int)paths->len, paths->data ? paths->data : "", e->sha256);
    rc = rc ? rc : json_write_string(&b, e->url, strlen(e->url));
    rc = rc ? rc : buf_append_str(&b, "}\n");
    char rel[1200];
    snprintf(rel, sizeof rel, "conda-meta/%s-%s-%s.json", e->name, e->version, e->build);
    char *path = rc ? NULL : path_join(in->stage, rel);
    if (!rc && !path)
        rc = nomem();
    rc = rc ? rc : fs_make_parents_inside(in->stage, rel, in->lock_name);
    if (!rc) {
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(b.data, 1, b.len, f) != b.len)
            rc = err_set_errno(ERR_IO, "%s: cannot write", rel);
        if (f && fclose(f) && !rc)
            rc = err_set_errno(ERR_IO, "%s: cannot write", rel);
    }
    rc = rc ? rc : buf_appendf(&in->history, "+%s::%s-%s-%s\n", e->channel, e->name, e->version, e->build);
    free(path);
    buf_release(&b);
    return rc;
}

/* The dependency names (a spec's first word) and build number of a package, for the scripts' order. */
static int record_depends(struct installed *mine, const struct conda_pkg_info *info)
{
    const struct json_value *deps = json_member(info->index, "depends");
    const struct json_value *bn = json_member(info->index, "build_number");
    mine->build_number = bn && bn->type == JSON_NUMBER ? (long)bn->as.number : 0;
    if (!deps || deps->type != JSON_ARRAY || !deps->count)
        return 0;
    if (!(mine->depends = calloc(deps->count, sizeof *mine->depends)))
        return nomem();
    for (const struct json_value *d = deps->child; d; d = d->next) {
        if (d->type != JSON_STRING)
            continue;
        size_t n = strcspn(d->as.string.ptr, " =<>!~[");
        if (n && !(mine->depends[mine->n_depends++] = strndup(d->as.string.ptr, n)))
            return nomem();
    }
    return 0;
}

static int install_one(struct install *in, const struct conda_lock_entry *e, const char *pkg_dir,
                       struct installed *mine)
{
    struct conda_pkg_info info;
    struct buf files, paths;
    buf_init(&files, 0);
    buf_init(&paths, 0);
    memset(&info, 0, sizeof info);
    int rc = conda_pkg_info_read(&info, pkg_dir, e->url);
    if (!rc && (strcmp(info.name, e->name) || strcmp(info.version, e->version) || strcmp(info.build, e->build)))
        rc = err_set(ERR_INVALID, "%s:%d: %s: the package says it is %s-%s-%s", in->lock_name, e->line, e->url,
                     info.name, info.version, info.build);
    if (!rc && info.noarch_python && !in->python_version[0])
        rc = err_set(ERR_INVALID, "%s:%d: %s is a noarch: python package and the lock has no python package",
                     in->lock_name, e->line, e->filename);
    rc = rc ? rc : check_scripts(&mine->post_link, &info, e, in->allow_scripts);
    rc = rc ? rc : record_depends(mine, &info);
    for (size_t i = 0; i < info.n_paths && !rc; i++)
        rc = link_path(in, &info, &info.paths[i], pkg_dir, e->url, &files, &paths);
    for (size_t i = 0; i < info.n_entry_points && !rc; i++)
        rc = write_entry_point(in, info.entry_points[i], e->url, &files, &paths);
    rc = rc ? rc : write_record(in, &info, e, &files, &paths);
    conda_pkg_info_release(&info);
    buf_release(&files);
    buf_release(&paths);
    return rc;
}

/* Dependencies first, as conda links (and runs post-link scripts in) a topological order; among packages
 * that do not depend on each other, the lock's order. */
static int visit(struct conda_install_stats *stats, struct installed *all, const struct conda_lock_entry *e, size_t n,
                 size_t i)
{
    if (all[i].visited)
        return 0;
    all[i].visited = 1; /* also breaks dependency cycles, as conda's graph does, in lock order */
    for (size_t d = 0; d < all[i].n_depends; d++)
        for (size_t j = 0; j < n; j++)
            if (!strcmp(e[j].name, all[i].depends[d])) {
                int rc = visit(stats, all, e, n, j);
                if (rc)
                    return rc;
            }
    if (!all[i].post_link)
        return 0;
    struct conda_script *s = &stats->scripts[stats->n_scripts];
    s->build_number = all[i].build_number;
    if (!(s->name = strdup(e[i].name)) || !(s->version = strdup(e[i].version)) || !(s->build = strdup(e[i].build)))
        return nomem();
    stats->n_scripts++;
    return 0;
}

static int order_scripts(struct conda_install_stats *stats, struct installed *all, const struct conda_lock_entry *e,
                         size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += all[i].post_link;
    if (!count)
        return 0;
    if (!(stats->scripts = calloc(count, sizeof *stats->scripts)))
        return nomem();
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        rc = visit(stats, all, e, n, i);
    return rc;
}

void conda_install_stats_release(struct conda_install_stats *stats)
{
    for (size_t i = 0; i < stats->n_scripts; i++) {
        free(stats->scripts[i].name);
        free(stats->scripts[i].version);
        free(stats->scripts[i].build);
    }
    free(stats->scripts);
    stats->scripts = NULL;
    stats->n_scripts = 0;
}

static int write_history(struct install *in)
{
    char *path = path_join(in->stage, "conda-meta/history");
    FILE *f = path ? fopen(path, "wb") : NULL;
    int rc = 0;
    if (!path)
        rc = nomem();
    /* The lock's file name only: the layer must not depend on where the project sits on the host. */
    else if (!f || fprintf(f, "==> 1970-01-01 00:00:00 <==\n# cmd: amlpkg build (%s)\n%.*s",
                           strrchr(in->lock_name, '/') ? strrchr(in->lock_name, '/') + 1 : in->lock_name,
                           (int)in->history.len, in->history.data ? in->history.data : "") < 0)
        rc = err_set_errno(ERR_IO, "conda-meta/history: cannot write");
    if (f && fclose(f) && !rc)
        rc = err_set_errno(ERR_IO, "conda-meta/history: cannot write");
    free(path);
    return rc;
}

/* Unpacking is independent per package: CONDA_FETCH_JOBS threads unpack into pkgs/<i>, largest package first
 * (the interpreter, last in a lock sorted by name, would otherwise start after all the small ones and keep
 * one core busy alone at the end); linking (in lock order, so that a later package wins a clash) follows in
 * one thread. */
struct unpack_pool {
    const struct conda_lock_entry *entries;
    const struct conda_fetched *fetched;
    char **dirs;
    size_t n;
    size_t *order; /* package indexes, largest file first */
    off_t *sizes;
    atomic_size_t next;
    int *rc;
    char (*message)[1024];
};

static void *unpack_worker(void *arg)
{
    struct unpack_pool *p = arg;
    for (size_t k; (k = atomic_fetch_add(&p->next, 1)) < p->n;) {
        size_t i = p->order[k];
        err_clear();
        p->rc[i] = fs_make_dirs(p->dirs[i]);
        if (!p->rc[i])
            p->rc[i] = conda_extract(p->fetched[i].path, p->entries[i].filename, p->dirs[i], p->entries[i].url);
        if (p->rc[i])
            snprintf(p->message[i], sizeof p->message[i], "%s", err_message(p->rc[i]));
    }
    return NULL;
}

/* Largest first; equal sizes in lock order, so the order does not depend on qsort. */
static int larger_first(const void *a, const void *b, void *ctx)
{
    const off_t *sizes = ctx;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    return sizes[i] != sizes[j] ? (sizes[i] > sizes[j] ? -1 : 1) : (i > j) - (i < j);
}

static int unpack_all(char **dirs, const struct conda_lock_entry *entries, const struct conda_fetched *fetched,
                      size_t n)
{
    struct unpack_pool p = {.entries = entries,
                            .fetched = fetched,
                            .dirs = dirs,
                            .n = n,
                            .order = calloc(n ? n : 1, sizeof *p.order),
                            .sizes = calloc(n ? n : 1, sizeof *p.sizes),
                            .rc = calloc(n ? n : 1, sizeof *p.rc),
                            .message = calloc(n ? n : 1, sizeof *p.message)};
    int rc = p.rc && p.message && p.order && p.sizes ? 0 : nomem();
    for (size_t i = 0; !rc && i < n; i++) {
        struct stat st;
        p.order[i] = i;
        p.sizes[i] = stat(fetched[i].path, &st) == 0 ? st.st_size : 0; /* a missing file fails in its worker */
    }
    if (!rc)
        qsort_r(p.order, n, sizeof *p.order, larger_first, p.sizes);
    pthread_t threads[CONDA_FETCH_JOBS];
    size_t started = 0;
    for (; !rc && started < CONDA_FETCH_JOBS && started < n; started++)
        if (pthread_create(&threads[started], NULL, unpack_worker, &p))
            break;
    if (!rc && !started)
        unpack_worker(&p);
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    for (size_t i = 0; i < n && !rc; i++)
        if (p.rc[i])
            rc = err_set(p.rc[i], "%s", p.message[i]);
    free(p.rc);
    free(p.message);
    free(p.order);
    free(p.sizes);
    return rc;
}

int conda_install(struct conda_install_stats *stats, const char *lock_text, const char *lock_name, struct cache *cache,
                  const char *work_dir, const char *prefix, const char *stage_root, int allow_scripts)
{
    memset(stats, 0, sizeof *stats);
    struct conda_lock_entry *entries = NULL;
    size_t n = 0;
    struct conda_fetched *fetched = NULL;
    struct install in = {.prefix = prefix, .lock_name = lock_name, .allow_scripts = allow_scripts};
    buf_init(&in.history, 0);
    char *downloads = path_join(work_dir, "downloads"), *pkgs = path_join(work_dir, "pkgs");
    in.stage = path_join(stage_root, prefix[0] == '/' ? prefix + 1 : prefix);
    int rc = downloads && pkgs && in.stage ? 0 : nomem();
    rc = rc ? rc : conda_lockfile_entries(&entries, &n, lock_text, lock_name);
    if (!rc &&
        (!(fetched = calloc(n ? n : 1, sizeof *fetched)) || !(in.installed = calloc(n ? n : 1, sizeof *in.installed))))
        rc = nomem();
    python_version(in.python_version, entries, n);
    double t0 = progress_now();
    rc = rc ? rc : fs_make_dirs(downloads);
    rc = rc ? rc : conda_fetch_all(fetched, entries, n, cache, downloads);
    double t1 = progress_now();
    rc = rc ? rc : fs_make_dirs(in.stage);
    rc = rc ? rc : fs_make_dirs(pkgs);
    char **dirs = rc ? NULL : calloc(n ? n : 1, sizeof *dirs);
    if (!rc && !dirs)
        rc = nomem();
    for (size_t i = 0; i < n && !rc; i++) {
        char name[32];
        snprintf(name, sizeof name, "%zu", i);
        if (!(dirs[i] = path_join(pkgs, name)))
            rc = nomem();
    }
    rc = rc ? rc : unpack_all(dirs, entries, fetched, n);
    for (size_t i = 0; i < n && !rc; i++)
        rc = install_one(&in, &entries[i], dirs[i], &in.installed[i]);
    rc = rc ? rc : order_scripts(stats, in.installed, entries, n);
    for (size_t i = 0; dirs && i < n; i++)
        free(dirs[i]);
    free(dirs);
    if (pkgs)
        fs_remove_tree(pkgs);
    /* The lock's wheels go on top, as `pip install --no-deps` after `conda create` would put them. */
    rc = rc ? rc
            : pip_install_locked(&stats->wheels, lock_text, lock_name, cache, downloads, prefix, in.stage,
                                 in.python_version);
    if (!rc && n) {
        char *meta = path_join(in.stage, "conda-meta");
        rc = meta ? fs_make_dirs(meta) : nomem();
        free(meta);
        rc = rc ? rc : write_history(&in);
    }
    stats->packages = n;
    stats->seconds_fetch = t1 - t0;
    stats->seconds_link = progress_now() - t1;
    if (fetched)
        conda_fetch_release(fetched, n);
    free(fetched);
    for (size_t i = 0; in.installed && i < n; i++) {
        for (size_t d = 0; d < in.installed[i].n_depends; d++)
            free(in.installed[i].depends[d]);
        free(in.installed[i].depends);
    }
    free(in.installed);
    if (rc)
        conda_install_stats_release(stats);
    conda_lockfile_entries_free(entries, n);
    buf_release(&in.history);
    free(in.stage);
    free(downloads);
    free(pkgs);
    return rc;
}
