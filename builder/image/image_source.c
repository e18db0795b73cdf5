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
    return bad ? err_set_write(ERR_IO, "%s: cannot write", path) : 0;
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

/* What one pass over a tarball unpacks. At open: index.json and the small
 * blobs, noting every blob entry in s->entries. Later: the wanted blobs, or
 * all of them. */
struct pass {
    struct image_source *record; /* at open: where entries are noted */
    const struct image_source_want *want;
    size_t n_want;
    int all;
    int64_t small_left; /* at open: the budget for small blobs */
    size_t left;        /* wanted blobs not yet unpacked */
    int saw_index, saw_docker;
};

static int note_entry(struct image_source *s, const char *hex, int64_t size)
{
    for (size_t i = 0; i < s->n_entries; i++)
        if (!strcmp(s->entries[i].hex, hex)) {
            s->entries[i].size = size; /* a later entry replaces an earlier one, as tar extracts */
            return 0;
        }
    if (!(s->n_entries & (s->n_entries - 1))) {
        struct image_source_entry *e = realloc(s->entries, (s->n_entries ? 2 * s->n_entries : 16) * sizeof *e);
        if (!e)
            return err_set(ERR_NOMEM, "out of memory");
        s->entries = e;
    }
    struct image_source_entry *e = &s->entries[s->n_entries++];
    snprintf(e->hex, sizeof e->hex, "%s", hex);
    e->size = size;
    return 0;
}

static int too_large(const char *source, const char *hex, int64_t size)
{
    return err_set(ERR_LIMIT, "%s: blob sha256:%s is larger than its descriptor's %lld bytes", source, hex,
                   (long long)size);
}

/* The current entry's data into path, refusing more than limit bytes (read
 * limit + 1 at most); errors name the archive and what was too large. */
static int unpack_entry(struct archive *a, const char *tarball, const char *name, const char *path, int64_t limit,
                        const char *hex, char *chunk, size_t cap)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return err_set_errno(ERR_IO, "%s: cannot create", path);
    int rc = 0;
    int64_t total = 0;
    la_ssize_t n;
    while ((n = archive_read_data(a, chunk, cap)) > 0) {
        if ((total += n) > limit) {
            rc = hex ? too_large(tarball, hex, limit)
                     : err_set(ERR_LIMIT, "%s: %s is larger than %lld bytes", tarball, name, (long long)limit);
            break;
        }
        if (fs_write_all(fd, chunk, (size_t)n) != 0) {
            rc = err_set_write(ERR_IO, "%s: cannot write", path);
            break;
        }
    }
    if (!rc && n < 0)
        rc = err_set(ERR_PARSE, "%s: %s: truncated or corrupt: %s", tarball, name, archive_error_string(a));
    if (close(fd) != 0 && !rc)
        rc = err_set_write(ERR_IO, "%s: cannot write", path);
    if (rc)
        unlink(path);
    return rc;
}

static const struct image_source_want *wanted(const struct pass *p, const char *hex)
{
    for (size_t i = 0; i < p->n_want; i++)
        if (!strcmp(p->want[i].digest + 7, hex))
            return &p->want[i];
    return NULL;
}

static int unpack(const char *tarball, const char *dir, struct pass *p)
{
    struct archive *a = archive_read_new();
    if (!a)
        return err_set(ERR_NOMEM, "out of memory");
    archive_read_support_format_tar(a);
    archive_read_support_filter_all(a);
    int rc = 0;
    char path[4096];
    /* On the heap, not _Thread_local: a TLS array is zeroed for every thread
     * the process starts, whether or not it ever extracts anything. */
    enum { CHUNK = 1 << 20 };
    char *chunk = malloc(CHUNK);
    if (!chunk) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    if (archive_read_open_filename(a, tarball, 1 << 20) != ARCHIVE_OK) {
        rc = err_set(ERR_PARSE, "%s: not an oci-archive tarball or OCI layout: %s", tarball, archive_error_string(a));
        goto done;
    }
    struct archive_entry *e;
    while (p->record || p->all || p->left) {
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
            p->saw_docker = 1;
        if (archive_entry_filetype(e) != AE_IFREG || !wanted_entry(name))
            continue;
        int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : INT64_MAX;
        const char *hex = strncmp(name, "blobs/sha256/", 13) ? NULL : name + 13;
        int64_t limit = -1;
        if (!hex) {
            if (p->record && !strcmp(name, "index.json")) {
                p->saw_index = 1;
                limit = INDEX_LIMIT;
            } else if (p->record) {
                limit = 1 << 16; /* oci-layout: a line of JSON that signing and verifying read */
            }
        } else if (p->record) {
            if ((rc = note_entry(p->record, hex, size)))
                goto done;
            if (size <= IMAGE_SOURCE_SMALL_BLOB && size <= p->small_left) {
                limit = size;
                p->small_left -= size;
            }
        } else if (p->all) {
            limit = size;
        } else {
            const struct image_source_want *w = wanted(p, hex);
            path_join_into(path, sizeof path, dir, name);
            if (!w || access(path, F_OK) == 0)
                continue;
            if (size > w->size) {
                rc = too_large(tarball, hex, w->size);
                goto done;
            }
            limit = w->size;
            p->left--;
        }
        if (limit < 0)
            continue;
        path_join_into(path, sizeof path, dir, name);
        if ((rc = unpack_entry(a, tarball, name, path, limit, hex && !p->record && !p->all ? hex : NULL, chunk,
                               CHUNK)))
            goto done;
    }
done:
    free(chunk);
    archive_read_free(a);
    return rc;
}

