#include "cache.h"

#include "blobstore.h"
#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/path.h"
#include "common/json.h"
#include "index.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct cache {
    char *dir;
    struct blobstore bs;
    struct cache_index *ix;
    int lock_fd;  /* DIR/lock, shared-locked while open: see cache_gc */
    int readonly; /* a shared tier: read, never written (cache_open_readonly) */
    /* Digests learned in this run, used for this run even when too recent to keep. */
    struct learned_digest {
        char *path; /* real path */
        struct index_file_stamp stamp;
        char digest[CACHE_DIGEST_SIZE];
    } * learned;
    size_t n_learned, cap_learned;
};

static int64_t now_seconds(void)
{
    return (int64_t)time(NULL);
}

int cache_default_dir(char **out)
{
    *out = NULL;
    const char *v = getenv("AMLPKG_CACHE_DIR");
    if (v && v[0])
        *out = strdup(v);
    else if ((v = getenv("XDG_CACHE_HOME")) && v[0] == '/')
        *out = path_join(v, "amlpkg");
    else if ((v = getenv("HOME")) && v[0])
        *out = path_join(v, ".cache/amlpkg");
    else
        return err_set(ERR_NOTFOUND, "no cache directory: set AMLPKG_CACHE_DIR, XDG_CACHE_HOME or HOME");
    return *out ? 0 : err_set(ERR_NOMEM, "out of memory");
}

int cache_open(struct cache **out, const char *dir)
{
    *out = NULL;
    struct cache *c = calloc(1, sizeof *c);
    if (!c)
        return err_set(ERR_NOMEM, "out of memory");
    int rc = dir ? ((c->dir = strdup(dir)) ? 0 : err_set(ERR_NOMEM, "out of memory")) : cache_default_dir(&c->dir);
    char *db = NULL, *lock = NULL;
    c->lock_fd = -1;
    if (!rc)
        rc = blobstore_init(&c->bs, c->dir);
    if (!rc && (!(db = path_join(c->dir, "index.db")) || !(lock = path_join(c->dir, "lock"))))
        rc = err_set(ERR_NOMEM, "out of memory");
    if (!rc && ((c->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0 || flock(c->lock_fd, LOCK_SH) != 0))
        rc = err_set_errno(ERR_IO, "%s: cannot lock", lock);
    if (!rc)
        rc = index_open(&c->ix, db);
    free(db);
    free(lock);
    if (rc)
        cache_close(c);
    else
        *out = c;
    return rc;
}

int cache_open_readonly(struct cache **out, const char *dir)
{
    *out = NULL;
    struct cache *c = calloc(1, sizeof *c);
    if (!c)
        return err_set(ERR_NOMEM, "out of memory");
    c->lock_fd = -1;
    c->readonly = 1;
    char *db = NULL;
    struct stat st;
    int rc = (c->dir = strdup(dir)) && (db = path_join(dir, "index.db")) ? 0 : err_set(ERR_NOMEM, "out of memory");
    if (!rc && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)))
        rc = err_set_errno(ERR_NOTFOUND, "%s: no such cache directory", dir);
    if (!rc)
        rc = blobstore_init_mode(&c->bs, c->dir, 0);
    if (!rc)
        rc = index_open_readonly(&c->ix, db);
    free(db);
    if (rc)
        cache_close(c);
    else
        *out = c;
    return rc;
}

void cache_close(struct cache *c)
{
    if (!c)
        return;
    index_close(c->ix);
    blobstore_release(&c->bs);
    for (size_t i = 0; i < c->n_learned; i++)
        free(c->learned[i].path);
    free(c->learned);
    if (c->lock_fd >= 0)
        close(c->lock_fd);
    free(c->dir);
    free(c);
}

const char *cache_dir(const struct cache *c)
{
    return c->dir;
}

