#include "builder/env/base_image.h"

#include "cache/cache.h"
#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "builder/sys/digest.h"
#include "builder/image/docker_archive.h"
#include "builder/sys/fsutil.h"
#include "common/path.h"
#include "builder/image/image_source.h"
#include "builder/image/layer_normalise.h"
#include "builder/image/oci_archive.h"
#include "builder/image/reference.h"
#include "builder/registry/registry_image.h"
#include "builder/registry/registries_conf.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JSON_LIMIT (8u << 20)

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"

struct base_image {
    struct oci_base oci;
    struct oci_blob *layers;
    size_t n_layers;
    char *architecture, *os, *variant, *user;
    char **env;
    size_t n_env;
    struct plan_label *labels;
    size_t n_labels;
    char **ports;
    size_t n_ports;
    char **history;
    size_t n_history;
    char manifest_digest[DIGEST_STRING_SIZE];
    char config_digest[DIGEST_STRING_SIZE];
    struct buf config; /* the config's bytes */
    /* what keeps the layer files alive */
    struct image_source *src;
    char *temp_dir;
    char *adopted_dir;   /* base_image_append_layer's */
    struct cache *cache; /* borrowed from the options */
    struct cache *blobs_from; /* base_image_options.cache */
    struct stat *cached;      /* per layer: the cache blob's stat when linked from the cache (st_mode 0: not) */
    /* for messages */
    const char *context;
    char *file; /* resolved path or reference */
};

static int nomem(void)
{
    return err_set(ERR_NOMEM, "out of memory");
}

/* ---- layer media types ------------------------------------------------- */

/* The OCI media type with the same bytes, or NULL for what a base may not hold. */
static const char *oci_layer_type(const char *mt)
{
    static const char *const map[][2] = {
        {OCI_MEDIA_TYPE_LAYER, OCI_MEDIA_TYPE_LAYER},
        {OCI_MEDIA_TYPE_LAYER_GZIP, OCI_MEDIA_TYPE_LAYER_GZIP},
        {OCI_MEDIA_TYPE_LAYER_ZSTD, OCI_MEDIA_TYPE_LAYER_ZSTD},
        {"application/vnd.docker.image.rootfs.diff.tar.gzip", OCI_MEDIA_TYPE_LAYER_GZIP},
        {"application/vnd.docker.image.rootfs.diff.tar", OCI_MEDIA_TYPE_LAYER},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(mt, map[i][0]))
            return map[i][1];
    return NULL;
}

/* ---- hashing and scanning ---------------------------------------------- */

/* A small, correctly digested gzip layer of zeros would cost its full
 * expansion twice (hashing, then the entry scan): oci_layer_max_bytes bounds it. */
static int layer_too_large(const char *what, int64_t limit)
{
    return err_set(ERR_LIMIT, "%s: expands to more than %lld MiB uncompressed (AMLPKG_MAX_LAYER_MB)", what,
                   (long long)(limit >> 20));
}

/* The uncompressed stream of a layer blob, hashed. */
static int uncompressed_digest(const char *path, const char *what, char out[DIGEST_STRING_SIZE])
{
    struct archive *a = archive_read_new();
    if (!a)
        return nomem();
    archive_read_support_filter_all(a);
    archive_read_support_format_raw(a);
    struct digest d;
    int rc = digest_init(&d);
    struct archive_entry *e;
    static _Thread_local char chunk[1 << 16];
    if (rc)
        goto done;
    if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
        rc = err_set(ERR_PARSE, "%s: cannot read: %s", what, archive_error_string(a));
        goto done;
    }
    int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_OK || r == ARCHIVE_WARN) {
        la_ssize_t n;
        int64_t total = 0, limit = oci_layer_max_bytes();
        while ((n = archive_read_data(a, chunk, sizeof chunk)) > 0) {
            if ((total += n) > limit) {
                rc = layer_too_large(what, limit);
                goto done;
            }
            if ((rc = digest_update(&d, chunk, (size_t)n)))
                goto done;
        }
        if (n < 0) {
            rc = err_set(ERR_PARSE, "%s: truncated or corrupt: %s", what, archive_error_string(a));
            goto done;
        }
    } else if (r != ARCHIVE_EOF) {
        rc = err_set(ERR_PARSE, "%s: truncated or corrupt: %s", what, archive_error_string(a));
        goto done;
    }
    rc = digest_final(&d, out);
done:
    if (rc)
        digest_release(&d);
    archive_read_free(a);
    return rc;
}

static int check_entry(struct archive_entry *e, const char *what)
{
    const char *name = archive_entry_pathname(e);
    if (!name || !name[0])
        return err_set(ERR_INVALID, "%s: an entry has no name", what);
    if (name[0] == '/')
        return err_set(ERR_INVALID, "%s: entry '%s' has an absolute path", what, name);
    if (fs_path_has_dotdot(name))
        return err_set(ERR_INVALID, "%s: entry '%s' has '..' in its path", what, name);
    mode_t type = archive_entry_filetype(e);
    if (type == AE_IFCHR || type == AE_IFBLK)
        return err_set(ERR_INVALID, "%s: entry '%s' is a device file", what, name);
    const char *hard = archive_entry_hardlink(e);
    if (hard && (hard[0] == '/' || fs_path_has_dotdot(hard)))
        return err_set(ERR_INVALID, "%s: hard link '%s' points outside the image root ('%s')", what, name, hard);
    if (type == AE_IFLNK) {
        const char *target = archive_entry_symlink(e);
        if (!target)
            return err_set(ERR_INVALID, "%s: symlink '%s' has no target", what, name);
        /* Absolute targets resolve inside the container's root; relative ones must not climb out of it. */
        if (target[0] != '/') {
            const char *slash = strrchr(name, '/');
            int escaped = 0;
            int depth = fs_path_depth(name, slash ? (size_t)(slash - name) : 0, 0, &escaped);
            fs_path_depth(target, strlen(target), depth, &escaped);
            if (escaped)
                return err_set(ERR_INVALID, "%s: symlink '%s' -> '%s' points outside the image root", what, name,
                               target);
        }
    }
    return 0;
}

/* plain: the layer's digest (already checked) is its diff_id, so its bytes must be the tar itself, with no
 * compression for libarchive to take off: no second pass to hash what was just hashed. */
static int scan_layer(const char *path, const char *what, const char *diff_id, int plain);

