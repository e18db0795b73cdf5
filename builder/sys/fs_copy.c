#include "builder/sys/fs_copy.h"

#include "common/err.h"
#include "builder/sys/fsutil.h"
#include "common/path.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fs_make_dirs(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return err_set(ERR_LIMIT, "path too long: '%s'", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return err_set_errno(ERR_IO, "cannot create '%s'", buf);
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return err_set_errno(ERR_IO, "cannot create '%s'", buf);
    return 0;
}

int fs_copy_file(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return err_set_errno(ERR_IO, "cannot open '%s'", src);
    struct stat st;
    int rc = 0, out = -1;
    if (fstat(in, &st) != 0) {
        rc = err_set_errno(ERR_IO, "cannot stat '%s'", src);
        goto done;
    }
    out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 07777);
    if (out < 0) {
        rc = err_set_errno(ERR_IO, "cannot create '%s'", dst);
        goto done;
    }
    off_t left = st.st_size;
    int plain = 0; /* copy_file_range is not available across every pair of file systems */
    char chunk[1 << 16];
    while (left > 0) {
        ssize_t n;
        if (!plain) {
            n = copy_file_range(in, NULL, out, NULL, (size_t)(left < (1 << 30) ? left : (1 << 30)), 0);
            if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
                plain = 1;
                continue;
            }
        } else {
            n = read(in, chunk, sizeof chunk);
            if (n > 0 && fs_write_all(out, chunk, (size_t)n) != 0)
                n = -1;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n == 0 ? err_set(ERR_IO, "'%s' shrank while it was copied", src)
                        : err_set_write(ERR_IO, "cannot copy '%s' to '%s'", src, dst);
            goto done;
        }
        left -= n;
    }
    if (fchmod(out, st.st_mode & 07777) != 0) /* the umask narrowed open()'s mode */
        rc = err_set_errno(ERR_IO, "cannot set the mode of '%s'", dst);
done:
    if (out >= 0 && close(out) != 0 && !rc)
        rc = err_set_write(ERR_IO, "cannot write '%s'", dst);
    close(in);
    return rc;
}

int fs_copy_tree(const char *src, const char *dst)
{
    struct stat st;
    if (lstat(src, &st) != 0)
        return err_set_errno(ERR_IO, "cannot stat '%s'", src);
    if (S_ISREG(st.st_mode))
        return fs_copy_file(src, dst);
    if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlink(src, target, sizeof target - 1);
        if (n < 0)
            return err_set_errno(ERR_IO, "cannot read the link '%s'", src);
        target[n] = 0;
        return symlink(target, dst) == 0 ? 0 : err_set_errno(ERR_IO, "cannot create the link '%s'", dst);
    }
    if (!S_ISDIR(st.st_mode))
        return err_set(ERR_UNSUPPORTED, "'%s' is not a file, folder or link", src);
    if (mkdir(dst, st.st_mode & 07777) != 0)
        return err_set_errno(ERR_IO, "cannot create '%s'", dst);
    DIR *d = opendir(src);
    if (!d)
        return err_set_errno(ERR_IO, "cannot read '%s'", src);
    int rc = 0;
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char *from = path_join(src, de->d_name), *to = path_join(dst, de->d_name);
        rc = from && to ? fs_copy_tree(from, to) : err_set(ERR_NOMEM, "out of memory");
        free(from);
        free(to);
    }
    closedir(d);
    if (!rc && chmod(dst, st.st_mode & 07777) != 0)
        rc = err_set_errno(ERR_IO, "cannot set the mode of '%s'", dst);
    return rc;
}
