#include "builder/image/layer_normalise.h"

#include "builder/image/gzip_blocks.h"
#include "builder/sys/fsutil.h"

#include "common/err.h"
#include "common/path.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One entry as read, its body (if any) copied to the spool file. */
struct entry {
    struct oci_layer_entry e;
    char *path, *symlink, *hardlink;
    struct oci_layer_xattr *xattrs;
    int64_t spool_offset;
    size_t order; /* position in the tar: the last of a duplicated path wins */
    int drop;
};

struct entries {
    struct entry *v;
    size_t n, cap;
};

static void entries_release(struct entries *l)
{
    for (size_t i = 0; i < l->n; i++) {
        struct entry *x = &l->v[i];
        free(x->path);
        free(x->symlink);
        free(x->hardlink);
        for (size_t j = 0; j < x->e.n_xattrs; j++) {
            free((char *)x->xattrs[j].name);
            free((void *)x->xattrs[j].value);
        }
        free(x->xattrs);
    }
    free(l->v);
}

int layer_normalise_is_engine_noise(const char *path, int regular, int64_t size)
{
    static const char *const always[] = {"run/.containerenv", ".dockerenv"};
    static const char *const mount_points[] = {"etc/hostname", "etc/hosts", "etc/resolv.conf"};
    for (size_t i = 0; i < sizeof always / sizeof always[0]; i++)
        if (!strcmp(path, always[i]))
            return 1;
    for (size_t i = 0; regular && size == 0 && i < sizeof mount_points / sizeof mount_points[0]; i++)
        if (!strcmp(path, mount_points[i]))
            return 1;
    return 0;
}

/* Host-specific or storage-internal attributes: never part of what the steps made. */
static int noise_xattr(const char *name)
{
    static const char *const prefixes[] = {"security.selinux", "trusted.overlay.", "user.overlay.",
                                           "user.fuseoverlayfs.", "user.containers."};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (!strncmp(name, prefixes[i], strlen(prefixes[i])))
            return 1;
    return 0;
}

/* "./a/b/", "/a/b" and "a/b" are one path: "a/b". NULL for the root itself. */
static char *clean_path(const char *name)
{
    while (name[0] == '/' || (name[0] == '.' && name[1] == '/'))
        name += name[0] == '/' ? 1 : 2;
    size_t n = strlen(name);
    while (n && name[n - 1] == '/')
        n--;
    if (!n || (n == 1 && name[0] == '.'))
        return NULL;
    return strndup(name, n);
}

static int spool_body(struct archive *a, int spool, int64_t *spool_end, int64_t size, const char *what,
                      const char *path)
{
    char *chunk = malloc(1 << 20);
    if (!chunk)
        return err_set(ERR_NOMEM, "out of memory");
    int rc = 0;
    int64_t got = 0;
    la_ssize_t n;
    while (!rc && (n = archive_read_data(a, chunk, 1 << 20)) > 0) {
        for (la_ssize_t off = 0; off < n && !rc;) {
            ssize_t w = write(spool, chunk + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                rc = err_set_errno(ERR_IO, "%s: cannot spool '%s'", what, path);
            else
                off += w;
        }
        got += n;
    }
    free(chunk);
    if (!rc && n < 0)
        rc = err_set(ERR_PARSE, "%s: '%s': truncated or corrupt: %s", what, path, archive_error_string(a));
    if (!rc && got != size)
        rc = err_set(ERR_PARSE, "%s: '%s': %lld bytes of %lld", what, path, (long long)got, (long long)size);
    *spool_end += got;
    return rc;
}

/* An overlay filesystem's mark for a directory that hides the lower layers' contents. */
static int opaque_mark(const char *name, const void *value, size_t size)
{
    return (!strcmp(name, "trusted.overlay.opaque") || !strcmp(name, "user.overlay.opaque") ||
            !strcmp(name, "user.fuseoverlayfs.opaque")) &&
           size == 1 && *(const char *)value == 'y';
}

static int copy_xattrs(struct entry *x, struct archive_entry *ae, int *opaque)
{
    size_t n = (size_t)archive_entry_xattr_reset(ae);
    if (!n)
        return 0;
    if (!(x->xattrs = calloc(n, sizeof *x->xattrs)))
        return err_set(ERR_NOMEM, "out of memory");
    const char *name;
    const void *value;
    size_t size;
    while (archive_entry_xattr_next(ae, &name, &value, &size) == ARCHIVE_OK) {
        int seen = 0; /* pax headers may carry one attribute twice (LIBARCHIVE. and SCHILY.) */
        for (size_t j = 0; j < x->e.n_xattrs && !seen; j++)
            seen = !strcmp(x->xattrs[j].name, name);
        *opaque |= opaque_mark(name, value, size);
        if (seen || noise_xattr(name))
            continue;
        struct oci_layer_xattr *v = &x->xattrs[x->e.n_xattrs];
        void *copy = malloc(size ? size : 1);
        if (!copy || !(v->name = strdup(name))) {
            free(copy);
            return err_set(ERR_NOMEM, "out of memory");
        }
        memcpy(copy, value, size);
        v->value = copy;
        v->size = size;
        x->e.n_xattrs++;
    }
    return 0;
}

/* A new zeroed entry at the end of l, or NULL without memory. */
static struct entry *push_entry(struct entries *l)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        struct entry *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return NULL;
        l->v = v;
        l->cap = cap;
    }
    struct entry *x = &l->v[l->n++];
    memset(x, 0, sizeof *x);
    return x;
}

