#include "builder/env/conda_prefix.h"

#include "common/err.h"

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
