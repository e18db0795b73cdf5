/* Joining file-system paths: the one rule for "dir/name" in amlpkg, the cache and amlserve.
 *
 * An empty dir or "." gives name alone (a relative name stays relative, and messages show it as the
 * user wrote it); a dir that already ends in '/' is not given a second one. name is appended as it is,
 * even when absolute: callers that resolve a path against a directory check for a leading '/' first
 * (fs_resolve). path_join returns a malloc'd string the caller frees; path_join_into writes into the
 * caller's buffer. Neither sets an error message. */
#ifndef AMLPKG_PATH_H
#define AMLPKG_PATH_H

#include <stddef.h>

/* "dir/name"; NULL when out of memory. */
char *path_join(const char *dir, const char *name);
/* Writes "dir/name" into out[0..size) and returns its length, as snprintf does: a result >= size
 * means it did not fit (out then holds as much as fits, NUL-terminated when size > 0). */
size_t path_join_into(char *out, size_t size, const char *dir, const char *name);

#endif
