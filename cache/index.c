#include "index.h"

#include "common/err.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct cache_index {
    sqlite3 *db;
    char *path;
    int schema; /* user_version: a read-only index may be older than INDEX_SCHEMA */
    int readonly;
};

static const char schema_v1[] = "CREATE TABLE IF NOT EXISTS blobs ("
                                "  digest TEXT PRIMARY KEY,"
                                "  size INTEGER NOT NULL,"
                                "  added INTEGER NOT NULL);"
                                "CREATE TABLE IF NOT EXISTS entries ("
                                "  key TEXT PRIMARY KEY,"
                                "  manifest_digest TEXT NOT NULL,"
                                "  image_name TEXT NOT NULL,"
                                "  size INTEGER NOT NULL,"
                                "  created INTEGER NOT NULL,"
                                "  last_used INTEGER NOT NULL);"
                                "CREATE TABLE IF NOT EXISTS refs ("
                                "  key TEXT NOT NULL REFERENCES entries(key) ON DELETE CASCADE,"
                                "  digest TEXT NOT NULL REFERENCES blobs(digest),"
                                "  PRIMARY KEY (key, digest));"
                                "CREATE INDEX IF NOT EXISTS refs_by_digest ON refs(digest);"
                                "PRAGMA user_version = 1;";

/* v2: hit counts, and entries for single compressed layers (kind 'layer': manifest_digest is
 * the layer blob, with its media type and uncompressed digest) beside environment images. */
static const char schema_v2[] = "ALTER TABLE entries ADD COLUMN hits INTEGER NOT NULL DEFAULT 0;"
                                "ALTER TABLE entries ADD COLUMN kind TEXT NOT NULL DEFAULT 'environment';"
                                "ALTER TABLE entries ADD COLUMN media_type TEXT NOT NULL DEFAULT '';"
                                "ALTER TABLE entries ADD COLUMN diff_id TEXT NOT NULL DEFAULT '';"
                                "CREATE TABLE IF NOT EXISTS files ("
                                "  path TEXT PRIMARY KEY,"
                                "  dev INTEGER NOT NULL, ino INTEGER NOT NULL, size INTEGER NOT NULL,"
                                "  mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,"
                                "  digest TEXT NOT NULL,"
                                "  checked INTEGER NOT NULL);"
                                "PRAGMA user_version = 2;";

static int db_error(struct cache_index *ix, const char *what)
{
    int code = sqlite3_errcode(ix->db);
    return err_set(ERR_IO, "%s: %s: %s%s", ix->path, what, sqlite3_errmsg(ix->db),
                   code == SQLITE_BUSY || code == SQLITE_LOCKED ? " (another amlpkg held the lock too long)" : "");
}

