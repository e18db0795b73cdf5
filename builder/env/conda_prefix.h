/* Replacing a package's build prefix (its prefix_placeholder) with the prefix
 * it is installed at, as conda does when it links a file:
 *   text    every occurrence replaced; the file's length changes
 *   binary  each NUL-terminated string holding the placeholder is rewritten
 *           with the placeholder replaced and NULs after it, so that offsets
 *           in the file (ELF string tables) stay where they were; a prefix
 *           longer than the placeholder cannot fit and is refused
 * The file is rewritten in place (it is amlpkg's own unpacked copy). */
#ifndef AMLPKG_CONDA_PREFIX_H
#define AMLPKG_CONDA_PREFIX_H

#include "common/buf.h"

/* Replaces in data[0..len) into out (initialised); *count gets the number of occurrences. what, for
 * messages, names the package and the file. */
int conda_prefix_replace_buffer(struct buf *out, size_t *count, const char *data, size_t len, const char *placeholder,
                                const char *prefix, int binary, const char *what);
int conda_prefix_replace_file(const char *path, const char *placeholder, const char *prefix, int binary,
                              const char *what);

#endif
