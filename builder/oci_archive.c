#include "oci_archive.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "fsutil.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct archive_out {
    FILE *file;
    const char *target;
    int failed;
};

static la_ssize_t on_bytes(struct archive *a, void *ctx, const void *data, size_t len)
{
    (void)a;
    struct archive_out *o = ctx;
    if (fwrite(data, 1, len, o->file) != len) {
        if (!o->failed)
            err_set_errno(ERR_IO, "%s: write failed", o->target);
        o->failed = 1;
        return -1;
    }
    return (la_ssize_t)len;
}

static int put_header(struct archive *a, const char *path, mode_t type, int64_t size, long long mtime)
{
    struct archive_entry *e = archive_entry_new2(a);
    if (!e)
        return err_set(ERR_NOMEM, "out of memory");
    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
    archive_entry_set_size(e, size);
    archive_entry_set_mtime(e, (time_t)mtime, 0);
    int ok = archive_write_header(a, e) == ARCHIVE_OK;
    archive_entry_free(e);
    return ok ? 0 : err_set(ERR_IO, "%s: %s", path, archive_error_string(a));
}

static int put_bytes(struct archive *a, const char *path, const void *data, size_t len, long long mtime)
{
    int rc = put_header(a, path, AE_IFREG, (int64_t)len, mtime);
    if (!rc && archive_write_data(a, data, len) != (la_ssize_t)len)
        rc = err_set(ERR_IO, "%s: %s", path, archive_error_string(a));
    return rc;
}

static int put_blob(struct archive *a, const struct oci_blob *blob, long long mtime)
{
    char path[96];
    snprintf(path, sizeof path, "blobs/sha256/%s", blob->digest + 7);
    int rc = put_header(a, path, AE_IFREG, blob->size, mtime);
    if (rc)
        return rc;
    FILE *f = fopen(blob->path, "rb");
    if (!f)
        return err_set_errno(ERR_IO, "%s: cannot open", blob->path);
    enum { CHUNK = 1 << 20 };
    char *chunk = malloc(CHUNK); /* not _Thread_local: that would be zeroed for every thread */
    if (!chunk) {
        fclose(f);
        return err_set(ERR_NOMEM, "out of memory");
    }
    size_t n;
    int64_t total = 0;
    while (!rc && (n = fread(chunk, 1, CHUNK, f)) > 0) {
        if (archive_write_data(a, chunk, n) != (la_ssize_t)n)
            rc = err_set(ERR_IO, "%s: %s", path, archive_error_string(a));
        total += (int64_t)n;
    }
    if (!rc && total != blob->size)
        rc = err_set(ERR_IO, "%s: blob changed size while archiving", blob->path);
    free(chunk);
    fclose(f);
    return rc;
}

static int compare_blobs(const void *a, const void *b)
{
    return strcmp((*(const struct oci_blob *const *)a)->digest, (*(const struct oci_blob *const *)b)->digest);
}

static int index_json(struct buf *b, const struct oci_image *image)
{
    int rc = buf_appendf(b,
                         "{\"manifests\":[{\"annotations\":{\"org.opencontainers.image.ref.name\":");
    rc = rc ? rc : json_write_string(b, image->ref_name, strlen(image->ref_name));
    rc = rc ? rc : buf_appendf(b, "},\"digest\":\"%s\",\"mediaType\":\"%s\",\"size\":%lld}],", image->manifest.digest,
                               OCI_MEDIA_TYPE_MANIFEST, (long long)image->manifest.size);
    return rc ? rc : buf_appendf(b, "\"mediaType\":\"%s\",\"schemaVersion\":2}", OCI_MEDIA_TYPE_INDEX);
}

/* docker save's manifest.json: the config and layers by path, named by RepoTags. */
static int docker_manifest_json(struct buf *b, const struct oci_image *image)
{
    int rc = buf_appendf(b, "[{\"Config\":\"blobs/sha256/%s\",\"RepoTags\":[", image->config.digest + 7);
    rc = rc ? rc : json_write_string(b, image->ref_name, strlen(image->ref_name));
    rc = rc ? rc : buf_append_str(b, "],\"Layers\":[");
    for (size_t i = 0; i < image->n_layers && !rc; i++)
        rc = buf_appendf(b, "%s\"blobs/sha256/%s\"", i ? "," : "", image->layers[i].digest + 7);
    return rc ? rc : buf_append_str(b, "]}]");
}