/* The first pass, at open: index.json, the small blobs, the names and sizes of all. */
static int extract(struct image_source *s, const char *tarball, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/blobs", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/blobs/sha256", dir);
    mkdir(path, 0755);
    struct pass p = {.record = s, .small_left = IMAGE_SOURCE_SMALL_BUDGET};
    int rc = unpack(tarball, dir, &p);
    if (rc)
        return rc;
    s->docker_archive = p.saw_docker; /* with or without an OCI layout beside manifest.json */
    if (!p.saw_index)
        return p.saw_docker ? DOCKER_ARCHIVE
                            : err_set(ERR_PARSE, "%s: no index.json: neither an oci-archive nor a docker-archive",
                                      tarball);
    return 0;
}

static int fetch_from_layout(const struct image_source *s, const struct image_source_want *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *p = image_source_blob_path(s, want[i].digest);
        if (!p)
            return err_set(ERR_INVALID, "%s: bad digest '%.80s'", s->path, want[i].digest);
        struct stat st;
        int rc = 0;
        if (stat(p, &st) == 0) { /* a layout may link its blobs (a cache's, as cache_registry does) */
            if (!S_ISREG(st.st_mode))
                rc = err_set(ERR_INVALID, "%s: blob %s is not a regular file", s->path, want[i].digest);
            else if (st.st_size > want[i].size)
                rc = too_large(s->path, want[i].digest + 7, want[i].size);
        }
        free(p);
        if (rc)
            return rc;
    }
    return 0;
}

int image_source_fetch(const struct image_source *s, const struct image_source_want *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!reference_valid_digest(want[i].digest) || want[i].size < 0)
            return err_set(ERR_INVALID, "%s: bad descriptor for '%.80s'", s->path, want[i].digest);
    if (!s->archive)
        return fetch_from_layout(s, want, n);
    /* What the archive holds and is not yet unpacked; a declared size past the descriptor's is refused unread. */
    size_t left = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < s->n_entries; j++) {
            if (strcmp(s->entries[j].hex, want[i].digest + 7))
                continue;
            if (s->entries[j].size > want[i].size)
                return too_large(s->path, s->entries[j].hex, want[i].size);
            char *p = image_source_blob_path(s, want[i].digest);
            if (!p)
                return err_set(ERR_NOMEM, "out of memory");
            left += access(p, F_OK) != 0;
            free(p);
            break;
        }
    }
    if (!left)
        return fetch_from_layout(s, want, n);
    struct pass p = {.want = want, .n_want = n, .left = left};
    int rc = unpack(s->archive, s->root, &p);
    return rc ? rc : fetch_from_layout(s, want, n);
}

int image_source_adopt_blob(const struct image_source *s, const char *digest, const char *file)
{
    if (!s->archive)
        return err_set(ERR_UNSUPPORTED, "%s: a layout is read in place", s->path);
    char *p = image_source_blob_path(s, digest);
    if (!p)
        return err_set(ERR_INVALID, "%s: bad digest '%.80s'", s->path, digest);
    int rc = link(file, p) == 0 || errno == EEXIST ? 0 : err_set_errno(ERR_IO, "%s: cannot link to %s", file, p);
    free(p);
    return rc;
}

int image_source_fetch_all(const struct image_source *s)
{
    if (!s->archive)
        return 0;
    struct pass p = {.all = 1};
    return unpack(s->archive, s->root, &p);
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
        int kind = 0;
        if (!(rc = fs_make_tmp_dir(&s->temp_dir, "amlpkg-src-")) && (kind = rc = extract(s, path, s->temp_dir)) >= 0)
            rc = kind == DOCKER_ARCHIVE ? docker_to_layout(path, s->temp_dir) : 0;
        /* A docker-archive's blobs are all in the layout now; an oci-archive's large ones come on demand. */
        if (!rc && (!(s->root = strdup(s->temp_dir)) || (kind != DOCKER_ARCHIVE && !(s->archive = strdup(path)))))
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
    free(s->archive);
    free(s->entries);
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
    int rc = 0;
    if (s->archive && access(p, F_OK) != 0) {
        /* Not among the small blobs unpacked at open: unpacked now, up to what b may hold. */
        for (size_t i = 0; i < s->n_entries; i++)
            if (!strcmp(s->entries[i].hex, digest + 7)) {
                struct image_source_want w = {digest, b->limit ? (int64_t)b->limit : s->entries[i].size};
                rc = s->entries[i].size > w.size
                         ? err_set(ERR_LIMIT, "%s: blob %s is larger than %lld bytes, the most a manifest, index or "
                                              "config may hold",
                                   s->path, digest, (long long)w.size)
                         : image_source_fetch(s, &w, 1);
                break;
            }
    }
    rc = rc ? rc : buf_read_file(b, p);
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