static int valid_key(const char *key)
{
    if (!key || strlen(key) != 64)
        return 0;
    for (const char *p = key; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

static int blob_file_exists(struct cache *c, const char *digest)
{
    char *path = blobstore_path(&c->bs, digest);
    struct stat st;
    int ok = path && stat(path, &st) == 0 && S_ISREG(st.st_mode);
    free(path);
    return ok;
}

/* ---- adding blobs ------------------------------------------------------- */

/* The staged file moves into place and the index learns of it under one
 * write lock, so gc (which takes the same lock) never removes a blob between
 * the two. */
static int put_staged(struct cache *c, struct blob_staged *st, char out_digest[CACHE_DIGEST_SIZE])
{
    int rc = index_begin(c->ix);
    if (rc) {
        blobstore_abort(st);
        return rc;
    }
    memcpy(out_digest, st->digest, CACHE_DIGEST_SIZE);
    int64_t size = st->size;
    rc = blobstore_commit(&c->bs, st);
    if (!rc)
        rc = index_blob_put(c->ix, out_digest, size, now_seconds());
    if (rc) {
        index_rollback(c->ix);
        return rc;
    }
    return index_commit(c->ix);
}

int cache_put_blob_fd(struct cache *c, int fd, char out_digest[CACHE_DIGEST_SIZE])
{
    struct blob_staged st;
    int rc = blobstore_stage_fd(&c->bs, fd, &st);
    return rc ? rc : put_staged(c, &st, out_digest);
}

int cache_put_blob(struct cache *c, const char *path, char out_digest[CACHE_DIGEST_SIZE])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set_errno(errno == ENOENT ? ERR_NOTFOUND : ERR_IO, "%s: cannot open", path);
    int rc = cache_put_blob_fd(c, fd, out_digest);
    close(fd);
    return rc;
}

int cache_adopt_blob(struct cache *c, const char *path, const char *digest)
{
    if (c->readonly)
        return err_set(ERR_UNSUPPORTED, "%s: a read-only cache tier is not written", c->dir);
    char *blob = blobstore_path(&c->bs, digest);
    if (!blob)
        return blobstore_valid_digest(digest) ? err_set(ERR_NOMEM, "out of memory")
                                              : err_set(ERR_INVALID, "cache: '%s' is not a sha256 digest", digest);
    /* The blob is this very file (linked from the cache for the build): its time refreshed under the
     * write lock gc takes, nothing read or copied. */
    struct stat mine, st;
    int rc = stat(path, &mine) == 0 ? index_begin(c->ix)
                                     : err_set_errno(errno == ENOENT ? ERR_NOTFOUND : ERR_IO, "%s: cannot open", path);
    if (!rc && stat(blob, &st) == 0 && st.st_ino == mine.st_ino && st.st_dev == mine.st_dev) {
        free(blob);
        if ((rc = index_blob_put(c->ix, digest, st.st_size, now_seconds()))) {
            index_rollback(c->ix);
            return rc;
        }
        return index_commit(c->ix);
    }
    free(blob);
    if (rc)
        return rc;
    index_rollback(c->ix);
    /* Another file of that name may be a damaged copy: the caller's checked file takes its place. */
    struct blob_staged staged;
    char got[CACHE_DIGEST_SIZE];
    rc = blobstore_stage_link(&c->bs, path, digest, &staged);
    if (rc == ERR_UNSUPPORTED) { /* another file system: copied, and hashed on the way */
        err_clear();
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        rc = fd < 0 ? err_set_errno(ERR_IO, "%s: cannot open", path) : blobstore_stage_fd(&c->bs, fd, &staged);
        if (fd >= 0)
            close(fd);
        if (!rc && strcmp(staged.digest, digest)) {
            rc = err_set(ERR_MISMATCH, "%s: hashes to %s, not %s", path, staged.digest, digest);
            blobstore_abort(&staged);
        }
    }
    if (rc)
        return rc;
    staged.replace = 1;
    return put_staged(c, &staged, got);
}

int cache_put_blob_buffer(struct cache *c, const void *data, size_t len, char out_digest[CACHE_DIGEST_SIZE])
{
    struct blob_staged st;
    int rc = blobstore_stage_buffer(&c->bs, data, len, &st);
    return rc ? rc : put_staged(c, &st, out_digest);
}

int cache_blob_path(struct cache *c, const char *digest, char **out)
{
    *out = blobstore_path(&c->bs, digest);
    if (*out)
        return 0;
    return blobstore_valid_digest(digest) ? err_set(ERR_NOMEM, "out of memory")
                                          : err_set(ERR_INVALID, "cache: '%s' is not a sha256 digest", digest);
}

int cache_blob_open(struct cache *c, const char *digest, unsigned flags, int *out_fd)
{
    *out_fd = -1;
    char *path = NULL;
    int rc = cache_blob_path(c, digest, &path);
    if (rc)
        return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = err_set_errno(errno == ENOENT ? ERR_NOTFOUND : ERR_IO, "%s: cannot open", path);
        goto done;
    }
    if (flags & CACHE_VERIFY) {
        /* Hashed, or remembered from an earlier hash while its stat stamp is unchanged. */
        char actual[CACHE_DIGEST_SIZE];
        if ((rc = cache_file_digest(c, path, actual)))
            goto done;
        if (strcmp(actual, digest)) {
            rc = err_set(ERR_MISMATCH,
                         "%s: cached blob is corrupt (its content hashes to %s); run 'amlpkg cache "
                         "verify'",
                         digest, actual);
            goto done;
        }
    }
    *out_fd = fd;
    fd = -1;
done:
    if (fd >= 0)
        close(fd);
    free(path);
    return rc;
}

