/* The pip section of `amlpkg lock`: the target the wheels are for, taken from the conda solution
 * (python's version, the __glibc virtual package, the subdir's architecture), the wheels resolved
 * (pip_resolve.h), and their lines in the lock, after conda's:
 *
 *   # pip six @ https://files.example/six-1.16.0-py2.py3-none-any.whl#sha256=<64 hex>
 *
 * one per wheel, sorted by name: pip's direct-reference syntax behind "# pip ", as conda-lock writes pip
 * packages into an explicit lock. conda ignores them (comments); `sed -n 's/^# pip //p' LOCK` gives a
 * requirements file that `pip install --no-deps` installs exactly, checking each hash.
 *
 * Ownership: out is the caller's (an initialised buf); repo and picked are borrowed. */
#ifndef AMLPKG_PIP_LOCK_H
#define AMLPKG_PIP_LOCK_H

#include "builder/env/conda_repodata.h"
#include "builder/spec/conda.h"
#include "cache/cache.h"
#include "common/buf.h"

#define PIP_LOCK_LINE_PREFIX "# pip "

/* Appends the pip lines for env's pip section to out; picked are the conda solution's records in repo.
 * index_mirror (may be NULL) replaces the default index (PyPI); cache (may be NULL) keeps every wheel
 * downloaded and every pinned one by sha256, so that the build installing the lock downloads nothing. */
int pip_lock_append(struct buf *out, const struct conda_env *env, const char *source, const struct conda_repodata *repo,
                    const size_t *picked, size_t n_picked, const char *subdir, const char *index_mirror,
                    struct cache *cache);

#endif