/* Reads every entry of the layer; bodies go to the spool. */
static int read_layer(struct entries *l, const char *in_path, int spool, const char *what, size_t *dropped)
{
    struct archive *a = archive_read_new();
    if (!a)
        return err_set(ERR_NOMEM, "out of memory");
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    int rc = 0;
    int64_t spool_end = 0;
    if (archive_read_open_filename(a, in_path, 1 << 16) != ARCHIVE_OK) {
        rc = err_set(ERR_PARSE, "%s: not a tar layer: %s", what, archive_error_string(a));
        goto done;
    }
    for (size_t order = 0;; order++) {
        struct archive_entry *ae;
        int r = archive_read_next_header(a, &ae);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            rc = err_set(ERR_PARSE, "%s: not a tar layer, or truncated: %s", what, archive_error_string(a));
            goto done;
        }
        char *path = clean_path(archive_entry_pathname(ae) ? archive_entry_pathname(ae) : "");
        mode_t type = archive_entry_filetype(ae);
        const char *hard = archive_entry_hardlink(ae);
        int64_t size = archive_entry_size(ae);
        if (!path || (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK && type != AE_IFIFO && !hard)) {
            free(path);
            continue; /* the root; device files (base_image_scan_layer refuses them) */
        }
        if (layer_normalise_is_engine_noise(path, type == AE_IFREG && !hard, size)) {
            (*dropped)++;
            free(path);
            continue;
        }
        struct entry *x = push_entry(l);
        if (!x) {
            free(path);
            rc = err_set(ERR_NOMEM, "out of memory");
            goto done;
        }
        x->path = path;
        x->order = order;
        x->e.type = hard ? AE_IFREG : type;
        x->e.perm = archive_entry_perm(ae) & 07777;
        x->e.uid = archive_entry_uid(ae);
        x->e.gid = archive_entry_gid(ae);
        if (hard && !(x->hardlink = clean_path(hard))) {
            rc = err_set(ERR_INVALID, "%s: hard link '%s' has no target", what, path);
            goto done;
        }
        if (type == AE_IFLNK && !(x->symlink = strdup(archive_entry_symlink(ae) ? archive_entry_symlink(ae) : ""))) {
            rc = err_set(ERR_NOMEM, "out of memory");
            goto done;
        }
        int opaque = 0;
        if ((rc = copy_xattrs(x, ae, &opaque)))
            goto done;
        if (opaque && type == AE_IFDIR) { /* the mark as a layer tar spells it: DIR/.wh..wh..opq */
            char *marker = NULL;
            if (asprintf(&marker, "%s/.wh..wh..opq", path) < 0)
                marker = NULL;
            if (!marker || !(x = push_entry(l))) {
                free(marker);
                rc = err_set(ERR_NOMEM, "out of memory");
                goto done;
            }
            x->path = marker;
            x->order = order;
            x->e.type = AE_IFREG;
            continue;
        }
        if (type == AE_IFREG && !hard && size > 0) {
            x->e.size = size;
            x->spool_offset = spool_end;
            if ((rc = spool_body(a, spool, &spool_end, size, what, path)))
                goto done;
        }
    }
done:
    archive_read_free(a);
    return rc;
}

