/* The cache index: a sqlite database (DIR/index.db) of cache entries
 * (environment key → image manifest digest, image name, size, created,
 * last used), the blobs in the store, and which blobs each entry needs.
 *
 * Several amlpkg processes may share one cache: the database runs in WAL mode
 * with a busy timeout, and every change happens inside index_begin /
 * index_commit (BEGIN IMMEDIATE), which is also the lock cache.c holds while
 * it moves blob files in and out. The schema version is sqlite's
 * user_version; a newer schema than INDEX_SCHEMA is refused, not rewritten.
 *
 * struct cache_index is opaque (index_open / index_close). Entry strings
 * are copied into caller-owned structs. */
#ifndef AMLPKG_CACHE_INDEX_H
#define AMLPKG_CACHE_INDEX_H

#include <stddef.h>
#include <stdint.h>

#define INDEX_SCHEMA 2
#define INDEX_BUSY_TIMEOUT_MS 30000

struct cache_index;

struct index_entry {
    char key[65];
    char manifest_digest[72];
    char image_name[256];
    int64_t size;               /* bytes of all blobs the entry needs */
    int64_t created, last_used; /* unix seconds */
    int64_t hits;               /* lookups that found it */
    char kind[16];              /* "environment" (an image manifest) or "layer" (one layer blob) */
    char media_type[128];       /* layers: the blob's media type */
    char diff_id[72];           /* layers: the digest of the uncompressed tar */
};

int index_open(struct cache_index **out, const char *path);
/* Opens an index only to read it (a shared, read-only cache tier): nothing is
 * created, upgraded or written, not even sqlite's -wal/-shm files (the file
 * is opened immutable: it must not change while amlpkg reads it). */
int index_open_readonly(struct cache_index **out, const char *path);
void index_close(struct cache_index *ix);

int index_begin(struct cache_index *ix);
int index_commit(struct cache_index *ix);
void index_rollback(struct cache_index *ix);

/* Records a blob (or refreshes its time, which gc's grace period counts from). */
int index_blob_put(struct cache_index *ix, const char *digest, int64_t size, int64_t now);
/* 1 and *size when the blob is indexed, 0 when not, negative on error. */
int index_blob_get(struct cache_index *ix, const char *digest, int64_t *size);
/* Forgets a blob and every entry that needs it; *entries_removed counts them. */
int index_blob_delete(struct cache_index *ix, const char *digest, size_t *entries_removed);

/* Replaces the entry for e->key and the list of blobs it needs. */
int index_entry_put(struct cache_index *ix, const struct index_entry *e, const char *const *refs, size_t n_refs);
/* 0 and *out, or ERR_NOTFOUND. */
int index_entry_get(struct cache_index *ix, const char *key, struct index_entry *out);
/* A hit: last_used becomes now and hits grows by one. */
int index_entry_touch(struct cache_index *ix, const char *key, int64_t now);
/* The blobs an entry needs (malloc'd array of malloc'd strings). */
int index_entry_refs(struct cache_index *ix, const char *key, char ***out, size_t *n);
void index_strings_free(char **list, size_t n);

/* All entries, most recently used first (malloc'd array). */
int index_entries(struct cache_index *ix, struct index_entry **out, size_t *n);
/* Removes one entry (its refs go with it); ERR_NOTFOUND when there is none. */
int index_entry_delete(struct cache_index *ix, const char *key);
/* Removes entries last used before cutoff. */
int index_entries_expire(struct cache_index *ix, int64_t cutoff, size_t *removed);

/* Callback over blobs; a non-zero return stops the walk and is returned. */
typedef int (*index_blob_fn)(void *ctx, const char *digest, int64_t size, int64_t added);
int index_each_blob(struct cache_index *ix, index_blob_fn fn, void *ctx);
/* Blobs no entry needs, added at or before cutoff. */
int index_each_unreferenced(struct cache_index *ix, int64_t cutoff, index_blob_fn fn, void *ctx);

/* What identifies one version of a file without reading it (as git's index
 * does): any write changes ctime, which no one can set back. */
struct index_file_stamp {
    int64_t dev, ino, size, mtime_ns, ctime_ns;
};
/* The SHA-256 ("sha256:<hex>") recorded for path when its stamp is unchanged, else ERR_NOTFOUND (no message). */
int index_file_get(struct cache_index *ix, const char *path, const struct index_file_stamp *stamp, char digest[72]);
/* Records path's digest at stamp (nothing on a read-only index). */
int index_file_put(struct cache_index *ix, const char *path, const struct index_file_stamp *stamp, const char *digest,
                   int64_t now);
/* Forgets file digests recorded before cutoff. */
int index_files_expire(struct cache_index *ix, int64_t cutoff);

struct index_counts {
    int64_t entries, layers, blobs, blob_bytes, entry_bytes, hits; /* entries, entry_bytes, hits: environments */
    int schema;
};
int index_counts(struct cache_index *ix, struct index_counts *out);

#endif