/* ---- entries -------------------------------------------------------------- */

struct refs {
    char **items;
    size_t n;
};

static int refs_add(struct refs *r, const char *digest)
{
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->items[i], digest))
            return 0;
    if (r->n >= 100000)
        return err_set(ERR_LIMIT, "cache: a manifest names more than 100000 blobs");
    char **p = realloc(r->items, (r->n + 1) * sizeof *p);
    if (!p || !(p[r->n] = strdup(digest))) {
        if (p)
            r->items = p;
        return err_set(ERR_NOMEM, "out of memory");
    }
    r->items = p;
    r->n++;
    return 0;
}

static int add_descriptor(struct refs *r, const struct json_value *desc, const char *manifest, const char *field)
{
    const struct json_value *d = desc && desc->type == JSON_OBJECT ? json_member(desc, "digest") : NULL;
    if (!d || d->type != JSON_STRING || !blobstore_valid_digest(d->as.string.ptr))
        return err_set(ERR_INVALID, "cache: manifest %s: %s: expected a descriptor with a sha256 digest", manifest,
                       field);
    return refs_add(r, d->as.string.ptr);
}

/* Collects the blobs a manifest needs: itself, its config and layers, and for
 * an image index each child manifest and what that needs. */
static int collect_refs(struct cache *c, struct refs *r, const char *digest, int depth)
{
    if (depth > 4)
        return err_set(ERR_LIMIT, "cache: manifest %s: image indexes nested too deeply", digest);
    if (!blob_file_exists(c, digest) || index_blob_get(c->ix, digest, NULL) != 1)
        return err_set(ERR_NOTFOUND, "cache: blob %s is not in the cache; add it before recording", digest);
    int rc = refs_add(r, digest);
    if (rc)
        return rc;
    char *path = blobstore_path(&c->bs, digest);
    struct buf text;
    buf_init(&text, CACHE_MAX_MANIFEST);
    struct arena arena;
    arena_init(&arena, 1 << 16, 64u << 20);
    struct json_value *root = NULL;
    char actual[CACHE_DIGEST_SIZE];
    if (!path) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((rc = buf_read_file(&text, path)))
        goto done;
    if ((rc = blobstore_hash_file(path, actual, NULL)))
        goto done;
    if (strcmp(actual, digest)) {
        rc = err_set(ERR_MISMATCH, "cache: blob %s is corrupt; run 'amlpkg cache verify'", digest);
        goto done;
    }
    if ((rc = json_parse(&root, &arena, text.data, text.len, path)))
        goto done;
    if (root->type != JSON_OBJECT) {
        rc = err_set(ERR_INVALID, "cache: manifest %s: expected a JSON object", digest);
        goto done;
    }
    const struct json_value *config = json_member(root, "config");
    const struct json_value *layers = json_member(root, "layers");
    const struct json_value *manifests = json_member(root, "manifests");
    if (!config && !manifests) {
        rc = err_set(ERR_INVALID, "cache: blob %s is neither an image manifest nor an image index", digest);
        goto done;
    }
    if (config && (rc = add_descriptor(r, config, digest, "config")))
        goto done;
    if (layers && layers->type != JSON_ARRAY) {
        rc = err_set(ERR_INVALID, "cache: manifest %s: layers: expected an array", digest);
        goto done;
    }
    for (const struct json_value *l = layers ? layers->child : NULL; l && !rc; l = l->next)
        rc = add_descriptor(r, l, digest, "layers[]");
    if (manifests && manifests->type != JSON_ARRAY) {
        rc = err_set(ERR_INVALID, "cache: index %s: manifests: expected an array", digest);
        goto done;
    }
    for (const struct json_value *m = manifests ? manifests->child : NULL; m && !rc; m = m->next) {
        const struct json_value *d = m->type == JSON_OBJECT ? json_member(m, "digest") : NULL;
        if (!d || d->type != JSON_STRING || !blobstore_valid_digest(d->as.string.ptr))
            rc = err_set(ERR_INVALID, "cache: index %s: manifests[]: expected a descriptor with a sha256 digest",
                         digest);
        else
            rc = collect_refs(c, r, d->as.string.ptr, depth + 1);
    }
    /* Every blob named must be here now, or the entry would be a broken hit. */
    for (size_t i = 0; i < r->n && !rc; i++)
        if (!blob_file_exists(c, r->items[i]) || index_blob_get(c->ix, r->items[i], NULL) != 1)
            rc = err_set(ERR_NOTFOUND,
                         "cache: blob %s named by manifest %s is not in the cache; add it before "
                         "recording",
                         r->items[i], digest);
done:
    arena_release(&arena);
    buf_release(&text);
    free(path);
    return rc;
}

