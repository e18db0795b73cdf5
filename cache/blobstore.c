#include "blobstore.h"

#include "common/err.h"
#include "common/path.h"
#include "common/sha256.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int make_dir(const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST)
        return 0;
    return err_set_errno(ERR_IO, "%s: cannot create the cache directory", path);
}

/* mkdir -p for the cache root (parents such as ~/.cache may be missing). */
static int make_dirs(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return err_set(ERR_NOMEM, "out of memory");
    int rc = 0;
    for (char *p = copy + 1; *p && !rc; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        rc = make_dir(copy);
        *p = '/';
    }
    if (!rc)
        rc = make_dir(copy);
    free(copy);
    return rc;
}

int blobstore_init(struct blobstore *bs, const char *dir)
{
    return blobstore_init_mode(bs, dir, 1);
}

int blobstore_init_mode(struct blobstore *bs, const char *dir, int create)
{
    memset(bs, 0, sizeof *bs);
    char *blobs = path_join(dir, "blobs");
    int rc = 0;
    if (!blobs || !(bs->root = path_join(blobs, "sha256")) || !(bs->tmp = path_join(blobs, "tmp")))
        rc = err_set(ERR_NOMEM, "out of memory");
    if (!rc && create)
        rc = make_dirs(bs->root);
    if (!rc && create)
        rc = make_dir(bs->tmp);
    free(blobs);
    if (rc)
        blobstore_release(bs);
    return rc;
}

void blobstore_release(struct blobstore *bs)
{
    free(bs->root);
    free(bs->tmp);
    bs->root = bs->tmp = NULL;
}

int blobstore_valid_digest(const char *digest)
{
    if (!digest || strncmp(digest, "sha256:", 7) != 0 || strlen(digest) != 71)
        return 0;
    for (const char *p = digest + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

char *blobstore_path(const struct blobstore *bs, const char *digest)
{
    return blobstore_valid_digest(digest) ? path_join(bs->root, digest + 7) : NULL;
}

static void hex_digest(char out[BLOB_DIGEST_SIZE], const unsigned char raw[SHA256_BYTES])
{
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "sha256:", 7);
    for (int i = 0; i < SHA256_BYTES; i++) {
        out[7 + 2 * i] = hex[raw[i] >> 4];
        out[8 + 2 * i] = hex[raw[i] & 15];
    }
    out[71] = '\0';
}

/* Copies src (fd, or the buffer when src < 0) into dst while hashing. */
static int copy_hash(int dst, int src, const void *data, size_t len, char digest[BLOB_DIGEST_SIZE], int64_t *size)
{
    struct sha256 sha;
    sha256_init(&sha);
    int rc = 0;
    int64_t total = 0;
    char chunk[1 << 16];
    const char *p = data;
    for (;;) {
        ssize_t n;
        const char *from = chunk;
        if (src >= 0) {
            n = read(src, chunk, sizeof chunk);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                rc = err_set_errno(ERR_IO, "cache: read failed");
                break;
            }
        } else {
            n = (ssize_t)(len - (size_t)total < sizeof chunk ? len - (size_t)total : sizeof chunk);
            from = p + total;
        }
        if (n == 0)
            break;
        sha256_update(&sha, from, (size_t)n);
        for (ssize_t off = 0; dst >= 0 && off < n;) {
            errno = 0;
            ssize_t w = write(dst, from + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                rc = err_set_write(ERR_IO, "cache: write failed");
                break;
            }
            off += w;
        }
        if (rc)
            break;
        total += n;
    }
    if (!rc) {
        unsigned char raw[SHA256_BYTES];
        sha256_final(&sha, raw);
        hex_digest(digest, raw);
        if (size)
            *size = total;
    }
    return rc;
}

static int stage(const struct blobstore *bs, int src, const void *data, size_t len, struct blob_staged *out)
{
    memset(out, 0, sizeof *out);
    out->fd = -1;
    char *tmp = path_join(bs->tmp, "blob-XXXXXX");
    if (!tmp)
        return err_set(ERR_NOMEM, "out of memory");
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        int rc = err_set_errno(ERR_IO, "%s: cannot create a temporary file", bs->tmp);
        free(tmp);
        return rc;
    }
    /* Held until commit or abort: gc leaves locked temp files alone. */
    int rc = flock(fd, LOCK_EX) == 0 ? 0 : err_set_errno(ERR_IO, "%s: cannot lock", tmp);
    fchmod(fd, 0644);
    if (!rc)
        rc = copy_hash(fd, src, data, len, out->digest, &out->size);
    if (!rc && fsync(fd) != 0)
        rc = err_set_errno(ERR_IO, "%s: fsync failed", tmp);
    out->tmp = tmp;
    out->fd = fd;
    if (rc)
        blobstore_abort(out);
    return rc;
}

int blobstore_stage_fd(const struct blobstore *bs, int fd, struct blob_staged *out)
{
    return stage(bs, fd, NULL, 0, out);
}

int blobstore_stage_buffer(const struct blobstore *bs, const void *data, size_t len, struct blob_staged *out)
{
    return stage(bs, -1, data, len, out);
}

