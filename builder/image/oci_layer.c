#include "builder/image/oci_layer.h"

#include "common/err.h"
#include "common/path.h"
#include "common/parse_number.h"
#include "builder/image/gzip_blocks.h"
#include "builder/image/hash_sink.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libdeflate.h>

#define MAX_TREE_DEPTH 64

struct oci_layer_writer {
    struct archive *tar;
    enum oci_compression compression;
    struct archive *zstd; /* raw-format writer whose zstd filter compresses the tar (ZSTD only) */
    struct gzip_blocks *gz; /* GZIP only */
    int level;              /* gzip level asked for */
    int fd;
    struct hash_sink *sink; /* writes and hashes the blob bytes on another thread */
    char *path;
    struct digest diff; /* uncompressed tar (compressed layers only: a plain one's is the sink's) */
    int64_t offset;     /* room left before the blob bytes */
    int64_t mtime;
    int failed;  /* a write callback failed; its message is set */
    char **dirs; /* directories already emitted, to add parents once */
    size_t n_dirs, cap_dirs;
};

int64_t oci_layer_max_bytes(void)
{
    return (int64_t)parse_number_int_or(getenv("AMLPKG_MAX_LAYER_MB"), 1, INT64_MAX >> 20, 64LL << 10) << 20;
}

void oci_blob_release(struct oci_blob *blob)
{
    free(blob->path);
    blob->path = NULL;
}

static const char *const compression_names[] = {
    [OCI_COMPRESSION_AUTO] = "auto",
    [OCI_COMPRESSION_GZIP] = "gzip",
    [OCI_COMPRESSION_ZSTD] = "zstd",
    [OCI_COMPRESSION_NONE] = "none",
};

int oci_compression_parse(const char *name)
{
    for (size_t i = 0; i < sizeof compression_names / sizeof compression_names[0]; i++)
        if (!strcmp(name, compression_names[i]))
            return (int)i;
    return -1;
}

const char *oci_compression_name(enum oci_compression c)
{
    return (size_t)c < sizeof compression_names / sizeof compression_names[0] ? compression_names[c] : "?";
}

/* Appends the compressed or plain layer bytes to the blob file and its digest. */
static int emit_blob(struct oci_layer_writer *w, const void *data, size_t len)
{
    return hash_sink_write(w->sink, data, len);
}

static int emit_gzip_member(void *ctx, const void *data, size_t len)
{
    return emit_blob(ctx, data, len);
}

/* What deflate level 1 (the layers' compressor) makes of n bytes; n when it saves nothing. */
static size_t deflated_size(const void *in, size_t n)
{
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(1);
    void *out = c ? malloc(n) : NULL;
    size_t size = out ? libdeflate_deflate_compress(c, in, n, out, n) : 0;
    free(out);
    libdeflate_free_compressor(c);
    return size ? size : n;
}

/* Model weights barely compress, and deflate on them is slow. Probe the start
 * of a large file: when level 1 saves under 3%, store it instead (deflate
 * level 0: still valid gzip, at memory speed). The choice depends on the bytes
 * only, so it is as reproducible as the rest of the layer. */
#define PROBE_MIN_SIZE (256 * 1024)
#define PROBE_BYTES (256 * 1024)
static int is_incompressible(int fd, int64_t size)
{
    if (size < PROBE_MIN_SIZE)
        return 0;
    unsigned char *in = malloc(PROBE_BYTES);
    if (!in)
        return 0;
    ssize_t n = pread(fd, in, PROBE_BYTES, 0);
    int incompressible = n >= (ssize_t)(PROBE_BYTES / 2) && deflated_size(in, (size_t)n) * 100 > (size_t)n * 97;
    free(in);
    return incompressible;
}

/* The walk behind oci_layer_choose_compression: total bytes and the largest
 * regular file (the first in byte order on ties, so the pick reproduces). */
struct layer_survey {
    int64_t total;
    int64_t largest_size;
    char *largest;
};