int cache_record(struct cache *c, const char *key, const char *manifest_digest, const char *image_name)
{
    if (!valid_key(key))
        return err_set(ERR_INVALID, "cache: '%s' is not an environment key (64 hex digits)", key);
    if (!blobstore_valid_digest(manifest_digest))
        return err_set(ERR_INVALID, "cache: '%s' is not a sha256 digest", manifest_digest);
    if (!image_name || strlen(image_name) >= sizeof((struct index_entry *)0)->image_name)
        return err_set(ERR_INVALID, "cache: the image name is missing or too long");
    struct refs r = {0};
    int rc = index_begin(c->ix);
    if (rc)
        return rc;
    if ((rc = collect_refs(c, &r, manifest_digest, 0)))
        goto done;
    struct index_entry e = {0};
    snprintf(e.key, sizeof e.key, "%s", key);
    snprintf(e.manifest_digest, sizeof e.manifest_digest, "%s", manifest_digest);
    snprintf(e.image_name, sizeof e.image_name, "%s", image_name);
    for (size_t i = 0; i < r.n && !rc; i++) {
        int64_t size = 0;
        if (index_blob_get(c->ix, r.items[i], &size) == 1)
            e.size += size;
    }
    e.created = e.last_used = now_seconds();
    rc = index_entry_put(c->ix, &e, (const char *const *)r.items, r.n);
done:
    index_strings_free(r.items, r.n);
    if (rc) {
        index_rollback(c->ix);
        return rc;
    }
    return index_commit(c->ix);
}

int cache_record_layer(struct cache *c, const char *key, const char *blob_digest, const char *diff_id,
                       const char *media_type)
{
    if (!valid_key(key))
        return err_set(ERR_INVALID, "cache: '%s' is not a layer key (64 hex digits)", key);
    if (!blobstore_valid_digest(blob_digest) || !blobstore_valid_digest(diff_id))
        return err_set(ERR_INVALID, "cache: a layer needs sha256 digests for its blob and its diff_id");
    struct index_entry e = {0};
    if (strlen(media_type) >= sizeof e.media_type)
        return err_set(ERR_INVALID, "cache: media type '%s' is too long", media_type);
    int rc = index_begin(c->ix);
    if (rc)
        return rc;
    if (!blob_file_exists(c, blob_digest) || index_blob_get(c->ix, blob_digest, &e.size) != 1) {
        index_rollback(c->ix);
        return err_set(ERR_NOTFOUND, "cache: blob %s is not in the cache; add it before recording", blob_digest);
    }
    snprintf(e.key, sizeof e.key, "%s", key);
    snprintf(e.manifest_digest, sizeof e.manifest_digest, "%s", blob_digest);
    snprintf(e.image_name, sizeof e.image_name, "layer %.19s", diff_id);
    snprintf(e.kind, sizeof e.kind, "layer");
    snprintf(e.media_type, sizeof e.media_type, "%s", media_type);
    snprintf(e.diff_id, sizeof e.diff_id, "%s", diff_id);
    e.created = e.last_used = now_seconds();
    const char *refs[] = {blob_digest};
    if ((rc = index_entry_put(c->ix, &e, refs, 1))) {
        index_rollback(c->ix);
        return rc;
    }
    return index_commit(c->ix);
}

