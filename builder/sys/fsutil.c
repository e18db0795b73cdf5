#include "builder/sys/fsutil.h"

#include "common/err.h"
#include "common/path.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

char *fs_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

char *fs_resolve(const char *base_dir, const char *path)
{
    return path[0] == '/' ? strdup(path) : path_join(base_dir, path);
}

/* Temporary folders of dead processes. Each "<prefix>XXXXXX" folder has a
 * lock file "<prefix>XXXXXX.lock" beside it, flock'ed by its owner for as long
 * as the owner lives (the descriptor stays open until exit; the kernel drops
 * the lock when the process dies, SIGKILL included). A lock file nobody holds
 * marks a folder whose owner is gone: the first fs_make_temp_dir in the same
 * parent removes it. The owner takes its lock before the folder exists, so a
 * sweeper can never remove the folder of a live process. */
static int is_ours(const char *name)
{
    return strncmp(name, "amlpkg-", 7) == 0 || strncmp(name, ".amlpkg-", 8) == 0;
}

static void sweep_dead(const char *parent)
{
    static char swept[4096]; /* once per parent per process */
    if (strcmp(swept, parent) == 0)
        return;
    snprintf(swept, sizeof swept, "%s", parent);
    DIR *d = opendir(parent);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (!is_ours(e->d_name) || len < 6 || strcmp(e->d_name + len - 5, ".lock") != 0)
            continue;
        char *lock = path_join(parent, e->d_name);
        int fd = lock ? open(lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK) : -1;
        if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
            lock[strlen(lock) - 5] = '\0';
            fs_remove_tree(lock); /* also unlinks the lock file */
        }
        if (fd >= 0)
            close(fd);
        free(lock);
    }
    closedir(d);
}

int fs_make_temp_dir(char **out, const char *parent, const char *prefix)
{
    *out = NULL;
    sweep_dead(parent);
    size_t n = strlen(parent) + strlen(prefix) + 16;
    char *tmpl = malloc(n);
    if (!tmpl)
        return err_set(ERR_NOMEM, "out of memory");
    for (int attempt = 0; attempt < 100; attempt++) {
        snprintf(tmpl, n, "%s/%sXXXXXX.lock", parent, prefix);
        int fd = mkostemps(tmpl, 5, O_CLOEXEC);
        if (fd < 0)
            break;
        struct stat held, now;
        /* A sweeper may have taken the fresh lock file first and removed it: start again. */
        if (flock(fd, LOCK_EX) != 0 || fstat(fd, &held) != 0 || stat(tmpl, &now) != 0 || held.st_ino != now.st_ino) {
            close(fd);
            continue;
        }
        tmpl[strlen(tmpl) - 5] = '\0';
        if (mkdir(tmpl, 0700) == 0) {
            *out = tmpl; /* fd stays open: the lock lives as long as this process */
            return 0;
        }
        int saved = errno;
        char lock[4096];
        snprintf(lock, sizeof lock, "%s.lock", tmpl);
        unlink(lock);
        close(fd);
        if (saved != EEXIST) {
            errno = saved;
            break;
        }
    }
    int rc = err_set_errno(ERR_IO, "cannot create a temporary directory in '%s'", parent);
    free(tmpl);
    return rc;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void fs_temp_dir_forget(const char *path)
{
    const char *slash = strrchr(path, '/');
    char lock[4096];
    if (is_ours(slash ? slash + 1 : path) && (size_t)snprintf(lock, sizeof lock, "%s.lock", path) < sizeof lock)
        unlink(lock);
}

void fs_remove_tree(const char *path)
{
    if (!path)
        return;
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    fs_temp_dir_forget(path); /* a temporary folder's lock file goes with it */
}

int fs_temp_beside(FILE **out_file, char **out_path, const char *target)
{
    *out_file = NULL;
    *out_path = NULL;
    size_t n = strlen(target) + 16;
    char *tmp = malloc(n);
    if (!tmp)
        return err_set(ERR_NOMEM, "out of memory");
    snprintf(tmp, n, "%s.tmp-XXXXXX", target);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        int rc = err_set_errno(ERR_IO, "%s: cannot create a temporary file beside it", target);
        free(tmp);
        return rc;
    }
    /* mkostemp makes 0600 files; outputs should look like any other file. */
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        unlink(tmp);
        free(tmp);
        return err_set(ERR_NOMEM, "out of memory");
    }
    *out_file = f;
    *out_path = tmp;
    return 0;
}

