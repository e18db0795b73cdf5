#include "builder/env/conda_extract.h"

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

#define CHUNK (1u << 16)

static int nomem(void)
{
    return err_set(ERR_NOMEM, "out of memory");
}

/* A member name made relative ("./a" -> "a"); NULL when it must be refused. */
static const char *member_name(const char *name)
{
    while (name[0] == '.' && name[1] == '/')
        name += 2;
    if (name[0] == '/' || fs_path_has_dotdot(name))
        return NULL;
    return name;
}

static int write_data(struct archive *a, int fd, const char *what, const char *name)
{
    static __thread char chunk[CHUNK];
    for (;;) {
        la_ssize_t n = archive_read_data(a, chunk, sizeof chunk);
        if (n == 0)
            return 0;
        if (n < 0)
            return err_set(ERR_INVALID, "%s: entry '%s': %s", what, name, archive_error_string(a));
        for (la_ssize_t off = 0; off < n;) {
            ssize_t w = write(fd, chunk + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return err_set_errno(ERR_IO, "%s: writing '%s'", what, name);
            off += w;
        }
    }
}

static int extract_entry(struct archive *a, struct archive_entry *e, const char *dir, const char *what)
{
    const char *raw = archive_entry_pathname(e), *name = raw ? member_name(raw) : NULL;
    if (!name)
        return err_set(ERR_INVALID, "%s: entry '%s' leaves the package (absolute or '..')", what, raw ? raw : "");
    size_t len = strlen(name);
    while (len && name[len - 1] == '/')
        len--;
    if (!len)
        return 0;
    char *rel = strndup(name, len), *path = NULL, *target = NULL;
    int rc = rel ? fs_make_parents_inside(dir, rel, what) : nomem();
    if (!rc && !(path = path_join(dir, rel)))
        rc = nomem();
    if (rc)
        goto done;
    const char *hard = archive_entry_hardlink(e);
    unsigned type = archive_entry_filetype(e);
    struct stat st;
    if (hard) {
        const char *t = member_name(hard);
        if (!t || !(target = path_join(dir, t)))
            rc = t ? nomem() : err_set(ERR_INVALID, "%s: hard link '%s' points outside the package", what, rel);
        else if (lstat(target, &st) < 0 || !S_ISREG(st.st_mode))
            rc = err_set(ERR_INVALID, "%s: hard link '%s' -> '%s': no such file earlier in the package", what, rel, t);
        else if ((unlink(path) < 0 && errno != ENOENT) || link(target, path) < 0)
            rc = err_set_errno(ERR_IO, "%s: linking '%s'", what, rel);
    } else if (type == AE_IFDIR) {
        if (mkdir(path, 0755) < 0 && !(errno == EEXIST && lstat(path, &st) == 0 && S_ISDIR(st.st_mode)))
            rc = err_set_errno(ERR_IO, "%s: cannot create '%s'", what, rel);
    } else if (type == AE_IFLNK) {
        const char *to = archive_entry_symlink(e);
        if (!to || !to[0])
            rc = err_set(ERR_INVALID, "%s: symbolic link '%s' has no target", what, rel);
        else if ((unlink(path) < 0 && errno != ENOENT) || symlink(to, path) < 0)
            rc = err_set_errno(ERR_IO, "%s: cannot create the link '%s'", what, rel);
    } else if (type == AE_IFREG) {
        unsigned mode = (archive_entry_perm(e) & 0111) ? 0755 : 0644;
        int fd = -1;
        if ((unlink(path) < 0 && errno != ENOENT) ||
            (fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)) < 0)
            rc = err_set_errno(ERR_IO, "%s: cannot create '%s'", what, rel);
        else
            rc = write_data(a, fd, what, rel);
        if (fd >= 0 && close(fd) < 0 && !rc)
            rc = err_set_errno(ERR_IO, "%s: writing '%s'", what, rel);
    } else
        rc = err_set(ERR_INVALID, "%s: entry '%s' is not a file, directory or link", what, rel);
done:
    free(rel);
    free(path);
    free(target);
    return rc;
}