/* Copies one blob of a read-only tier into dst, checking it is what its name says. */
static int import_blob(struct cache *dst, struct cache *src, const char *digest)
{
    if (blob_file_exists(dst, digest) && index_blob_get(dst->ix, digest, NULL) == 1)
        return 0;
    int fd = -1;
    char got[CACHE_DIGEST_SIZE];
    int rc = cache_blob_open(src, digest, 0, &fd);
    rc = rc ? rc : cache_put_blob_fd(dst, fd, got);
    if (fd >= 0)
        close(fd);
    if (!rc && strcmp(got, digest))
        rc = err_set(ERR_MISMATCH, "%s: blob %s is corrupt (its content hashes to %s): not copied", src->dir, digest,
                     got);
    return rc;
}

int cache_import(struct cache *dst, struct cache *src, const char *key, struct cache_entry *out)
{
    struct cache_entry found;
    int rc = cache_lookup(src, key, &found);
    if (rc)
        return rc; /* ERR_NOTFOUND: a miss in src too, no message */
    char **refs = NULL;
    size_t n = 0;
    rc = index_entry_refs(src->ix, key, &refs, &n);
    for (size_t i = 0; i < n && !rc; i++)
        rc = import_blob(dst, src, refs[i]);
    index_strings_free(refs, n);
    if (!rc)
        rc = strcmp(found.kind, "layer")
                 ? cache_record(dst, key, found.manifest_digest, found.image_name)
                 : cache_record_layer(dst, key, found.manifest_digest, found.diff_id, found.media_type);
    return rc ? rc : cache_lookup(dst, key, out);
}

static struct index_file_stamp file_stamp(const struct stat *st)
{
    return (struct index_file_stamp){
        .dev = (int64_t)st->st_dev,
        .ino = (int64_t)st->st_ino,
        .size = (int64_t)st->st_size,
        .mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec,
        .ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec,
    };
}

int cache_file_unchanged(const struct stat *before, const struct stat *now)
{
    struct index_file_stamp a = file_stamp(before), b = file_stamp(now);
    return !memcmp(&a, &b, sizeof a);
}

/* A file changed within this many seconds may change again within the same
 * timestamp tick (coarse file systems): its digest is not remembered. */
#define FILE_SETTLED_SECONDS 2

/* Stamps before this instant (ns) have settled. */
static int64_t settled_before_ns(void)
{
    return ((int64_t)now_seconds() - FILE_SETTLED_SECONDS) * 1000000000;
}

int cache_file_digest_remembered(struct cache *c, const char *path, const struct stat *st, char out[CACHE_DIGEST_SIZE])
{
    char real[PATH_MAX];
    struct index_file_stamp stamp = file_stamp(st);
    if (!c || !S_ISREG(st->st_mode) || !realpath(path, real))
        return ERR_NOTFOUND;
    for (size_t i = 0; i < c->n_learned; i++) {
        if (!memcmp(&c->learned[i].stamp, &stamp, sizeof stamp) && !strcmp(c->learned[i].path, real)) {
            memcpy(out, c->learned[i].digest, CACHE_DIGEST_SIZE);
            return 0;
        }
    }
    if (index_file_get(c->ix, real, &stamp, out) == 0)
        return 0;
    err_clear();
    return ERR_NOTFOUND;
}

void cache_file_digest_learn(struct cache *c, const char *path, const struct stat *before,
                             const char digest[CACHE_DIGEST_SIZE])
{
    struct stat after;
    char real[PATH_MAX];
    if (!c || !S_ISREG(before->st_mode) || stat(path, &after) != 0 || !realpath(path, real))
        return;
    struct index_file_stamp stamp = file_stamp(before), again = file_stamp(&after);
    if (memcmp(&stamp, &again, sizeof stamp) != 0)
        return; /* changed while it was hashed */
    int64_t settled = settled_before_ns();
    if (stamp.mtime_ns < settled && stamp.ctime_ns < settled) {
        if (index_file_put(c->ix, real, &stamp, digest, now_seconds()))
            err_clear(); /* a memo that cannot be written only costs a re-hash next time */
        return;
    }
    /* Too recent to trust its stamp next run; good for this one. */
    if (c->n_learned == c->cap_learned) {
        size_t cap = c->cap_learned ? 2 * c->cap_learned : 8;
        struct learned_digest *grown = realloc(c->learned, cap * sizeof *grown);
        if (!grown)
            return;
        c->learned = grown;
        c->cap_learned = cap;
    }
    struct learned_digest *l = &c->learned[c->n_learned];
    if ((l->path = strdup(real))) {
        l->stamp = stamp;
        memcpy(l->digest, digest, CACHE_DIGEST_SIZE);
        c->n_learned++;
    }
}