static int exec(struct cache_index *ix, const char *sql, const char *what)
{
    return sqlite3_exec(ix->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : db_error(ix, what);
}

static int prepare(struct cache_index *ix, sqlite3_stmt **st, const char *sql)
{
    return sqlite3_prepare_v2(ix->db, sql, -1, st, NULL) == SQLITE_OK ? 0 : db_error(ix, "cannot prepare a query");
}

/* prepare, with text bound to ?1 (a digest, a key or a path; it must outlive the statement). */
static int prepare_text(struct cache_index *ix, sqlite3_stmt **st, const char *sql, const char *text)
{
    int rc = prepare(ix, st, sql);
    if (!rc)
        sqlite3_bind_text(*st, 1, text, -1, SQLITE_STATIC);
    return rc;
}

/* Runs a statement that returns no rows and finalizes it. */
static int step_done(struct cache_index *ix, sqlite3_stmt *st, const char *what)
{
    int r = sqlite3_step(st);
    int rc = r == SQLITE_DONE ? 0 : db_error(ix, what);
    sqlite3_finalize(st);
    return rc;
}

static int user_version(struct cache_index *ix, int *out)
{
    sqlite3_stmt *st;
    int rc = prepare(ix, &st, "PRAGMA user_version");
    if (rc)
        return rc;
    if (sqlite3_step(st) == SQLITE_ROW)
        *out = sqlite3_column_int(st, 0);
    else
        rc = db_error(ix, "cannot read the schema version");
    sqlite3_finalize(st);
    return rc;
}

int index_open(struct cache_index **out, const char *path)
{
    *out = NULL;
    struct cache_index *ix = calloc(1, sizeof *ix);
    if (!ix || !(ix->path = strdup(path))) {
        free(ix);
        return err_set(ERR_NOMEM, "out of memory");
    }
    int rc = 0;
    if (sqlite3_open_v2(path, &ix->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) !=
        SQLITE_OK) {
        rc = err_set(ERR_IO, "%s: cannot open the cache index: %s", path,
                     ix->db ? sqlite3_errmsg(ix->db) : "out of memory");
        goto done;
    }
    sqlite3_busy_timeout(ix->db, INDEX_BUSY_TIMEOUT_MS);
    /* Keep the WAL file when the last connection closes (it is still checkpointed
     * into index.db then): creating it again costs every build a directory fsync. */
    int persist_wal = 1;
    sqlite3_file_control(ix->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist_wal);
    /* WAL lets readers (lookups, ls) run while another process writes. Switching to it can
     * report "locked" without waiting while another process creates the same file, so it is
     * retried for as long as the busy timeout allows (the mode then persists in the file). */
    for (int waited = 0;; waited += 10) {
        int code = sqlite3_exec(ix->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
        if (code == SQLITE_OK)
            break;
        if ((code != SQLITE_BUSY && code != SQLITE_LOCKED) || waited >= INDEX_BUSY_TIMEOUT_MS) {
            rc = db_error(ix, "cannot enable WAL");
            goto done;
        }
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    if ((rc = exec(ix, "PRAGMA foreign_keys=ON", "cannot enable foreign keys")) ||
        (rc = exec(ix, "PRAGMA synchronous=NORMAL", "cannot set synchronous")))
        goto done;
    int version = 0;
    if ((rc = user_version(ix, &version)))
        goto done;
    ix->schema = version;
    if (version == INDEX_SCHEMA)
        goto done;
    if (version > INDEX_SCHEMA) {
        rc = err_set(ERR_UNSUPPORTED, "%s: cache index schema %d is newer than this amlpkg understands (%d)", path,
                     version, INDEX_SCHEMA);
        goto done;
    }
    /* Two processes may create the schema at once: the write lock decides,
     * and the loser finds it done. */
    if ((rc = index_begin(ix)))
        goto done;
    if ((rc = user_version(ix, &version)) || (version == 0 && (rc = exec(ix, schema_v1, "cannot create the schema"))) ||
        (version < 2 && (rc = exec(ix, schema_v2, "cannot upgrade the schema to version 2")))) {
        index_rollback(ix);
        goto done;
    }
    rc = index_commit(ix);
    ix->schema = INDEX_SCHEMA;
done:
    if (rc)
        index_close(ix);
    else
        *out = ix;
    return rc;
}

/* sqlite's file: URI for path: everything but unreserved characters and '/' percent-encoded. */
static char *file_uri(const char *path, const char *query)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t size = 3 * strlen(path) + strlen(query) + 16;
    char *uri = malloc(size), *p = uri;
    if (!uri)
        return NULL;
    memcpy(p, "file:", 5);
    p += 5;
    for (const unsigned char *c = (const unsigned char *)path; *c; c++) {
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || strchr("/-._~", *c)) {
            *p++ = (char)*c;
        } else {
            *p++ = '%';
            *p++ = hex[*c >> 4];
            *p++ = hex[*c & 15];
        }
    }
    snprintf(p, size - (size_t)(p - uri), "?%s", query);
    return uri;
}

int index_open_readonly(struct cache_index **out, const char *path)
{
    *out = NULL;
    struct cache_index *ix = calloc(1, sizeof *ix);
    char *uri = file_uri(path, "mode=ro&immutable=1");
    if (!ix || !uri || !(ix->path = strdup(path))) {
        free(ix);
        free(uri);
        return err_set(ERR_NOMEM, "out of memory");
    }
    int rc = 0, version = 0;
    if (access(path, R_OK) != 0)
        rc = err_set_errno(ERR_NOTFOUND, "%s: cannot read the cache index", path);
    else if (sqlite3_open_v2(uri, &ix->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_FULLMUTEX, NULL) !=
             SQLITE_OK)
        rc = err_set(ERR_IO, "%s: cannot open the cache index: %s", path,
                     ix->db ? sqlite3_errmsg(ix->db) : "out of memory");
    else if (!(rc = user_version(ix, &version)) && (version < 1 || version > INDEX_SCHEMA))
        rc = err_set(ERR_UNSUPPORTED, "%s: cache index schema %d: this amlpkg reads schemas 1 to %d", path, version,
                     INDEX_SCHEMA);
    ix->schema = version;
    ix->readonly = 1;
    free(uri);
    if (rc)
        index_close(ix);
    else
        *out = ix;
    return rc;
}

void index_close(struct cache_index *ix)
{
    if (!ix)
        return;
    sqlite3_close(ix->db);
    free(ix->path);
    free(ix);
}

int index_begin(struct cache_index *ix)
{
    if (ix->readonly)
        return err_set(ERR_UNSUPPORTED, "%s: this cache is read-only (a shared tier): amlpkg never writes to it",
                       ix->path);
    return exec(ix, "BEGIN IMMEDIATE", "cannot lock the cache index");
}

int index_commit(struct cache_index *ix)
{
    int rc = exec(ix, "COMMIT", "cannot commit to the cache index");
    if (rc)
        index_rollback(ix);
    return rc;
}

void index_rollback(struct cache_index *ix)
{
    if (!sqlite3_get_autocommit(ix->db))
        sqlite3_exec(ix->db, "ROLLBACK", NULL, NULL, NULL);
}

int index_blob_put(struct cache_index *ix, const char *digest, int64_t size, int64_t now)
{
    sqlite3_stmt *st;
    int rc = prepare_text(ix, &st,
                          "INSERT INTO blobs(digest, size, added) VALUES(?1, ?2, ?3) "
                          "ON CONFLICT(digest) DO UPDATE SET size = excluded.size, added = excluded.added",
                          digest);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 2, size);
    sqlite3_bind_int64(st, 3, now);
    return step_done(ix, st, "cannot record a blob");
}