int blobstore_stage_link(const struct blobstore *bs, const char *path, const char *digest, struct blob_staged *out)
{
    memset(out, 0, sizeof *out);
    out->fd = -1;
    if (!blobstore_valid_digest(digest))
        return err_set(ERR_INVALID, "cache: '%s' is not a sha256 digest", digest);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return err_set_errno(errno == ENOENT ? ERR_NOTFOUND : ERR_IO, "%s: cannot open", path);
    /* The lock belongs to the inode, so gc finds the temp name locked from the moment it exists. */
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || flock(fd, LOCK_EX) != 0) {
        close(fd);
        return err_set(ERR_IO, "%s: not a regular file that can be locked", path);
    }
    static unsigned long counter;
    char name[96];
    char *tmp = NULL;
    int rc = 0;
    for (int attempt = 0; attempt < 64 && !tmp; attempt++) {
        snprintf(name, sizeof name, "link-%ld-%lx-%d", (long)getpid(),
                 __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED) ^ (unsigned long)st.st_ino, attempt);
        if (!(tmp = path_join(bs->tmp, name))) {
            rc = err_set(ERR_NOMEM, "out of memory");
            break;
        }
        if (link(path, tmp) == 0)
            break;
        int e = errno;
        free(tmp);
        tmp = NULL;
        if (e != EEXIST) {
            errno = e;
            rc = err_set_errno(e == EXDEV || e == EPERM || e == EMLINK ? ERR_UNSUPPORTED : ERR_IO,
                               "%s: cannot link into %s", path, bs->tmp);
            break;
        }
    }
    if (!rc && !tmp)
        rc = err_set(ERR_IO, "%s: no free temporary name", bs->tmp);
    /* Durable before it is named, as a copied blob is (stage). */
    if (!rc && (fchmod(fd, 0644) != 0 || fsync(fd) != 0))
        rc = err_set_errno(ERR_IO, "%s: cannot make it a blob", path);
    if (rc) {
        if (tmp)
            unlink(tmp);
        free(tmp);
        close(fd);
        return rc;
    }
    out->tmp = tmp;
    out->fd = fd;
    snprintf(out->digest, sizeof out->digest, "%s", digest);
    out->size = st.st_size;
    return 0;
}

static void end_staging(struct blob_staged *st)
{
    if (st->fd >= 0)
        close(st->fd);
    st->fd = -1;
    free(st->tmp);
    st->tmp = NULL;
}

void blobstore_abort(struct blob_staged *st)
{
    if (st->tmp)
        unlink(st->tmp);
    end_staging(st);
}

int blobstore_commit(const struct blobstore *bs, struct blob_staged *st)
{
    char *path = blobstore_path(bs, st->digest);
    if (!path || !st->tmp) {
        blobstore_abort(st);
        free(path);
        return err_set(ERR_INVALID, "cache: nothing staged for '%s'", st->digest);
    }
    int rc = 0;
    struct stat sb;
    if (!st->replace && stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
        /* Same name, same content: keep the file readers may already have open. */
        unlink(st->tmp);
    } else if (rename(st->tmp, path) != 0) {
        rc = err_set_errno(ERR_IO, "%s: cannot move the blob into place", path);
        unlink(st->tmp);
    } else {
        int dfd = open(bs->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    end_staging(st);
    free(path);
    return rc;
}

int blobstore_hash_file(const char *path, char digest[BLOB_DIGEST_SIZE], int64_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set_errno(errno == ENOENT ? ERR_NOTFOUND : ERR_IO, "%s: cannot open", path);
    int rc = copy_hash(-1, fd, NULL, 0, digest, size);
    close(fd);
    return rc;
}

int blobstore_check(const struct blobstore *bs, const char *digest)
{
    char *path = blobstore_path(bs, digest);
    if (!path)
        return err_set(ERR_INVALID, "cache: '%s' is not a sha256 digest", digest);
    char actual[BLOB_DIGEST_SIZE];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc;
    if (fd < 0) {
        rc = errno == ENOENT ? ERR_NOTFOUND : err_set_errno(ERR_IO, "%s: cannot open", path);
    } else {
        rc = copy_hash(-1, fd, NULL, 0, actual, NULL);
        close(fd);
        if (!rc && strcmp(actual, digest) != 0)
            rc = ERR_MISMATCH;
    }
    free(path);
    return rc;
}

int blobstore_remove(const struct blobstore *bs, const char *digest)
{
    char *path = blobstore_path(bs, digest);
    if (!path)
        return err_set(ERR_INVALID, "cache: '%s' is not a sha256 digest", digest);
    int rc = 0;
    if (unlink(path) != 0 && errno != ENOENT)
        rc = err_set_errno(ERR_IO, "%s: cannot remove", path);
    free(path);
    return rc;
}

int blobstore_each(const struct blobstore *bs, blobstore_each_fn fn, void *ctx)
{
    DIR *d = opendir(bs->root);
    if (!d)
        return err_set_errno(ERR_IO, "%s: cannot list", bs->root);
    int rc = 0;
    struct dirent *e;
    char digest[BLOB_DIGEST_SIZE];
    while (!rc && (e = readdir(d))) {
        if (strlen(e->d_name) != 64)
            continue;
        snprintf(digest, sizeof digest, "sha256:%.64s", e->d_name);
        if (!blobstore_valid_digest(digest))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        rc = fn(ctx, digest, (int64_t)st.st_size, st.st_mtime);
    }
    closedir(d);
    return rc;
}

int blobstore_clean_temp(const struct blobstore *bs, time_t cutoff, size_t *removed)
{
    DIR *d = opendir(bs->tmp);
    if (!d)
        return err_set_errno(ERR_IO, "%s: cannot list", bs->tmp);
    struct dirent *e;
    while ((e = readdir(d))) {
        struct stat st;
        if (strncmp(e->d_name, "blob-", 5) != 0 || fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(st.st_mode) || st.st_mtime >= cutoff)
            continue;
        int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
            continue;
        /* A lock we cannot take belongs to a writer that is still alive. */
        if (flock(fd, LOCK_EX | LOCK_NB) == 0 && unlinkat(dirfd(d), e->d_name, 0) == 0 && removed)
            (*removed)++;
        close(fd);
    }
    closedir(d);
    return 0;
}
