#include "builder/env/base_probe.h"

#include "builder/env/base_image.h"
#include "common/buf.h"
#include "common/err.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define LIBC_LIMIT (64u << 20)

int base_probe_glibc_banner(char *out, size_t size, const char *data, size_t len)
{
    static const char key[] = "release version ";
    for (const char *p = data, *end = data + len; (p = memmem(p, (size_t)(end - p), key, sizeof key - 1)); p++) {
        const char *v = p + sizeof key - 1, *q = v;
        while (q < end && (isdigit((unsigned char)*q) || *q == '.'))
            q++;
        while (q > v && q[-1] == '.')
            q--; /* the sentence's full stop */
        const char *dot = memchr(v, '.', (size_t)(q - v));
        if (q > v && isdigit((unsigned char)*v) && dot && dot + 1 < q && (size_t)(q - v) < size) {
            snprintf(out, size, "%.*s", (int)(q - v), v);
            return 0;
        }
    }
    return 1;
}

/* lib/, lib64/, usr/lib/, usr/lib64/, optionally a triplet folder, then libc.so.6 or libc-X.Y.so. */
static int is_libc_path(const char *path)
{
    while (*path == '.' && path[1] == '/')
        path += 2;
    while (*path == '/')
        path++;
    if (!strncmp(path, "usr/", 4))
        path += 4;
    if (!strncmp(path, "lib64/", 6))
        path += 6;
    else if (!strncmp(path, "lib/", 4))
        path += 4;
    else
        return 0;
    const char *slash = strchr(path, '/');
    if (slash && !strchr(slash + 1, '/') && strstr(path, "-linux-gnu"))
        path = slash + 1;
    if (strchr(path, '/'))
        return 0;
    size_t n = strlen(path);
    return !strcmp(path, "libc.so.6") ||
           (!strncmp(path, "libc-", 5) && n > 8 && !strcmp(path + n - 3, ".so") && isdigit((unsigned char)path[5]));
}

/* The glibc version in one layer: 0 and out set, 1 when the layer holds no libc. */
static int layer_glibc(char *out, size_t size, const char *path, const char *what)
{
    struct archive *a = archive_read_new();
    if (!a)
        return err_set(ERR_NOMEM, "out of memory");
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    int rc = 1;
    if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
        rc = err_set(ERR_IO, "%s: cannot read: %s", what, archive_error_string(a));
        archive_read_free(a);
        return rc;
    }
    struct archive_entry *e;
    struct buf data;
    buf_init(&data, LIBC_LIMIT);
    while (rc == 1 && archive_read_next_header(a, &e) == ARCHIVE_OK) {
        if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e) ||
            !is_libc_path(archive_entry_pathname(e)) || archive_entry_size(e) > (la_int64_t)LIBC_LIMIT)
            continue;
        buf_reset(&data);
        char chunk[1 << 16];
        la_ssize_t got;
        while ((got = archive_read_data(a, chunk, sizeof chunk)) > 0)
            if (buf_append(&data, chunk, (size_t)got))
                break;
        if (got < 0) {
            rc = err_set(ERR_IO, "%s: %s: cannot read: %s", what, archive_entry_pathname(e), archive_error_string(a));
            break;
        }
        if (!base_probe_glibc_banner(out, size, data.data ? data.data : "", data.len))
            rc = 0;
    }
    buf_release(&data);
    archive_read_free(a);
    return rc;
}

static const char *conda_arch(const char *oci)
{
    static const char *const map[][2] = {{"amd64", "x86_64"}, {"arm64", "aarch64"}, {"ppc64le", "ppc64le"},
                                         {"s390x", "s390x"},  {"386", "x86"},       {"arm", "armv7l"}};
    for (size_t i = 0; oci && i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(oci, map[i][0]))
            return map[i][1];
    return oci;
}

int base_probe(struct base_probe *out, const char *base, const char *spec_dir, const char *context)
{
    memset(out, 0, sizeof *out);
    struct base_image *b = NULL;
    struct base_image_options bo = {.context = context};
    int rc = base_image_open(&b, base, spec_dir, &bo);
    if (rc)
        return rc;
    const struct oci_base *o = base_image_oci(b);
    snprintf(out->arch, sizeof out->arch, "%s", conda_arch(o->architecture) ? conda_arch(o->architecture) : "");
    for (size_t i = 0; i < o->n_env; i++) {
        unsigned major, minor;
        if (!strncmp(o->env[i], "CUDA_VERSION=", 13) && sscanf(o->env[i] + 13, "%u.%u", &major, &minor) == 2)
            snprintf(out->cuda, sizeof out->cuda, "%u.%u", major, minor);
    }
    /* The top-most layer that holds a libc is the one the container sees. */
    for (size_t i = o->n_layers; i-- > 0 && !rc;) {
        char what[1200];
        snprintf(what, sizeof what, "%s: layer %zu", context, i + 1);
        rc = layer_glibc(out->glibc, sizeof out->glibc, o->layers[i].path, what);
        if (rc == 1) {
            rc = 0;
            continue;
        }
        break;
    }
    base_image_free(b);
    return rc;
}