/* A blob's memos: keyed by the fact and the digest, not a path, and without ctime, which every hard
 * link made to the blob (a build adopting it) moves on. */
static struct index_file_stamp blob_stamp(const struct stat *st)
{
    struct index_file_stamp stamp = file_stamp(st);
    stamp.ctime_ns = 0;
    return stamp;
}

static int blob_memo_key(char *key, size_t size, const char *fact, const char *digest)
{
    return (size_t)snprintf(key, size, "cache-blob:%s:%s", fact, digest) < size;
}

int cache_blob_known(struct cache *c, const char *fact, const char *digest, const struct stat *st)
{
    char key[256], memo[72];
    struct index_file_stamp stamp = blob_stamp(st);
    int known = c && S_ISREG(st->st_mode) && blob_memo_key(key, sizeof key, fact, digest) &&
                index_file_get(c->ix, key, &stamp, memo) == 0 && !strcmp(memo, digest);
    err_clear();
    return known;
}

void cache_blob_learn(struct cache *c, const char *fact, const char *digest, const struct stat *st)
{
    char key[256];
    struct index_file_stamp stamp = blob_stamp(st);
    if (c && S_ISREG(st->st_mode) && stamp.mtime_ns < settled_before_ns() &&
        blob_memo_key(key, sizeof key, fact, digest) &&
        index_file_put(c->ix, key, &stamp, digest, now_seconds()))
        err_clear(); /* a memo that cannot be written only costs the work again next time */
}

int cache_file_digest(struct cache *c, const char *path, char out[CACHE_DIGEST_SIZE])
{
    struct stat before;
    if (stat(path, &before) != 0)
        return err_set_errno(errno == ENOENT ? ERR_NOTFOUND : ERR_IO, "%s", path);
    if (cache_file_digest_remembered(c, path, &before, out) == 0)
        return 0;
    int rc = blobstore_hash_file(path, out, NULL);
    if (!rc)
        cache_file_digest_learn(c, path, &before, out);
    return rc;
}

int cache_remove(struct cache *c, const char *key)
{
    if (!valid_key(key))
        return err_set(ERR_INVALID, "cache: '%s' is not an environment key (64 hex digits)", key);
    int rc = index_begin(c->ix);
    if (rc)
        return rc;
    if ((rc = index_entry_delete(c->ix, key))) {
        index_rollback(c->ix);
        return rc == ERR_NOTFOUND ? err_set(ERR_NOTFOUND, "cache: no entry for %s", key) : rc;
    }
    return index_commit(c->ix);
}

int cache_trim(struct cache *c, int64_t max_bytes, int64_t grace, struct cache_report *out)
{
    struct cache_entry *entries = NULL;
    size_t n = 0;
    int rc = cache_list(c, &entries, &n);
    int64_t total = 0;
    for (size_t i = 0; !rc && i < n; i++)
        total += entries[i].size;
    size_t dropped = 0;
    /* cache_list is most recently used first: drop from the end. Shared blobs make entry sizes
     * overlap, so this errs on the side of keeping less. */
    for (size_t i = n; !rc && i-- > 0 && total > max_bytes;) {
        if (!(rc = cache_remove(c, entries[i].key))) {
            total -= entries[i].size;
            dropped++;
        }
    }
    free(entries);
    if (!rc)
        rc = cache_gc(c, -1, grace, out);
    if (!rc)
        out->entries_removed += dropped;
    return rc;
}

static void entry_from_index(struct cache_entry *out, const struct index_entry *e)
{
    memset(out, 0, sizeof *out);
    snprintf(out->key, sizeof out->key, "%s", e->key);
    snprintf(out->manifest_digest, sizeof out->manifest_digest, "%s", e->manifest_digest);
    snprintf(out->image_name, sizeof out->image_name, "%s", e->image_name);
    snprintf(out->kind, sizeof out->kind, "%s", e->kind);
    snprintf(out->media_type, sizeof out->media_type, "%s", e->media_type);
    snprintf(out->diff_id, sizeof out->diff_id, "%s", e->diff_id);
    out->size = e->size;
    out->created = e->created;
    out->last_used = e->last_used;
    out->hits = e->hits;
}

static int lookup(struct cache *c, const char *key, struct cache_entry *out, int count_use);

int cache_lookup(struct cache *c, const char *key, struct cache_entry *out)
{
    return lookup(c, key, out, !c->readonly);
}

