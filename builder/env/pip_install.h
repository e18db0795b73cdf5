/* Installing the wheels of a lock's `# pip` lines (pip_lock.h) without an engine, after the conda
 * packages: each wheel is fetched into the cache by its SHA-256 like a conda package (conda_fetch.h) and
 * installed into the staged prefix as PEP 427 says (wheel_install.h), in the lock's order (sorted by
 * name). This is what `pip install --no-deps -r` of those lines does in the executor route. */
#ifndef AMLPKG_PIP_INSTALL_H
#define AMLPKG_PIP_INSTALL_H

#include "cache/cache.h"

#include <stddef.h>

/* lock_text/lock_name: the lock and its name for messages; cache may be NULL; downloads: scratch for
 * fetches; prefix: the environment's path in the image; stage: that prefix on disk; python_version:
 * "3.11" from the lock's python ("" when it has none: wheels are then refused). *installed: how many. */
int pip_install_locked(size_t *installed, const char *lock_text, const char *lock_name, struct cache *cache,
                       const char *downloads, const char *prefix, const char *stage, const char *python_version);

#endif
