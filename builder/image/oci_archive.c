#include "builder/image/oci_archive.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "builder/sys/fsutil.h"

#include "builder/image/archive_prefill.h"
#include "builder/image/tar_writer.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Entry name of a blob in both archive formats. */
static void blob_name(char name[96], const struct oci_blob *blob)
{
    snprintf(name, 96, "blobs/sha256/%s", blob->digest + 7);
}

int oci_archive_put_blob(struct tar_writer *t, const struct oci_blob *blob)
{
    char name[96];
    blob_name(name, blob);
    int fd = open(blob->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set_errno(ERR_IO, "%s: cannot open", blob->path);
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0 || st.st_size != blob->offset + blob->size)
        rc = err_set(ERR_IO, "%s: blob changed size before it was archived", blob->path);
    else
        rc = tar_put_file_range(t, name, fd, (off_t)blob->offset, blob->size);
    close(fd);
    return rc;
}

static int index_json(struct buf *b, const struct oci_image *image)
{
    int rc = buf_appendf(b, "{\"manifests\":[{\"annotations\":{\"org.opencontainers.image.ref.name\":");
    rc = rc ? rc : json_write_string(b, image->ref_name, strlen(image->ref_name));
    rc = rc ? rc
            : buf_appendf(b, "},\"digest\":\"%s\",\"mediaType\":\"%s\",\"size\":%lld}],", image->manifest.digest,
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

/* The largest layer written with room for its tar header in front
 * (oci_image_build with OCI_IMAGE_FOR_ARCHIVE): the archive is built around
 * that file instead of copying it. NULL when there is none. */
static const struct oci_blob *adoptable_layer(const struct oci_image *image)
{
    const struct oci_blob *best = NULL;
    for (size_t i = 0; i < image->n_layers; i++) {
        const struct oci_blob *l = &image->layers[i];
        if (l->offset == TAR_BLOCK &&
            (!best || l->size > best->size || (l->size == best->size && strcmp(l->digest, best->digest) < 0)))
            best = l;
    }
    return best;
}

/* Opens the archive file: the adopted layer's own file, or a new one beside target. */
static int open_archive(struct tar_writer *t, char **tmp_path, const struct oci_blob *adopted, const char *target)
{
    if (!adopted) {
        FILE *f;
        int rc = fs_temp_beside(&f, tmp_path, target);
        if (rc)
            return rc;
        t->fd = dup(fileno(f));
        fclose(f);
        if (t->fd < 0) {
            unlink(*tmp_path);
            return err_set_errno(ERR_IO, "%s: cannot open the temporary file", target);
        }
        return 0;
    }
    if (!(*tmp_path = strdup(adopted->path)))
        return err_set(ERR_NOMEM, "out of memory");
    /* Staged layers are private (0600); outputs should look like any other file. */
    mode_t mask = umask(0);
    umask(mask);
    if ((t->fd = open(adopted->path, O_WRONLY | O_CLOEXEC)) < 0 || fchmod(t->fd, 0666 & ~mask) != 0)
        return err_set_errno(ERR_IO, "%s: cannot open", adopted->path);
    char name[96];
    blob_name(name, adopted);
    return tar_put_in_place(t, name, adopted->size);
}

int oci_blob_repeats_earlier(const struct oci_blob *blobs, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (!strcmp(blobs[j].digest, blobs[i].digest))
            return 1;
    return 0;
}

/* Total bytes of the layers other than `layer`. */
static int64_t other_layer_bytes(const struct oci_image *image, const struct oci_blob *layer)
{
    int64_t total = 0;
    for (size_t i = 0; i < image->n_layers; i++)
        if (&image->layers[i] != layer && !oci_blob_repeats_earlier(image->layers, i))
            total += image->layers[i].size;
    return total;
}

static int write_image_tar(const struct oci_image *image, const char *target, long long mtime, unsigned flags,
                           struct archive_prefill *prefill)
{
    int docker = (flags & OCI_ARCHIVE_DOCKER) != 0;
    struct tar_writer t = {.fd = -1, .mtime = mtime, .target = target};
    char *tmp_path = NULL;
    struct buf index, docker_manifest;
    buf_init(&index, 0);
    buf_init(&docker_manifest, 0);
    /* Both formats hold the OCI layout (index.json, the manifest as a blob); a docker-archive adds docker
     * save's manifest.json beside it, as Docker 25's docker save does. So push and inspect read the very
     * manifest build printed (its annotations included) from either format. */
    const struct oci_blob *adopted = adoptable_layer(image);
    int rc = index_json(&index, image);
    if (rc || (docker && (rc = docker_manifest_json(&docker_manifest, image))))
        goto done;
    /* The prefill (the base's layers, written while the build ran) is taken when the layer the archive
     * would otherwise be built around is no bigger than the rest of the image's layers together. */
    size_t prefilled = 0;
    if (prefill && archive_prefill_fits(prefill, image) &&
        (!adopted || adopted->size <= other_layer_bytes(image, adopted))) {
        if (archive_prefill_take(prefill, &t, &tmp_path) == 0)
            prefilled = archive_prefill_count(prefill), adopted = NULL; /* copied like any other layer */
        err_clear(); /* a prefill that failed only costs writing the archive whole */
        t.target = target;
    }
    /* Order: [the adopted layer,] blobs/, blobs/sha256/, the layers in the manifest's order, [manifest.json,]
     * oci-layout, index.json, the config, the manifest. The prefill wrote the start of it. */
    if (!prefilled && ((rc = open_archive(&t, &tmp_path, adopted, target)) || (rc = tar_put_dir(&t, "blobs")) ||
                       (rc = tar_put_dir(&t, "blobs/sha256"))))
        goto done;
    for (size_t i = 0, distinct = 0; i < image->n_layers && !rc; i++) {
        if (oci_blob_repeats_earlier(image->layers, i))
            continue;
        if (distinct++ >= prefilled && (!adopted || strcmp(image->layers[i].digest, adopted->digest) != 0))
            rc = oci_archive_put_blob(&t, &image->layers[i]);
    }
    static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
    if (!rc && docker)
        rc = tar_put_bytes(&t, "manifest.json", docker_manifest.data, docker_manifest.len);
    if (!rc && !(rc = tar_put_bytes(&t, "oci-layout", layout, sizeof layout - 1)) &&
        !(rc = tar_put_bytes(&t, "index.json", index.data, index.len)) &&
        !(rc = oci_archive_put_blob(&t, &image->config)))
        rc = oci_archive_put_blob(&t, &image->manifest);
    /* Complete or absent: renamed into place only when whole. Flushing to the
     * disk is asked for with --fsync (as with docker/podman save, not by default). */
    if (!rc)
        rc = tar_commit(&t, tmp_path, flags & OCI_ARCHIVE_SYNC, "the finished file");
done:
    if (t.fd >= 0)
        close(t.fd);
    if (rc && tmp_path)
        unlink(tmp_path);
    free(tmp_path);
    buf_release(&index);
    buf_release(&docker_manifest);
    return rc;
}

int oci_archive_write(const struct oci_image *image, const char *target, long long mtime, unsigned flags,
                      struct archive_prefill *prefill)
{
    return write_image_tar(image, target, mtime, flags & ~OCI_ARCHIVE_DOCKER, prefill);
}

int oci_docker_archive_write(const struct oci_image *image, const char *target, long long mtime, unsigned flags,
                             struct archive_prefill *prefill)
{
    for (size_t i = 0; i < image->n_layers; i++)
        if (!strcmp(image->layers[i].media_type, OCI_MEDIA_TYPE_LAYER_ZSTD))
            return err_set(ERR_UNSUPPORTED, "%s: docker-archive layers must be tar or tar+gzip, not zstd", target);
    return write_image_tar(image, target, mtime, flags | OCI_ARCHIVE_DOCKER, prefill);
}