int base_image_scan_layer(const char *path, const char *what, const char *diff_id)
{
    return scan_layer(path, what, diff_id, 0);
}

static int scan_layer(const char *path, const char *what, const char *diff_id, int plain)
{
    if (diff_id) {
        char got[DIGEST_STRING_SIZE];
        int rc = uncompressed_digest(path, what, got);
        if (rc)
            return rc;
        if (strcmp(got, diff_id))
            return err_set(ERR_MISMATCH,
                           "%s: its uncompressed content has digest %s, the config's rootfs.diff_ids "
                           "says %s",
                           what, got, diff_id);
    }
    struct archive *a = archive_read_new();
    if (!a)
        return nomem();
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    int rc = 0;
    int64_t limit = oci_layer_max_bytes();
    struct archive_entry *e;
    if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
        rc = err_set(ERR_PARSE, "%s: not a tar layer: %s", what, archive_error_string(a));
        goto done;
    }
    for (;;) {
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            rc = err_set(ERR_PARSE, "%s: not a tar layer, or truncated: %s", what, archive_error_string(a));
            goto done;
        }
        if ((rc = check_entry(e, what)))
            goto done;
        /* archive_filter_bytes(a, 0): the uncompressed bytes read so far. */
        if (archive_filter_bytes(a, 0) + archive_entry_size(e) > limit) {
            rc = layer_too_large(what, limit);
            goto done;
        }
        if (archive_read_data_skip(a) != ARCHIVE_OK) {
            rc = err_set(ERR_PARSE, "%s: truncated: %s", what, archive_error_string(a));
            goto done;
        }
    }
    if (plain && archive_filter_count(a) > 1)
        rc = err_set(ERR_MISMATCH, "%s: a plain tar layer whose bytes are %s-compressed", what,
                     archive_filter_name(a, 0));
done:
    archive_read_free(a);
    return rc;
}

/* ---- JSON -------------------------------------------------------------- */

static const char *json_str(const struct json_value *obj, const char *key)
{
    const struct json_value *v = obj ? json_member(obj, key) : NULL;
    return v && v->type == JSON_STRING ? v->as.string.ptr : NULL;
}

static int dup_str(char **out, const char *s)
{
    if (!s)
        return 0;
    return (*out = strdup(s)) ? 0 : nomem();
}

/* ---- the config -------------------------------------------------------- */

static int parse_config(struct base_image *b)
{
    struct arena arena;
    arena_init(&arena, 8192, 64u << 20);
    struct json_value *root = NULL;
    struct buf text;
    buf_init(&text, 0);
    int rc = json_parse(&root, &arena, b->config.data, b->config.len, "base image config");
    if (rc)
        goto done;
    if (root->type != JSON_OBJECT) {
        rc = err_set(ERR_PARSE, "%s: '%s': config %s is not a JSON object", b->context, b->file, b->config_digest);
        goto done;
    }
    if ((rc = dup_str(&b->architecture, json_str(root, "architecture"))) ||
        (rc = dup_str(&b->os, json_str(root, "os"))) || (rc = dup_str(&b->variant, json_str(root, "variant"))))
        goto done;
    const struct json_value *c = json_member(root, "config");
    if (c && c->type != JSON_OBJECT)
        c = NULL;
    if ((rc = dup_str(&b->user, json_str(c, "User"))))
        goto done;
    const struct json_value *env = c ? json_member(c, "Env") : NULL;
    if (env && env->type == JSON_ARRAY) {
        if (!(b->env = calloc(env->count + 1, sizeof *b->env)))
            rc = nomem();
        for (const struct json_value *v = env->child; v && !rc; v = v->next)
            if (v->type == JSON_STRING && !(b->env[b->n_env++] = strdup(v->as.string.ptr)))
                rc = nomem();
    }
    const struct json_value *labels = c ? json_member(c, "Labels") : NULL;
    if (!rc && labels && labels->type == JSON_OBJECT) {
        if (!(b->labels = calloc(labels->count + 1, sizeof *b->labels)))
            rc = nomem();
        for (const struct json_value *v = labels->child; v && !rc; v = v->next) {
            if (v->type != JSON_STRING)
                continue;
            struct plan_label *l = &b->labels[b->n_labels++];
            if (!(l->key = strndup(v->key, v->key_len)) || !(l->value = strdup(v->as.string.ptr)))
                rc = nomem();
        }
    }
    const struct json_value *ports = c ? json_member(c, "ExposedPorts") : NULL;
    if (!rc && ports && ports->type == JSON_OBJECT) {
        if (!(b->ports = calloc(ports->count + 1, sizeof *b->ports)))
            rc = nomem();
        for (const struct json_value *v = ports->child; v && !rc; v = v->next)
            if (!(b->ports[b->n_ports++] = strndup(v->key, v->key_len)))
                rc = nomem();
    }
    const struct json_value *history = json_member(root, "history");
    if (!rc && history && history->type == JSON_ARRAY) {
        if (!(b->history = calloc(history->count + 1, sizeof *b->history)))
            rc = nomem();
        for (const struct json_value *v = history->child; v && !rc; v = v->next) {
            if (v->type != JSON_OBJECT)
                continue;
            buf_reset(&text);
            if ((rc = json_write_value(&text, v)))
                break;
            if (!(b->history[b->n_history++] = strdup(text.data)))
                rc = nomem();
        }
    }
    if (rc)
        goto done;
    const struct json_value *rootfs = json_member(root, "rootfs");
    const struct json_value *ids = rootfs ? json_member(rootfs, "diff_ids") : NULL;
    size_t n_ids = ids && ids->type == JSON_ARRAY ? ids->count : 0;
    if (n_ids != b->n_layers) {
        rc = err_set(ERR_INVALID, "%s: '%s': the config lists %zu rootfs.diff_ids for %zu layers", b->context, b->file,
                     n_ids, b->n_layers);
        goto done;
    }
    size_t i = 0;
    for (const struct json_value *v = n_ids ? ids->child : NULL; v; v = v->next, i++) {
        if (v->type != JSON_STRING || !reference_valid_digest(v->as.string.ptr)) {
            rc = err_set(ERR_INVALID, "%s: '%s': config rootfs.diff_ids[%zu] is not a sha256 digest", b->context,
                         b->file, i);
            goto done;
        }
        snprintf(b->layers[i].diff_id, sizeof b->layers[i].diff_id, "%s", v->as.string.ptr);
    }
done:
    if (rc == ERR_LIMIT)
        rc = err_set(ERR_LIMIT, "%s: '%s': the config is too large", b->context, b->file);
    buf_release(&text);
    arena_release(&arena);
    return rc;
}

