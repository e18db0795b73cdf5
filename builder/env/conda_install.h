/* Materializing a locked conda environment without a container engine: what
 * `conda create -p PREFIX --file LOCK` does, into a folder that becomes the
 * environment's image layer.
 *
 * For each package of the lock (in the lock's order, sorted by name):
 *   fetched into the cache (conda_fetch.h), unpacked (conda_extract.h), its
 *   info/ read (conda_pkg.h); then every path it lists is moved to
 *   stage_root + prefix, with the build prefix replaced (conda_prefix.h):
 *   noarch: python packages go to lib/pythonX.Y/site-packages (X.Y from the
 *   lock's python package) and their python-scripts to bin/, and each entry
 *   point of info/link.json becomes a bin/ script run by the environment's
 *   python. .pyc files are not compiled: Python writes them on first import
 *   where it can, and reads the sources otherwise.
 *   conda-meta/NAME-VERSION-BUILD.json records the package (its index.json,
 *   url, channel, sha256, files and paths_data) and conda-meta/history the
 *   transaction, so `conda list -p PREFIX` and other tools see the packages.
 * Package scripts (bin/.NAME-pre-link.sh, -post-link.sh, -pre-unlink.sh) are
 * refused, naming the package and --allow-scripts: amlpkg does not run code
 * while it builds an environment itself. With allow_scripts, the packages
 * with a post-link script are listed in stats (dependencies first, as conda
 * runs them) for the executor to run on top of the layer (executor.h); a
 * pre-link script is still refused, a pre-unlink one left alone.
 * A path through a folder an earlier package made a symbolic link (lib64 ->
 * lib) lands where the link points, inside the prefix (conda_prefix.h); hard
 * links inside a package stay hard links. Two packages writing one path: the
 * later one wins.
 *
 * Then the wheels of its `# pip` lines are installed on top (pip_install.h).
 *
 * The result holds no timestamps or host names: the same lock gives the same
 * tree, and the layer writer (oci_layer.h) makes it the same digest. */
#ifndef AMLPKG_CONDA_INSTALL_H
#define AMLPKG_CONDA_INSTALL_H

#include "cache/cache.h"

/* A package whose bin/.NAME-post-link.sh is to run. */
struct conda_script {
    char *name, *version, *build;
    long build_number;
};

struct conda_install_stats {
    size_t packages;
    struct conda_script *scripts; /* in the order to run them; conda_install_stats_release frees */
    size_t n_scripts;
    size_t wheels; /* from the lock's `# pip` lines (pip_install.h) */
    double seconds_fetch, seconds_link;
};

/* lock_text: the lock's bytes (lock_name names it in messages); cache: where packages are kept (NULL:
 * work_dir only); work_dir: scratch space the caller removes; prefix: the environment's absolute path
 * in the image; stage_root: the host folder standing for the image's root; allow_scripts: list post-link
 * scripts in stats instead of refusing them. */
int conda_install(struct conda_install_stats *stats, const char *lock_text, const char *lock_name, struct cache *cache,
                  const char *work_dir, const char *prefix, const char *stage_root, int allow_scripts);
void conda_install_stats_release(struct conda_install_stats *stats);

#endif
