#include "builder/image/layer_cache.h"

#include "common/err.h"
#include "common/path.h"

#include <dirent.h>
#include <sys/stat.h>

#include <archive.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libdeflate.h>

/* Bump when the layer writer changes the bytes it produces for the same files. */
#define LAYER_FORMAT 3 /* 2: tar streams no longer padded to 10 KiB blocks; 3: gzip in 1 MiB members */
#define MAX_TREE_DEPTH 64

/* Appends one field (NUL-terminated, so no path can imitate another listing). */
static int field(struct digest *d, const char *text)
{
    return digest_update(d, text, strlen(text) + 1);
}

/* What oci_layer_add_tree writes for host_path at image_path, without
 * writing it: types, modes, sizes, link targets and file digests, in the
 * writer's order. */
static int list_tree(struct digest *d, struct cache *memo, const char *image_path, const char *host_path, int depth)
{
    struct stat st;
    char text[64], target[4096], digest[DIGEST_STRING_SIZE];
    if (lstat(host_path, &st) != 0)
        return err_set_errno(ERR_NOTFOUND, "%s", host_path);
    snprintf(text, sizeof text, "%c %o %lld",
             S_ISDIR(st.st_mode)   ? 'd'
             : S_ISLNK(st.st_mode) ? 'l'
                                   : 'f',
             S_ISLNK(st.st_mode) ? 0777u : oci_layer_mode(st.st_mode), (long long)st.st_size);
    int rc = field(d, image_path);
    rc = rc ? rc : field(d, text);
    if (rc)
        return rc;
    if (S_ISLNK(st.st_mode)) {
        ssize_t n = readlink(host_path, target, sizeof target - 1);
        if (n < 0)
            return err_set_errno(ERR_IO, "%s: cannot read symlink", host_path);
        target[n] = '\0';
        return field(d, target);
    }
    if (S_ISREG(st.st_mode))
        return (rc = cache_file_digest(memo, host_path, digest)) ? rc : field(d, digest);
    if (!S_ISDIR(st.st_mode))
        return err_set(ERR_UNSUPPORTED, "%s: only regular files, directories and symlinks can go in a layer",
                       host_path);
    if (depth >= MAX_TREE_DEPTH)
        return err_set(ERR_LIMIT, "%s: directories nested deeper than %d", host_path, MAX_TREE_DEPTH);
    struct dirent **names = NULL;
    int n = scandir(host_path, &names, NULL, alphasort); /* the writer's order */
    if (n < 0)
        return err_set_errno(ERR_IO, "%s: cannot list directory", host_path);
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        if (!rc && strcmp(name, ".") && strcmp(name, "..")) {
            char *child_image = path_join(image_path, name), *child_host = path_join(host_path, name);
            rc = child_image && child_host ? list_tree(d, memo, child_image, child_host, depth + 1)
                                           : err_set(ERR_NOMEM, "out of memory");
            free(child_image);
            free(child_host);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int layer_cache_key(struct layer_cache_key *key, struct cache *c, const struct plan_layer *layer,
                    enum oci_compression compression, int64_t mtime)
{
    struct digest d;
    char text[256], digest[DIGEST_STRING_SIZE];
    int rc = digest_init(&d);
    if (rc)
        return rc;
    /* The libraries that shape the bytes. libarchive (the tar) by the version
     * built against: asking the loaded one would load it, the start-up cost a
     * rebuild from the cache avoids. A layer kept under an older libarchive is
     * still a valid layer of the same files. zstd is asked only for zstd layers,
     * which load libarchive anyway. */
    const char *zstd = compression == OCI_COMPRESSION_ZSTD ? archive_libzstd_version() : NULL;
    snprintf(text, sizeof text, "amlpkg layer %d %s %d %lld libdeflate/%s libarchive/%s zstd/%s",
             LAYER_FORMAT, oci_compression_name(compression), layer->gzip_level, (long long)mtime,
             LIBDEFLATE_VERSION_STRING,
             ARCHIVE_VERSION_ONLY_STRING, zstd ? zstd : "none");
    rc = field(&d, text);
    for (size_t i = 0; i < layer->n_entries && !rc; i++)
        rc = list_tree(&d, c, layer->entries[i].image_path, layer->entries[i].host_path, 0);
    if (!rc && !(rc = digest_final(&d, digest)))
        snprintf(key->hex, sizeof key->hex, "%s", digest + 7);
    digest_release(&d);
    return rc;
}

int layer_cache_find(struct cache *c, const struct layer_cache_key *key, struct oci_blob *out)
{
    memset(out, 0, sizeof *out);
    struct cache_entry e;
    int rc = cache_lookup(c, key->hex, &e);
    if (rc)
        return rc;
    static const char *const types[] = {OCI_MEDIA_TYPE_LAYER_GZIP, OCI_MEDIA_TYPE_LAYER_ZSTD};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(e.media_type, types[i]))
            out->media_type = types[i];
    if (strcmp(e.kind, "layer") || !out->media_type || strncmp(e.diff_id, "sha256:", 7))
        return ERR_NOTFOUND; /* not an entry this amlpkg wrote: build the layer */
    int fd = -1;
    rc = cache_blob_open(c, e.manifest_digest, CACHE_VERIFY, &fd);
    if (fd >= 0)
        close(fd);
    if (!rc)
        rc = cache_blob_path(c, e.manifest_digest, &out->path);
    if (rc) {
        /* A damaged blob: build instead (`amlpkg cache verify` drops it). */
        fprintf(stderr, "layer %.12s: cached copy unusable (%s): building it\n", key->hex, err_message(rc));
        err_clear();
        return ERR_NOTFOUND;
    }
    snprintf(out->digest, sizeof out->digest, "%s", e.manifest_digest);
    snprintf(out->diff_id, sizeof out->diff_id, "%s", e.diff_id);
    out->size = e.size;
    return 0;
}

void layer_cache_keep(struct cache *c, const struct layer_cache_key *key, const struct oci_blob *built)
{
    char got[CACHE_DIGEST_SIZE];
    int rc = cache_put_blob(c, built->path, got);
    if (!rc && strcmp(got, built->digest))
        rc = err_set(ERR_MISMATCH, "layer %s changed while it was stored", built->digest);
    if (!rc)
        rc = cache_record_layer(c, key->hex, built->digest, built->diff_id, built->media_type);
    if (rc)
        fprintf(stderr, "layer %.12s: not kept in the cache (%s)\n", key->hex, err_message(rc));
    err_clear();
}
