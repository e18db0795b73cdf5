#include "builder/service/file_watch.h"

#include "common/err.h"
#include "builder/sys/fsutil.h"
#include "common/path.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define WATCH_EVENTS (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB)

static int ignored(const char *name)
{
    static const char *const patterns[] = {"__pycache__", "*.pyc", "*.swp", "*.swx", "*~", ".#*", "4913", NULL};
    for (size_t i = 0; patterns[i]; i++)
        if (fnmatch(patterns[i], name, 0) == 0)
            return 1;
    return 0;
}

int file_watch_init(struct file_watch *w)
{
    memset(w, 0, sizeof *w);
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    return w->fd < 0 ? err_set_errno(ERR_IO, "inotify") : 0;
}

void file_watch_release(struct file_watch *w)
{
    for (size_t i = 0; i < w->n; i++) {
        free(w->entries[i].dir);
        free(w->entries[i].only);
    }
    free(w->entries);
    if (w->fd >= 0)
        close(w->fd);
    memset(w, 0, sizeof *w);
    w->fd = -1;
}

static int add_entry(struct file_watch *w, const char *dir, const char *only, int recursive)
{
    if (w->n >= FILE_WATCH_MAX)
        return err_set(ERR_LIMIT, "--watch: more than %d folders to watch", FILE_WATCH_MAX);
    int wd = inotify_add_watch(w->fd, dir, WATCH_EVENTS);
    if (wd < 0)
        return err_set_errno(ERR_IO, "--watch: cannot watch '%s'", dir);
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        struct file_watch_entry *e = realloc(w->entries, cap * sizeof *e);
        if (!e)
            return err_set(ERR_NOMEM, "out of memory");
        w->entries = e;
        w->cap = cap;
    }
    struct file_watch_entry *e = &w->entries[w->n];
    e->wd = wd;
    e->dir = strdup(dir);
    e->only = only ? strdup(only) : NULL;
    e->recursive = recursive;
    if (!e->dir || (only && !e->only))
        return err_set(ERR_NOMEM, "out of memory");
    w->n++;
    return 0;
}

static int add_tree(struct file_watch *w, const char *dir)
{
    int rc = add_entry(w, dir, NULL, 1);
    DIR *d = rc ? NULL : opendir(dir);
    struct dirent *de;
    while (!rc && d && (de = readdir(d))) {
        if (de->d_name[0] == '.' || ignored(de->d_name))
            continue;
        char *sub = path_join(dir, de->d_name);
        struct stat st;
        if (!sub)
            rc = err_set(ERR_NOMEM, "out of memory");
        else if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            rc = add_tree(w, sub);
        free(sub);
    }
    if (d)
        closedir(d);
    return rc;
}

int file_watch_add(struct file_watch *w, const char *path)
{
    char real[PATH_MAX];
    if (!realpath(path, real))
        return err_set_errno(ERR_NOTFOUND, "--watch: cannot resolve '%s'", path);
    struct stat st;
    if (stat(real, &st) != 0)
        return err_set_errno(ERR_NOTFOUND, "--watch: '%s'", real);
    if (S_ISDIR(st.st_mode))
        return add_tree(w, real);
    char *dir = fs_dirname(real);
    if (!dir)
        return err_set(ERR_NOMEM, "out of memory");
    const char *slash = strrchr(real, '/');
    int rc = add_entry(w, dir, slash ? slash + 1 : real, 0);
    free(dir);
    return rc;
}

static struct file_watch_entry *find(struct file_watch *w, int wd)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->entries[i].wd == wd)
            return &w->entries[i];
    return NULL;
}

int file_watch_read(struct file_watch *w, const char **changed)
{
    static char last[PATH_MAX * 2];
    *changed = NULL;
    char events[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(w->fd, events, sizeof events);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN ? 0 : err_set_errno(ERR_IO, "inotify read");
        for (char *p = events; p < events + n;) {
            struct inotify_event *ev = (struct inotify_event *)(void *)p;
            p += sizeof *ev + ev->len;
            struct file_watch_entry *e = find(w, ev->wd);
            if (!e || !ev->len || ev->name[0] == '.' || ignored(ev->name))
                continue;
            if (e->only && strcmp(e->only, ev->name))
                continue;
            path_join_into(last, sizeof last, e->dir, ev->name);
            /* A new subfolder of a watched tree is watched too. */
            if (e->recursive && (ev->mask & (IN_CREATE | IN_MOVED_TO)) && (ev->mask & IN_ISDIR)) {
                char sub[sizeof last];
                snprintf(sub, sizeof sub, "%s", last);
                int rc = add_tree(w, sub);
                if (rc)
                    return rc;
            }
            *changed = last;
        }
    }
}
