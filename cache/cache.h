/* The local environment cache: built environment images, by environment key.
 *
 * A cache directory holds a content-addressed blob store (blobstore.h:
 * DIR/blobs/sha256/<hex>) and a sqlite index (index.h: DIR/index.db) that maps
 * an environment key (envkey.h) to the digest of an OCI image manifest whose
 * config and layers are blobs in the same store. The cache stores keys and
 * blobs; it never builds, pulls or parses specs. It does read the manifests it
 * is given, to know which blobs an entry needs (for gc and verify).
 *
 * Directory: cache_open(&c, NULL) uses $AMLPKG_CACHE_DIR, else
 * $XDG_CACHE_HOME/amlpkg, else ~/.cache/amlpkg. Several amlpkg processes may
 * use one cache at once: every change is one sqlite transaction (WAL, busy
 * timeout), taken after the blob file it mentions is complete, and blob files
 * move in and out only while that transaction's write lock is held.
 *
 * How `amlpkg build` is meant to use it (not wired yet):
 *
 *     struct cache *c; struct cache_entry hit;
 *     cache_open(&c, NULL);
 *     if (cache_lookup(c, key.hex, &hit) == 0) {
 *         // reuse hit.manifest_digest: read it and its blobs with
 *         // cache_blob_path / cache_blob_open, skip the environment build
 *     } else {
 *         // build the environment image, then for every blob (layers,
 *         // config, finally the manifest):
 *         cache_put_blob(c, layer_path, digest);      // or _fd / _buffer
 *         ...
 *         cache_record(c, key.hex, manifest_digest, "azureml/azureml_<key>");
 *     }
 *     cache_close(c);
 *
 * A miss (ERR_NOTFOUND from cache_lookup) sets no error message, so the
 * caller can carry on and still report a later error. Everything else
 * follows common/err.h. struct cache is opaque (cache_open / cache_close). */
#ifndef AMLPKG_CACHE_H
#define AMLPKG_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define CACHE_DIGEST_SIZE 72 /* "sha256:" + 64 hex + NUL */
/* Largest manifest or image index the cache reads. */
#define CACHE_MAX_MANIFEST (4u << 20)
/* Default for gc's grace period: blobs younger than this may belong to a
 * build that has not recorded its entry yet. */
#define CACHE_GC_GRACE_SECONDS 3600

struct cache;

struct cache_entry {
    char key[65];                            /* environment key, 64 hex */
    char manifest_digest[CACHE_DIGEST_SIZE]; /* the image manifest (or index) */
    char image_name[256];                    /* e.g. azureml/azureml_<key> */
    int64_t size;                            /* bytes of all blobs the entry needs */
    int64_t created, last_used;              /* unix seconds */
    int64_t hits;                            /* lookups that found it */
    char kind[16];                           /* "environment", or "layer" (see cache_record_layer) */
    char media_type[128];                    /* layers: the blob's media type */
    char diff_id[CACHE_DIGEST_SIZE];         /* layers: the uncompressed tar's digest */
};

/* The default cache directory (malloc'd). */
int cache_default_dir(char **out);
/* Opens (creating when missing) the cache in dir, or the default when NULL. */
int cache_open(struct cache **out, const char *dir);
/* Opens a shared cache directory (the global tier, e.g. a read-only mount
 * that a CI job publishes) only to read it: nothing there is created, locked
 * or written, lookups do not count as uses. Writing calls fail. */
int cache_open_readonly(struct cache **out, const char *dir);
void cache_close(struct cache *c);
const char *cache_dir(const struct cache *c);

/* 0 and *out for a usable entry (every blob it needs is present), and its
 * last_used becomes now; ERR_NOTFOUND, with no message set, for a miss. */
int cache_lookup(struct cache *c, const char *key, struct cache_entry *out);
/* 1 when cache_lookup would hit, without counting it as a use. */
int cache_contains(struct cache *c, const char *key);

/* Adds a blob: a file by path, the rest of an open fd, or a buffer. The
 * digest is computed while copying. Adding an existing blob is cheap and
 * refreshes its time. */
int cache_put_blob(struct cache *c, const char *path, char out_digest[CACHE_DIGEST_SIZE]);
int cache_put_blob_fd(struct cache *c, int fd, char out_digest[CACHE_DIGEST_SIZE]);
int cache_put_blob_buffer(struct cache *c, const void *data, size_t len, char out_digest[CACHE_DIGEST_SIZE]);

/* Adds a file whose digest the caller computed from its bytes (a layer it just wrote or verified),
 * without copying it: a blob already present is only marked used, and a file on the cache's file
 * system is hard-linked in (fsynced first, as a copied blob is); elsewhere it is copied and hashed.
 * The file becomes the blob's: the caller may remove its name but never write to it again. */
int cache_adopt_blob(struct cache *c, const char *path, const char *digest);

/* Path of a blob file (malloc'd), whether or not it exists. */
int cache_blob_path(struct cache *c, const char *digest, char **out);
/* Opens a blob for reading. With CACHE_VERIFY the content is checked against
 * its name first (hashed, or a remembered hash while the file's stat stamp is
 * unchanged: see cache_file_digest) and a mismatch is ERR_MISMATCH (run
 * `amlpkg cache verify`, which re-hashes every byte, to drop it). */
