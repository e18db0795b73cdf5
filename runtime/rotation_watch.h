/* Notices when mounted files change, so keys and certificates rotate without
 * a signal: Kubernetes updates a mounted Secret by swapping a symlinked
 * folder (`..data`), which no process is told about. Each watched path is
 * stat'ed (through its links) once per tick; a change counts once it has
 * stayed the same for one more tick, so a file being written in place is
 * not read half-written. */
#ifndef AMLSERVE_ROTATION_WATCH_H
#define AMLSERVE_ROTATION_WATCH_H

#include <stddef.h>
#include <sys/types.h>

#define ROTATION_WATCH_MAX 4

struct file_stamp {
    dev_t dev;
    ino_t ino;
    off_t size;
    long long mtime_ns;
    int missing;
};

struct rotation_watch {
    const char *paths[ROTATION_WATCH_MAX];
    struct file_stamp seen[ROTATION_WATCH_MAX];    /* what was last acted on */
    struct file_stamp pending[ROTATION_WATCH_MAX]; /* a change waiting to settle */
    int has_pending[ROTATION_WATCH_MAX];
    size_t n;
};

/* Starts watching path (NULL or "" is ignored); returns its slot or -1. */
int rotation_watch_add(struct rotation_watch *w, const char *path);
/* One tick: returns a bit mask of the slots whose file changed and settled. */
unsigned rotation_watch_tick(struct rotation_watch *w);

#endif
