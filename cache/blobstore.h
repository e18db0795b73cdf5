/* Content-addressed blob files: DIR/blobs/sha256/<64 hex>.
 *
 * A blob is first staged: streamed into DIR/blobs/tmp/ while it is hashed,
 * then fsynced. blobstore_commit renames it to its digest's name and fsyncs
 * the directory, so a blob file is either absent or complete; a crash leaves
 * at most a temp file, which gc removes. A staged file stays open with an
 * exclusive flock until it is committed or aborted, so gc can tell a live
 * writer's temp file (locked) from a dead one's (unlocked), however slow the
 * writer is. Committing a blob that already
 * exists keeps the existing file. This module knows files only; which blobs
 * are wanted is the index's business (index.h), and cache.c decides when to
 * stage, commit and remove under the index's write lock.
 *
 * struct blobstore is caller-owned (blobstore_init / blobstore_release);
 * paths returned through **out are malloc'd and owned by the caller. */
#ifndef AMLPKG_CACHE_BLOBSTORE_H
#define AMLPKG_CACHE_BLOBSTORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define BLOB_DIGEST_SIZE 72 /* "sha256:" + 64 hex + NUL */

struct blobstore {
    char *root; /* DIR/blobs/sha256 */
    char *tmp;  /* DIR/blobs/tmp */
};

/* Creates the directories under dir when missing. */
int blobstore_init(struct blobstore *bs, const char *dir);
/* create 0: only the paths, for a store that is read and never written. */
int blobstore_init_mode(struct blobstore *bs, const char *dir, int create);
void blobstore_release(struct blobstore *bs);

/* "sha256:" followed by 64 lower-case hex digits. */
int blobstore_valid_digest(const char *digest);
/* The blob's file path, or NULL for an invalid digest (or no memory). */
char *blobstore_path(const struct blobstore *bs, const char *digest);

/* A staged blob: caller-owned, ended by exactly one blobstore_commit or
 * blobstore_abort. */
struct blob_staged {
    char *tmp; /* the temp file */
    int fd;    /* open and flock'ed until commit/abort */
    char digest[BLOB_DIGEST_SIZE];
    int64_t size;
    int replace; /* commit renames over an existing blob of that name instead of keeping it */
};

/* Stages the rest of fd (read to EOF), or len bytes at data. */
int blobstore_stage_fd(const struct blobstore *bs, int fd, struct blob_staged *out);
int blobstore_stage_buffer(const struct blobstore *bs, const void *data, size_t len, struct blob_staged *out);
/* Stages a file by hard-linking it into the temp directory (same file system only: ERR_UNSUPPORTED
 * otherwise, and for a file system without hard links), with digest as the caller computed it from the
 * file's bytes. The file becomes the blob's: nothing may write to it again under any name. */
int blobstore_stage_link(const struct blobstore *bs, const char *path, const char *digest, struct blob_staged *out);
/* Moves a staged file into place under its digest (or drops it when the blob
 * exists) and ends the staging, also on failure. */
int blobstore_commit(const struct blobstore *bs, struct blob_staged *st);
/* Removes a staged file and ends the staging. */
void blobstore_abort(struct blob_staged *st);

/* Hashes a file. */
int blobstore_hash_file(const char *path, char digest[BLOB_DIGEST_SIZE], int64_t *size);
/* 0 when the blob's content matches its name, ERR_MISMATCH when it does not,
 * ERR_NOTFOUND when there is no such blob. */
int blobstore_check(const struct blobstore *bs, const char *digest);
/* Removes a blob file; a missing file is not an error. */
int blobstore_remove(const struct blobstore *bs, const char *digest);

/* Calls fn for every file in the blob directory named like a digest
 * (others are skipped); a non-zero return from fn stops the walk. */
typedef int (*blobstore_each_fn)(void *ctx, const char *digest, int64_t size, time_t mtime);
int blobstore_each(const struct blobstore *bs, blobstore_each_fn fn, void *ctx);
/* Removes staged files last written before cutoff that no live writer holds
 * (left by crashed writers). */
int blobstore_clean_temp(const struct blobstore *bs, time_t cutoff, size_t *removed);

#endif
