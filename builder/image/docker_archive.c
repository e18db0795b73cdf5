#include "builder/image/docker_archive.h"

#include "common/arena.h"
#include "common/err.h"
#include "common/json.h"
#include "builder/sys/fsutil.h"
#include "common/path.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JSON_LIMIT (8u << 20)

static int nomem(void)
{
    return err_set(ERR_NOMEM, "out of memory");
}

static const char *config_member(const struct json_value *image)
{
    const struct json_value *m = json_member(image, "Config");
    return m && m->type == JSON_STRING ? m->as.string.ptr : NULL;
}

/* A docker-archive names no media types: the bytes say. */
const char *docker_archive_layer_type(const char *path)
{
    unsigned char h[512] = {0};
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(h, 1, sizeof h, f) : 0;
    if (f)
        fclose(f);
    if (n >= 2 && h[0] == 0x1f && h[1] == 0x8b)
        return OCI_MEDIA_TYPE_LAYER_GZIP;
    if (n >= 4 && h[0] == 0x28 && h[1] == 0xb5 && h[2] == 0x2f && h[3] == 0xfd)
        return OCI_MEDIA_TYPE_LAYER_ZSTD;
    if (n >= 263 && !memcmp(h + 257, "ustar", 5))
        return OCI_MEDIA_TYPE_LAYER;
    return NULL;
}

static int safe_member_name(const char *name)
{
    return name[0] && name[0] != '/' && !fs_path_has_dotdot(name);
}

/* Links in a docker-archive (`docker save` links <id>/layer.tar to the layer
 * file): remembered by name, resolved lexically, never created on disk. */
struct links {
    char **names, **targets; /* target: the member path it names */
    size_t n;
};

static int add_link(struct links *l, const char *name, const char *target)
{
    const char *slash = strrchr(name, '/');
    char *joined = NULL;
    if (asprintf(&joined, "%.*s%s%s", slash ? (int)(slash - name) : 0, name, slash ? "/" : "", target) < 0)
        return nomem();
    /* Lexical normalisation: drop "." and fold "..". */
    char *out = calloc(strlen(joined) + 1, 1);
    char **names = realloc(l->names, (l->n + 1) * sizeof *names);
    if (names)
        l->names = names;
    char **targets = realloc(l->targets, (l->n + 1) * sizeof *targets);
    if (targets)
        l->targets = targets;
    if (!out || !names || !targets) {
        free(joined);
        free(out);
        return nomem();
    }
    size_t len = 0;
    for (char *c = joined; *c;) {
        size_t n = strcspn(c, "/");
        if (n == 2 && c[0] == '.' && c[1] == '.') {
            while (len && out[len - 1] != '/')
                len--;
            if (len)
                len--;
        } else if (n && !(n == 1 && c[0] == '.')) {
            if (len)
                out[len++] = '/';
            memcpy(out + len, c, n);
            len += n;
        }
        out[len] = '\0';
        c += n;
        while (*c == '/')
            c++;
    }
    free(joined);
    if (!(l->names[l->n] = strdup(name))) {
        free(out);
        return nomem();
    }
    l->targets[l->n++] = out;
    return 0;
}

static void links_release(struct links *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->names[i]);
        free(l->targets[i]);
    }
    free(l->names);
    free(l->targets);
}

/* A member path, through one link when it is one. */
static const char *follow_link(const struct links *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->names[i], name))
            return l->targets[i];
    return name;
}

/* The read buffer of both passes. */
static _Thread_local char chunk[1 << 16];

/* A member file one pass unpacks, and the most bytes it may hold. */
struct member {
    const char *name;
    int64_t limit;
    int layer; /* limit is AMLPKG_MAX_LAYER_MB's */
};

static int member_too_large(const struct docker_archive *d, const char *path, const struct member *m)
{
    const char *name = m->name;
    int64_t limit = m->limit;
    if (m->layer)
        return err_set(ERR_LIMIT, "%s: '%s': layer %s is larger than %lld MiB (AMLPKG_MAX_LAYER_MB)", d->context,
                       path, name, (long long)(limit >> 20));
    return err_set(ERR_LIMIT, "%s: '%s': %s is larger than %lld bytes", d->context, path, name, (long long)limit);
}