int cache_contains(struct cache *c, const char *key)
{
    struct cache_entry e;
    int found = lookup(c, key, &e, 0) == 0;
    err_clear();
    return found;
}

static int lookup(struct cache *c, const char *key, struct cache_entry *out, int count_use)
{
    if (!valid_key(key))
        return err_set(ERR_INVALID, "cache: '%s' is not an environment key (64 hex digits)", key);
    struct index_entry e;
    int rc = index_entry_get(c->ix, key, &e);
    if (rc)
        return rc; /* ERR_NOTFOUND: a miss, no message */
    char **refs = NULL;
    size_t n = 0;
    if ((rc = index_entry_refs(c->ix, key, &refs, &n)))
        return rc;
    int complete = 1;
    for (size_t i = 0; i < n && complete; i++)
        complete = blob_file_exists(c, refs[i]);
    index_strings_free(refs, n);
    if (!complete)
        return ERR_NOTFOUND; /* a blob went missing: rebuild (verify will drop the entry) */
    if (count_use) {
        e.last_used = now_seconds();
        e.hits++;
        if ((rc = index_entry_touch(c->ix, key, e.last_used)))
            return rc;
    }
    entry_from_index(out, &e);
    return 0;
}

int cache_list(struct cache *c, struct cache_entry **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    struct index_entry *list = NULL;
    size_t count = 0;
    int rc = index_entries(c->ix, &list, &count);
    if (rc)
        return rc;
    struct cache_entry *entries = count ? calloc(count, sizeof *entries) : NULL;
    if (count && !entries) {
        free(list);
        return err_set(ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < count; i++)
        entry_from_index(&entries[i], &list[i]);
    free(list);
    *out = entries;
    *n = count;
    return 0;
}

int cache_stats(struct cache *c, struct cache_stats *out)
{
    struct index_counts k;
    int rc = index_counts(c->ix, &k);
    if (rc)
        return rc;
    out->entries = k.entries;
    out->layers = k.layers;
    out->hits = k.hits;
    out->blobs = k.blobs;
    out->blob_bytes = k.blob_bytes;
    out->entry_bytes = k.entry_bytes;
    out->schema = k.schema;
    return 0;
}

/* ---- verify and gc -------------------------------------------------------- */

void cache_report_release(struct cache_report *r)
{
    free(r->problems);
    r->problems = NULL;
    r->n_problems = 0;
}

static int add_problem(struct cache_report *r, const char *digest, const char *what)
{
    struct cache_problem *p = realloc(r->problems, (r->n_problems + 1) * sizeof *p);
    if (!p)
        return err_set(ERR_NOMEM, "out of memory");
    r->problems = p;
    snprintf(p[r->n_problems].digest, sizeof p[r->n_problems].digest, "%s", digest);
    p[r->n_problems].what = what;
    r->n_problems++;
    return 0;
}

struct blob_list {
    struct blob_item {
        char digest[CACHE_DIGEST_SIZE];
        int64_t size;
        int64_t time;
    } * items;
    size_t n;
};

static int list_add(void *ctx, const char *digest, int64_t size, int64_t t)
{
    struct blob_list *l = ctx;
    struct blob_item *p = realloc(l->items, (l->n + 1) * sizeof *p);
    if (!p)
        return err_set(ERR_NOMEM, "out of memory");
    l->items = p;
    snprintf(p[l->n].digest, sizeof p[l->n].digest, "%s", digest);
    p[l->n].size = size;
    p[l->n].time = t;
    l->n++;
    return 0;
}

static int file_add(void *ctx, const char *digest, int64_t size, time_t mtime)
{
    return list_add(ctx, digest, size, (int64_t)mtime);
}

/* Drops one bad indexed blob under the write lock, re-checking first: another
 * process may have replaced the file with good content meanwhile. */
static int drop_blob(struct cache *c, const char *digest, struct cache_report *r, int64_t size)
{
    int rc = index_begin(c->ix);
    if (rc)
        return rc;
    int check = blobstore_check(&c->bs, digest);
    if (check == 0) {
        index_rollback(c->ix);
        return 0;
    }
    if (check != ERR_MISMATCH && check != ERR_NOTFOUND) {
        index_rollback(c->ix);
        return check;
    }
    if (check == ERR_MISMATCH && !(rc = blobstore_remove(&c->bs, digest))) {
        r->blobs_removed++;
        r->bytes_freed += size;
    }
    if (!rc)
        rc = index_blob_delete(c->ix, digest, &r->entries_removed);
    if (!rc)
        rc = add_problem(r, digest, check == ERR_MISMATCH ? "corrupt" : "missing");
    if (!rc) {
        if (check == ERR_MISMATCH)
            r->corrupt++;
        else
            r->missing++;
    }
    if (rc) {
        index_rollback(c->ix);
        return rc;
    }
    return index_commit(c->ix);
}

int cache_verify(struct cache *c, struct cache_report *r)
{
    memset(r, 0, sizeof *r);
    struct blob_list indexed = {0}, files = {0};
    int rc = index_each_blob(c->ix, list_add, &indexed);
    if (!rc)
        rc = blobstore_each(&c->bs, file_add, &files);
    /* Hashing happens without the lock: it is slow and only reads. */
    for (size_t i = 0; i < indexed.n && !rc; i++) {
        int check = blobstore_check(&c->bs, indexed.items[i].digest);
        r->checked += check != ERR_NOTFOUND;
        if (check == ERR_MISMATCH || check == ERR_NOTFOUND)
            rc = drop_blob(c, indexed.items[i].digest, r, indexed.items[i].size);
        else
            rc = check;
    }
    /* Files the index does not know (a writer died between rename and
     * commit, or someone copied files in) are checked too. */
    for (size_t i = 0; i < files.n && !rc; i++) {
        int known = index_blob_get(c->ix, files.items[i].digest, NULL);
        if (known < 0) {
            rc = known;
            break;
        }
        if (known)
            continue;
        int check = blobstore_check(&c->bs, files.items[i].digest);
        r->checked += check != ERR_NOTFOUND;
        if (check == ERR_MISMATCH) {
            if (!(rc = blobstore_remove(&c->bs, files.items[i].digest))) {
                r->corrupt++;
                r->blobs_removed++;
                r->bytes_freed += files.items[i].size;
                rc = add_problem(r, files.items[i].digest, "corrupt (not indexed)");
            }
        } else if (check != ERR_NOTFOUND) {
            rc = check;
        }
    }
    free(indexed.items);
    free(files.items);
    if (rc)
        cache_report_release(r);
    return rc;
}

int cache_gc(struct cache *c, int64_t older_than, int64_t grace, struct cache_report *r)
{
    memset(r, 0, sizeof *r);
    int64_t now = now_seconds();
    /* Every open cache holds a shared lock on DIR/lock. Only when this one is
     * alone may gc cut the grace period short: another process may have put
     * blobs it has not recorded yet. */
    if (grace < CACHE_GC_GRACE_SECONDS && flock(c->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        grace = CACHE_GC_GRACE_SECONDS;
        r->grace_kept = 1;
    }
    int64_t cutoff = now - (grace > 0 ? grace : 0);
    struct blob_list dead = {0}, files = {0};
    int rc = index_begin(c->ix);
    if (rc)
        return rc;
    if (older_than >= 0)
        rc = index_entries_expire(c->ix, now - older_than, &r->entries_removed);
    if (!rc)
        rc = index_files_expire(c->ix, now - CACHE_FILE_DIGEST_DAYS * 86400);
    if (!rc)
        rc = index_each_unreferenced(c->ix, cutoff, list_add, &dead);
    for (size_t i = 0; i < dead.n && !rc; i++) {
        if (!(rc = blobstore_remove(&c->bs, dead.items[i].digest)))
            rc = index_blob_delete(c->ix, dead.items[i].digest, NULL);
        if (!rc) {
            r->blobs_removed++;
            r->bytes_freed += dead.items[i].size;
        }
    }
    /* Stray files: complete blobs nobody indexed, past the grace period. */
    if (!rc)
        rc = blobstore_each(&c->bs, file_add, &files);
    for (size_t i = 0; i < files.n && !rc; i++) {
        int known = index_blob_get(c->ix, files.items[i].digest, NULL);
        if (known < 0)
            rc = known;
        else if (!known && files.items[i].time <= cutoff && !(rc = blobstore_remove(&c->bs, files.items[i].digest))) {
            r->blobs_removed++;
            r->bytes_freed += files.items[i].size;
        }
    }
    if (!rc)
        rc = blobstore_clean_temp(&c->bs, (time_t)cutoff, &r->temp_removed);
    free(dead.items);
    free(files.items);
    if (rc)
        index_rollback(c->ix);
    else
        rc = index_commit(c->ix);
    flock(c->lock_fd, LOCK_SH);
    return rc;
}