/* ---- manifests --------------------------------------------------------- */

static int platform_matches(const struct json_value *d, const char *platform)
{
    const struct json_value *p = json_member(d, "platform");
    if (!p)
        return 0;
    const char *os = json_str(p, "os"), *arch = json_str(p, "architecture"), *var = json_str(p, "variant");
    char have[300];
    snprintf(have, sizeof have, "%s/%s", os ? os : "", arch ? arch : "");
    if (!strcmp(have, platform))
        return 1;
    size_t n = strlen(have);
    snprintf(have + n, sizeof have - n, "/%s", var ? var : "");
    return !strcmp(have, platform);
}

typedef int (*read_blob_fn)(struct base_image *b, struct buf *out, const char *digest);

/* The layers and config a manifest names; indexes resolved to the platform. */
static int read_manifest(struct base_image *b, read_blob_fn read_blob, const char *digest, const char *platform,
                         int depth)
{
    struct buf m;
    buf_init(&m, JSON_LIMIT);
    struct arena arena;
    arena_init(&arena, 8192, 64u << 20);
    struct json_value *root = NULL;
    int rc = read_blob(b, &m, digest);
    if (rc || (rc = json_parse(&root, &arena, m.data, m.len, digest)))
        goto done;
    const char *mt = json_str(root, "mediaType");
    const struct json_value *manifests = json_member(root, "manifests");
    if ((mt && (!strcmp(mt, MT_OCI_INDEX) || !strcmp(mt, MT_DOCKER_LIST))) || (!mt && manifests)) {
        if (depth > 2 || !manifests || manifests->type != JSON_ARRAY) {
            rc = err_set(ERR_UNSUPPORTED, "%s: '%s': index %s: nested too deep or lists no manifests", b->context,
                         b->file, digest);
            goto done;
        }
        const struct json_value *pick = NULL;
        for (const struct json_value *d = manifests->child; d && !pick; d = d->next)
            if (platform_matches(d, platform))
                pick = d;
        if (!pick && manifests->count == 1 && !json_member(manifests->child, "platform"))
            pick = manifests->child; /* one image, no platform given: it is the image */
        const char *child = pick ? json_str(pick, "digest") : NULL;
        if (!child || !reference_valid_digest(child)) {
            rc = err_set(ERR_NOTFOUND, "%s: '%s': index %s has no image for platform '%s'", b->context, b->file, digest,
                         platform);
            goto done;
        }
        char copy[DIGEST_STRING_SIZE];
        snprintf(copy, sizeof copy, "%s", child);
        rc = read_manifest(b, read_blob, copy, platform, depth + 1);
        goto done;
    }
    if (mt && strcmp(mt, MT_OCI_MANIFEST) && strcmp(mt, MT_DOCKER_MANIFEST)) {
        rc = err_set(ERR_UNSUPPORTED, "%s: '%s': manifest %s has unknown media type '%s'", b->context, b->file, digest,
                     mt);
        goto done;
    }
    const struct json_value *cfg = json_member(root, "config"), *layers = json_member(root, "layers");
    const char *cd = json_str(cfg, "digest"), *cmt = json_str(cfg, "mediaType");
    if (!cd || !reference_valid_digest(cd) || !layers || layers->type != JSON_ARRAY) {
        rc = err_set(ERR_PARSE, "%s: '%s': manifest %s names no config or layers", b->context, b->file, digest);
        goto done;
    }
    if (cmt && strcmp(cmt, MT_OCI_CONFIG) && strcmp(cmt, MT_DOCKER_CONFIG)) {
        rc = err_set(ERR_UNSUPPORTED, "%s: '%s': config %s has unknown media type '%s'", b->context, b->file, cd, cmt);
        goto done;
    }
    snprintf(b->config_digest, sizeof b->config_digest, "%s", cd);
    if ((rc = read_blob(b, &b->config, cd)))
        goto done;
    if (!(b->layers = calloc(layers->count + 1, sizeof *b->layers))) {
        rc = nomem();
        goto done;
    }
    for (const struct json_value *l = layers->child; l; l = l->next) {
        const char *ld = json_str(l, "digest"), *lmt = json_str(l, "mediaType");
        const struct json_value *sz = json_member(l, "size");
        size_t i = b->n_layers;
        if (!ld || !reference_valid_digest(ld) || !sz || sz->type != JSON_NUMBER) {
            rc = err_set(ERR_PARSE, "%s: '%s': manifest %s: layers[%zu] needs a sha256 digest and a size", b->context,
                         b->file, digest, i);
            goto done;
        }
        const char *oci = lmt ? oci_layer_type(lmt) : NULL;
        if (!oci) {
            rc = err_set(ERR_UNSUPPORTED, "%s: '%s': layer %s has unknown media type '%s'", b->context, b->file, ld,
                         lmt ? lmt : "(none)");
            goto done;
        }
        if (sz->as.number < 0 || sz->as.number > (double)INT64_MAX) {
            rc = err_set(ERR_PARSE, "%s: '%s': manifest %s: layers[%zu] has a bad size", b->context, b->file, digest,
                         i);
            goto done;
        }
        struct oci_blob *blob = &b->layers[b->n_layers++];
        snprintf(blob->digest, sizeof blob->digest, "%s", ld);
        blob->size = (int64_t)sz->as.number;
        blob->media_type = oci;
    }
    snprintf(b->manifest_digest, sizeof b->manifest_digest, "%s", digest);
done:
    arena_release(&arena);
    buf_release(&m);
    return rc;
}