enum { CACHE_VERIFY = 1 };
int cache_blob_open(struct cache *c, const char *digest, unsigned flags, int *out_fd);

/* Records key → manifest_digest. The manifest (an OCI/Docker image manifest
 * or an image index) must already be a blob, and so must every blob it names
 * (config, layers, child manifests); otherwise ERR_NOTFOUND and nothing
 * changes. Replaces an existing entry for key. */
int cache_record(struct cache *c, const char *key, const char *manifest_digest, const char *image_name);

/* Records key → one layer blob already in the cache (kind "layer"): a
 * compressed layer reused when the same tar is compressed the same way again. */
int cache_record_layer(struct cache *c, const char *key, const char *blob_digest, const char *diff_id,
                       const char *media_type);

/* A hit in src (a read-only tier) copied into dst: every blob it needs
 * (each checked against its digest), then the entry; *out is dst's entry.
 * ERR_NOTFOUND with no message when src has no usable entry for key. */
int cache_import(struct cache *dst, struct cache *src, const char *key, struct cache_entry *out);

/* The SHA-256 of a file ("sha256:<hex>"), remembered by the cache across
 * runs while the file's device, inode, size, mtime and ctime stay the same
 * (as git's index does), so an unchanged model or binary is not read again.
 * c may be NULL (always hashes). Unused memos go after CACHE_FILE_DIGEST_DAYS (gc). */
#define CACHE_FILE_DIGEST_DAYS 30
int cache_file_digest(struct cache *c, const char *path, char out[CACHE_DIGEST_SIZE]);
/* Its two halves, for digests computed elsewhere (builder/image/digest_prefetch.h):
 * the remembered digest of path while st (its stat) matches the memo, else
 * ERR_NOTFOUND without a message; and remembering a digest computed from the
 * bytes path had when before was taken, if it has not changed since (and is
 * not too recent to trust a stamp: files changed in the last 2 s are not kept). */
struct stat;
/* Whether two stats of a file show the same stamp (device, inode, size, mtime, ctime). */
int cache_file_unchanged(const struct stat *before, const struct stat *now);
int cache_file_digest_remembered(struct cache *c, const char *path, const struct stat *st, char out[CACHE_DIGEST_SIZE]);
void cache_file_digest_learn(struct cache *c, const char *path, const struct stat *before,
                             const char digest[CACHE_DIGEST_SIZE]);

/* Facts about a cache blob worth remembering across builds (CACHE_BLOB_HASHED: it hashes to its digest;
 * a caller's own, such as a layer scan passed), valid while the blob (st: its stat) keeps the device, inode,
 * size and mtime it had when the fact was learned. ctime is left out, as linking the blob into a build
 * moves it; any write moves mtime. Bit rot is for `amlpkg cache verify`. */
#define CACHE_BLOB_HASHED "sha256"
int cache_blob_known(struct cache *c, const char *fact, const char *digest, const struct stat *st);
/* Remembers the fact for the blob at stat st (not when its mtime is under 2 s old). */
void cache_blob_learn(struct cache *c, const char *fact, const char *digest, const struct stat *st);

/* Forgets the entry for key (gc frees the blobs only it needed); ERR_NOTFOUND when absent. */
int cache_remove(struct cache *c, const char *key);

/* All entries, most recently used first (*out malloc'd). */
int cache_list(struct cache *c, struct cache_entry **out, size_t *n);

struct cache_stats {
    int64_t entries, layers, blobs, blob_bytes, entry_bytes, hits; /* entries, entry_bytes, hits: environments */
    int schema;
};
int cache_stats(struct cache *c, struct cache_stats *out);

struct cache_problem {
    char digest[CACHE_DIGEST_SIZE];
    const char *what; /* "corrupt", "missing", "corrupt (not indexed)" */
};

struct cache_report {
    size_t checked;         /* blobs re-hashed (verify) */
    size_t corrupt;         /* blobs whose content does not match their name */
    size_t missing;         /* indexed blobs without a file */
    size_t entries_removed; /* entries dropped (expired, or needing a bad blob) */
    size_t blobs_removed;   /* blob files removed */
    size_t temp_removed;    /* stale temporary files removed */
    int64_t bytes_freed;
    int grace_kept;                 /* gc: other processes had the cache open, so the default grace applied */
    struct cache_problem *problems; /* verify's findings (malloc'd) */
    size_t n_problems;
};
void cache_report_release(struct cache_report *r);

/* Re-hashes every blob; corrupt and missing blobs are removed from the store
 * and the index, with every entry that needs them. */
int cache_verify(struct cache *c, struct cache_report *out);
/* Drops entries not used for older_than seconds (none when negative), then
 * removes blobs no entry needs, stray files and stale temp files, all older
 * than grace seconds. A grace below CACHE_GC_GRACE_SECONDS applies only when
 * no other process has the cache open (each open cache holds a shared flock
 * on DIR/lock); otherwise gc uses the default and sets grace_kept. Temp
 * files a live writer holds are never removed. */
int cache_gc(struct cache *c, int64_t older_than, int64_t grace, struct cache_report *out);
/* Forgets the least recently used entries until those left need at most max_bytes, then
 * collects the freed blobs (as cache_gc with grace). */
int cache_trim(struct cache *c, int64_t max_bytes, int64_t grace, struct cache_report *out);

#endif
