#include "model_files.h"

#include "common/err.h"
#include "common/path.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_DEPTH 16

struct found {
    char **paths;
    size_t count, cap;
};

static int has_onnx_suffix(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && strcmp(name + n - 5, ".onnx") == 0;
}

static int keep(struct found *f, const char *path)
{
    if (f->count == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 4;
        char **p = realloc(f->paths, cap * sizeof *p);
        if (!p)
            return err_set(ERR_NOMEM, "out of memory");
        f->paths = p;
        f->cap = cap;
    }
    if (!(f->paths[f->count] = strdup(path)))
        return err_set(ERR_NOMEM, "out of memory");
    f->count++;
    return 0;
}

/* A model file must be a regular file: opening a FIFO for reading blocks until a writer comes. */
static int keep_regular(struct found *f, const char *path, const struct stat *st)
{
    if (!S_ISREG(st->st_mode))
        return err_set(ERR_INVALID, "'%s': not a regular file (a FIFO, socket or device cannot be a model)", path);
    return keep(f, path);
}

/* ancestors: the directories on the way down (links are followed), to stop at a link back up. */
static int walk(struct found *f, const char *dir, const struct stat *ancestors, int depth)
{
    struct dirent **entries = NULL;
    int n = scandir(dir, &entries, NULL, alphasort);
    if (n < 0)
        return err_set_errno(ERR_IO, "%s: cannot list directory", dir);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *name = entries[i]->d_name;
        if (rc || name[0] == '.')
            continue;
        char *path = path_join(dir, name);
        if (!path) {
            rc = err_set(ERR_NOMEM, "out of memory");
            continue;
        }
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            for (int a = 0; a <= depth && !rc; a++)
                if (ancestors[a].st_dev == st.st_dev && ancestors[a].st_ino == st.st_ino)
                    rc = err_set(ERR_INVALID, "'%s': a symbolic link loops back to a directory above it", path);
            if (!rc && depth + 1 < MAX_DEPTH) {
                struct stat below[MAX_DEPTH];
                memcpy(below, ancestors, (size_t)(depth + 1) * sizeof *below);
                below[depth + 1] = st;
                rc = walk(f, path, below, depth + 1);
            }
        } else if (has_onnx_suffix(name)) {
            /* A dangling link is kept: loading it names the missing file. */
            rc = stat(path, &st) == 0 ? keep_regular(f, path, &st) : keep(f, path);
        }
        free(path);
    }
    for (int i = 0; i < n; i++)
        free(entries[i]);
    free(entries);
    return rc;
}

int model_files_find_onnx(char ***out_paths, size_t *out_count, const char *path)
{
    *out_paths = NULL;
    *out_count = 0;
    struct found f = {0};
    struct stat st;
    if (stat(path, &st) != 0)
        return err_set_errno(ERR_NOTFOUND, "%s", path);
    int rc = S_ISDIR(st.st_mode) ? walk(&f, path, &st, 0) : has_onnx_suffix(path) ? keep_regular(&f, path, &st) : 0;
    if (rc) {
        model_files_free(f.paths, f.count);
        return rc;
    }
    *out_paths = f.paths;
    *out_count = f.count;
    return 0;
}

void model_files_free(char **paths, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(paths[i]);
    free(paths);
}