/* Each layer's file: present, with the size and digest the manifest says. */
static int verify_layer_files(struct base_image *b, const unsigned char *checked)
{
    for (size_t i = 0; i < b->n_layers; i++) {
        if (checked && checked[i])
            continue; /* hashed already (reuse_cached_layers) */
        struct oci_blob *l = &b->layers[i];
        char got[DIGEST_STRING_SIZE];
        int64_t size = 0;
        struct stat st;
        if (stat(l->path, &st) == 0 && st.st_size != l->size)
            return err_set(ERR_MISMATCH, "%s: '%s': layer %s is %lld bytes, the manifest says %lld", b->context,
                           b->file, l->digest, (long long)st.st_size, (long long)l->size);
        int rc = digest_file(l->path, got, &size);
        if (rc == ERR_NOTFOUND)
            return err_set(ERR_NOTFOUND, "%s: '%s': layer %s is missing", b->context, b->file, l->digest);
        if (rc)
            return rc;
        if (strcmp(got, l->digest))
            return err_set(ERR_MISMATCH, "%s: '%s': layer %s does not match its digest (the file hashes to %s)",
                           b->context, b->file, l->digest, got);
        if (size != l->size)
            return err_set(ERR_MISMATCH, "%s: '%s': layer %s is %lld bytes, the manifest says %lld", b->context,
                           b->file, l->digest, (long long)size, (long long)l->size);
    }
    return 0;
}

/* ---- sources: OCI layouts and archives, registries ---------------------- */

static int source_read_blob(struct base_image *b, struct buf *out, const char *digest)
{
    buf_reset(out);
    int rc = image_source_read_blob(b->src, out, digest);
    if (rc == ERR_NOTFOUND || rc == ERR_IO)
        err_clear(),
            rc = err_set(ERR_NOTFOUND, "%s: '%s': blob %s is missing or unreadable", b->context, b->file, digest);
    else if (rc == ERR_MISMATCH)
        err_clear(),
            rc = err_set(ERR_MISMATCH, "%s: '%s': blob %s does not match its digest", b->context, b->file, digest);
    return rc;
}

/* A layer of an archive that the cache holds already (an earlier environment on the same base) is
 * hard-linked from the cache instead of unpacked again, and hashed through the link (once: the cache
 * remembers a blob it saw whole until a write moves its mtime, and that it passed the layer scan), so a
 * damaged cache blob fails the build no more than it is trusted, and gc removing the cache's name later
 * leaves the link whole. Anything that does not work out is unpacked as before. */
static void reuse_cached_layers(struct base_image *b, unsigned char *checked)
{
    for (size_t i = 0; b->blobs_from && b->src->archive && i < b->n_layers; i++) {
        const struct oci_blob *l = &b->layers[i];
        char *path = NULL, *mine = NULL, got[DIGEST_STRING_SIZE];
        struct stat st;
        int64_t size = 0;
        if (!cache_blob_path(b->blobs_from, l->digest, &path) && stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
            st.st_size == l->size && (mine = image_source_blob_path(b->src, l->digest)) && access(mine, F_OK) != 0 &&
            !image_source_adopt_blob(b->src, l->digest, path)) {
            /* Hashed through the link (unless this blob was hashed whole before and no write has touched it
             * since): a damaged cache blob is dropped from the build and unpacked instead. */
            if (cache_blob_known(b->blobs_from, CACHE_BLOB_HASHED, l->digest, &st))
                checked[i] = 1;
            else if (!digest_file(mine, got, &size) && !strcmp(got, l->digest) && size == l->size)
                checked[i] = 1, cache_blob_learn(b->blobs_from, CACHE_BLOB_HASHED, l->digest, &st);
            else
                unlink(mine);
            if (checked[i] && (b->cached || (b->cached = calloc(b->n_layers, sizeof *b->cached))))
                b->cached[i] = st;
        }
        err_clear();
        free(path);
        free(mine);
    }
}

static int load_layout(struct base_image *b, const char *platform)
{
    char digest[72], mt[256], ref_name[256];
    int64_t size;
    int rc = image_source_top(b->src, digest, mt, &size, ref_name);
    if (rc || (rc = read_manifest(b, source_read_blob, digest, platform, 0)))
        return rc;
    /* Only the layers the manifest names come out of an archive, none past its descriptor's size. */
    struct image_source_want *want = calloc(b->n_layers + 1, sizeof *want);
    if (!want)
        return nomem();
    for (size_t i = 0; i < b->n_layers; i++)
        want[i] = (struct image_source_want){b->layers[i].digest, b->layers[i].size};
    unsigned char *checked = calloc(b->n_layers + 1, 1);
    if (!checked) {
        free(want);
        return nomem();
    }
    reuse_cached_layers(b, checked);
    rc = image_source_fetch(b->src, want, b->n_layers);
    free(want);
    for (size_t i = 0; i < b->n_layers && !rc; i++)
        if (!(b->layers[i].path = image_source_blob_path(b->src, b->layers[i].digest)))
            rc = nomem();
    rc = rc ? rc : verify_layer_files(b, checked);
    free(checked);
    return rc;
}

static int make_temp(struct base_image *b)
{
    return fs_make_tmp_dir(&b->temp_dir, "amlpkg-base-");
}

static int load_docker_archive(struct base_image *b, const char *path)
{
    int rc = make_temp(b);
    if (rc)
        return rc;
    struct docker_archive d = {.context = b->context, .dir = b->temp_dir};
    if (!(rc = docker_archive_load(&d, path))) {
        /* The layer files stay in temp_dir, which b owns. */
        buf_release(&b->config);
        b->config = d.config;
        buf_init(&d.config, 0);
        snprintf(b->config_digest, sizeof b->config_digest, "%s", d.config_digest);
        b->layers = d.layers;
        b->n_layers = d.n_layers;
        d.layers = NULL;
        d.n_layers = 0;
    }
    docker_archive_release(&d);
    return rc;
}

/* One pull of ref from one endpoint into archive. */
static int pull_endpoint(const struct reference *ref, const struct registry_options *ro, const char *archive,
                         const char *platform)
{
    struct registry *reg = NULL;
    char name[700];
    snprintf(name, sizeof name, "%s/%s%s%s", ref->registry, ref->repository, ref->tag[0] ? ":" : "", ref->tag);
    struct image_transfer x = {.jobs = 4, .platform = platform};
    int rc = registry_open(&reg, ref->registry, ro);
    rc = rc ? rc : registry_image_pull(reg, ref->repository, reference_manifest_id(ref), archive, name, &x);
    registry_free(reg);
    return rc;
}

/* Pulls through the registries.conf mirrors first (in order), then the registry itself; a mirror that
 * fails is named on stderr and the next is tried, and the last failure is the error. */
