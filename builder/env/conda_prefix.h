/* Replacing a package's build prefix (its prefix_placeholder) with the prefix
 * it is installed at, as conda does when it links a file:
 *   text    every occurrence replaced; the file's length changes
 *   binary  each NUL-terminated string holding the placeholder is rewritten
 *           with the placeholder replaced and NULs after it, so that offsets
 *           in the file (ELF string tables) stay where they were; a prefix
 *           longer than the placeholder cannot fit and is refused
 * The file is rewritten in place (it is amlpkg's own unpacked copy).
 * Paths through symbolically linked folders are resolved inside the prefix
 * (conda_prefix_resolve_dirs). */
#ifndef AMLPKG_CONDA_PREFIX_H
#define AMLPKG_CONDA_PREFIX_H

#include "common/buf.h"

/* Replaces in data[0..len) into out (initialised); *count gets the number of occurrences. what, for
 * messages, names the package and the file. */
int conda_prefix_replace_buffer(struct buf *out, size_t *count, const char *data, size_t len, const char *placeholder,
                                const char *prefix, int binary, const char *what);
int conda_prefix_replace_file(const char *path, const char *placeholder, const char *prefix, int binary,
                              const char *what);

/* Where a package path lands when an earlier package made one of its folders a symbolic link (lib64 -> lib):
 * the folders of rel (relative to the prefix, whose host copy is stage) are followed through the links
 * already in stage, as the kernel does when conda opens the path, and *out gets the resulting path
 * relative to the prefix (malloc'd; rel itself when no folder is a link). A link pointing outside the
 * prefix (an absolute target elsewhere, or ".." above it) is refused, naming what; so are more than 40
 * links on one path. The last component is never followed: it is what gets replaced. */
int conda_prefix_resolve_dirs(char **out, const char *stage, const char *prefix, const char *rel, const char *what);

#endif
