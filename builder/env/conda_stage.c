#include "builder/env/conda_stage.h"

#include "builder/env/conda_fetch.h"
#include "builder/spec/conda_lockfile.h"
#include "builder/sys/fsutil.h"
#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>

#define TMPFS_MAGIC_NUMBER 0x01021994

/* The bytes of the lock's packages when every one is a cache blob; -1 when any is not (or on error). */
static long long cached_package_bytes(const char *lock_text, const char *lock_name, struct cache *cache)
{
    struct conda_lock_entry *e = NULL;
    size_t n = 0;
    if (!cache || conda_lockfile_entries(&e, &n, lock_text, lock_name)) {
        err_clear(); /* the install reports a bad lock itself */
        return -1;
    }
    long long total = 0;
    for (size_t i = 0; i < n && total >= 0; i++) {
        char digest[80], *path = NULL;
        struct stat st;
        snprintf(digest, sizeof digest, "sha256:%s", e[i].sha256);
        if (!cache_blob_path(cache, digest, &path) && stat(path, &st) == 0 && S_ISREG(st.st_mode))
            total += st.st_size;
        else
            total = -1;
        err_clear();
        free(path);
    }
    conda_lockfile_entries_free(e, n);
    return total;
}

/* The lock's packages into the cache (what the install would fetch first anyway), so their sizes are known. */
static int fetch_packages(const char *lock_text, const char *lock_name, struct cache *cache)
{
    struct conda_lock_entry *e = NULL;
    size_t n = 0;
    int rc = conda_lockfile_entries(&e, &n, lock_text, lock_name);
    struct conda_fetched *f = rc ? NULL : calloc(n ? n : 1, sizeof *f);
    if (!rc && !f)
        rc = err_set(ERR_NOMEM, "out of memory");
    rc = rc ? rc : conda_fetch_all(f, e, n, cache, cache_dir(cache));
    if (f)
        conda_fetch_release(f, n);
    free(f);
    conda_lockfile_entries_free(e, n);
    return rc;
}

/* 1: in memory; 0: on disk; < 0: an error (of fetching the packages). */
static int fits_in_memory(const char *lock_text, const char *lock_name, struct cache *cache)
{
    const char *choice = getenv("AMLPKG_CONDA_STAGE");
    if ((choice && !strcmp(choice, "disk")) || strstr(lock_text, "\n# pip "))
        return 0;
    struct statfs fs;
    struct statvfs vfs;
    if (statfs(CONDA_STAGE_MEMORY_DIR, &fs) != 0 || fs.f_type != TMPFS_MAGIC_NUMBER ||
        statvfs(CONDA_STAGE_MEMORY_DIR, &vfs) != 0)
        return 0;
    if (choice && !strcmp(choice, "memory"))
        return 1;
    long long bytes = cached_package_bytes(lock_text, lock_name, cache);
    if (bytes < 0 && cache) {
        int rc = fetch_packages(lock_text, lock_name, cache);
        if (rc)
            return rc;
        bytes = cached_package_bytes(lock_text, lock_name, cache);
    }
    long long need = bytes * CONDA_STAGE_EXPANSION, room = (long long)vfs.f_bavail * (long long)vfs.f_frsize / 4;
    return bytes >= 0 && need <= room && need <= CONDA_STAGE_MEMORY_MAX;
}

int conda_stage_dir(char **out, int *in_memory, int allow_memory, const char *lock_text, const char *lock_name,
                    struct cache *cache)
{
    int fits = allow_memory ? fits_in_memory(lock_text, lock_name, cache) : 0;
    if (fits < 0)
        return fits;
    *in_memory = fits;
    if (*in_memory && !fs_make_temp_dir(out, CONDA_STAGE_MEMORY_DIR, "amlpkg-conda-"))
        return 0;
    err_clear();
    *in_memory = 0;
    return fs_make_tmp_dir(out, "amlpkg-conda-");
}