int fs_commit(FILE *f, const char *tmp_path, const char *target)
{
    return fs_publish(f, tmp_path, target, 1);
}

int fs_replace(const char *tmp_path, const char *target)
{
    struct stat st;
    if (lstat(target, &st) == 0 && S_ISREG(st.st_mode) &&
        renameat2(AT_FDCWD, tmp_path, AT_FDCWD, target, RENAME_EXCHANGE) == 0) {
        unlink(tmp_path); /* the old target, now under the temporary name */
        return 0;
    }
    return rename(tmp_path, target);
}

int fs_publish(FILE *f, const char *tmp_path, const char *target, int sync)
{
    int rc = 0;
    if (fflush(f) != 0 || (sync && fsync(fileno(f)) != 0))
        rc = err_set_write(ERR_IO, "%s: write failed", target);
    if (fclose(f) != 0 && !rc)
        rc = err_set_write(ERR_IO, "%s: write failed", target);
    if (!rc && fs_replace(tmp_path, target) != 0)
        rc = err_set_errno(ERR_IO, "%s: cannot rename the finished file into place", target);
    if (rc)
        unlink(tmp_path);
    return rc;
}

int fs_write_all(int fd, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len > 0) {
        errno = 0;
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0 || !errno)
                errno = ENOSPC;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int fs_copy_into(FILE *dst, const char *src_path)
{
    FILE *src = fopen(src_path, "rb");
    if (!src)
        return err_set_errno(ERR_IO, "%s: cannot open", src_path);
    char chunk[1 << 16];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, src)) > 0) {
        if (fwrite(chunk, 1, n, dst) != n) {
            rc = err_set_write(ERR_IO, "write failed while copying '%s'", src_path);
            break;
        }
    }
    if (!rc && ferror(src))
        rc = err_set_errno(ERR_IO, "%s: read failed", src_path);
    fclose(src);
    return rc;
}

int fs_dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return err_set_errno(ERR_IO, "%s: cannot list directory", path);
    int empty = 1;
    struct dirent *e;
    while (empty && (e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            empty = 0;
    closedir(d);
    return empty;
}

int fs_path_depth(const char *p, size_t len, int depth, int *escaped)
{
    while (len) {
        size_t n = 0;
        while (n < len && p[n] != '/')
            n++;
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (--depth < 0)
                *escaped = 1;
        } else if (n && !(n == 1 && p[0] == '.')) {
            depth++;
        }
        p += n;
        len -= n;
        if (len) {
            p++;
            len--;
        }
    }
    return depth;
}

int fs_path_has_dotdot(const char *p)
{
    for (const char *c = p; *c;) {
        size_t n = strcspn(c, "/");
        if (n == 2 && c[0] == '.' && c[1] == '.')
            return 1;
        c += n;
        while (*c == '/')
            c++;
    }
    return 0;
}

int fs_make_tmp_dir(char **out, const char *prefix)
{
    const char *tmp = getenv("TMPDIR");
    return fs_make_temp_dir(out, tmp && tmp[0] ? tmp : "/tmp", prefix);
}

int fs_make_parents_inside(const char *root, const char *rel, const char *what)
{
    char *path = path_join(root, rel);
    if (!path)
        return err_set(ERR_NOMEM, "out of memory");
    size_t base = strlen(root) + 1;
    int rc = 0;
    for (char *p = path + base; !rc && (p = strchr(p, '/')); p++) {
        *p = '\0';
        struct stat st;
        if (lstat(path, &st) < 0) {
            if (errno != ENOENT || mkdir(path, 0755) < 0)
                rc = err_set_errno(ERR_IO, "%s: cannot create '%s'", what, path + base);
        } else if (!S_ISDIR(st.st_mode))
            rc = err_set(ERR_INVALID, "%s: '%s' goes through '%s', which is %s", what, rel, path + base,
                         S_ISLNK(st.st_mode) ? "a symbolic link" : "not a directory");
        *p = '/';
    }
    free(path);
    return rc;
}
