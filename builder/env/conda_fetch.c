#include "builder/env/conda_fetch.h"

#include "builder/sys/digest.h"
#include "builder/sys/fs_copy.h"
#include "builder/sys/progress.h"
#include "common/err.h"
#include "common/path.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int nomem(void)
{
    return err_set(ERR_NOMEM, "out of memory");
}

/* One package to download, and what became of it (a thread's error message is kept here, since
 * err.h's message belongs to the thread that set it). */
struct job {
    const struct conda_lock_entry *entry;
    size_t index;     /* in the progress display */
    char *part;       /* where it is downloaded */
    const char *path; /* the verified file: part, or the file:// source */
    int rc;
    char message[1024];
};

struct pool {
    struct job *jobs;
    size_t n;
    atomic_size_t next;
    atomic_llong bytes;
    struct progress progress;
};

struct transfer {
    FILE *f;
    struct pool *pool;
    struct progress_blob *blob;
};

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
    struct transfer *t = arg;
    size_t len = size * n;
    if (fwrite(data, 1, len, t->f) != len)
        return 0;
    atomic_fetch_add(&t->pool->bytes, (long long)len);
    if (t->blob)
        atomic_fetch_add(&t->blob->done, (long long)len);
    return len;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_global(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Downloads url into part, resuming what part already holds; 0 when the server sent all of it. */
static int download(struct pool *pool, struct job *j, CURL *h, int resume)
{
    struct stat st;
    long long have = resume && stat(j->part, &st) == 0 ? (long long)st.st_size : 0;
    struct transfer t = {
        .f = fopen(j->part, have ? "ab" : "wb"), .pool = pool, .blob = progress_blob_begin(&pool->progress, j->index)};
    if (!t.f)
        return err_set_errno(ERR_IO, "%s: cannot write '%s'", j->entry->url, j->part);
    char errbuf[CURL_ERROR_SIZE] = "", range[48];
    snprintf(range, sizeof range, "%lld-", have);
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, j->entry->url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L); /* a stalled server is an error, not a hang */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "amlpkg/0.1");
    if (have)
        curl_easy_setopt(h, CURLOPT_RANGE, range);
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    int closed = fclose(t.f);
    progress_blob_end(t.blob, PROGRESS_DONE);
    /* A server that ignores the range sends everything again (200, now appended), or refuses it (416):
     * the caller starts over. */
    if (have && (cc == CURLE_RANGE_ERROR || status == 416 || (cc == CURLE_OK && status == 200)))
        return 1;
    if (cc == CURLE_PARTIAL_FILE || cc == CURLE_RECV_ERROR || cc == CURLE_OPERATION_TIMEDOUT)
        return err_set(ERR_IO,
                       "%s: the download was cut short (%s); what arrived is kept in '%s' and the next "
                       "build resumes it",
                       j->entry->url, errbuf[0] ? errbuf : curl_easy_strerror(cc), j->part);
    if (cc == CURLE_HTTP_RETURNED_ERROR)
        return err_set(status == 404 ? ERR_NOTFOUND : ERR_IO, "%s: HTTP status %ld%s", j->entry->url, status,
                       status == 404 ? ": no such package in the channel (is the lock from another channel?)" : "");
    if (cc != CURLE_OK)
        return err_set(ERR_IO, "%s: %s", j->entry->url, errbuf[0] ? errbuf : curl_easy_strerror(cc));
    if (closed)
        return err_set_errno(ERR_IO, "%s: cannot write '%s'", j->entry->url, j->part);
    return 0;
}

/* The file at path hashes to the lock's sha256; otherwise a message naming both. */
static int verify(const struct job *j, const char *path)
{
    char got[DIGEST_STRING_SIZE];
    int64_t size = 0;
    int rc = digest_file(path, got, &size);
    if (rc)
        return rc;
    if (strcmp(got + 7, j->entry->sha256))
        return err_set(ERR_MISMATCH,
                       "%s: sha256 mismatch: the lock says %s, the file (%lld bytes) is %s; nothing was stored",
                       j->entry->url, j->entry->sha256, (long long)size, got + 7);
    return 0;
}

static int fetch_one(struct pool *pool, struct job *j, CURL **h)
{
    if (!strncmp(j->entry->url, "file://", 7)) {
        j->path = j->entry->url + 7;
        return verify(j, j->path);
    }
    pthread_once(&curl_once, curl_global);
    if (!*h && !(*h = curl_easy_init()))
        return nomem();
    struct stat st;
    int resumed = stat(j->part, &st) == 0 && st.st_size > 0;
    int rc = download(pool, j, *h, resumed);
    if (rc == 1 || (!rc && resumed && verify(j, j->part))) {
        /* The server ignored or refused the range, or the resumed file is wrong: once more from the start. */
        err_clear();
        rc = download(pool, j, *h, 0);
    }
    if (!rc && (rc = verify(j, j->part)) == ERR_MISMATCH)
        unlink(j->part);
    j->path = j->part;
    return rc;
}