int index_blob_get(struct cache_index *ix, const char *digest, int64_t *size)
{
    sqlite3_stmt *st;
    int rc = prepare_text(ix, &st, "SELECT size FROM blobs WHERE digest = ?1", digest);
    if (rc)
        return rc;
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        if (size)
            *size = sqlite3_column_int64(st, 0);
        rc = 1;
    } else if (r != SQLITE_DONE) {
        rc = db_error(ix, "cannot read a blob");
    }
    sqlite3_finalize(st);
    return rc;
}

int index_blob_delete(struct cache_index *ix, const char *digest, size_t *entries_removed)
{
    sqlite3_stmt *st;
    int rc = prepare_text(ix, &st, "DELETE FROM entries WHERE key IN (SELECT key FROM refs WHERE digest = ?1)", digest);
    if (rc)
        return rc;
    if ((rc = step_done(ix, st, "cannot remove entries")))
        return rc;
    if (entries_removed)
        *entries_removed += (size_t)sqlite3_changes(ix->db);
    if ((rc = prepare(ix, &st, "DELETE FROM blobs WHERE digest = ?1")))
        return rc;
    sqlite3_bind_text(st, 1, digest, -1, SQLITE_STATIC);
    return step_done(ix, st, "cannot remove a blob");
}

int index_entry_put(struct cache_index *ix, const struct index_entry *e, const char *const *refs, size_t n_refs)
{
    sqlite3_stmt *st;
    int rc = prepare_text(ix, &st, "DELETE FROM entries WHERE key = ?1", e->key);
    if (rc)
        return rc;
    if ((rc = step_done(ix, st, "cannot replace an entry")))
        return rc;
    if ((rc = prepare(ix, &st,
                      "INSERT INTO entries(key, manifest_digest, image_name, size, created, last_used, hits, kind, "
                      "media_type, diff_id) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")))
        return rc;
    sqlite3_bind_text(st, 1, e->key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, e->manifest_digest, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, e->image_name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, e->size);
    sqlite3_bind_int64(st, 5, e->created);
    sqlite3_bind_int64(st, 6, e->last_used);
    sqlite3_bind_int64(st, 7, e->hits);
    sqlite3_bind_text(st, 8, e->kind[0] ? e->kind : "environment", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, e->media_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, e->diff_id, -1, SQLITE_STATIC);
    if ((rc = step_done(ix, st, "cannot record an entry")))
        return rc;
    if ((rc = prepare(ix, &st, "INSERT OR IGNORE INTO refs(key, digest) VALUES(?1, ?2)")))
        return rc;
    for (size_t i = 0; i < n_refs && !rc; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, e->key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, refs[i], -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = db_error(ix, "cannot record the blobs of an entry");
    }
    sqlite3_finalize(st);
    return rc;
}

static void copy_text(char *dst, size_t size, sqlite3_stmt *st, int col)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    snprintf(dst, size, "%s", s ? (const char *)s : "");
}

static void read_entry(sqlite3_stmt *st, struct index_entry *e)
{
    copy_text(e->key, sizeof e->key, st, 0);
    copy_text(e->manifest_digest, sizeof e->manifest_digest, st, 1);
    copy_text(e->image_name, sizeof e->image_name, st, 2);
    e->size = sqlite3_column_int64(st, 3);
    e->created = sqlite3_column_int64(st, 4);
    e->last_used = sqlite3_column_int64(st, 5);
    e->hits = sqlite3_column_int64(st, 6);
    copy_text(e->kind, sizeof e->kind, st, 7);
    copy_text(e->media_type, sizeof e->media_type, st, 8);
    copy_text(e->diff_id, sizeof e->diff_id, st, 9);
}

