#include "runtime/rotation_watch.h"

#include <string.h>
#include <sys/stat.h>

static struct file_stamp stamp_of(const char *path)
{
    struct file_stamp s;
    memset(&s, 0, sizeof s);
    struct stat st;
    if (stat(path, &st) != 0) {
        s.missing = 1;
        return s;
    }
    s.dev = st.st_dev;
    s.ino = st.st_ino;
    s.size = st.st_size;
    s.mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    return s;
}

static int same_stamp(const struct file_stamp *a, const struct file_stamp *b)
{
    if (a->missing || b->missing)
        return a->missing == b->missing;
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns;
}

int rotation_watch_add(struct rotation_watch *w, const char *path)
{
    if (!path || !path[0] || w->n >= ROTATION_WATCH_MAX)
        return -1;
    size_t i = w->n++;
    w->paths[i] = path;
    w->seen[i] = stamp_of(path);
    w->has_pending[i] = 0;
    return (int)i;
}

unsigned rotation_watch_tick(struct rotation_watch *w)
{
    unsigned changed = 0;
    for (size_t i = 0; i < w->n; i++) {
        struct file_stamp now = stamp_of(w->paths[i]);
        if (same_stamp(&now, &w->seen[i])) {
            w->has_pending[i] = 0;
            continue;
        }
        /* A vanished file (a Secret being swapped) is waited out, not acted on. */
        if (w->has_pending[i] && same_stamp(&now, &w->pending[i]) && !now.missing) {
            w->seen[i] = now;
            w->has_pending[i] = 0;
            changed |= 1u << i;
            continue;
        }
        w->pending[i] = now;
        w->has_pending[i] = 1;
    }
    return changed;
}
