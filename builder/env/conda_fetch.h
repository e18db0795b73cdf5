/* Downloading the packages of a lock into amlpkg's cache.
 *
 * Each package is a cache blob named by its SHA-256 (the lock's #sha256), so
 * a package is downloaded once per machine whatever environment wants it, and
 * every read re-checks it (cache_blob_open with CACHE_VERIFY). Misses are
 * fetched by up to CONDA_FETCH_JOBS threads, each with its own libcurl handle,
 * into DIR/downloads/<sha256>.part of the cache; a download cut short keeps its
 * part and the next attempt resumes it with a Range request. A finished file
 * is hashed and stored only when it matches the lock: a mismatch deletes the
 * part and stores nothing. file:// URLs are hashed where they are.
 *
 * Progress: bars on a TTY (builder/sys/progress.h), and one summary line on
 * stderr ("conda packages: N in the cache, M downloaded (X MB) in S s"). */
#ifndef AMLPKG_CONDA_FETCH_H
#define AMLPKG_CONDA_FETCH_H

#include "builder/spec/conda_lockfile.h"
#include "cache/cache.h"

#define CONDA_FETCH_JOBS 4

struct conda_fetched {
    char *path; /* the verified package file (in the cache, in work_dir or, for file://, where it is) */
};

/* out[i] for entries[i]. cache may be NULL (--no-cache): downloads go to work_dir, which then holds them
 * until the caller removes it. Free out with conda_fetch_release. */
int conda_fetch_all(struct conda_fetched *out, const struct conda_lock_entry *entries, size_t n, struct cache *cache,
                    const char *work_dir);
void conda_fetch_release(struct conda_fetched *out, size_t n);

#endif