/* The entry columns read_entry expects; a schema-1 index (read-only) lacks the last four. */
static const char *entry_columns(const struct cache_index *ix)
{
    return ix->schema >= 2
               ? "key, manifest_digest, image_name, size, created, last_used, hits, kind, media_type, diff_id"
               : "key, manifest_digest, image_name, size, created, last_used, 0, 'environment', '', ''";
}

/* SELECT of the entry columns, rest its WHERE/ORDER clause; text (when not NULL) bound to ?1. */
static int prepare_entries_text(struct cache_index *ix, sqlite3_stmt **st, const char *rest, const char *text)
{
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT %s FROM entries %s", entry_columns(ix), rest);
    return text ? prepare_text(ix, st, sql, text) : prepare(ix, st, sql);
}

int index_entry_get(struct cache_index *ix, const char *key, struct index_entry *out)
{
    sqlite3_stmt *st;
    int rc = prepare_entries_text(ix, &st, "WHERE key = ?1", key);
    if (rc)
        return rc;
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        read_entry(st, out);
    else
        rc = r == SQLITE_DONE ? ERR_NOTFOUND : db_error(ix, "cannot read an entry");
    sqlite3_finalize(st);
    return rc;
}

int index_entry_touch(struct cache_index *ix, const char *key, int64_t now)
{
    sqlite3_stmt *st;
    int rc = prepare_text(ix, &st, "UPDATE entries SET last_used = ?2, hits = hits + 1 WHERE key = ?1", key);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 2, now);
    return step_done(ix, st, "cannot update an entry");
}

void index_strings_free(char **list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        free(list[i]);
    free(list);
}

int index_entry_refs(struct cache_index *ix, const char *key, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st;
    int rc = prepare_text(ix, &st, "SELECT digest FROM refs WHERE key = ?1 ORDER BY digest", key);
    if (rc)
        return rc;
    char **list = NULL;
    size_t count = 0;
    int r;
    while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
        char **p = realloc(list, (count + 1) * sizeof *p);
        const unsigned char *s = sqlite3_column_text(st, 0);
        if (!p || !s || !(p[count] = strdup((const char *)s))) {
            list = p ? p : list;
            rc = err_set(ERR_NOMEM, "out of memory");
            break;
        }
        list = p;
        count++;
    }
    if (!rc && r != SQLITE_DONE)
        rc = db_error(ix, "cannot read the blobs of an entry");
    sqlite3_finalize(st);
    if (rc) {
        index_strings_free(list, count);
        return rc;
    }
    *out = list;
    *n = count;
    return 0;
}

int index_entries(struct cache_index *ix, struct index_entry **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st;
    int rc = prepare_entries_text(ix, &st, "ORDER BY last_used DESC, key", NULL);
    if (rc)
        return rc;
    struct index_entry *list = NULL;
    size_t count = 0;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        struct index_entry *p = realloc(list, (count + 1) * sizeof *p);
        if (!p) {
            rc = err_set(ERR_NOMEM, "out of memory");
            break;
        }
        list = p;
        read_entry(st, &list[count++]);
    }
    if (!rc && r != SQLITE_DONE)
        rc = db_error(ix, "cannot list entries");
    sqlite3_finalize(st);
    if (rc) {
        free(list);
        return rc;
    }
    *out = list;
    *n = count;
    return 0;
}

int index_entry_delete(struct cache_index *ix, const char *key)
{
    sqlite3_stmt *st;
    int rc = prepare_text(ix, &st, "DELETE FROM entries WHERE key = ?1", key);
    if (rc)
        return rc;
    if ((rc = step_done(ix, st, "cannot remove the entry")))
        return rc;
    return sqlite3_changes(ix->db) ? 0 : ERR_NOTFOUND;
}

int index_entries_expire(struct cache_index *ix, int64_t cutoff, size_t *removed)
{
    sqlite3_stmt *st;
    int rc = prepare(ix, &st, "DELETE FROM entries WHERE last_used < ?1");
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, cutoff);
    if (!(rc = step_done(ix, st, "cannot expire entries")) && removed)
        *removed += (size_t)sqlite3_changes(ix->db);
    return rc;
}

