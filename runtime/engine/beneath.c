#include "beneath.h"

#include "common/err.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define OPEN_FLAGS (O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)

static int must_be_regular(int fd, const char *what, const char *path)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return err_set_errno(ERR_IO, "%s '%s': cannot stat", what, path);
    if (!S_ISREG(st.st_mode))
        return err_set(ERR_INVALID, "%s '%s': not a regular file (a FIFO, socket, device or folder cannot be read as one)",
                       what, path);
    return 0;
}

/* Without openat2: each folder component O_DIRECTORY|O_NOFOLLOW, the file O_NOFOLLOW. */
static int open_by_components(int root_fd, const char *rel)
{
    int cur = root_fd;
    const char *p = rel;
    for (;;) {
        const char *slash = strchr(p, '/');
        char part[256];
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len >= sizeof part) {
            errno = ENAMETOOLONG;
            break;
        }
        memcpy(part, p, len);
        part[len] = '\0';
        if (!slash) {
            int fd = openat(cur, part, OPEN_FLAGS | O_NOFOLLOW);
            int saved = errno;
            if (cur != root_fd)
                close(cur);
            errno = saved;
            return fd;
        }
        int next = len ? openat(cur, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : dup(cur);
        int saved = errno;
        if (cur != root_fd)
            close(cur);
        errno = saved;
        if (next < 0)
            return -1;
        cur = next;
        p = slash + 1;
    }
    if (cur != root_fd)
        close(cur);
    return -1;
}

int beneath_open(int *out, const char *root, const char *rel, const char *what)
{
    *out = -1;
    int root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0)
        return err_set_errno(ERR_NOTFOUND, "%s '%s': cannot open the model's folder '%s'", what, rel, root);
    struct open_how how = {.flags = OPEN_FLAGS, .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    int fd = (int)syscall(SYS_openat2, root_fd, rel, &how, sizeof how);
    int no_openat2 = fd < 0 && (errno == ENOSYS || errno == EPERM); /* old kernel, or a seccomp filter */
    if (no_openat2)
        fd = open_by_components(root_fd, rel);
    int saved = errno;
    close(root_fd);
    if (fd < 0) {
        errno = saved;
        if (saved == EXDEV)
            return err_set(ERR_INVALID, "%s '%s' leads outside the model's folder '%s' (through a symbolic link)", what,
                           rel, root);
        if (saved == ELOOP || (no_openat2 && saved == ENOTDIR))
            return err_set(ERR_INVALID,
                           "%s '%s' goes through a symbolic link, which this kernel (no openat2) cannot confine to "
                           "the model's folder '%s'",
                           what, rel, root);
        return err_set_errno(saved == ENOENT ? ERR_NOTFOUND : ERR_IO, "%s '%s/%s'", what, root, rel);
    }
    int rc = must_be_regular(fd, what, rel);
    if (rc) {
        close(fd);
        return rc;
    }
    *out = fd;
    return 0;
}

int beneath_open_model(int *out, const char *path)
{
    *out = -1;
    int fd = open(path, OPEN_FLAGS);
    if (fd < 0)
        return err_set_errno(errno == ENOENT ? ERR_NOTFOUND : ERR_IO, "%s: cannot open", path);
    int rc = must_be_regular(fd, "model", path);
    if (rc) {
        close(fd);
        return rc;
    }
    *out = fd;
    return 0;
}
