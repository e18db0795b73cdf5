#include "builder/image/oci_layout.h"

#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "builder/sys/fsutil.h"
#include "common/path.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define INDEX_LIMIT (16u << 20)
#define ARTIFACT_FOR_KEY "com.amlpkg.artifact.for"
#define REF_NAME_KEY "org.opencontainers.image.ref.name"

static int same_ref_name(const struct json_value *descriptor, const char *ref_name)
{
    const struct json_value *an = json_member(descriptor, "annotations");
    const struct json_value *rn = an && an->type == JSON_OBJECT ? json_member(an, REF_NAME_KEY) : NULL;
    return rn && rn->type == JSON_STRING && !strcmp(rn->as.string.ptr, ref_name);
}

static int new_descriptor(struct buf *b, const struct oci_image *image)
{
    int rc = buf_append_str(b, "{\"annotations\":{\"" REF_NAME_KEY "\":");
    rc = rc ? rc : json_write_string(b, image->ref_name, strlen(image->ref_name));
    return rc ? rc
              : buf_appendf(b, "},\"digest\":\"%s\",\"mediaType\":\"%s\",\"size\":%lld}", image->manifest.digest,
                            OCI_MEDIA_TYPE_MANIFEST, (long long)image->manifest.size);
}

/* The new index.json: old entries in order, the image in place of the first
 * entry with its name (or last), other top-level members kept. */
static int index_json(struct buf *b, const struct json_value *old, const struct oci_image *image,
                      const char *index_path)
{
    const struct json_value *manifests = old ? json_member(old, "manifests") : NULL;
    if (old && (old->type != JSON_OBJECT || (manifests && manifests->type != JSON_ARRAY)))
        return err_set(ERR_PARSE, "%s: not an OCI image index (no \"manifests\" array)", index_path);
    int rc = buf_append_str(b, "{\"manifests\":["), placed = 0, n = 0;
    for (const struct json_value *d = manifests ? manifests->child : NULL; d && !rc; d = d->next) {
        int replace = same_ref_name(d, image->ref_name);
        if (replace && placed)
            continue;
        rc = n++ ? buf_append(b, ",", 1) : 0;
        rc = rc ? rc : replace ? new_descriptor(b, image) : json_write_value(b, d);
        placed |= replace;
    }
    if (!rc && !placed) {
        rc = n ? buf_append(b, ",", 1) : 0;
        rc = rc ? rc : new_descriptor(b, image);
    }
    rc = rc ? rc : buf_appendf(b, "],\"mediaType\":\"%s\",\"schemaVersion\":2", OCI_MEDIA_TYPE_INDEX);
    for (const struct json_value *m = old ? old->child : NULL; m && !rc; m = m->next) {
        if (!strcmp(m->key, "manifests") || !strcmp(m->key, "mediaType") || !strcmp(m->key, "schemaVersion"))
            continue;
        rc = buf_append(b, ",", 1);
        rc = rc ? rc : json_write_string(b, m->key, m->key_len);
        rc = rc ? rc : buf_append(b, ":", 1);
        rc = rc ? rc : json_write_value(b, m);
    }
    return rc ? rc : buf_append(b, "}", 1);
}

static int make_dir(const char *path)
{
    if (mkdir(path, 0755) == 0)
        return 0;
    struct stat st;
    if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    return err_set_errno(ERR_IO, "%s: cannot create directory", path);
}

static int write_small_file(const char *path, const void *data, size_t len)
{
    FILE *f;
    char *tmp;
    int rc = fs_temp_beside(&f, &tmp, path);
    if (rc)
        return rc;
    if (fwrite(data, 1, len, f) != len) {
        rc = err_set_write(ERR_IO, "%s: write failed", path);
        fclose(f);
        unlink(tmp);
    } else {
        rc = fs_commit(f, tmp, path);
    }
    free(tmp);
    return rc;
}

/* Puts one blob at blobs/sha256/<hex>: a hard link when the work directory is
 * on the same file system (it is staged beside the layout), else a copy
 * renamed into place. An existing blob of the right size is kept. */
