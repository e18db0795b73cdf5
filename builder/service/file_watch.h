/* Watches files and folder trees for changes (inotify), for `serve --watch`.
 *
 * file_watch_add watches a folder tree (every subfolder, and new ones as they
 * appear) or a single file (through its folder, filtered to its name). Editor
 * droppings and Python's own output (__pycache__, *.pyc, *.swp, *~, .#*) are
 * ignored. The struct is caller-owned: file_watch_init / file_watch_release. */
#ifndef AMLPKG_FILE_WATCH_H
#define AMLPKG_FILE_WATCH_H

#include <stddef.h>

#define FILE_WATCH_MAX 4096

struct file_watch_entry {
    int wd;
    char *dir;  /* watched folder */
    char *only; /* a file name within dir to watch alone, or NULL for the whole folder */
    int recursive;
};

struct file_watch {
    int fd; /* poll it for POLLIN */
    struct file_watch_entry *entries;
    size_t n, cap;
};

int file_watch_init(struct file_watch *w);
void file_watch_release(struct file_watch *w);
int file_watch_add(struct file_watch *w, const char *path);
/* Reads pending events; *changed receives a path that changed (borrowed until
 * the next call) or NULL when the events were all ignorable. */
int file_watch_read(struct file_watch *w, const char **changed);

#endif
