/* `amlpkg lock`: a conda environment resolved against its channels and written
 * in conda's explicit format, the one conda, mamba and micromamba install
 * from (`conda create -p PREFIX --file LOCK`) without solving again:
 *
 *   # Written by amlpkg lock from env.yml; do not edit: run amlpkg lock again.
 *   # amlpkg-input: sha256:<64 hex>       what was resolved (see below)
 *   # platform: linux-64
 *   @EXPLICIT
 *   https://conda.anaconda.org/conda-forge/linux-64/numpy-1.26.4-py311h_0.conda#<sha256 hex>
 *
 * One URL per package, sorted by package name, each with the SHA-256 of the
 * file as the channel's index gives it (a package without one is refused:
 * nothing unverifiable is locked). The input digest is the SHA-256 of the
 * target subdir, the channels in order and the canonical specs (sorted), so
 * editing comments or order does not stale a lock, and changing a spec does:
 * `build` refuses a lock whose input digest is not its environment's.
 *
 * Channels are read for the target subdir and noarch (conda_channel.h) with
 * strict priority; virtual packages default to what Azure ML's default CPU
 * image has (__glibc 2.35, __linux 5.15, __unix) unless given. The pip section
 * is resolved to wheels for the solution's python and glibc and appended as
 * "# pip NAME @ URL#sha256=HEX" lines (pip_lock.h).
 *
 * Ownership: the caller owns out (an initialised buf). */
#ifndef AMLPKG_CONDA_LOCK_H
#define AMLPKG_CONDA_LOCK_H

#include "builder/spec/conda.h"
#include "builder/sys/digest.h"
#include "cache/cache.h"
#include "common/buf.h"

#define CONDA_LOCK_DEFAULT_SUBDIR "linux-64"

struct conda_lock_options {
    const char *subdir;          /* NULL: CONDA_LOCK_DEFAULT_SUBDIR */
    const char *channel_alias;   /* NULL: CONDA_CHANNEL_DEFAULT_ALIAS */
    const char *const *virtuals; /* "NAME=VERSION", replacing the default of that name */
    size_t n_virtuals;
    const char *pip_index_url; /* NULL: PyPI, unless the pip section names an index: a mirror */
    struct cache *cache;       /* the pip section's wheels are kept there (pip_resolve.h); NULL: not kept */
    int no_glibc;              /* the target has no glibc (a musl or static base): no default __glibc */
};

int conda_lock_resolve(struct buf *out, const struct conda_env *env, const char *source,
                       const struct conda_lock_options *opt);
/* conda_lockfile_input_digest (builder/spec/conda_lockfile.h), which the lock records. */
int conda_lock_input_digest(char out[DIGEST_STRING_SIZE], const struct conda_env *env, const char *subdir);

#endif