/* The current entry's data into dst, refusing more than limit bytes. */
static int unpack_member(struct archive *a, struct docker_archive *d, const char *path, const struct member *m,
                         const char *dst)
{
    int fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return err_set_errno(ERR_IO, "'%s': cannot create", dst);
    int rc = 0;
    int64_t total = 0;
    la_ssize_t n;
    while ((n = archive_read_data(a, chunk, sizeof chunk)) > 0) {
        if ((total += n) > m->limit) {
            rc = member_too_large(d, path, m);
            break;
        }
        if (fs_write_all(fd, chunk, (size_t)n) != 0) {
            rc = err_set_write(ERR_IO, "'%s': cannot write", dst);
            break;
        }
    }
    if (!rc && n < 0)
        rc = err_set(ERR_PARSE, "%s: '%s': %s: truncated: %s", d->context, path, m->name, archive_error_string(a));
    if (close(fd) != 0 && !rc)
        rc = err_set_write(ERR_IO, "'%s': cannot write", dst);
    if (rc)
        unlink(dst);
    return rc;
}

/* One pass over a docker-archive. The first (want NULL) reads manifest.json
 * into manifest and notes the links; the second unpacks only the wanted
 * member files into d->dir, so an entry the manifest does not name is never
 * expanded to disk. */
static int extract(struct docker_archive *d, const char *path, struct links *links, struct buf *manifest,
                   const struct member *want, size_t n_want)
{
    struct archive *a = archive_read_new();
    if (!a)
        return nomem();
    archive_read_support_format_tar(a);
    archive_read_support_filter_all(a);
    int rc = 0;
    char *dst = NULL;
    if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
        rc = err_set(ERR_PARSE, "%s: '%s': not a docker-archive: %s", d->context, path, archive_error_string(a));
        goto done;
    }
    struct archive_entry *e;
    for (;;) {
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            rc = err_set(ERR_PARSE, "%s: '%s': not a docker-archive, or truncated: %s", d->context, path,
                         archive_error_string(a));
            goto done;
        }
        const char *name = archive_entry_pathname(e);
        while (name && !strncmp(name, "./", 2))
            name += 2;
        if (!name || !safe_member_name(name))
            continue;
        mode_t type = archive_entry_filetype(e);
        if (!want) {
            const char *target = type == AE_IFLNK ? archive_entry_symlink(e) : NULL;
            if (target && target[0] != '/') {
                /* `docker save` links <id>/layer.tar to the layer file: keep links that stay inside. */
                int escaped = 0;
                const char *slash = strrchr(name, '/');
                fs_path_depth(target, strlen(target),
                              fs_path_depth(name, slash ? (size_t)(slash - name) : 0, 0, &escaped), &escaped);
                if (!escaped && (rc = add_link(links, name, target)))
                    goto done;
            } else if (type == AE_IFREG && !strcmp(name, "manifest.json")) {
                if (archive_entry_size(e) > (la_int64_t)JSON_LIMIT) {
                    rc = err_set(ERR_LIMIT, "%s: '%s': manifest.json is larger than %u bytes", d->context, path,
                                 JSON_LIMIT);
                    goto done;
                }
                la_ssize_t n;
                buf_reset(manifest);
                while ((n = archive_read_data(a, chunk, sizeof chunk)) > 0)
                    if ((rc = buf_append(manifest, chunk, (size_t)n)))
                        goto done;
                if (n < 0) {
                    rc = err_set(ERR_PARSE, "%s: '%s': manifest.json: truncated: %s", d->context, path,
                                 archive_error_string(a));
                    goto done;
                }
            }
            continue;
        }
        const struct member *m = NULL;
        for (size_t i = 0; i < n_want && !m; i++)
            if (!strcmp(want[i].name, name))
                m = &want[i];
        if (type != AE_IFREG || !m)
            continue;
        if (archive_entry_size(e) > m->limit) {
            rc = member_too_large(d, path, m);
            goto done;
        }
        free(dst);
        if (!(dst = path_join(d->dir, name))) {
            rc = nomem();
            goto done;
        }
        for (char *s = dst + strlen(d->dir) + 1; (s = strchr(s, '/')); s++) {
            *s = '\0';
            mkdir(dst, 0755);
            *s = '/';
        }
        if ((rc = unpack_member(a, d, path, m, dst)))
            goto done;
    }