static int write_image_tar(const struct oci_image *image, const char *target, long long mtime, int docker)
{
    struct archive_out o = {.target = target};
    char *tmp_path = NULL, *iobuf = NULL;
    struct archive *a = NULL;
    struct buf index;
    buf_init(&index, 0);
    /* docker-archive has no use for the OCI manifest; oci-archive stores it as a blob. */
    size_t n_blobs = image->n_layers + (docker ? 1 : 2);
    const struct oci_blob **blobs = calloc(n_blobs, sizeof *blobs);
    int rc = blobs ? 0 : err_set(ERR_NOMEM, "out of memory");
    if (rc)
        goto done;
    for (size_t i = 0; i < image->n_layers; i++)
        blobs[i] = &image->layers[i];
    blobs[image->n_layers] = &image->config;
    if (!docker)
        blobs[image->n_layers + 1] = &image->manifest;
    qsort(blobs, n_blobs, sizeof *blobs, compare_blobs);
    if ((rc = docker ? docker_manifest_json(&index, image) : index_json(&index, image)))
        goto done;
    if ((rc = fs_temp_beside(&o.file, &tmp_path, target)))
        goto done;
    /* Tar blocks come in 10 KiB: batch them (glibc ignores a size without a buffer). */
    if ((iobuf = malloc(1 << 20)))
        setvbuf(o.file, iobuf, _IOFBF, 1 << 20);
    a = archive_write_new();
    if (!a || archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
        archive_write_add_filter_none(a) != ARCHIVE_OK ||
        archive_write_open2(a, &o, NULL, on_bytes, NULL, NULL) != ARCHIVE_OK) {
        rc = err_set(ERR_IO, "%s: cannot start archive: %s", target, a ? archive_error_string(a) : "out of memory");
        goto done;
    }
    static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
    if (docker)
        rc = put_bytes(a, "manifest.json", index.data, index.len, mtime);
    else if (!(rc = put_bytes(a, "oci-layout", layout, sizeof layout - 1, mtime)))
        rc = put_bytes(a, "index.json", index.data, index.len, mtime);
    if (rc || (rc = put_header(a, "blobs", AE_IFDIR, 0, mtime)) ||
        (rc = put_header(a, "blobs/sha256", AE_IFDIR, 0, mtime)))
        goto done;
    for (size_t i = 0; i < n_blobs && !rc; i++)
        if (i == 0 || strcmp(blobs[i]->digest, blobs[i - 1]->digest) != 0) /* identical layers: store once */
            rc = put_blob(a, blobs[i], mtime);
    if (rc)
        goto done;
    if (archive_write_close(a) != ARCHIVE_OK) {
        rc = o.failed ? ERR_IO : err_set(ERR_IO, "%s: %s", target, archive_error_string(a));
        goto done;
    }
    rc = fs_commit(o.file, tmp_path, target);
    o.file = NULL;
done:
    if (a)
        archive_write_free(a);
    if (o.file) {
        fclose(o.file);
        remove(tmp_path);
    }
    free(iobuf); /* the file is closed by now */
    free(tmp_path);
    free(blobs);
    buf_release(&index);
    return rc;
}

int oci_archive_write(const struct oci_image *image, const char *target, long long mtime)
{
    return write_image_tar(image, target, mtime, 0);
}

int oci_docker_archive_write(const struct oci_image *image, const char *target, long long mtime)
{
    for (size_t i = 0; i < image->n_layers; i++)
        if (!strcmp(image->layers[i].media_type, OCI_MEDIA_TYPE_LAYER_ZSTD))
            return err_set(ERR_UNSUPPORTED, "%s: docker-archive layers must be tar or tar+gzip, not zstd", target);
    return write_image_tar(image, target, mtime, 1);
}
