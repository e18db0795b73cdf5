#include "builder/image/plan_model.h"

#include "common/err.h"
#include "common/path.h"

#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_DEPTH 64
#define MAX_FILES 100000

struct model_list {
    struct plan_entry *items;
    size_t n, cap;
};

static int push(struct model_list *l, const char *image_path, const char *host_path)
{
    if (l->n == MAX_FILES)
        return err_set(ERR_LIMIT, "'%s': more than %d files in one model", host_path, MAX_FILES);
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct plan_entry *grown = realloc(l->items, cap * sizeof *grown);
        if (!grown)
            return err_set(ERR_NOMEM, "out of memory");
        l->items = grown;
        l->cap = cap;
    }
    struct plan_entry *e = &l->items[l->n];
    e->image_path = strdup(image_path);
    e->host_path = realpath(host_path, NULL);
    if (!e->image_path || !e->host_path) {
        free(e->image_path);
        free(e->host_path);
        return e->image_path ? err_set_errno(ERR_IO, "'%s': cannot resolve", host_path)
                             : err_set(ERR_NOMEM, "out of memory");
    }
    l->n++;
    return 0;
}

/* 1 when the tree under dir holds a symbolic link (not followed), 0 when not. */
static int has_links(const char *dir, int depth)
{
    if (depth >= MAX_DEPTH)
        return 1; /* too deep to tell cheaply: the expanding walk reports the limit */
    DIR *d = opendir(dir);
    if (!d)
        return 0; /* the layer writer reports what it cannot read */
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *child = path_join(dir, e->d_name);
        struct stat st;
        if (child && lstat(child, &st) == 0)
            found = S_ISLNK(st.st_mode) || (S_ISDIR(st.st_mode) && has_links(child, depth + 1));
        free(child);
    }
    closedir(d);
    return found;
}

/* The tree under host (links followed) as one entry per regular file. ancestors: the directories
 * on the way down, to refuse a link back to one of them. */
static int expand(struct model_list *l, const char *image, const char *host, const struct stat *ancestors,
                  int depth)
{
    struct stat st;
    if (stat(host, &st) != 0)
        return err_set_errno(ERR_NOTFOUND, "'%s'", host);
    if (S_ISREG(st.st_mode))
        return push(l, image, host);
    if (!S_ISDIR(st.st_mode))
        return err_set(ERR_UNSUPPORTED, "'%s': only regular files and directories can be packaged as a model "
                       "(a FIFO, socket or device cannot)", host);
    if (depth >= MAX_DEPTH)
        return err_set(ERR_LIMIT, "'%s': directories nested deeper than %d", host, MAX_DEPTH);
    for (int i = 0; i < depth; i++)
        if (ancestors[i].st_dev == st.st_dev && ancestors[i].st_ino == st.st_ino)
            return err_set(ERR_INVALID, "'%s': a symbolic link loops back to a directory above it", host);
    struct stat path[MAX_DEPTH];
    memcpy(path, ancestors, (size_t)depth * sizeof *path);
    path[depth] = st;
    struct dirent **names = NULL;
    int n = scandir(host, &names, NULL, alphasort); /* byte order: the same on every machine */
    if (n < 0)
        return err_set_errno(ERR_IO, "'%s': cannot list directory", host);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        if (!rc && strcmp(name, ".") && strcmp(name, "..")) {
            char *child_image = path_join(image, name), *child_host = path_join(host, name);
            rc = child_image && child_host ? expand(l, child_image, child_host, path, depth + 1)
                                           : err_set(ERR_NOMEM, "out of memory");
            free(child_image);
            free(child_host);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int plan_model_entries(struct plan_entry **out, size_t *n, const char *image_path, const char *host_path)
{
    *out = NULL;
    *n = 0;
    struct model_list l = {0};
    struct stat st;
    int rc = 0;
    if (lstat(host_path, &st) != 0)
        return err_set_errno(ERR_NOTFOUND, "'%s'", host_path);
    if (!S_ISLNK(st.st_mode) && !(S_ISDIR(st.st_mode) && has_links(host_path, 0))) {
        /* No links anywhere: the tree as it is, one entry. */
        l.items = calloc(1, sizeof *l.items);
        if (!l.items || !(l.items[0].image_path = strdup(image_path)) ||
            !(l.items[0].host_path = strdup(host_path)))
            rc = err_set(ERR_NOMEM, "out of memory");
        l.n = l.items ? 1 : 0;
    } else {
        struct stat none[1];
        rc = expand(&l, image_path, host_path, none, 0);
    }
    if (rc) {
        plan_entries_free(l.items, l.n);
        return rc;
    }
    *out = l.items;
    *n = l.n;
    return 0;
}

void plan_entries_free(struct plan_entry *entries, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(entries[i].image_path);
        free(entries[i].host_path);
    }
    free(entries);
}