static int place_blob(const struct oci_blob *blob, const char *blob_dir)
{
    char *dest = path_join(blob_dir, blob->digest + 7);
    FILE *f = NULL;
    char *tmp = NULL;
    int rc = 0, fd = -1;
    if (!dest)
        return err_set(ERR_NOMEM, "out of memory");
    struct stat st;
    if (stat(dest, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == blob->size)
        goto done;
    /* The index will name this blob: make its bytes durable first. Layer
     * files are private (0600) while staged; in a layout they are readable. */
    mode_t mask = umask(0);
    umask(mask);
    if ((fd = open(blob->path, O_RDONLY | O_CLOEXEC)) < 0 || fsync(fd) != 0 || fchmod(fd, 0644 & ~mask) != 0) {
        rc = err_set_errno(ERR_IO, "%s: cannot sync", blob->path);
        goto done;
    }
    if (link(blob->path, dest) == 0)
        goto done;
    if (errno == EEXIST) {
        unlink(dest); /* wrong size: a broken leftover, replace it */
        if (link(blob->path, dest) == 0)
            goto done;
    }
    if ((rc = fs_temp_beside(&f, &tmp, dest)) || (rc = fs_copy_into(f, blob->path)))
        goto done;
    rc = fs_commit(f, tmp, dest);
    f = NULL;
done:
    if (f) {
        fclose(f);
        unlink(tmp);
    }
    if (fd >= 0)
        close(fd);
    free(tmp);
    free(dest);
    return rc;
}

int oci_layout_add(const struct oci_image *image, const char *dir)
{
    struct buf old, doc;
    buf_init(&old, INDEX_LIMIT);
    buf_init(&doc, 0);
    struct arena arena;
    arena_init(&arena, 8192, 64u << 20);
    struct json_value *root = NULL;
    char *layout_path = path_join(dir, "oci-layout"), *index_path = path_join(dir, "index.json");
    char *blobs = path_join(dir, "blobs"), *blob_dir = path_join(dir, "blobs/sha256");
    int rc = 0, dir_fd = -1;
    if (!layout_path || !index_path || !blobs || !blob_dir) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((rc = make_dir(dir)))
        goto done;
    if ((dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || flock(dir_fd, LOCK_EX) != 0) {
        rc = err_set_errno(ERR_IO, "%s: cannot lock the layout directory", dir);
        goto done;
    }
    int has_layout = access(layout_path, F_OK) == 0, has_index = access(index_path, F_OK) == 0;
    if (!has_layout && !has_index) {
        /* A new layout, but only in a directory that holds nothing else. */
        if ((rc = fs_dir_is_empty(dir)) < 0)
            goto done;
        if (!rc) {
            rc = err_set(ERR_EXISTS, "%s: not an OCI image layout (no oci-layout or index.json) and not empty", dir);
            goto done;
        }
        rc = 0;
    } else if (!has_layout) {
        rc = err_set(ERR_PARSE, "%s: index.json without an oci-layout file: not an OCI image layout", dir);
        goto done;
    }
    if (has_index &&
        ((rc = buf_read_file(&old, index_path)) || (rc = json_parse(&root, &arena, old.data, old.len, index_path))))
        goto done;
    if ((rc = index_json(&doc, root, image, index_path)))
        goto done;
    if ((rc = make_dir(blobs)) || (rc = make_dir(blob_dir)))
        goto done;
    for (size_t i = 0; i < image->n_layers && !rc; i++)
        rc = place_blob(&image->layers[i], blob_dir);
    if (rc || (rc = place_blob(&image->config, blob_dir)) || (rc = place_blob(&image->manifest, blob_dir)))
        goto done;
    static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
    if (!has_layout && (rc = write_small_file(layout_path, layout, sizeof layout - 1)))
        goto done;
    rc = write_small_file(index_path, doc.data, doc.len);
    if (!rc)
        fsync(dir_fd);
done:
    if (dir_fd >= 0)
        close(dir_fd); /* also drops the lock */
    arena_release(&arena);
    buf_release(&old);
    buf_release(&doc);
    free(layout_path);
    free(index_path);
    free(blobs);
    free(blob_dir);
    return rc;
}

int oci_layout_add_artifact(const char *dir, const struct oci_blob *manifest, const char *artifact_type,
                            const char *for_ref, const struct oci_blob *blobs, size_t n_blobs, int keep_earlier)
{
    struct buf old, doc;
    buf_init(&old, INDEX_LIMIT);
    buf_init(&doc, 0);
    struct arena arena;
    arena_init(&arena, 8192, 64u << 20);
    struct json_value *root = NULL;
    char *index_path = path_join(dir, "index.json"), *blob_dir = path_join(dir, "blobs/sha256");
    int rc = 0, dir_fd = -1, n = 0;
    if (!index_path || !blob_dir) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || flock(dir_fd, LOCK_EX) != 0) {
        rc = err_set_errno(ERR_IO, "%s: cannot lock the layout directory", dir);
        goto done;
    }
    if ((rc = buf_read_file(&old, index_path)) || (rc = json_parse(&root, &arena, old.data, old.len, index_path)))
        goto done;
    const struct json_value *manifests = json_member(root, "manifests");
    rc = buf_append_str(&doc, "{\"manifests\":[");
    for (const struct json_value *d = manifests ? manifests->child : NULL; d && !rc; d = d->next) {
        const struct json_value *an = json_member(d, "annotations"), *type = json_member(d, "artifactType");
        const struct json_value *target = an ? json_member(an, ARTIFACT_FOR_KEY) : NULL;
        const struct json_value *dg = json_member(d, "digest");
        if (type && type->type == JSON_STRING && !strcmp(type->as.string.ptr, artifact_type) && target &&
            target->type == JSON_STRING && !strcmp(target->as.string.ptr, for_ref) &&
            (!keep_earlier || (dg && dg->type == JSON_STRING && !strcmp(dg->as.string.ptr, manifest->digest))))
            continue; /* the artifact of an earlier build of this name (or this very one, listed again below) */
        rc = n++ ? buf_append(&doc, ",", 1) : 0;
        rc = rc ? rc : json_write_value(&doc, d);
    }
    rc = rc ? rc : buf_appendf(&doc, "%s{\"annotations\":{\"" ARTIFACT_FOR_KEY "\":", n ? "," : "");
    rc = rc ? rc : json_write_string(&doc, for_ref, strlen(for_ref));
    rc = rc ? rc
            : buf_appendf(&doc, "},\"artifactType\":\"%s\",\"digest\":\"%s\",\"mediaType\":\"%s\",\"size\":%lld}",
                          artifact_type, manifest->digest, OCI_MEDIA_TYPE_MANIFEST, (long long)manifest->size);
    rc = rc ? rc : buf_appendf(&doc, "],\"mediaType\":\"%s\",\"schemaVersion\":2", OCI_MEDIA_TYPE_INDEX);
    for (const struct json_value *m = root->child; m && !rc; m = m->next) { /* other members stay */
        if (!strcmp(m->key, "manifests") || !strcmp(m->key, "mediaType") || !strcmp(m->key, "schemaVersion"))
            continue;
        rc = buf_append(&doc, ",", 1);
        rc = rc ? rc : json_write_string(&doc, m->key, m->key_len);
        rc = rc ? rc : buf_append(&doc, ":", 1);
        rc = rc ? rc : json_write_value(&doc, m);
    }
    rc = rc ? rc : buf_append(&doc, "}", 1);
    for (size_t i = 0; i < n_blobs && !rc; i++)
        rc = place_blob(&blobs[i], blob_dir);
    rc = rc ? rc : place_blob(manifest, blob_dir);
    rc = rc ? rc : write_small_file(index_path, doc.data, doc.len);
    if (!rc)
        fsync(dir_fd);
done:
    if (dir_fd >= 0)
        close(dir_fd);
    arena_release(&arena);
    buf_release(&old);
    buf_release(&doc);
    free(index_path);
    free(blob_dir);
    return rc;
}