/* Every entry of an opened tar stream into dir. */
static int extract_tar(struct archive *a, const char *dir, const char *what)
{
    struct archive_entry *e;
    int r, rc = 0;
    while (!rc && (r = archive_read_next_header(a, &e)) != ARCHIVE_EOF) {
        if (r < ARCHIVE_WARN)
            return err_set(ERR_INVALID, "%s: not a readable package: %s", what, archive_error_string(a));
        rc = extract_entry(a, e, dir, what);
    }
    return rc;
}

static struct archive *tar_reader(void)
{
    struct archive *a = archive_read_new();
    if (a) {
        archive_read_support_filter_all(a);
        archive_read_support_format_tar(a);
    }
    return a;
}

/* The inner tarball's bytes, straight from the zip entry being read. */
struct inner {
    struct archive *outer;
    char chunk[CHUNK];
};

static la_ssize_t read_inner(struct archive *a, void *ctx, const void **out)
{
    (void)a;
    struct inner *in = ctx;
    *out = in->chunk;
    return archive_read_data(in->outer, in->chunk, sizeof in->chunk);
}

static int has_prefix_suffix(const char *s, const char *prefix, const char *suffix)
{
    size_t n = strlen(s), p = strlen(prefix), x = strlen(suffix);
    return n > p + x && !strncmp(s, prefix, p) && !strcmp(s + n - x, suffix);
}

static int extract_conda(const char *path, const char *dir, const char *what)
{
    struct archive *zip = archive_read_new();
    struct inner *in = malloc(sizeof *in);
    int rc = 0, r, parts = 0;
    if (!zip || !in) {
        rc = nomem();
        goto done;
    }
    archive_read_support_format_zip(zip);
    if (archive_read_open_filename(zip, path, CHUNK) != ARCHIVE_OK) {
        rc = err_set(ERR_INVALID, "%s: not a .conda package (a zip): %s", what, archive_error_string(zip));
        goto done;
    }
    in->outer = zip;
    struct archive_entry *e;
    while (!rc && (r = archive_read_next_header(zip, &e)) != ARCHIVE_EOF) {
        if (r < ARCHIVE_WARN) {
            rc = err_set(ERR_INVALID, "%s: not a readable .conda package: %s", what, archive_error_string(zip));
            break;
        }
        const char *name = archive_entry_pathname(e);
        if (!name || (!has_prefix_suffix(name, "info-", ".tar.zst") && !has_prefix_suffix(name, "pkg-", ".tar.zst")))
            continue; /* metadata.json */
        struct archive *tar = tar_reader();
        if (!tar)
            rc = nomem();
        else if (archive_read_open(tar, in, NULL, read_inner, NULL) != ARCHIVE_OK)
            rc = err_set(ERR_INVALID, "%s: '%s': %s", what, name, archive_error_string(tar));
        else {
            char inner_what[600];
            snprintf(inner_what, sizeof inner_what, "%s: %s", what, name);
            rc = extract_tar(tar, dir, inner_what);
            parts++;
        }
        if (tar)
            archive_read_free(tar);
    }
    if (!rc && parts != 2)
        rc = err_set(ERR_INVALID, "%s: a .conda package holds info-*.tar.zst and pkg-*.tar.zst; found %d of them", what,
                     parts);
done:
    if (zip)
        archive_read_free(zip);
    free(in);
    return rc;
}

static int extract_bz2(const char *path, const char *dir, const char *what)
{
    struct archive *a = tar_reader();
    int rc = 0;
    if (!a)
        return nomem();
    if (archive_read_open_filename(a, path, CHUNK) != ARCHIVE_OK)
        rc = err_set(ERR_INVALID, "%s: not a .tar.bz2 package: %s", what, archive_error_string(a));
    else
        rc = extract_tar(a, dir, what);
    archive_read_free(a);
    return rc;
}

int conda_extract(const char *path, const char *filename, const char *dir, const char *what)
{
    size_t n = strlen(filename);
    if (n > 6 && !strcmp(filename + n - 6, ".conda"))
        return extract_conda(path, dir, what);
    return extract_bz2(path, dir, what);
}
