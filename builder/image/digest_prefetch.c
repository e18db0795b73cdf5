#include "builder/image/digest_prefetch.h"

#include "cache/blobstore.h"
#include "common/err.h"
#include "common/path.h"

#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_TREE_DEPTH 64

struct prefetched {
    char *path;
    struct stat before;
    char digest[CACHE_DIGEST_SIZE];
    int ok;
};

struct digest_prefetch {
    struct cache *memo;
    struct prefetched *files;
    size_t n, cap;
    pthread_t thread;
    int joined;
};

static int add_file(struct digest_prefetch *p, const char *path, const struct stat *st)
{
    char unused[CACHE_DIGEST_SIZE];
    if (p->memo && cache_file_digest_remembered(p->memo, path, st, unused) == 0)
        return 0;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 4;
        struct prefetched *files = realloc(p->files, cap * sizeof *files);
        if (!files)
            return ERR_NOMEM;
        p->files = files;
        p->cap = cap;
    }
    struct prefetched *f = &p->files[p->n];
    memset(f, 0, sizeof *f);
    if (!(f->path = strdup(path)))
        return ERR_NOMEM;
    f->before = *st;
    p->n++;
    return 0;
}

/* Large regular files under path; anything unreadable is left to the layer writer to report. */
static int collect(struct digest_prefetch *p, const char *path, int64_t min_size, int depth)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    if (S_ISREG(st.st_mode))
        return st.st_size >= min_size ? add_file(p, path, &st) : 0;
    if (!S_ISDIR(st.st_mode) || depth >= MAX_TREE_DEPTH)
        return 0;
    struct dirent **names = NULL;
    int n = scandir(path, &names, NULL, alphasort);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        if (!rc && strcmp(name, ".") && strcmp(name, "..")) {
            char *child = path_join(path, name);
            rc = child ? collect(p, child, min_size, depth + 1) : ERR_NOMEM;
            free(child);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

static void *hash_all(void *arg)
{
    struct digest_prefetch *p = arg;
    for (size_t i = 0; i < p->n; i++) {
        p->files[i].ok = blobstore_hash_file(p->files[i].path, p->files[i].digest, NULL) == 0;
        err_clear(); /* this thread's message; a failure only means the SBOM hashes it itself */
    }
    return NULL;
}

static void release(struct digest_prefetch *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->files[i].path);
    free(p->files);
    free(p);
}

int digest_prefetch_start(struct digest_prefetch **out, struct cache *memo, const char *const *host_paths, size_t n,
                          int64_t min_size)
{
    *out = NULL;
    struct digest_prefetch *p = calloc(1, sizeof *p);
    if (!p)
        return err_set(ERR_NOMEM, "out of memory");
    p->memo = memo;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        rc = collect(p, host_paths[i], min_size, 0);
    if (rc || p->n == 0 || pthread_create(&p->thread, NULL, hash_all, p) != 0) {
        release(p); /* nothing to do, or no thread: the SBOM hashes as before */
        return rc ? err_set(ERR_NOMEM, "out of memory") : 0;
    }
    *out = p;
    return 0;
}

int digest_prefetch_covers(const struct digest_prefetch *p, const char *const *host_paths, size_t n)
{
    for (size_t i = 0; p && i < p->n; i++) {
        for (size_t j = 0; j < n; j++) {
            size_t len = strlen(host_paths[j]);
            const char *f = p->files[i].path;
            if (!strncmp(f, host_paths[j], len) && (f[len] == '\0' || f[len] == '/'))
                return 1;
        }
    }
    return 0;
}

void digest_prefetch_wait(struct digest_prefetch *p)
{
    if (!p || p->joined)
        return;
    pthread_join(p->thread, NULL);
    p->joined = 1;
    for (size_t i = 0; p->memo && i < p->n; i++)
        if (p->files[i].ok)
            cache_file_digest_learn(p->memo, p->files[i].path, &p->files[i].before, p->files[i].digest);
}

int digest_prefetch_lookup(struct digest_prefetch *p, const char *path, char out[CACHE_DIGEST_SIZE])
{
    if (!p)
        return ERR_NOTFOUND;
    digest_prefetch_wait(p);
    struct stat now;
    for (size_t i = 0; i < p->n; i++) {
        const struct prefetched *f = &p->files[i];
        if (f->ok && !strcmp(f->path, path) && stat(path, &now) == 0 && cache_file_unchanged(&f->before, &now)) {
            memcpy(out, f->digest, CACHE_DIGEST_SIZE);
            return 0;
        }
    }
    return ERR_NOTFOUND;
}

void digest_prefetch_free(struct digest_prefetch *p)
{
    if (!p)
        return;
    digest_prefetch_wait(p);
    release(p);
}
