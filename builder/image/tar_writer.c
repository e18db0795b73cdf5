#include "builder/image/tar_writer.h"

#include "builder/sys/fsutil.h"
#include "common/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Octal field of width bytes, NUL-terminated, as ustar has it. */
static void octal(unsigned char *field, size_t width, unsigned long long value)
{
    char text[32];
    snprintf(text, sizeof text, "%0*llo", (int)width - 1, value);
    memcpy(field, text, width);
}

int tar_header(unsigned char block[TAR_BLOCK], const char *name, char type, int64_t size, long long mtime)
{
    size_t len = strlen(name);
    if (len == 0 || len >= 100)
        return err_set(ERR_LIMIT, "archive member name '%s' must be 1 to 99 bytes", name);
    if (size < 0 || mtime < 0 || mtime > 077777777777LL)
        return err_set(ERR_INVALID, "archive member '%s': size or time out of range", name);
    memset(block, 0, TAR_BLOCK);
    memcpy(block, name, len);
    octal(block + 100, 8, type == '5' ? 0755 : 0644);
    octal(block + 108, 8, 0); /* uid */
    octal(block + 116, 8, 0); /* gid */
    if (size <= 077777777777LL) {
        octal(block + 124, 12, (unsigned long long)size);
    } else { /* base-256: a set high bit, then the size big-endian */
        block[124] = 0x80;
        for (int i = 0; i < 8; i++)
            block[135 - i] = (unsigned char)((uint64_t)size >> (8 * i));
    }
    octal(block + 136, 12, (unsigned long long)mtime);
    block[156] = (unsigned char)type;
    memcpy(block + 257, "ustar", 6);
    memcpy(block + 263, "00", 2);
    octal(block + 329, 8, 0); /* devmajor */
    octal(block + 337, 8, 0); /* devminor */
    unsigned sum = 8 * ' ';   /* the checksum field counts as spaces */
    for (size_t i = 0; i < TAR_BLOCK; i++)
        sum += i >= 148 && i < 156 ? 0 : block[i];
    snprintf((char *)block + 148, 8, "%06o", sum);
    block[155] = ' ';
    return 0;
}

static int write_at(struct tar_writer *t, const void *data, size_t len, off_t at)
{
    const unsigned char *p = data;
    while (len > 0) {
        errno = 0;
        ssize_t n = pwrite(t->fd, p, len, at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return err_set_write(ERR_IO, "%s: write failed", t->target);
        p += n;
        len -= (size_t)n;
        at += n;
    }
    return 0;
}

static int64_t padding(int64_t size)
{
    return (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;
}

static int put_padding(struct tar_writer *t, int64_t body)
{
    static const unsigned char zeros[TAR_BLOCK];
    int64_t pad = padding(body);
    int rc = pad ? write_at(t, zeros, (size_t)pad, t->offset) : 0;
    t->offset += pad;
    return rc;
}

static int put_header(struct tar_writer *t, const char *name, char type, int64_t size)
{
    unsigned char block[TAR_BLOCK];
    int rc = tar_header(block, name, type, size, t->mtime);
    if (rc || (rc = write_at(t, block, sizeof block, t->offset)))
        return rc;
    t->offset += TAR_BLOCK;
    return 0;
}

int tar_put_dir(struct tar_writer *t, const char *name)
{
    return put_header(t, name, '5', 0);
}

int tar_put_bytes(struct tar_writer *t, const char *name, const void *data, size_t len)
{
    int rc = put_header(t, name, '0', (int64_t)len);
    if (rc || (rc = write_at(t, data, len, t->offset)))
        return rc;
    t->offset += (off_t)len;
    return put_padding(t, (int64_t)len);
}

/* read + write, for file systems where copy_file_range cannot help. */
static int copy_by_reading(struct tar_writer *t, int src_fd, off_t from, int64_t size)
{
    enum { CHUNK = 1 << 20 };
    unsigned char *chunk = malloc(CHUNK);
    int rc = chunk ? 0 : err_set(ERR_NOMEM, "out of memory");
    while (!rc && size > 0) {
        ssize_t n = pread(src_fd, chunk, size < CHUNK ? (size_t)size : CHUNK, from);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? err_set_errno(ERR_IO, "%s: reading a blob failed", t->target)
                       : err_set(ERR_IO, "%s: a blob shrank while it was archived", t->target);
        } else if (!(rc = write_at(t, chunk, (size_t)n, t->offset))) {
            from += n;
            t->offset += n;
            size -= n;
        }
    }
    free(chunk);
    return rc;
}

int tar_put_file_range(struct tar_writer *t, const char *name, int src_fd, off_t src_offset, int64_t size)
{
    int rc = put_header(t, name, '0', size);
    if (rc)
        return rc;
    int64_t body = size;
    while (size > 0) {
        off_t out = t->offset;
        ssize_t n = copy_file_range(src_fd, &src_offset, t->fd, &out, (size_t)(size < (1 << 30) ? size : 1 << 30), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
            rc = copy_by_reading(t, src_fd, src_offset, size);
            break;
        }
        if (n <= 0)
            return n < 0 ? err_set_write(ERR_IO, "%s: copying a blob failed", t->target)
                         : err_set(ERR_IO, "%s: a blob shrank while it was archived", t->target);
        t->offset += n;
        size -= n;
    }
    return rc ? rc : put_padding(t, body);
}

int tar_put_in_place(struct tar_writer *t, const char *name, int64_t size)
{
    int rc = put_header(t, name, '0', size);
    if (rc)
        return rc;
    t->offset += size;
    return put_padding(t, size);
}

int tar_finish(struct tar_writer *t)
{
    static const unsigned char zeros[2 * TAR_BLOCK];
    int rc = write_at(t, zeros, sizeof zeros, t->offset);
    if (!rc)
        t->offset += (off_t)sizeof zeros;
    return rc;
}

int tar_commit(struct tar_writer *t, const char *tmp_path, int sync, const char *what)
{
    int rc = tar_finish(t);
    if (rc)
        return rc;
    if (ftruncate(t->fd, t->offset) != 0 || (sync && fsync(t->fd) != 0))
        return err_set_write(ERR_IO, "%s: write failed", t->target);
    int fd = t->fd;
    t->fd = -1;
    if (close(fd) != 0)
        return err_set_write(ERR_IO, "%s: write failed", t->target);
    if (fs_replace(tmp_path, t->target) != 0)
        return err_set_errno(ERR_IO, "%s: cannot rename %s into place", t->target, what);
    return 0;
}
