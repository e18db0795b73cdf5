/* What an unpacked conda package says about itself, from its info/ folder:
 *   info/index.json    name, version, build, depends... (kept whole: the
 *                      conda-meta record repeats it)
 *   info/paths.json    every path with its type and, for files holding the
 *                      build prefix, prefix_placeholder and file_mode
 *                      (text or binary); older packages have info/files and
 *                      info/has_prefix ("PLACEHOLDER MODE PATH", or a bare
 *                      PATH for the default placeholder in text mode) instead
 *   info/link.json     noarch: python entry points ("NAME = module:func")
 * Errors name the package and the file (and the line for has_prefix).
 *
 * struct conda_pkg_info is caller-owned: conda_pkg_info_parse / _read fill it,
 * conda_pkg_info_release frees it (also after a failure). */
#ifndef AMLPKG_CONDA_PKG_H
#define AMLPKG_CONDA_PKG_H

#include "common/arena.h"
#include "common/json.h"

#include <stddef.h>

/* What conda-build writes when it does not record a placeholder (has_prefix's bare lines). */
#define CONDA_PKG_DEFAULT_PLACEHOLDER "/opt/anaconda1anaconda2anaconda3"

enum conda_path_type { CONDA_PATH_FILE, CONDA_PATH_LINK, CONDA_PATH_DIR };

struct conda_pkg_path {
    const char *path; /* relative to the package root */
    enum conda_path_type type;
    const char *placeholder; /* NULL: nothing to replace */
    int binary;              /* file_mode binary: replaced keeping the length */
};

struct conda_pkg_info {
    struct arena arena;             /* owns everything below */
    const struct json_value *index; /* info/index.json, an object */
    const char *name, *version, *build, *subdir;
    int noarch_python;
    const char **entry_points; /* "NAME = module:func" */
    size_t n_entry_points;
    struct conda_pkg_path *paths; /* in the package's order */
    size_t n_paths;
};

/* From the files' text; a NULL text is an absent file (paths_json or files must be given). */
int conda_pkg_info_parse(struct conda_pkg_info *out, const char *index_json, const char *paths_json, const char *files,
                         const char *has_prefix, const char *link_json, const char *what);
/* From dir/info/. what names the package in messages. */
int conda_pkg_info_read(struct conda_pkg_info *out, const char *dir, const char *what);
void conda_pkg_info_release(struct conda_pkg_info *info);

#endif