done:
    free(dst);
    archive_read_free(a);
    return rc;
}

int docker_archive_load(struct docker_archive *d, const char *path)
{
    buf_init(&d->config, JSON_LIMIT);
    d->layers = NULL;
    d->n_layers = 0;
    struct arena arena;
    arena_init(&arena, 8192, 64u << 20);
    struct json_value *root = NULL;
    struct buf m;
    buf_init(&m, JSON_LIMIT);
    struct links links = {0};
    struct member *want = NULL;
    int rc = extract(d, path, &links, &m, NULL, 0);
    if (rc)
        goto done;
    if (!m.len) {
        rc = err_set(ERR_PARSE, "%s: '%s': no manifest.json: not a docker-archive", d->context, path);
        goto done;
    }
    if ((rc = json_parse(&root, &arena, m.data, m.len, "manifest.json")))
        goto done;
    if (root->type != JSON_ARRAY || root->count != 1) {
        rc = err_set(ERR_UNSUPPORTED, "%s: '%s': manifest.json must list exactly one image", d->context, path);
        goto done;
    }
    const char *config = config_member(root->child);
    const struct json_value *layers = json_member(root->child, "Layers");
    if (!config || !safe_member_name(config) || !layers || layers->type != JSON_ARRAY) {
        rc = err_set(ERR_PARSE, "%s: '%s': manifest.json: the image needs Config and Layers", d->context, path);
        goto done;
    }
    size_t i = 0;
    for (const struct json_value *l = layers->child; l; l = l->next, i++)
        if (l->type != JSON_STRING || !safe_member_name(l->as.string.ptr)) {
            rc = err_set(ERR_PARSE, "%s: '%s': manifest.json: Layers[%zu] is not a path inside the archive", d->context,
                         path, i);
            goto done;
        }
    /* The second pass unpacks the config and the layers the manifest names, nothing else. */
    if (!(want = calloc(layers->count + 2, sizeof *want))) {
        rc = nomem();
        goto done;
    }
    want[0] = (struct member){follow_link(&links, config), JSON_LIMIT, 0};
    i = 1;
    for (const struct json_value *l = layers->child; l; l = l->next)
        want[i++] = (struct member){follow_link(&links, l->as.string.ptr), oci_layer_max_bytes(), 1};
    if ((rc = extract(d, path, &links, &m, want, i)))
        goto done;
    char *cpath = path_join(d->dir, want[0].name);
    rc = cpath ? buf_read_file(&d->config, cpath) : nomem();
    free(cpath);
    if (rc) {
        err_clear();
        rc = err_set(ERR_NOTFOUND, "%s: '%s': config '%s' is missing", d->context, path, config);
        goto done;
    }
    if ((rc = digest_buffer(d->config_digest, d->config.data, d->config.len)))
        goto done;
    if (!(d->layers = calloc(layers->count + 1, sizeof *d->layers))) {
        rc = nomem();
        goto done;
    }
    for (const struct json_value *l = layers->child; l; l = l->next) {
        struct oci_blob *blob = &d->layers[d->n_layers++];
        if (!(blob->path = path_join(d->dir, follow_link(&links, l->as.string.ptr)))) {
            rc = nomem();
            goto done;
        }
        rc = digest_file(blob->path, blob->digest, &blob->size);
        if (rc == ERR_NOTFOUND) {
            err_clear();
            rc = err_set(ERR_NOTFOUND, "%s: '%s': layer '%s' is missing", d->context, path, l->as.string.ptr);
        }
        if (rc)
            goto done;
        if (!(blob->media_type = docker_archive_layer_type(blob->path))) {
            rc = err_set(ERR_UNSUPPORTED, "%s: '%s': layer '%s' is neither a tar nor a gzip or zstd stream", d->context,
                         path, l->as.string.ptr);
            goto done;
        }
    }
done:
    free(want);
    links_release(&links);
    buf_release(&m);
    arena_release(&arena);
    return rc;
}

void docker_archive_release(struct docker_archive *d)
{
    for (size_t i = 0; i < d->n_layers; i++)
        oci_blob_release(&d->layers[i]);
    free(d->layers);
    buf_release(&d->config);
    d->layers = NULL;
    d->n_layers = 0;
}