static int by_path(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

static struct entry *find(struct entries *l, const char *path)
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(l->v[mid].path, path);
        if (c == 0 && !l->v[mid].drop)
            return &l->v[mid];
        if (c < 0 || (c == 0 && l->v[mid].drop))
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* After sorting, a hard link may come before its target: the group's data moves to its first name. */
static int order_hard_links(struct entries *l, const char *what)
{
    for (size_t i = 0; i < l->n; i++) {
        struct entry *link = &l->v[i];
        if (link->drop || !link->hardlink)
            continue;
        struct entry *target = find(l, link->hardlink);
        if (!target || target->hardlink)
            return err_set(ERR_INVALID, "%s: hard link '%s' names '%s', which the layer does not hold as a file",
                           what, link->path, link->hardlink);
        if (target < link)
            continue; /* already follows its target */
        /* link is now the group's first name: it takes the body, the old target and every other
         * member of the group link to it. */
        char *old = target->path;
        for (size_t j = 0; j < link->e.n_xattrs; j++) {
            free((char *)link->xattrs[j].name);
            free((void *)link->xattrs[j].value);
        }
        free(link->xattrs);
        link->e = target->e;
        link->spool_offset = target->spool_offset;
        link->xattrs = target->xattrs;
        free(link->hardlink);
        link->hardlink = NULL;
        target->xattrs = NULL;
        target->e.n_xattrs = 0;
        for (size_t j = i + 1; j < l->n; j++) {
            struct entry *other = &l->v[j];
            if (other == target || (!other->drop && other->hardlink && !strcmp(other->hardlink, old))) {
                char *to = strdup(link->path);
                if (!to)
                    return err_set(ERR_NOMEM, "out of memory");
                free(other->hardlink);
                other->hardlink = to;
                other->e.size = 0;
            }
        }
    }
    return 0;
}

int layer_normalise(struct oci_blob *out, const char *in_path, const char *work_dir, int64_t mtime, int gzip_level,
                    const char *what, size_t *dropped)
{
    memset(out, 0, sizeof *out);
    struct entries l = {0};
    size_t dropped_here = 0;
    char *spool_path = path_join(work_dir, "spool-XXXXXX");
    int spool = spool_path ? mkostemp(spool_path, O_CLOEXEC) : -1;
    int rc = 0;
    if (!spool_path)
        rc = err_set(ERR_NOMEM, "out of memory");
    else if (spool < 0)
        rc = err_set_errno(ERR_IO, "%s: cannot create a spool file", work_dir);
    else
        unlink(spool_path); /* gone with the descriptor, whatever happens */
    rc = rc ? rc : read_layer(&l, in_path, spool, what, &dropped_here);
    if (!rc && l.n)
        qsort(l.v, l.n, sizeof *l.v, by_path);
    for (size_t i = 0; !rc && i + 1 < l.n; i++)
        l.v[i].drop = !strcmp(l.v[i].path, l.v[i + 1].path); /* the later entry of a path wins */
    rc = rc ? rc : order_hard_links(&l, what);
    struct oci_layer_writer *w = NULL;
    rc = rc ? rc : oci_layer_begin(&w, work_dir, mtime, OCI_COMPRESSION_GZIP, gzip_level);
    for (size_t i = 0; !rc && i < l.n; i++) {
        struct entry *x = &l.v[i];
        if (x->drop)
            continue;
        x->e.path = x->path;
        x->e.symlink = x->symlink;
        x->e.hardlink = x->hardlink;
        x->e.xattrs = x->xattrs;
        rc = oci_layer_add_entry(w, &x->e, spool, x->spool_offset);
    }
    if (w)
        rc = rc ? (oci_layer_abort(w), rc) : oci_layer_finish(w, out);
    if (spool >= 0)
        close(spool);
    free(spool_path);
    entries_release(&l);
    if (dropped)
        *dropped = dropped_here;
    return rc;
}

/* Where layer_gzip's members go: the layer file and its digest. */
struct gzip_out {
    int fd;
    const char *path;
    struct digest digest;
    int64_t size;
};

static int write_member(void *ctx, const void *data, size_t len)
{
    struct gzip_out *o = ctx;
    if (fs_write_all(o->fd, data, len) != 0)
        return err_set_write(ERR_IO, "%s: cannot write", o->path);
    o->size += (int64_t)len;
    return digest_update(&o->digest, data, len);
}

int layer_gzip(struct oci_blob *out, const char *in_path, const char *diff_id, const char *work_dir, int gzip_level)
{
    memset(out, 0, sizeof *out);
    char *path = path_join(work_dir, "layer-XXXXXX");
    int in = open(in_path, O_RDONLY | O_CLOEXEC), fd = path ? mkostemp(path, O_CLOEXEC) : -1;
    struct gzip_out o = {.fd = fd, .path = path};
    struct gzip_blocks *gz = NULL;
    int rc = digest_init(&o.digest);
    if (rc)
        goto done;
    if (!path)
        rc = err_set(ERR_NOMEM, "out of memory");
    else if (in < 0)
        rc = err_set_errno(ERR_IO, "%s: cannot open", in_path);
    else if (fd < 0)
        rc = err_set_errno(ERR_IO, "%s: cannot create a layer file", work_dir);
    else
        rc = gzip_blocks_start(&gz, gzip_level, 0, write_member, &o);
    unsigned char buf[1 << 16];
    while (!rc) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = err_set_errno(ERR_IO, "%s: read failed", in_path);
        else if (n == 0)
            break;
        else
            rc = gzip_blocks_write(gz, buf, (size_t)n);
    }
    if (gz) {
        int finished = rc ? (gzip_blocks_abort(gz), rc) : gzip_blocks_finish(gz);
        rc = rc ? rc : finished;
    }
    if (!rc && !(rc = digest_final(&o.digest, out->digest))) {
        snprintf(out->diff_id, sizeof out->diff_id, "%s", diff_id);
        out->size = o.size;
        out->media_type = OCI_MEDIA_TYPE_LAYER_GZIP;
        out->path = path;
        path = NULL;
    }
done:
    if (rc)
        digest_release(&o.digest);
    if (in >= 0)
        close(in);
    if (fd >= 0)
        close(fd);
    if (path && fd >= 0)
        unlink(path);
    free(path);
    return rc;
}
