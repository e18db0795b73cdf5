/* Where amlpkg unpacks and links a conda environment before it writes the environment's layer.
 *
 * Thousands of small files are created there, renamed, read once and removed: on a busy disk file
 * system each of those operations can wait up to a millisecond on the journal, which was most of an
 * install's time (tests/bench/conda.sh), while on tmpfs each is a few microseconds. Nothing there
 * needs to outlive the build, so the stage goes to memory (/dev/shm, when it is a tmpfs) when the
 * environment surely fits: every package of the lock a cache blob (those missing are fetched into the
 * cache first, as the install would, so every size is known; a failed download is the error), no
 * pip wheels, and CONDA_STAGE_EXPANSION times the packages' bytes under a quarter of /dev/shm's free
 * space and under CONDA_STAGE_MEMORY_MAX. Otherwise, or with AMLPKG_CONDA_STAGE=disk, it goes to
 * $TMPDIR as before; AMLPKG_CONDA_STAGE=memory skips the estimate (a tmpfs is still required). An install that fails with ERR_IO in the memory stage anyway (it filled up) is
 * retried on disk by its caller. A stage left by a killed build is swept by the next one
 * (fs_make_temp_dir's lock files). */
#ifndef AMLPKG_CONDA_STAGE_H
#define AMLPKG_CONDA_STAGE_H

#include "cache/cache.h"

#define CONDA_STAGE_EXPANSION 10
#define CONDA_STAGE_MEMORY_MAX (2ll << 30)
#define CONDA_STAGE_MEMORY_DIR "/dev/shm"

/* A new temporary directory for the stage (malloc'd; the caller removes it); *in_memory says where.
 * allow_memory 0: on disk whatever fits. */
int conda_stage_dir(char **out, int *in_memory, int allow_memory, const char *lock_text, const char *lock_name,
                    struct cache *cache);

#endif
