/* What ties a lock written by `amlpkg lock` (builder/env/conda_lock.h) to the
 * environment it was resolved from: the input digest (SHA-256 of the target
 * subdir, the channels in order, the canonical conda specs sorted, the pip
 * requirements and the pip section's options), written in the lock as "# amlpkg-input: sha256:<hex>", and
 * the check a spec's environment.lock_file gets: a lock whose input digest is
 * not its environment's is stale and refused, naming the spec's line.
 *
 * Ownership: conda_lockfile_check fills caller-provided buffers only. */
#ifndef AMLPKG_CONDA_LOCKFILE_H
#define AMLPKG_CONDA_LOCKFILE_H

#include "builder/spec/conda.h"
#include "builder/sys/digest.h"

#define CONDA_LOCKFILE_INPUT_PREFIX "# amlpkg-input: "
#define CONDA_LOCKFILE_PLATFORM_PREFIX "# platform: "
#define CONDA_LOCKFILE_MAX_BYTES (64u << 20)

int conda_lockfile_input_digest(char out[DIGEST_STRING_SIZE], const struct conda_env *env, const char *subdir);
/* Reads the lock at path and checks it against env; out_content gets the SHA-256 of the lock's bytes
 * (what the environment key holds). context ("spec.yaml:7: environment.lock_file") starts messages. */
int conda_lockfile_check(char out_content[DIGEST_STRING_SIZE], const char *path, const struct conda_env *env,
                         const char *context);

/* One package line of a lock: "URL#<sha256 hex>" after @EXPLICIT. */
struct conda_lock_entry {
    char *url;                    /* without the #fragment */
    char sha256[65];              /* lower-case hex */
    char *filename;               /* the URL's last segment: NAME-VERSION-BUILD.conda or .tar.bz2 */
    char *name, *version, *build; /* from the file name */
    char *channel;                /* the URL without /<subdir>/<filename> */
    char *subdir;
    int line;
};

/* The package lines of a lock's text, in file order. Comments and blank lines
 * are skipped; anything else after @EXPLICIT that is not URL#sha256 of a
 * .conda or .tar.bz2 file is refused naming file and line. */
int conda_lockfile_entries(struct conda_lock_entry **out, size_t *n, const char *text, const char *file);
void conda_lockfile_entries_free(struct conda_lock_entry *e, size_t n);

#endif