static int survey(struct layer_survey *s, const char *host_path, int depth)
{
    struct stat st;
    if (lstat(host_path, &st) != 0)
        return err_set_errno(ERR_NOTFOUND, "%s", host_path);
    if (S_ISREG(st.st_mode)) {
        s->total += st.st_size;
        if (!s->largest || st.st_size > s->largest_size) {
            char *copy = strdup(host_path);
            if (!copy)
                return err_set(ERR_NOMEM, "out of memory");
            free(s->largest);
            s->largest = copy;
            s->largest_size = st.st_size;
        }
        return 0;
    }
    if (!S_ISDIR(st.st_mode))
        return 0;
    if (depth >= MAX_TREE_DEPTH)
        return err_set(ERR_LIMIT, "%s: directories nested deeper than %d", host_path, MAX_TREE_DEPTH);
    struct dirent **entries = NULL;
    int n = scandir(host_path, &entries, NULL, alphasort);
    if (n < 0)
        return err_set_errno(ERR_IO, "%s: cannot list directory", host_path);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *name = entries[i]->d_name;
        if (!rc && strcmp(name, ".") && strcmp(name, "..")) {
            char *child = path_join(host_path, name);
            rc = child ? survey(s, child, depth + 1) : err_set(ERR_NOMEM, "out of memory");
            free(child);
        }
        free(entries[i]);
    }
    free(entries);
    return rc;
}

int oci_layer_input_bytes(const char *host_path, int64_t *total)
{
    struct layer_survey s = {0};
    int rc = survey(&s, host_path, 0);
    free(s.largest);
    *total += s.total;
    return rc;
}

#define AUTO_MIN_LAYER (1 << 20)
#define AUTO_SAMPLE (1 << 20)

