#include "builder/image/image_source.h"

#include "common/arena.h"
#include "common/err.h"
#include "common/json.h"
#include "builder/sys/digest.h"
#include "builder/image/docker_archive.h"
#include "builder/image/oci_image.h"
#include "builder/sys/fsutil.h"
#include "common/path.h"
#include "builder/image/reference.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INDEX_LIMIT (4u << 20)

static int wanted_entry(const char *name)
{
    if (!strcmp(name, "oci-layout") || !strcmp(name, "index.json"))
        return 1;
    if (strncmp(name, "blobs/sha256/", 13))
        return 0;
    char d[80];
    snprintf(d, sizeof d, "sha256:%.70s", name + 13);
    return reference_valid_digest(d);
}

/* extract()'s answer for a tarball with manifest.json and no index.json. */
#define DOCKER_ARCHIVE 1

/* Writes a file into the layout, creating it. */
static int write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    int bad = !f || fwrite(data, 1, len, f) != len;
    if (f && fclose(f) != 0)
        bad = 1;
    return bad ? err_set_errno(ERR_IO, "%s: cannot write", path) : 0;
}

/* A docker-archive becomes an OCI layout in root: the config as it is, the
 * layers as the archive holds them (digests of those bytes, media types by
 * their magic), under one OCI image manifest. The files are hard-linked into
 * blobs/sha256, not copied. */
static int docker_to_layout(const char *tarball, const char *root)
{
    char *dir = path_join(root, "docker"), path[4200];
    struct docker_archive d = {.context = "amlpkg push"};
    struct buf m;
    buf_init(&m, 0);
    int rc = dir ? 0 : err_set(ERR_NOMEM, "out of memory");
    if (!rc && mkdir(dir, 0700) != 0)
        rc = err_set_errno(ERR_IO, "%s: cannot create", dir);
    d.dir = dir;
    if (rc || (rc = docker_archive_load(&d, tarball)))
        goto done;
    snprintf(path, sizeof path, "%s/blobs/sha256/%s", root, d.config_digest + 7);
    if ((rc = write_file(path, d.config.data, d.config.len)))
        goto done;
    buf_appendf(&m,
                "{\"config\":{\"digest\":\"%s\",\"mediaType\":\"" OCI_MEDIA_TYPE_CONFIG "\",\"size\":%zu},"
                "\"layers\":[",
                d.config_digest, d.config.len);
    for (size_t i = 0; i < d.n_layers && !rc; i++) {
        const struct oci_blob *l = &d.layers[i];
        snprintf(path, sizeof path, "%s/blobs/sha256/%s", root, l->digest + 7);
        if (link(l->path, path) != 0 && errno != EEXIST)
            rc = err_set_errno(ERR_IO, "%s: cannot link", path);
        buf_appendf(&m, "%s{\"digest\":\"%s\",\"mediaType\":\"%s\",\"size\":%lld}", i ? "," : "", l->digest,
                    l->media_type, (long long)l->size);
    }
    rc = rc ? rc : buf_append_str(&m, "],\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST "\",\"schemaVersion\":2}");
    char manifest[DIGEST_STRING_SIZE];
    if (rc || (rc = digest_buffer(manifest, m.data, m.len)))
        goto done;
    snprintf(path, sizeof path, "%s/blobs/sha256/%s", root, manifest + 7);
    if ((rc = write_file(path, m.data, m.len)))
        goto done;
    size_t manifest_size = m.len;
    buf_reset(&m);
    buf_appendf(&m,
                "{\"manifests\":[{\"digest\":\"%s\",\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST "\",\"size\":%zu}],"
                "\"schemaVersion\":2}",
                manifest, manifest_size);
    snprintf(path, sizeof path, "%s/index.json", root);
    if ((rc = write_file(path, m.data, m.len)))
        goto done;
    snprintf(path, sizeof path, "%s/oci-layout", root);
    rc = write_file(path, "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
done:
    docker_archive_release(&d);
    buf_release(&m);
    free(dir);
    return rc;
}

static int extract(const char *tarball, const char *dir)
{
    struct archive *a = archive_read_new();
    if (!a)
        return err_set(ERR_NOMEM, "out of memory");
    archive_read_support_format_tar(a);
    archive_read_support_filter_all(a);
    int rc = 0, saw_index = 0, saw_docker = 0;
    char path[4096];
    /* On the heap, not _Thread_local: a TLS array is zeroed for every thread
     * the process starts, whether or not it ever extracts anything. */
    enum { CHUNK = 1 << 20 };
    char *chunk = malloc(CHUNK);
    snprintf(path, sizeof path, "%s/blobs", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/blobs/sha256", dir);
    mkdir(path, 0755);
    if (archive_read_open_filename(a, tarball, 1 << 20) != ARCHIVE_OK) {
        rc = err_set(ERR_PARSE, "%s: not an oci-archive tarball or OCI layout: %s", tarball, archive_error_string(a));
        goto done;
    }
    struct archive_entry *e;
    if (!chunk) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    for (;;) {
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            rc = err_set(ERR_PARSE, "%s: not an oci-archive tarball: %s", tarball, archive_error_string(a));
            goto done;
        }
        const char *name = archive_entry_pathname(e);
        if (!name)
            continue;
        while (!strncmp(name, "./", 2))
            name += 2;
        if (!strcmp(name, "manifest.json"))
            saw_docker = 1;
        if (archive_entry_filetype(e) != AE_IFREG || !wanted_entry(name))
            continue;
        saw_index |= !strcmp(name, "index.json");
        path_join_into(path, sizeof path, dir, name);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            rc = err_set_errno(ERR_IO, "%s: cannot write", path);
            goto done;
        }
        la_ssize_t n;
        while ((n = archive_read_data(a, chunk, CHUNK)) > 0) {
            if (write(fd, chunk, (size_t)n) != n) {
                rc = err_set_errno(ERR_IO, "%s: cannot write", path);
                break;
            }
        }
        if (!rc && n < 0)
            rc = err_set(ERR_IO, "%s: %s: %s", tarball, name, archive_error_string(a));
        close(fd);
        if (rc)
            goto done;
    }
    if (!saw_index)
        rc = saw_docker ? DOCKER_ARCHIVE
                        : err_set(ERR_PARSE,
                                  "%s: no index.json: neither an oci-archive nor a "
                                  "docker-archive",
                                  tarball);
done:
    free(chunk);
    archive_read_free(a);
    return rc;
}

