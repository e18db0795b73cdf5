/* The libarchive functions amlpkg calls, loaded on first use (lazy_lib.h).
 * libarchive brings libxml2, ICU and libstdc++ along (about 6 ms of start-up);
 * a rebuild whose layers all come from the cache writes its archive with
 * tar_writer.c and never needs it. */
#include "builder/sys/lazy_lib.h"

#include <archive.h>
#include <archive_entry.h>

#ifndef AMLPKG_ARCHIVE_SONAME
#define AMLPKG_ARCHIVE_SONAME "libarchive.so.13"
#endif

static struct lazy_lib archive = LAZY_LIB(AMLPKG_ARCHIVE_SONAME);

typedef struct archive A;
typedef struct archive_entry E;

/* Reading (base images, docker archives, layer scans) */
LAZY_FORWARD(archive, A *, archive_read_new, (void), ())
LAZY_FORWARD(archive, int, archive_read_free, (A * a), (a))
LAZY_FORWARD(archive, int, archive_read_support_filter_all, (A * a), (a))
LAZY_FORWARD(archive, int, archive_read_support_format_tar, (A * a), (a))
LAZY_FORWARD(archive, int, archive_read_support_format_raw, (A * a), (a))
LAZY_FORWARD(archive, int, archive_read_open_filename, (A * a, const char *path, size_t block), (a, path, block))
LAZY_FORWARD(archive, int, archive_read_next_header, (A * a, E **e), (a, e))
LAZY_FORWARD(archive, la_ssize_t, archive_read_data, (A * a, void *buf, size_t len), (a, buf, len))
LAZY_FORWARD(archive, int, archive_read_data_skip, (A * a), (a))
/* Conda packages: .conda is a zip of zstd tarballs, read through a callback from the zip's entry */
LAZY_FORWARD(archive, int, archive_read_support_format_zip, (A * a), (a))
LAZY_FORWARD(archive, int, archive_read_open,
             (A * a, void *ctx, archive_open_callback *open, archive_read_callback *read,
              archive_close_callback *close),
             (a, ctx, open, read, close))
LAZY_FORWARD(archive, la_int64_t, archive_filter_bytes, (A * a, int n), (a, n))
/* A plain-tar base layer: no compression filter may have been taken off */
LAZY_FORWARD(archive, int, archive_filter_count, (A * a), (a))
LAZY_FORWARD(archive, const char *, archive_filter_name, (A * a, int n), (a, n))

/* Writing (layers) */
LAZY_FORWARD(archive, A *, archive_write_new, (void), ())
LAZY_FORWARD(archive, int, archive_write_free, (A * a), (a))
LAZY_FORWARD(archive, int, archive_write_close, (A * a), (a))
LAZY_FORWARD(archive, int, archive_write_set_format_pax_restricted, (A * a), (a))
LAZY_FORWARD(archive, int, archive_write_set_format_raw, (A * a), (a))
LAZY_FORWARD(archive, int, archive_write_add_filter_none, (A * a), (a))
LAZY_FORWARD(archive, int, archive_write_add_filter_zstd, (A * a), (a))
LAZY_FORWARD(archive, int, archive_write_set_bytes_per_block, (A * a, int bytes), (a, bytes))
LAZY_FORWARD(archive, int, archive_write_set_filter_option, (A * a, const char *m, const char *o, const char *v),
             (a, m, o, v))
LAZY_FORWARD(archive, int, archive_write_open2,
             (A * a, void *ctx, archive_open_callback *open, archive_write_callback *write,
              archive_close_callback *close, archive_free_callback *free),
             (a, ctx, open, write, close, free))
LAZY_FORWARD(archive, int, archive_write_header, (A * a, E *e), (a, e))
LAZY_FORWARD(archive, la_ssize_t, archive_write_data, (A * a, const void *buf, size_t len), (a, buf, len))

/* Entries */
LAZY_FORWARD(archive, E *, archive_entry_new, (void), ())
LAZY_FORWARD(archive, E *, archive_entry_new2, (A * a), (a))
LAZY_FORWARD_VOID(archive, archive_entry_free, (E * e), (e))
LAZY_FORWARD(archive, const char *, archive_entry_pathname, (E * e), (e))
LAZY_FORWARD(archive, __LA_MODE_T, archive_entry_filetype, (E * e), (e))
LAZY_FORWARD(archive, const char *, archive_entry_symlink, (E * e), (e))
LAZY_FORWARD(archive, const char *, archive_entry_hardlink, (E * e), (e))
LAZY_FORWARD(archive, __LA_MODE_T, archive_entry_perm, (E * e), (e))
LAZY_FORWARD(archive, la_int64_t, archive_entry_size, (E * e), (e))
LAZY_FORWARD(archive, int, archive_entry_size_is_set, (E * e), (e))
LAZY_FORWARD_VOID(archive, archive_entry_set_pathname, (E * e, const char *path), (e, path))
LAZY_FORWARD_VOID(archive, archive_entry_set_filetype, (E * e, unsigned int type), (e, type))
LAZY_FORWARD_VOID(archive, archive_entry_set_perm, (E * e, __LA_MODE_T perm), (e, perm))
LAZY_FORWARD_VOID(archive, archive_entry_set_size, (E * e, la_int64_t size), (e, size))
LAZY_FORWARD_VOID(archive, archive_entry_set_mtime, (E * e, time_t t, long ns), (e, t, ns))
LAZY_FORWARD_VOID(archive, archive_entry_set_uid, (E * e, la_int64_t id), (e, id))
LAZY_FORWARD_VOID(archive, archive_entry_set_gid, (E * e, la_int64_t id), (e, id))
LAZY_FORWARD_VOID(archive, archive_entry_set_symlink, (E * e, const char *target), (e, target))
/* Entries copied from an engine's layer (layer_normalise.c) */
LAZY_FORWARD(archive, la_int64_t, archive_entry_uid, (E * e), (e))
LAZY_FORWARD(archive, la_int64_t, archive_entry_gid, (E * e), (e))
LAZY_FORWARD_VOID(archive, archive_entry_set_hardlink, (E * e, const char *target), (e, target))
LAZY_FORWARD(archive, int, archive_entry_xattr_reset, (E * e), (e))
LAZY_FORWARD(archive, int, archive_entry_xattr_next, (E * e, const char **name, const void **value, size_t *size),
             (e, name, value, size))
LAZY_FORWARD_VOID(archive, archive_entry_xattr_add_entry, (E * e, const char *name, const void *value, size_t size),
                  (e, name, value, size))

/* Messages and versions */
LAZY_FORWARD(archive, const char *, archive_error_string, (A * a), (a))
LAZY_FORWARD(archive, const char *, archive_version_string, (void), ())
LAZY_FORWARD(archive, const char *, archive_libzstd_version, (void), ())

/* Reading a wheel (pip section of amlpkg lock): a zip in memory */
LAZY_FORWARD(archive, int, archive_read_open_memory, (A * a, const void *buf, size_t size), (a, buf, size))