int oci_layer_choose_compression(enum oci_compression *out, const char *const *host_paths, size_t n)
{
    *out = OCI_COMPRESSION_GZIP;
    struct layer_survey s = {0};
    unsigned char *in = NULL;
    int fd = -1, rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        rc = survey(&s, host_paths[i], 0);
    if (rc || s.total < AUTO_MIN_LAYER || !s.largest)
        goto done;
    in = malloc(AUTO_SAMPLE);
    if (!in) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((fd = open(s.largest, O_RDONLY | O_CLOEXEC)) < 0) {
        rc = err_set_errno(ERR_IO, "%s: cannot open", s.largest);
        goto done;
    }
    size_t got = 0;
    while (got < AUTO_SAMPLE) {
        ssize_t r = pread(fd, in + got, AUTO_SAMPLE - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = err_set_errno(ERR_IO, "%s: read failed", s.largest);
            goto done;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    if (got < 4096)
        goto done;
    /* Saving under 10% is not worth deflate's cost over gigabytes of weights. */
    if (deflated_size(in, got) * 10 > got * 9)
        *out = OCI_COMPRESSION_NONE;
done:
    if (fd >= 0)
        close(fd);
    free(in);
    free(s.largest);
    return rc;
}

/* The zstd filter hands us compressed bytes here. */
static la_ssize_t on_zstd_bytes(struct archive *a, void *ctx, const void *data, size_t len)
{
    (void)a;
    struct oci_layer_writer *w = ctx;
    if (w->failed || emit_blob(w, data, len)) {
        w->failed = 1;
        return -1;
    }
    return (la_ssize_t)len;
}

/* libarchive hands us the uncompressed tar stream here. */
static la_ssize_t on_tar_bytes(struct archive *a, void *ctx, const void *data, size_t len)
{
    (void)a;
    struct oci_layer_writer *w = ctx;
    if (w->failed || (w->compression != OCI_COMPRESSION_NONE && digest_update(&w->diff, data, len))) {
        w->failed = 1;
        return -1;
    }
    int rc = 0;
    switch (w->compression) {
    case OCI_COMPRESSION_NONE:
        rc = emit_blob(w, data, len); /* the blob is the tar: the sink's digest serves both */
        break;
    case OCI_COMPRESSION_ZSTD:
        if (archive_write_data(w->zstd, data, len) != (la_ssize_t)len)
            rc = w->failed ? ERR_IO : err_set(ERR_IO, "zstd compression failed: %s", archive_error_string(w->zstd));
        break;
    default:
        rc = gzip_blocks_write(w->gz, data, len);
        break;
    }
    if (rc) {
        w->failed = 1;
        return -1;
    }
    return (la_ssize_t)len;
}

static int tar_error(struct oci_layer_writer *w, const char *what)
{
    if (w->failed)
        return ERR_IO; /* the callback already said why */
    return err_set(ERR_IO, "%s: %s", what, archive_error_string(w->tar));
}

/* A raw-format libarchive writer: its one "entry" is the tar stream, and its
 * zstd filter does the compressing. No blocking, so no padding after the frame. */
static int start_zstd(struct oci_layer_writer *w, int level)
{
    char level_text[8];
    snprintf(level_text, sizeof level_text, "%d", level <= 1 ? 1 : 3);
    w->zstd = archive_write_new();
    if (!w->zstd)
        return err_set(ERR_NOMEM, "out of memory");
    struct archive_entry *e = NULL;
    if (archive_write_set_format_raw(w->zstd) != ARCHIVE_OK || archive_write_add_filter_zstd(w->zstd) != ARCHIVE_OK ||
        archive_write_set_filter_option(w->zstd, "zstd", "compression-level", level_text) != ARCHIVE_OK ||
        archive_write_set_bytes_per_block(w->zstd, 0) != ARCHIVE_OK ||
        archive_write_open2(w->zstd, w, NULL, on_zstd_bytes, NULL, NULL) != ARCHIVE_OK || !(e = archive_entry_new()))
        return err_set(ERR_UNSUPPORTED, "cannot start zstd compression: %s",
                       e ? archive_error_string(w->zstd) : "this libarchive has no zstd support");
    archive_entry_set_pathname(e, "layer.tar");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    int ok = archive_write_header(w->zstd, e) == ARCHIVE_OK;
    archive_entry_free(e);
    return ok ? 0 : err_set(ERR_IO, "cannot start zstd compression: %s", archive_error_string(w->zstd));
}

int oci_layer_begin(struct oci_layer_writer **out, const char *work_dir, int64_t mtime,
                    enum oci_compression compression, int level)
{
    *out = NULL;
    struct oci_layer_writer *w = calloc(1, sizeof *w);
    if (!w)
        return err_set(ERR_NOMEM, "out of memory");
    w->fd = -1;
    w->mtime = mtime;
    w->level = level;
    w->compression = compression;
    int rc = 0;
    if (compression != OCI_COMPRESSION_GZIP && compression != OCI_COMPRESSION_ZSTD &&
        compression != OCI_COMPRESSION_NONE) {
        rc = err_set(ERR_INVALID, "layer compression '%s' must be resolved before writing",
                     oci_compression_name(compression));
        goto done;
    }
    w->path = path_join(work_dir, "layer-XXXXXX");
    if (!w->path) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((w->fd = mkostemp(w->path, O_CLOEXEC)) < 0) {
        rc = err_set_errno(ERR_IO, "%s: cannot create layer file", work_dir);
        goto done;
    }
    if (compression == OCI_COMPRESSION_GZIP) {
        if ((rc = gzip_blocks_start(&w->gz, level, 0, emit_gzip_member, w)))
            goto done;
    } else if (compression == OCI_COMPRESSION_ZSTD && (rc = start_zstd(w, level))) {
        goto done;
    }
    if ((rc = digest_init(&w->diff)) || (rc = hash_sink_start(&w->sink, w->fd, w->path)))
        goto done;
    w->tar = archive_write_new();
    if (!w->tar) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    /* No 10 KiB blocking: file data reaches on_tar_bytes as it is read, not
     * copied into blocks first, and the tar ends after its two zero blocks. */
    if (archive_write_set_format_pax_restricted(w->tar) != ARCHIVE_OK ||
        archive_write_add_filter_none(w->tar) != ARCHIVE_OK ||
        archive_write_set_bytes_per_block(w->tar, 0) != ARCHIVE_OK ||
        archive_write_open2(w->tar, w, NULL, on_tar_bytes, NULL, NULL) != ARCHIVE_OK) {
        rc = tar_error(w, "cannot start layer tar stream");
        goto done;
    }
done:
    if (rc)
        oci_layer_abort(w);
    else
        *out = w;
    return rc;
}

void oci_layer_abort(struct oci_layer_writer *w)
{
    if (!w)
        return;
    if (w->tar)
        archive_write_free(w->tar); /* also closes; output is discarded below */
    if (w->zstd)
        archive_write_free(w->zstd);
    gzip_blocks_abort(w->gz);
    hash_sink_abort(w->sink);
    if (w->fd >= 0)
        close(w->fd);
    if (w->path)
        unlink(w->path);
    digest_release(&w->diff);
    for (size_t i = 0; i < w->n_dirs; i++)
        free(w->dirs[i]);
    free(w->dirs);
    free(w->path);
    free(w);
}

static struct archive_entry *new_entry(struct oci_layer_writer *w, const char *image_path, mode_t type, mode_t perm,
                                       int64_t size)
{
    struct archive_entry *e = archive_entry_new2(w->tar);
    if (!e)
        return NULL;
    archive_entry_set_pathname(e, image_path);
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, perm);
    archive_entry_set_size(e, size);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    archive_entry_set_mtime(e, (time_t)w->mtime, 0);
    return e;
}

static int dir_seen(struct oci_layer_writer *w, const char *path)
{
    for (size_t i = w->n_dirs; i-- > 0;)
        if (strcmp(w->dirs[i], path) == 0)
            return 1;
    return 0;
}

static int emit_dir(struct oci_layer_writer *w, const char *image_path, mode_t perm)
{
    if (dir_seen(w, image_path))
        return 0;
    if (w->n_dirs == w->cap_dirs) {
        size_t cap = w->cap_dirs ? w->cap_dirs * 2 : 16;
        char **dirs = realloc(w->dirs, cap * sizeof *dirs);
        if (!dirs)
            return err_set(ERR_NOMEM, "out of memory");
        w->dirs = dirs;
        w->cap_dirs = cap;
    }
    if (!(w->dirs[w->n_dirs] = strdup(image_path)))
        return err_set(ERR_NOMEM, "out of memory");
    w->n_dirs++;
    struct archive_entry *e = new_entry(w, image_path, AE_IFDIR, perm, 0);
    if (!e)
        return err_set(ERR_NOMEM, "out of memory");
    int ok = archive_write_header(w->tar, e) == ARCHIVE_OK;
    archive_entry_free(e);
    return ok ? 0 : tar_error(w, image_path);
}

/* Emits every missing parent of image_path, outermost first. */
static int emit_parents(struct oci_layer_writer *w, const char *image_path)
{
    char tmp[4096];
    size_t n = strlen(image_path);
    if (n >= sizeof tmp)
        return err_set(ERR_LIMIT, "path too long in layer: '%s'", image_path);
    memcpy(tmp, image_path, n + 1);
    for (char *p = tmp; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        int rc = tmp[0] ? emit_dir(w, tmp, 0755) : 0;
        *p = '/';
        if (rc)
            return rc;
    }
    return 0;
}

int oci_layer_add_dir(struct oci_layer_writer *w, const char *image_path)
{
    int rc = emit_parents(w, image_path);
    return rc ? rc : emit_dir(w, image_path, 0755);
}

unsigned oci_layer_mode(unsigned st_mode)
{
    return S_ISDIR(st_mode) || (st_mode & 0111) ? 0755 : 0644;
}

int oci_layer_add_file(struct oci_layer_writer *w, const char *image_path, const char *host_path)
{
    struct stat st;
    if (lstat(host_path, &st) != 0)
        return err_set_errno(ERR_NOTFOUND, "%s", host_path);
    int rc = emit_parents(w, image_path);
    if (rc)
        return rc;
    if (S_ISDIR(st.st_mode))
        return emit_dir(w, image_path, oci_layer_mode(st.st_mode));
    if (S_ISLNK(st.st_mode)) {
        char target[4096];
        ssize_t n = readlink(host_path, target, sizeof target - 1);
        if (n < 0)
            return err_set_errno(ERR_IO, "%s: cannot read symlink", host_path);
        target[n] = '\0';
        struct archive_entry *e = new_entry(w, image_path, AE_IFLNK, 0777, 0);
        if (!e)
            return err_set(ERR_NOMEM, "out of memory");
        archive_entry_set_symlink(e, target);
        int ok = archive_write_header(w->tar, e) == ARCHIVE_OK;
        archive_entry_free(e);
        return ok ? 0 : tar_error(w, image_path);
    }
    if (!S_ISREG(st.st_mode))
        return err_set(ERR_UNSUPPORTED, "%s: only regular files, directories and symlinks can go in a layer",
                       host_path);
    int fd = open(host_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set_errno(ERR_IO, "%s: cannot open", host_path);
    struct archive_entry *e = new_entry(w, image_path, AE_IFREG, oci_layer_mode(st.st_mode), st.st_size);
    /* Heap, not _Thread_local: a TLS array is zeroed for every thread started. */
    size_t cap = st.st_size < (1 << 20) ? (size_t)st.st_size + 1 : (size_t)1 << 20;
    char *chunk = malloc(cap);
    if (!e || !chunk) {
        archive_entry_free(e);
        free(chunk);
        close(fd);
        return err_set(ERR_NOMEM, "out of memory");
    }
    if (archive_write_header(w->tar, e) != ARCHIVE_OK) {
        rc = tar_error(w, image_path);
        goto done;
    }
    if (w->compression == OCI_COMPRESSION_GZIP &&
        (rc = gzip_blocks_set_level(w->gz, is_incompressible(fd, st.st_size) ? 0 : w->level)))
        goto done;
    int64_t left = st.st_size;
    while (left > 0) {
        ssize_t n = read(fd, chunk, cap);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? err_set_errno(ERR_IO, "%s: read failed", host_path)
                       : err_set(ERR_IO, "%s: file shrank while it was being read", host_path);
            goto done;
        }
        if (n > left)
            n = (ssize_t)left; /* the file grew; the header already promised st_size bytes */
        if (archive_write_data(w->tar, chunk, (size_t)n) != n) {
            rc = tar_error(w, image_path);
            goto done;
        }
        left -= n;
    }
done:
    free(chunk);
    archive_entry_free(e);
    close(fd);
    return rc;
}

int oci_layer_add_entry(struct oci_layer_writer *w, const struct oci_layer_entry *in, int data_fd, int64_t data_offset)
{
    int body = in->type == S_IFREG && !in->hardlink && in->size > 0;
    struct archive_entry *e = new_entry(w, in->path, in->type, in->perm & 07777, body ? in->size : 0);
    if (!e)
        return err_set(ERR_NOMEM, "out of memory");
    archive_entry_set_uid(e, in->uid);
    archive_entry_set_gid(e, in->gid);
    if (in->symlink)
        archive_entry_set_symlink(e, in->symlink);
    if (in->hardlink)
        archive_entry_set_hardlink(e, in->hardlink);
    for (size_t i = 0; i < in->n_xattrs; i++)
        archive_entry_xattr_add_entry(e, in->xattrs[i].name, in->xattrs[i].value, in->xattrs[i].size);
    int rc = archive_write_header(w->tar, e) == ARCHIVE_OK ? 0 : tar_error(w, in->path);
    archive_entry_free(e);
    if (rc || !body)
        return rc;
    char *chunk = malloc(1 << 20);
    if (!chunk)
        return err_set(ERR_NOMEM, "out of memory");
    for (int64_t done = 0; done < in->size && !rc;) {
        size_t want = in->size - done < (1 << 20) ? (size_t)(in->size - done) : (size_t)1 << 20;
        ssize_t n = pread(data_fd, chunk, want, (off_t)(data_offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = n < 0 ? err_set_errno(ERR_IO, "%s: cannot read its body back", in->path)
                       : err_set(ERR_IO, "%s: its body is shorter than its header says", in->path);
        else if (archive_write_data(w->tar, chunk, (size_t)n) != n)
            rc = tar_error(w, in->path);
        else
            done += n;
    }
    free(chunk);
    return rc;
}

/* Files with more than one name met in one tree walk: the first name (in the walk's sorted order) carries
 * the body, later names are tar hard-link entries pointing at it. */
struct link_seen {
    dev_t dev;
    ino_t ino;
    char *image_path;
};
struct link_table {
    struct link_seen *items;
    size_t n, cap;
};

/* 1 and the entry written when host_path is a later name of a file already in the layer; 0 when it is a
 * first name (recorded) or not a multiply linked file. */
static int add_hardlink(struct oci_layer_writer *w, struct link_table *t, const char *image_path, const struct stat *st,
                        int *rc)
{
    for (size_t i = 0; i < t->n; i++) {
        if (t->items[i].dev != st->st_dev || t->items[i].ino != st->st_ino)
            continue;
        struct archive_entry *e = new_entry(w, image_path, AE_IFREG, oci_layer_mode(st->st_mode), 0);
        if (!e) {
            *rc = err_set(ERR_NOMEM, "out of memory");
            return 1;
        }
        archive_entry_set_hardlink(e, t->items[i].image_path);
        *rc = emit_parents(w, image_path);
        if (!*rc && archive_write_header(w->tar, e) != ARCHIVE_OK)
            *rc = tar_error(w, image_path);
        archive_entry_free(e);
        return 1;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        struct link_seen *items = realloc(t->items, cap * sizeof *items);
        if (!items) {
            *rc = err_set(ERR_NOMEM, "out of memory");
            return 1;
        }
        t->items = items;
        t->cap = cap;
    }
    if (!(t->items[t->n].image_path = strdup(image_path))) {
        *rc = err_set(ERR_NOMEM, "out of memory");
        return 1;
    }
    t->items[t->n].dev = st->st_dev;
    t->items[t->n++].ino = st->st_ino;
    return 0;
}

static int add_tree(struct oci_layer_writer *w, const char *image_path, const char *host_path, int depth,
                    struct link_table *links)
{
    struct stat st;
    if (lstat(host_path, &st) != 0)
        return err_set_errno(ERR_NOTFOUND, "%s", host_path);
    int rc = 0;
    if (links && S_ISREG(st.st_mode) && st.st_nlink > 1 && add_hardlink(w, links, image_path, &st, &rc))
        return rc;
    rc = oci_layer_add_file(w, image_path, host_path);
    if (rc || !S_ISDIR(st.st_mode))
        return rc;
    if (depth >= MAX_TREE_DEPTH)
        return err_set(ERR_LIMIT, "%s: directories nested deeper than %d", host_path, MAX_TREE_DEPTH);
    struct dirent **entries = NULL;
    /* alphasort in the C locale: byte order, the same on every machine. */
    int n = scandir(host_path, &entries, NULL, alphasort);
    if (n < 0)
        return err_set_errno(ERR_IO, "%s: cannot list directory", host_path);
    for (int i = 0; i < n; i++) {
        const char *name = entries[i]->d_name;
        if (rc || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        char *child_image = path_join(image_path, name), *child_host = path_join(host_path, name);
        rc = child_image && child_host ? add_tree(w, child_image, child_host, depth + 1, links)
                                       : err_set(ERR_NOMEM, "out of memory");
        free(child_image);
        free(child_host);
    }
    for (int i = 0; i < n; i++)
        free(entries[i]);
    free(entries);
    return rc;
}

int oci_layer_add_tree(struct oci_layer_writer *w, const char *image_path, const char *host_path)
{
    return add_tree(w, image_path, host_path, 0, NULL);
}

int oci_layer_add_tree_keeping_links(struct oci_layer_writer *w, const char *image_path, const char *host_path)
{
    struct link_table links = {0};
    int rc = add_tree(w, image_path, host_path, 0, &links);
    for (size_t i = 0; i < links.n; i++)
        free(links.items[i].image_path);
    free(links.items);
    return rc;
}

int oci_layer_leave_room(struct oci_layer_writer *w, int64_t bytes)
{
    if (lseek(w->fd, 0, SEEK_CUR) != 0 || lseek(w->fd, (off_t)bytes, SEEK_SET) != (off_t)bytes)
        return err_set_errno(ERR_IO, "%s: cannot leave room at the start of the layer", w->path);
    w->offset = bytes;
    return 0;
}

int oci_layer_finish(struct oci_layer_writer *w, struct oci_blob *out)
{
    memset(out, 0, sizeof *out);
    int rc = 0;
    if (archive_write_close(w->tar) != ARCHIVE_OK) {
        rc = tar_error(w, "cannot finish layer tar stream");
        goto done;
    }
    if (w->compression == OCI_COMPRESSION_GZIP) {
        struct gzip_blocks *gz = w->gz;
        w->gz = NULL;
        if ((rc = gzip_blocks_finish(gz)))
            goto done;
    } else if (w->compression == OCI_COMPRESSION_ZSTD && archive_write_close(w->zstd) != ARCHIVE_OK) {
        rc = w->failed ? ERR_IO : err_set(ERR_IO, "zstd compression failed: %s", archive_error_string(w->zstd));
        goto done;
    }
    struct hash_sink *sink = w->sink;
    w->sink = NULL;
    if ((rc = hash_sink_finish(sink, out->digest, &out->size)))
        goto done;
    if (w->compression == OCI_COMPRESSION_NONE)
        memcpy(out->diff_id, out->digest, sizeof out->diff_id);
    else if ((rc = digest_final(&w->diff, out->diff_id)))
        goto done;
    out->offset = w->offset;
    out->media_type = w->compression == OCI_COMPRESSION_NONE   ? OCI_MEDIA_TYPE_LAYER
                      : w->compression == OCI_COMPRESSION_ZSTD ? OCI_MEDIA_TYPE_LAYER_ZSTD
                                                               : OCI_MEDIA_TYPE_LAYER_GZIP;
    out->path = w->path;
    w->path = NULL; /* the blob file now belongs to out */
done:
    oci_layer_abort(w);
    return rc;
}
