/* Files for fuzz targets whose code under test reads paths: one private folder per fuzzing process,
 * made under $TMPDIR (else /tmp) on first use and removed when the process exits, so a fuzz run leaves
 * nothing behind. Header-only: each target is one translation unit. */
#ifndef AMLPKG_FUZZ_FILES_H
#define AMLPKG_FUZZ_FILES_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char fuzz_folder[256];

static int fuzz_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void fuzz_remove_folder(void)
{
    if (fuzz_folder[0])
        nftw(fuzz_folder, fuzz_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The process's folder; the target aborts if it cannot be made (nothing could be fuzzed). */
static const char *fuzz_dir(void)
{
    if (!fuzz_folder[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(fuzz_folder, sizeof fuzz_folder, "%s/amlpkg-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(fuzz_folder))
            abort();
        atexit(fuzz_remove_folder);
    }
    return fuzz_folder;
}

/* PATH_OUT (size 512) = the folder's NAME. */
static const char *fuzz_path(char path_out[512], const char *name)
{
    snprintf(path_out, 512, "%s/%s", fuzz_dir(), name);
    return path_out;
}

/* Writes SIZE bytes to the folder's NAME into PATH_OUT; PATH_OUT, or NULL when it cannot be written. */
static const char *fuzz_write(char path_out[512], const char *name, const void *data, size_t size)
{
    FILE *f = fopen(fuzz_path(path_out, name), "wb");
    if (!f)
        return NULL;
    int ok = fwrite(data, 1, size, f) == size;
    return fclose(f) == 0 && ok ? path_out : NULL;
}

#endif