static int pull_registry(struct base_image *b, const char *text, const struct base_image_options *opt,
                         const char *platform)
{
    struct reference ref;
    struct registries_conf *conf = NULL;
    struct registries_endpoint *eps = NULL;
    size_t n_eps = 0;
    char *archive = NULL;
    int rc = reference_parse(&ref, text);
    rc = rc ? rc : registries_conf_load(&conf, opt->reg.registries_conf);
    rc = rc ? rc : registries_conf_endpoints(&eps, &n_eps, conf, &ref);
    if (rc || (rc = make_temp(b)))
        goto done;
    if (!(archive = path_join(b->temp_dir, "base.tar"))) {
        rc = nomem();
        goto done;
    }
    for (size_t i = 0; i < n_eps; i++) {
        struct registry_options ro = opt->reg;
        ro.op = "pull";
        ro.insecure = ro.insecure || eps[i].insecure;
        char where[700];
        reference_format(where, sizeof where, &eps[i].ref);
        if (eps[i].mirror)
            fprintf(stderr, "%s: pulling %s from the mirror %s\n", b->context, text, where);
        if (!(rc = pull_endpoint(&eps[i].ref, &ro, archive, platform)))
            break;
        if (rc == ERR_NOMEM || i + 1 == n_eps)
            goto done;
        fprintf(stderr, "%s: %s failed (%s): trying the next location\n", b->context, where, err_message(rc));
        err_clear();
    }
    rc = image_source_open(&b->src, archive);
done:
    registries_conf_free(conf);
    free(eps);
    free(archive);
    return rc;
}

/* Reads the base from where the spec says it is. */
static int load_source(struct base_image *b, const char *text, const char *spec_dir,
                       const struct base_image_options *opt, const char *platform)
{
    struct image_location loc;
    int parse_rc = image_location_parse(&loc, text);
    if (parse_rc)
        return err_set(parse_rc, "%s: %s", b->context, err_message(parse_rc));
    /* A base without a transport is a registry reference, as in a Dockerfile's FROM. */
    if (loc.transport == IMAGE_REGISTRY || loc.transport == IMAGE_UNSPECIFIED) {
        if (!(b->file = strdup(loc.rest)))
            return nomem();
        int rc = pull_registry(b, loc.rest, opt, platform);
        return rc ? rc : load_layout(b, platform);
    }
    int form = loc.transport == IMAGE_OCI_ARCHIVE ? 0 : loc.transport == IMAGE_DOCKER_ARCHIVE ? 1 : 2;
    const char *rest = loc.rest;
    char *tag = NULL;
    if (!(b->file = fs_resolve(spec_dir, rest)))
        return nomem();
    struct stat st;
    if (form == 2 && stat(b->file, &st) != 0) {
        /* oci:DIR:TAG, where TAG (the ref.name) may hold ':' itself: DIR is the first prefix that is a directory. */
        for (char *colon = strchr(b->file, ':'); colon && !tag; colon = strchr(colon + 1, ':')) {
            *colon = '\0';
            if (colon[1] && stat(b->file, &st) == 0 && S_ISDIR(st.st_mode))
                tag = colon + 1;
            else
                *colon = ':';
        }
    }
    if (stat(b->file, &st) != 0)
        return err_set_errno(ERR_NOTFOUND, "%s: '%s'", b->context, b->file);
    if (form == 1)
        return load_docker_archive(b, b->file);
    if (form == 2 && !S_ISDIR(st.st_mode))
        return err_set(ERR_INVALID, "%s: '%s': not a directory (oci:DIR[:TAG] names an OCI image layout)", b->context,
                       b->file);
    if (form == 0 && S_ISDIR(st.st_mode))
        return err_set(ERR_INVALID, "%s: '%s' is a directory: use oci:DIR for an OCI image layout", b->context,
                       b->file);
    char *open_path = NULL;
    if (tag ? asprintf(&open_path, "%s:%s", b->file, tag) < 0 : !(open_path = strdup(b->file)))
        return nomem();
    int rc = image_source_open(&b->src, open_path);
    free(open_path);
    if (tag)
        tag[-1] = ':'; /* messages name what was written */
    return rc ? rc : load_layout(b, platform);
}

/* ---- the cache tier ---------------------------------------------------- */

static int manifest_json(struct buf *out, const struct base_image *b)
{
    int rc = buf_appendf(out,
                         "{\"config\":{\"digest\":\"%s\",\"mediaType\":\"" MT_OCI_CONFIG "\",\"size\":%zu},"
                         "\"layers\":[",
                         b->config_digest, b->config.len);
    for (size_t i = 0; i < b->n_layers && !rc; i++)
        rc = buf_appendf(out, "%s{\"digest\":\"%s\",\"mediaType\":\"%s\",\"size\":%lld}", i ? "," : "",
                         b->layers[i].digest, b->layers[i].media_type, (long long)b->layers[i].size);
    return rc ? rc : buf_append_str(out, "],\"mediaType\":\"" MT_OCI_MANIFEST "\",\"schemaVersion\":2}");
}

static int read_fd(struct buf *out, int fd)
{
    char chunk[1 << 14];
    ssize_t n;
    int rc = 0;
    while (!rc && (n = read(fd, chunk, sizeof chunk)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return err_set_errno(ERR_IO, "cache: read failed");
        }
        rc = buf_append(out, chunk, (size_t)n);
    }
    return rc;
}