/* Parameters 1-6 of the files queries below. */
static void bind_stamp(sqlite3_stmt *st, const char *path, const struct index_file_stamp *stamp)
{
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, stamp->dev);
    sqlite3_bind_int64(st, 3, stamp->ino);
    sqlite3_bind_int64(st, 4, stamp->size);
    sqlite3_bind_int64(st, 5, stamp->mtime_ns);
    sqlite3_bind_int64(st, 6, stamp->ctime_ns);
}

int index_file_get(struct cache_index *ix, const char *path, const struct index_file_stamp *stamp, char digest[72])
{
    if (ix->schema < 2)
        return ERR_NOTFOUND;
    sqlite3_stmt *st;
    int rc = prepare(ix, &st,
                     "SELECT digest FROM files WHERE path = ?1 AND dev = ?2 AND ino = ?3 AND size = ?4 "
                     "AND mtime_ns = ?5 AND ctime_ns = ?6");
    if (rc)
        return rc;
    bind_stamp(st, path, stamp);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        copy_text(digest, 72, st, 0);
    else
        rc = r == SQLITE_DONE ? ERR_NOTFOUND : db_error(ix, "cannot read a file digest");
    sqlite3_finalize(st);
    return rc;
}

int index_file_put(struct cache_index *ix, const char *path, const struct index_file_stamp *stamp, const char *digest,
                   int64_t now)
{
    if (ix->readonly)
        return 0;
    sqlite3_stmt *st;
    int rc = prepare(ix, &st,
                     "INSERT OR REPLACE INTO files(path, dev, ino, size, mtime_ns, ctime_ns, digest, checked) "
                     "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    if (rc)
        return rc;
    bind_stamp(st, path, stamp);
    sqlite3_bind_text(st, 7, digest, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, now);
    return step_done(ix, st, "cannot record a file digest");
}

int index_files_expire(struct cache_index *ix, int64_t cutoff)
{
    sqlite3_stmt *st;
    int rc = prepare(ix, &st, "DELETE FROM files WHERE checked < ?1");
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, cutoff);
    return step_done(ix, st, "cannot expire file digests");
}

static int each_blob(struct cache_index *ix, sqlite3_stmt *st, index_blob_fn fn, void *ctx)
{
    int rc = 0, r;
    while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *d = sqlite3_column_text(st, 0);
        rc = fn(ctx, d ? (const char *)d : "", sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2));
    }
    if (!rc && r != SQLITE_DONE)
        rc = db_error(ix, "cannot list blobs");
    sqlite3_finalize(st);
    return rc;
}

int index_each_blob(struct cache_index *ix, index_blob_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    int rc = prepare(ix, &st, "SELECT digest, size, added FROM blobs ORDER BY digest");
    return rc ? rc : each_blob(ix, st, fn, ctx);
}

int index_each_unreferenced(struct cache_index *ix, int64_t cutoff, index_blob_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    int rc = prepare(ix, &st,
                     "SELECT digest, size, added FROM blobs WHERE added <= ?1 "
                     "AND NOT EXISTS (SELECT 1 FROM refs WHERE refs.digest = blobs.digest) ORDER BY digest");
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, cutoff);
    return each_blob(ix, st, fn, ctx);
}

static int64_t scalar_query(struct cache_index *ix, const char *sql, int *rc)
{
    sqlite3_stmt *st;
    int64_t v = 0;
    if (*rc || (*rc = prepare(ix, &st, sql)))
        return 0;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    else
        *rc = db_error(ix, "cannot count");
    sqlite3_finalize(st);
    return v;
}

int index_counts(struct cache_index *ix, struct index_counts *out)
{
    int rc = 0;
    int v2 = ix->schema >= 2;
    out->entries = scalar_query(
        ix, v2 ? "SELECT count(*) FROM entries WHERE kind = 'environment'" : "SELECT count(*) FROM entries", &rc);
    out->layers = v2 ? scalar_query(ix, "SELECT count(*) FROM entries WHERE kind = 'layer'", &rc) : 0;
    out->hits = v2 ? scalar_query(ix, "SELECT coalesce(sum(hits), 0) FROM entries WHERE kind = 'environment'", &rc) : 0;
    out->blobs = scalar_query(ix, "SELECT count(*) FROM blobs", &rc);
    out->blob_bytes = scalar_query(ix, "SELECT coalesce(sum(size), 0) FROM blobs", &rc);
    out->entry_bytes = scalar_query(ix,
                                    v2 ? "SELECT coalesce(sum(size), 0) FROM entries WHERE kind = 'environment'"
                                       : "SELECT coalesce(sum(size), 0) FROM entries",
                                    &rc);
    out->schema = (int)scalar_query(ix, "PRAGMA user_version", &rc);
    return rc;
}
