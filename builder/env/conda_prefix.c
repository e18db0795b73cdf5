#include "builder/env/conda_prefix.h"

#include "common/err.h"
#include "common/path.h"

#include <limits.h>
#include <stdlib.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_LIMIT ((size_t)4 << 30)

static const char *find(const char *hay, size_t n, const char *needle, size_t m)
{
    return m && n >= m ? memmem(hay, n, needle, m) : NULL;
}

int conda_prefix_replace_buffer(struct buf *out, size_t *count, const char *data, size_t len, const char *placeholder,
                                const char *prefix, int binary, const char *what)
{
    size_t pl = strlen(placeholder), nl = strlen(prefix);
    *count = 0;
    if (binary && nl > pl)
        return err_set(ERR_INVALID,
                       "%s: binary prefix replacement: the prefix '%s' (%zu bytes) is longer than the package's "
                       "placeholder '%s' (%zu bytes) and cannot fit in the file",
                       what, prefix, nl, placeholder, pl);
    int rc = 0;
    const char *p = data, *end = data + len, *hit;
    while (!rc && (hit = find(p, (size_t)(end - p), placeholder, pl))) {
        rc = buf_append(out, p, (size_t)(hit - p));
        if (!binary) {
            rc = rc ? rc : buf_append(out, prefix, nl);
            p = hit + pl;
            (*count)++;
            continue;
        }
        /* The C string from the placeholder to its NUL: every placeholder inside it replaced, NUL-padded. */
        const char *nul = memchr(hit, '\0', (size_t)(end - hit));
        const char *stop = nul ? nul : end;
        size_t before = out->len;
        for (const char *q = hit, *h; !rc && q < stop; q = h + pl) {
            h = find(q, (size_t)(stop - q), placeholder, pl);
            if (!h) {
                rc = buf_append(out, q, (size_t)(stop - q));
                break;
            }
            rc = buf_append(out, q, (size_t)(h - q));
            rc = rc ? rc : buf_append(out, prefix, nl);
            (*count)++;
        }
        size_t written = out->len - before, span = (size_t)(stop - hit);
        for (; !rc && written < span; written++)
            rc = buf_append(out, "", 1);
        p = stop;
    }
    return rc ? rc : buf_append(out, p, (size_t)(end - p));
}

int conda_prefix_replace_file(const char *path, const char *placeholder, const char *prefix, int binary,
                              const char *what)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return err_set_errno(ERR_IO, "%s: cannot read", what);
    if (!S_ISREG(st.st_mode))
        return err_set(ERR_INVALID, "%s: has a prefix placeholder but is not a regular file", what);
    struct buf in, out;
    buf_init(&in, FILE_LIMIT);
    buf_init(&out, FILE_LIMIT);
    size_t count = 0;
    int rc = buf_read_file(&in, path), fd = -1;
    rc = rc ? rc
            : conda_prefix_replace_buffer(&out, &count, in.data ? in.data : "", in.len, placeholder, prefix, binary,
                                          what);
    if (rc || !count)
        goto done;
    /* A fresh inode: the unpacked file may be a hard link shared with another path. */
    if (unlink(path) < 0 || (fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 0777)) < 0) {
        rc = err_set_errno(ERR_IO, "%s: cannot rewrite", what);
        goto done;
    }
    for (size_t off = 0; off < out.len && !rc;) {
        ssize_t w = write(fd, out.data + off, out.len - off);
        if (w < 0 && errno != EINTR)
            rc = err_set_errno(ERR_IO, "%s: cannot rewrite", what);
        off += w > 0 ? (size_t)w : 0;
    }
    if (close(fd) < 0 && !rc)
        rc = err_set_errno(ERR_IO, "%s: cannot rewrite", what);
done:
    buf_release(&in);
    buf_release(&out);
    return rc;
}

#define MAX_LINKS 40

/* Drops done's last component ("" stays ""; 1 when there is none to drop). */
static int pop_component(struct buf *done)
{
    if (!done->len)
        return 1;
    char *slash = memrchr(done->data, '/', done->len);
    done->len = slash ? (size_t)(slash - done->data) : 0;
    return 0;
}