int image_source_open(struct image_source **out, const char *path)
{
    *out = NULL;
    struct image_source *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return err_set(ERR_NOMEM, "out of memory");
    }
    struct image_location loc;
    int rc = image_location_parse(&loc, path);
    if (!rc && loc.transport == IMAGE_REGISTRY)
        rc = err_set(ERR_INVALID, "%s: a registry reference where a local image (archive or layout) is read", path);
    if (rc) {
        image_source_free(s);
        return rc;
    }
    path = loc.rest;
    struct stat st;
    char *dir = NULL;
    if (stat(path, &st) != 0) {
        /* "DIR:NAME:TAG": one image of a layout directory that holds several. */
        for (const char *c = strchr(path, ':'); c && !dir; c = strchr(c + 1, ':')) {
            char *d = strndup(path, (size_t)(c - path));
            if (d && c[1] && stat(d, &st) == 0 && S_ISDIR(st.st_mode)) {
                dir = d;
                if (!(s->select = strdup(c + 1)))
                    rc = err_set(ERR_NOMEM, "out of memory");
            } else {
                free(d);
            }
        }
        if (!dir && !rc)
            rc = err_set_errno(ERR_NOTFOUND, "%s: cannot open image source", s->path);
        path = dir;
    }
    if (rc) {
        /* reported above */
    } else if (loc.transport == IMAGE_OCI_LAYOUT && !S_ISDIR(st.st_mode)) {
        rc = err_set(ERR_INVALID, "%s: not a directory (oci:DIR[:TAG] names an OCI image layout)", s->path);
    } else if ((loc.transport == IMAGE_OCI_ARCHIVE || loc.transport == IMAGE_DOCKER_ARCHIVE) && S_ISDIR(st.st_mode)) {
        rc = err_set(ERR_INVALID, "%s: a directory, not an archive (use oci:DIR for an OCI image layout)", s->path);
    } else if (S_ISDIR(st.st_mode)) {
        char *idx = path_join(path, "index.json");
        if (!idx || access(idx, R_OK) != 0)
            rc = err_set(ERR_PARSE, "%s: not an OCI image layout (no index.json)", path);
        free(idx);
        if (!rc && !(s->root = strdup(path)))
            rc = err_set(ERR_NOMEM, "out of memory");
    } else {
        if (!(rc = fs_make_tmp_dir(&s->temp_dir, "amlpkg-src-")) &&
            (rc = extract(path, s->temp_dir)) >= 0 &&
            !(rc = rc == DOCKER_ARCHIVE ? docker_to_layout(path, s->temp_dir) : 0) && !(s->root = strdup(s->temp_dir)))
            rc = err_set(ERR_NOMEM, "out of memory");
    }
    free(dir);
    if (rc) {
        image_source_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void image_source_free(struct image_source *s)
{
    if (!s)
        return;
    if (s->temp_dir)
        fs_remove_tree(s->temp_dir);
    free(s->temp_dir);
    free(s->root);
    free(s->select);
    free(s->path);
    free(s);
}

char *image_source_blob_path(const struct image_source *s, const char *digest)
{
    if (!reference_valid_digest(digest))
        return NULL;
    char *p = NULL;
    if (asprintf(&p, "%s/blobs/sha256/%s", s->root, digest + 7) < 0)
        return NULL;
    return p;
}

int image_source_read_blob(const struct image_source *s, struct buf *b, const char *digest)
{
    char *p = image_source_blob_path(s, digest);
    if (!p)
        return err_set(ERR_INVALID, "%s: bad digest '%.80s'", s->path, digest);
    buf_reset(b);
    int rc = buf_read_file(b, p);
    char got[DIGEST_STRING_SIZE];
    if (!rc && !(rc = digest_buffer(got, b->data, b->len)) && strcmp(got, digest))
        rc = err_set(ERR_MISMATCH, "%s: blob %s has digest %s", s->path, digest, got);
    free(p);
    return rc;
}

static int ref_name_is(const struct json_value *descriptor, const char *name)
{
    const struct json_value *an = json_member(descriptor, "annotations");
    const struct json_value *rn = an ? json_member(an, "org.opencontainers.image.ref.name") : NULL;
    return rn && rn->type == JSON_STRING && !strcmp(rn->as.string.ptr, name);
}

int image_source_top(const struct image_source *s, char digest[72], char media_type[256], int64_t *size,
                     char ref_name[256])
{
    struct buf b;
    buf_init(&b, INDEX_LIMIT);
    struct arena arena;
    arena_init(&arena, 8192, 32u << 20);
    struct json_value *root = NULL;
    char *path = path_join(s->root, "index.json");
    int rc = path ? buf_read_file(&b, path) : err_set(ERR_NOMEM, "out of memory");
    if (rc || (rc = json_parse(&root, &arena, b.data, b.len, "index.json")))
        goto done;
    const struct json_value *m = json_member(root, "manifests");
    if (!m || m->type != JSON_ARRAY || m->count == 0) {
        rc = err_set(ERR_PARSE, "%s: index.json lists no manifests", s->path);
        goto done;
    }
    /* Artifacts that refer to an image (its SBOM) are not images to choose from. */
    const struct json_value *d = NULL;
    size_t images = 0;
    for (const struct json_value *c = m->child; c; c = c->next) {
        if (json_member(c, "artifactType"))
            continue;
        if (s->select ? ref_name_is(c, s->select) && !d : !d)
            d = c;
        images++;
    }
    if (s->select && !d) {
        rc = err_set(ERR_NOTFOUND, "%s: no image named '%s' in index.json", s->path, s->select);
        goto done;
    }
    if (!s->select && images > 1) {
        rc = err_set(ERR_UNSUPPORTED, "%s: index.json lists %zu images; name one as %s:NAME:TAG", s->path, images,
                     s->path);
        goto done;
    }
    if (!d) {
        rc = err_set(ERR_PARSE, "%s: index.json lists no image", s->path);
        goto done;
    }
    const struct json_value *dg = json_member(d, "digest"), *mt = json_member(d, "mediaType"),
                            *sz = json_member(d, "size"), *an = json_member(d, "annotations");
    const struct json_value *rn = an ? json_member(an, "org.opencontainers.image.ref.name") : NULL;
    if (!dg || dg->type != JSON_STRING || !reference_valid_digest(dg->as.string.ptr) || !sz ||
        sz->type != JSON_NUMBER) {
        rc = err_set(ERR_PARSE, "%s: index.json: manifests[0] needs a sha256 digest and a size", s->path);
        goto done;
    }
    snprintf(digest, 72, "%s", dg->as.string.ptr);
    snprintf(media_type, 256, "%s",
             mt && mt->type == JSON_STRING ? mt->as.string.ptr : "application/vnd.oci.image.manifest.v1+json");
    *size = (int64_t)sz->as.number;
    snprintf(ref_name, 256, "%s", rn && rn->type == JSON_STRING ? rn->as.string.ptr : "");
done:
    free(path);
    arena_release(&arena);
    buf_release(&b);
    return rc;
}