static int cache_read_blob(struct base_image *b, struct buf *out, const char *digest)
{
    int fd = -1;
    buf_reset(out);
    int rc = cache_blob_open(b->cache, digest, CACHE_VERIFY, &fd);
    if (!rc)
        rc = read_fd(out, fd);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* The base from a cache entry alone: every blob re-hashed. */
static int load_cached(struct base_image *b, const struct cache_entry *hit)
{
    int rc = read_manifest(b, cache_read_blob, hit->manifest_digest, BASE_IMAGE_DEFAULT_PLATFORM, 0);
    for (size_t i = 0; i < b->n_layers && !rc; i++) {
        int fd = -1;
        if (!(rc = cache_blob_open(b->cache, b->layers[i].digest, CACHE_VERIFY, &fd)))
            rc = cache_blob_path(b->cache, b->layers[i].digest, &b->layers[i].path);
        if (fd >= 0)
            close(fd);
    }
    return rc;
}

/* Forgets what parse_config filled in. */
static void release_parsed_config(struct base_image *b)
{
    free(b->architecture);
    free(b->os);
    free(b->variant);
    free(b->user);
    for (size_t i = 0; i < b->n_env; i++)
        free(b->env[i]);
    free(b->env);
    for (size_t i = 0; i < b->n_labels; i++) {
        free(b->labels[i].key);
        free(b->labels[i].value);
    }
    free(b->labels);
    for (size_t i = 0; i < b->n_ports; i++)
        free(b->ports[i]);
    free(b->ports);
    for (size_t i = 0; i < b->n_history; i++)
        free(b->history[i]);
    free(b->history);
    b->architecture = b->os = b->variant = b->user = NULL;
    b->env = NULL;
    b->labels = NULL;
    b->ports = b->history = NULL;
    b->n_env = b->n_labels = b->n_ports = b->n_history = 0;
}

/* Forgets what a failed attempt filled in and removes its files, keeping the cache handle. */
static void reset_image(struct base_image *b)
{
    for (size_t i = 0; i < b->n_layers; i++)
        oci_blob_release(&b->layers[i]);
    free(b->layers);
    free(b->cached);
    release_parsed_config(b);
    image_source_free(b->src);
    if (b->temp_dir)
        fs_remove_tree(b->temp_dir);
    free(b->temp_dir);
    if (b->adopted_dir)
        fs_remove_tree(b->adopted_dir);
    free(b->adopted_dir);
    free(b->file);
    struct cache *cache = b->cache, *blobs_from = b->blobs_from;
    const char *context = b->context;
    struct buf config = b->config;
    memset(b, 0, sizeof *b);
    b->cache = cache;
    b->blobs_from = blobs_from;
    b->context = context;
    b->config = config;
    buf_reset(&b->config);
}

static int inside(const char *dir, const char *path)
{
    size_t n = dir ? strlen(dir) : 0;
    return n && !strncmp(path, dir, n) && path[n] == '/';
}

/* A file in one of b's temporary directories, which nothing else writes. */
static int owns_file(const struct base_image *b, const char *path)
{
    return inside(b->temp_dir, path) || inside(b->adopted_dir, path) || (b->src && inside(b->src->temp_dir, path));
}

int base_image_store(const struct base_image *b, struct cache *cache, const char *key)
{
    struct buf m;
    buf_init(&m, 0);
    char got[CACHE_DIGEST_SIZE];
    int rc = 0;
    for (size_t i = 0; i < b->n_layers && !rc; i++) {
        const struct oci_blob *l = &b->layers[i];
        /* Files of our own (unpacked, pulled or written here, each hashed on the way) go in without a copy. */
        if (!l->offset && owns_file(b, l->path))
            rc = cache_adopt_blob(cache, l->path, l->digest);
        else
            rc = cache_put_blob(cache, l->path, got);
    }
    if (!rc)
        rc = cache_put_blob_buffer(cache, b->config.data, b->config.len, got);
    if (!rc)
        rc = manifest_json(&m, b);
    if (!rc)
        rc = cache_put_blob_buffer(cache, m.data, m.len, got);
    char name[128];
    snprintf(name, sizeof name, "azureml/azureml_%s", key);
    if (!rc)
        rc = cache_record(cache, key, got, name);
    buf_release(&m);
    return rc;
}

/* One blob's bytes in a file of dir, described for oci_archive_write. */
static int blob_file(struct oci_blob *out, const char *dir, const char *name, const struct buf *bytes,
                     const char *digest, const char *media_type)
{
    memset(out, 0, sizeof *out);
    if (!(out->path = path_join(dir, name)))
        return nomem();
    int rc = 0, fd = open(out->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || fs_write_all(fd, bytes->data, bytes->len) < 0)
        rc = err_set_write(ERR_IO, "cannot write '%s'", out->path);
    if (fd >= 0 && close(fd) < 0 && !rc)
        rc = err_set_write(ERR_IO, "cannot write '%s'", out->path);
    snprintf(out->digest, sizeof out->digest, "%s", digest);
    out->size = (int64_t)bytes->len;
    out->media_type = media_type;
    return rc;
}

int base_image_write_archive(const struct base_image *b, const char *dir, const char *target)
{
    struct buf m;
    buf_init(&m, 0);
    char manifest_digest[DIGEST_STRING_SIZE];
    struct oci_image image = {.layers = b->layers, .n_layers = b->n_layers, .ref_name = "amlpkg-base:latest"};
    int rc = manifest_json(&m, b);
    rc = rc ? rc : digest_buffer(manifest_digest, m.data, m.len);
    rc = rc ? rc : blob_file(&image.config, dir, "config.json", &b->config, b->config_digest, MT_OCI_CONFIG);
    rc = rc ? rc : blob_file(&image.manifest, dir, "manifest.json", &m, manifest_digest, OCI_MEDIA_TYPE_MANIFEST);
    rc = rc ? rc : oci_archive_write(&image, target, 0, 0, NULL);
    if (image.config.path)
        unlink(image.config.path);
    if (image.manifest.path)
        unlink(image.manifest.path);
    free(image.config.path);
    free(image.manifest.path);
    buf_release(&m);
    return rc;
}

/* ---- the public part --------------------------------------------------- */

void base_image_free(struct base_image *b)
{
    if (!b)
        return;
    reset_image(b);
    buf_release(&b->config);
    free(b);
}

const struct oci_base *base_image_oci(const struct base_image *b)
{
    return &b->oci;
}

const char *base_image_manifest_digest(const struct base_image *b)
{
    return b->manifest_digest;
}

/* ---- the executor's layers ---------------------------------------------- */

#define EPOCH_TEXT "1970-01-01T00:00:00Z"

static int is_empty_layer(const struct json_value *entry)
{
    const struct json_value *e = json_member(entry, "empty_layer");
    return e && e->type == JSON_BOOL && e->as.boolean;
}

/* One history entry, its "created" at the epoch; an engine's "FROM <parent image>" comment (podman
 * names the intermediate image of the step before, whose ID differs from build to build) left out. */
static int write_history_entry(struct buf *out, const struct json_value *entry)
{
    int rc = buf_append_str(out, "{\"created\":\"" EPOCH_TEXT "\"");
    for (const struct json_value *m = entry->child; m && !rc; m = m->next) {
        if (m->key_len == 7 && !memcmp(m->key, "created", 7))
            continue;
        if (m->key_len == 7 && !memcmp(m->key, "comment", 7) && m->type == JSON_STRING &&
            !strncmp(m->as.string.ptr, "FROM ", 5))
            continue;
        rc = buf_append(out, ",", 1);
        rc = rc ? rc : json_write_string(out, m->key, m->key_len);
        rc = rc ? rc : buf_append(out, ":", 1);
        rc = rc ? rc : json_write_value(out, m);
    }
    return rc ? rc : buf_append(out, "}", 1);
}

/* The config again with the image's "created", the engine's history entries' and the diff_ids of the
 * re-written layers changed and Docker's build-container fields left out; every other member as it
 * was, in its order. */
static int rewrite_config(struct buf *out, const struct json_value *root, const struct base_image *b,
                          size_t first_engine_entry)
{
    int rc = buf_append(out, "{", 1);
    int first = 1;
    /* Docker's classic builder records the build container and the daemon's version: not the image's. */
    static const char *const machine_specific[] = {"container", "container_config", "docker_version"};
    for (const struct json_value *m = root->child; m && !rc; m = m->next) {
        int skip = 0;
        for (size_t k = 0; k < 3 && !skip; k++)
            skip = m->key_len == strlen(machine_specific[k]) && !memcmp(m->key, machine_specific[k], m->key_len);
        if (skip)
            continue;
        rc = first ? 0 : buf_append(out, ",", 1);
        first = 0;
        rc = rc ? rc : json_write_string(out, m->key, m->key_len);
        rc = rc ? rc : buf_append(out, ":", 1);
        if (rc)
            break;
        if (m->key_len == 7 && !memcmp(m->key, "created", 7)) {
            rc = buf_append_str(out, "\"" EPOCH_TEXT "\"");
        } else if (m->key_len == 6 && !memcmp(m->key, "rootfs", 6)) {
            rc = buf_append_str(out, "{\"type\":\"layers\",\"diff_ids\":[");
            for (size_t i = 0; i < b->n_layers && !rc; i++)
                rc = buf_appendf(out, "%s\"%s\"", i ? "," : "", b->layers[i].diff_id);
            rc = rc ? rc : buf_append_str(out, "]}");
        } else if (m->key_len == 7 && !memcmp(m->key, "history", 7) && m->type == JSON_ARRAY) {
            rc = buf_append(out, "[", 1);
            size_t i = 0;
            for (const struct json_value *h = m->child; h && !rc; h = h->next, i++) {
                rc = i ? buf_append(out, ",", 1) : 0;
                if (!rc)
                    rc = i >= first_engine_entry && h->type == JSON_OBJECT ? write_history_entry(out, h)
                                                                         : json_write_value(out, h);
            }
            rc = rc ? rc : buf_append(out, "]", 1);
        } else {
            rc = json_write_value(out, m);
        }
    }
    return rc ? rc : buf_append(out, "}", 1);
}

/* Re-writes the layers the engine made for the last `steps` history entries, then the config. */
static int normalise_engine_layers(struct base_image *b, size_t steps)
{
    struct arena arena;
    arena_init(&arena, 8192, 64u << 20);
    struct json_value *root = NULL;
    struct buf text;
    buf_init(&text, JSON_LIMIT);
    int rc = json_parse(&root, &arena, b->config.data, b->config.len, "the executor's image config");
    const struct json_value *history = rc ? NULL : json_member(root, "history");
    size_t n_history = history && history->type == JSON_ARRAY ? history->count : 0;
    /* The engine's entries are the last `steps`; without that much history (an engine that writes
     * none), the top layer alone is taken as the engine's, as podman and buildah commit one. */
    size_t first_entry = n_history >= steps ? n_history - steps : n_history, n_new = n_history >= steps ? 0 : 1;
    size_t i = 0;
    for (const struct json_value *h = n_history ? history->child : NULL; h; h = h->next, i++)
        n_new += i >= first_entry && !is_empty_layer(h);
    if (n_new > b->n_layers)
        n_new = b->n_layers;
    if (!rc && !b->temp_dir)
        rc = fs_make_tmp_dir(&b->temp_dir, "amlpkg-envlayer-");
    size_t dropped = 0;
    for (size_t k = b->n_layers - n_new; k < b->n_layers && !rc; k++) {
        char what[1200];
        snprintf(what, sizeof what, "%s: the executor's layer %zu", b->context, k + 1);
        struct oci_blob blob;
        size_t d = 0;
        if (!(rc = layer_normalise(&blob, b->layers[k].path, b->temp_dir, 0, 6, what, &d))) {
            oci_blob_release(&b->layers[k]);
            b->layers[k] = blob;
            dropped += d;
        }
    }
    /* The base's layers, saved as plain tars by the engine: gzipped here, the same on every machine. */
    for (size_t k = 0; k < b->n_layers - n_new && !rc; k++) {
        struct oci_blob blob;
        if (strcmp(b->layers[k].media_type, OCI_MEDIA_TYPE_LAYER) ||
            (rc = layer_gzip(&blob, b->layers[k].path, b->layers[k].diff_id, b->temp_dir, 6)))
            continue;
        oci_blob_release(&b->layers[k]);
        b->layers[k] = blob;
    }
    rc = rc ? rc : rewrite_config(&text, root, b, first_entry);
    if (!rc) {
        buf_reset(&b->config);
        rc = buf_append(&b->config, text.data, text.len);
    }
    rc = rc ? rc : digest_buffer(b->config_digest, b->config.data, b->config.len);
    if (!rc) {
        release_parsed_config(b);
        rc = parse_config(b);
    }
    if (!rc)
        fprintf(stderr, "%s: %zu layer%s from the executor re-written reproducibly (sorted, mtime 0%s)\n", b->context,
                n_new, n_new == 1 ? "" : "s", dropped ? ", the engine's own files dropped" : "");
    buf_release(&text);
    arena_release(&arena);
    return rc;
}

/* Loads from the source and checks everything a cache entry will be trusted for. */
static int load_and_check(struct base_image *b, const char *text, const char *spec_dir,
                          const struct base_image_options *opt, const char *platform)
{
    int rc = load_source(b, text, spec_dir, opt, platform);
    if (rc || (rc = parse_config(b)))
        return rc;
    for (size_t i = 0; i < b->n_layers && !rc; i++) {
        char what[1200], scanned[160];
        snprintf(what, sizeof what, "%s: '%s': layer %.19s", b->context, b->file, b->layers[i].digest);
        const struct oci_blob *l = &b->layers[i];
        /* A cache blob that passed this scan (same rules, limit and diff_id) in an earlier build is not
         * walked again until a write touches it. */
        const struct stat *cached = b->cached && b->cached[i].st_mode ? &b->cached[i] : NULL;
        if (cached)
            snprintf(scanned, sizeof scanned, "layer-scan-1-%lld-%s", (long long)oci_layer_max_bytes(), l->diff_id);
        if (cached && cache_blob_known(b->blobs_from, scanned, l->digest, cached))
            continue;
        int plain = !strcmp(l->media_type, OCI_MEDIA_TYPE_LAYER) && !strcmp(l->diff_id, l->digest);
        rc = scan_layer(l->path, what, plain ? NULL : l->diff_id, plain);
        if (!rc && cached)
            cache_blob_learn(b->blobs_from, scanned, l->digest, cached);
    }
    return rc;
}

static struct base_image *image_new(const char *context)
{
    struct base_image *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    buf_init(&b->config, JSON_LIMIT);
    b->context = context ? context : "environment.base_image";
    return b;
}

static void refresh_oci(struct base_image *b)
{
    b->oci = (struct oci_base){
        .layers = b->layers,
        .n_layers = b->n_layers,
        .architecture = b->architecture,
        .os = b->os,
        .variant = b->variant,
        .env = b->env,
        .n_env = b->n_env,
        .user = b->user,
        .labels = b->labels,
        .n_labels = b->n_labels,
        .ports = b->ports,
        .n_ports = b->n_ports,
        .history = b->history,
        .n_history = b->n_history,
    };
}

/* Hands b out once it is whole, or frees it. */
static int finish(struct base_image **out, struct base_image *b, int rc)
{
    if (rc) {
        base_image_free(b);
        return rc;
    }
    refresh_oci(b);
    *out = b;
    return 0;
}

/* The config with the new layer: every member as it was, but history and rootfs.diff_ids. */
static int config_with_layer(struct buf *out, const struct base_image *b, const char *history_entry)
{
    struct arena arena;
    arena_init(&arena, 8192, 64u << 20);
    struct json_value *root = NULL;
    int rc = json_parse(&root, &arena, b->config.data, b->config.len, "base image config");
    rc = rc ? rc : buf_append(out, "{", 1);
    for (const struct json_value *m = root ? root->child : NULL; m && !rc; m = m->next) {
        if ((m->key_len == 7 && !memcmp(m->key, "history", 7)) || (m->key_len == 6 && !memcmp(m->key, "rootfs", 6)))
            continue;
        rc = json_write_string(out, m->key, m->key_len);
        rc = rc ? rc : buf_append(out, ":", 1);
        rc = rc ? rc : json_write_value(out, m);
        rc = rc ? rc : buf_append(out, ",", 1);
    }
    rc = rc ? rc : buf_append_str(out, "\"history\":[");
    for (size_t i = 0; i < b->n_history && !rc; i++)
        rc = buf_appendf(out, "%s,", b->history[i]);
    rc = rc ? rc : buf_appendf(out, "%s],\"rootfs\":{\"diff_ids\":[", history_entry);
    for (size_t i = 0; i < b->n_layers && !rc; i++)
        rc = buf_appendf(out, "%s\"%s\"", i ? "," : "", b->layers[i].diff_id);
    rc = rc ? rc : buf_append_str(out, "],\"type\":\"layers\"}}");
    arena_release(&arena);
    return rc;
}

int base_image_append_layer(struct base_image *b, struct oci_blob *layer, const char *created_by, char *dir)
{
    struct oci_blob *grown = realloc(b->layers, (b->n_layers + 1) * sizeof *grown);
    char **history = realloc(b->history, (b->n_history + 2) * sizeof *history);
    if (grown)
        b->layers = grown;
    if (history)
        b->history = history;
    if (!grown || !history)
        return nomem();
    if (dir) {
        if (b->adopted_dir)
            fs_remove_tree(b->adopted_dir);
        free(b->adopted_dir);
        b->adopted_dir = dir;
    }
    b->layers[b->n_layers++] = *layer;
    memset(layer, 0, sizeof *layer);
    struct buf entry, config, m;
    buf_init(&entry, 0);
    buf_init(&config, JSON_LIMIT);
    buf_init(&m, 0);
    int rc = buf_append_str(&entry, "{\"created_by\":");
    rc = rc ? rc : json_write_string(&entry, created_by, strlen(created_by));
    rc = rc ? rc : buf_append(&entry, "}", 1);
    rc = rc ? rc : config_with_layer(&config, b, entry.data);
    if (!rc && !(b->history[b->n_history] = strdup(entry.data)))
        rc = nomem();
    if (!rc) {
        b->n_history++;
        buf_reset(&b->config);
        rc = buf_append(&b->config, config.data, config.len);
    }
    rc = rc ? rc : digest_buffer(b->config_digest, b->config.data, b->config.len);
    rc = rc ? rc : manifest_json(&m, b);
    rc = rc ? rc : digest_buffer(b->manifest_digest, m.data, m.len);
    refresh_oci(b);
    buf_release(&entry);
    buf_release(&config);
    buf_release(&m);
    return rc;
}

int base_image_open(struct base_image **out, const char *text, const char *spec_dir,
                    const struct base_image_options *opt)
{
    *out = NULL;
    struct base_image *b = image_new(opt->context);
    if (!b)
        return nomem();
    b->blobs_from = opt->cache;
    const char *platform = opt->platform ? opt->platform : BASE_IMAGE_DEFAULT_PLATFORM;
    int rc = load_and_check(b, text, spec_dir, opt, platform);
    if (!rc && opt->engine_steps)
        rc = normalise_engine_layers(b, opt->engine_steps);
    if (!rc) {
        /* The manifest digest in OCI form, whichever form the base came in. */
        struct buf m;
        buf_init(&m, 0);
        if (!(rc = manifest_json(&m, b)))
            rc = digest_buffer(b->manifest_digest, m.data, m.len);
        buf_release(&m);
    }
    return finish(out, b, rc);
}

int base_image_open_cached(struct base_image **out, struct cache *cache, const struct cache_entry *entry,
                           const char *context)
{
    *out = NULL;
    struct base_image *b = image_new(context);
    if (!b)
        return nomem();
    b->cache = cache;
    int rc = (b->file = strdup(cache_dir(cache))) ? 0 : nomem();
    if (!rc && !(rc = load_cached(b, entry)))
        rc = parse_config(b);
    return finish(out, b, rc);
}