int conda_prefix_resolve_dirs(char **out, const char *stage, const char *prefix, const char *rel, const char *what)
{
    *out = NULL;
    struct buf done, rest, host;
    buf_init(&done, PATH_MAX * 4);
    buf_init(&rest, PATH_MAX * 4);
    buf_init(&host, PATH_MAX * 8);
    size_t plen = strlen(prefix);
    int rc = buf_append_str(&rest, rel), links = 0;
    while (!rc) {
        char *slash = memchr(rest.data, '/', rest.len);
        if (!slash) /* the last component: kept as it is */
            break;
        size_t n = (size_t)(slash - rest.data);
        char comp[NAME_MAX + 2];
        if (n > NAME_MAX) {
            rc = err_set(ERR_INVALID, "%s: '%s': a folder name is too long", what, rel);
            break;
        }
        memcpy(comp, rest.data, n);
        comp[n] = '\0';
        memmove(rest.data, slash + 1, rest.len - n - 1);
        rest.len -= n + 1;
        if (!n || !strcmp(comp, "."))
            continue;
        if (!strcmp(comp, "..")) {
            if (pop_component(&done))
                rc = err_set(ERR_INVALID, "%s: '%s' goes above the environment's prefix through a link", what, rel);
            continue;
        }
        size_t before = done.len;
        rc = done.len ? buf_append(&done, "/", 1) : 0;
        rc = rc ? rc : buf_append(&done, comp, n);
        buf_reset(&host);
        rc = rc ? rc : buf_appendf(&host, "%s/%.*s", stage, (int)done.len, done.data);
        struct stat st;
        if (rc || lstat(host.data, &st) < 0 || !S_ISLNK(st.st_mode))
            continue; /* a folder, or one still to be made */
        char target[PATH_MAX];
        ssize_t tn = readlink(host.data, target, sizeof target - 1);
        if (tn < 0) {
            rc = err_set_errno(ERR_IO, "%s: cannot read the link '%.*s'", what, (int)done.len, done.data);
            break;
        }
        target[tn] = '\0';
        if (++links > MAX_LINKS) {
            rc = err_set(ERR_INVALID, "%s: '%s' goes through more than %d links", what, rel, MAX_LINKS);
            break;
        }
        const char *t = target;
        done.len = before; /* a relative target starts from the link's folder */
        if (t[0] == '/') {
            if (strncmp(t, prefix, plen) || (t[plen] && t[plen] != '/')) {
                rc = err_set(ERR_INVALID,
                             "%s: '%s' goes through the link '%s' to '%s', outside the environment's prefix", what, rel,
                             comp, target);
                break;
            }
            t += plen;
            while (*t == '/')
                t++;
            done.len = 0;
        }
        /* rest = target + "/" + rest */
        struct buf joined;
        buf_init(&joined, PATH_MAX * 4);
        rc = buf_append_str(&joined, t);
        rc = rc ? rc : buf_append(&joined, "/", 1);
        rc = rc ? rc : buf_append(&joined, rest.data, rest.len);
        if (!rc) {
            buf_reset(&rest);
            rc = buf_append(&rest, joined.data, joined.len);
        }
        buf_release(&joined);
    }
    if (!rc && (!rest.len || (rest.len == 1 && rest.data[0] == '.') || (rest.len == 2 && !memcmp(rest.data, "..", 2))))
        rc = err_set(ERR_INVALID, "%s: '%s' does not name a file after its links are followed", what, rel);
    if (!rc) {
        if (asprintf(out, "%.*s%s%.*s", (int)done.len, done.len ? done.data : "", done.len ? "/" : "", (int)rest.len,
                     rest.data) < 0) {
            *out = NULL;
            rc = err_set(ERR_NOMEM, "out of memory");
        }
    }
    buf_release(&done);
    buf_release(&rest);
    buf_release(&host);
    return rc;
}