static void *worker(void *arg)
{
    struct pool *pool = arg;
    CURL *h = NULL;
    for (size_t i; (i = atomic_fetch_add(&pool->next, 1)) < pool->n;) {
        struct job *j = &pool->jobs[i];
        err_clear();
        if ((j->rc = fetch_one(pool, j, &h)))
            snprintf(j->message, sizeof j->message, "%s", err_message(j->rc));
    }
    if (h)
        curl_easy_cleanup(h);
    return NULL;
}

void conda_fetch_release(struct conda_fetched *out, size_t n)
{
    for (size_t i = 0; out && i < n; i++)
        free(out[i].path);
}

static char *blob_digest(const struct conda_lock_entry *e)
{
    char *d = NULL;
    return asprintf(&d, "sha256:%s", e->sha256) < 0 ? NULL : d;
}

/* out->path when the cache has the package (verified); 1 on a miss. */
static int from_cache(struct conda_fetched *out, struct cache *cache, const struct conda_lock_entry *e)
{
    char *digest = blob_digest(e);
    int fd = -1, rc = digest ? cache_blob_open(cache, digest, CACHE_VERIFY, &fd) : nomem();
    if (fd >= 0)
        close(fd);
    if (!rc)
        rc = cache_blob_path(cache, digest, &out->path);
    else if (rc != ERR_NOMEM) {
        err_clear(); /* a damaged blob is downloaded again */
        rc = 1;
    }
    free(digest);
    return rc;
}

/* Runs the jobs on up to CONDA_FETCH_JOBS threads; each job's result is in its rc. */
static void run_pool(struct pool *pool)
{
    pthread_t threads[CONDA_FETCH_JOBS];
    size_t started = 0, want = pool->n < CONDA_FETCH_JOBS ? pool->n : CONDA_FETCH_JOBS;
    for (; started < want; started++)
        if (pthread_create(&threads[started], NULL, worker, pool))
            break;
    if (!started)
        worker(pool);
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
}

int conda_fetch_all(struct conda_fetched *out, const struct conda_lock_entry *entries, size_t n, struct cache *cache,
                    const char *work_dir)
{
    memset(out, 0, n * sizeof *out);
    struct pool pool = {.jobs = calloc(n ? n : 1, sizeof *pool.jobs)};
    const char **names = calloc(n ? n : 1, sizeof *names);
    int64_t *sizes = calloc(n ? n : 1, sizeof *sizes);
    char *parts = cache ? path_join(cache_dir(cache), "downloads") : strdup(work_dir);
    int rc = pool.jobs && names && sizes && parts ? fs_make_dirs(parts) : nomem();
    size_t hits = 0;
    double t0 = progress_now();
    for (size_t i = 0; i < n && !rc; i++) {
        if (cache && (rc = from_cache(&out[i], cache, &entries[i])) != 1) {
            hits += !rc;
            continue;
        }
        rc = 0;
        struct job *j = &pool.jobs[pool.n];
        j->entry = &entries[i];
        j->index = pool.n;
        char name[80];
        snprintf(name, sizeof name, "%s.part", entries[i].sha256);
        if (!(j->part = path_join(parts, name)))
            rc = nomem();
        names[pool.n++] = entries[i].filename;
    }
    if (!rc && pool.n) {
        rc = progress_init(&pool.progress, pool.n, names, sizes);
        if (!rc) {
            progress_start(&pool.progress, "conda packages", &pool.bytes, isatty(2));
            run_pool(&pool);
            progress_stop(&pool.progress);
        }
    }
    /* Into the cache, in the main thread (the cache's index is not shared between threads): every verified
     * package, also when another one failed, so that the next attempt fetches only what is missing. */
    for (size_t k = 0; k < pool.n && !rc; k++) {
        struct job *j = &pool.jobs[k];
        if (j->rc)
            continue;
        size_t i = (size_t)(j->entry - entries);
        char got[CACHE_DIGEST_SIZE];
        if (!cache)
            rc = (out[i].path = strdup(j->path)) ? 0 : nomem();
        else if (!(rc = cache_put_blob(cache, j->path, got))) {
            if (j->path == j->part)
                unlink(j->part);
            rc = cache_blob_path(cache, got, &out[i].path);
        }
    }
    for (size_t k = 0; k < pool.n && !rc; k++) /* the first failure in lock order is the error */
        if (pool.jobs[k].rc)
            rc = err_set(pool.jobs[k].rc, "%s", pool.jobs[k].message);
    if (!rc)
        fprintf(stderr, "conda packages: %zu in the cache, %zu fetched (%.1f MB) in %.2f s\n", hits, pool.n,
                (double)atomic_load(&pool.bytes) / 1e6, progress_now() - t0);
    for (size_t k = 0; k < pool.n; k++)
        free(pool.jobs[k].part);
    free(pool.jobs);
    free(names);
    free(sizes);
    free(parts);
    if (rc) {
        conda_fetch_release(out, n);
        memset(out, 0, n * sizeof *out);
    }
    return rc;
}
