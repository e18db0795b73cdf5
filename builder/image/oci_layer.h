/* Deterministic image layers: a tar stream written with libarchive, then
 * gzipped with zlib, zstd-compressed by libarchive's zstd filter, or stored as
 * a plain tar; both digests are computed while writing (one pass over the data).
 *
 * Determinism rules: the caller adds entries in sorted order; parent
 * directories are emitted explicitly (mode 0755) before their contents; every
 * entry has uid/gid 0, no user or group names, no xattrs or atime, and mtime
 * fixed to the writer's epoch (SOURCE_DATE_EPOCH). A writer comes from
 * oci_layer_begin and is consumed by oci_layer_finish or oci_layer_abort. */
#ifndef AMLPKG_OCI_LAYER_H
#define AMLPKG_OCI_LAYER_H

#include "builder/sys/digest.h"

#include <stdint.h>

/* A finished blob on disk. path is owned (oci_blob_release frees it). */
struct oci_blob {
    char digest[DIGEST_STRING_SIZE];  /* of the bytes in path */
    char diff_id[DIGEST_STRING_SIZE]; /* of the uncompressed tar (layers only) */
    int64_t size;
    char *path;
    int64_t offset; /* where the bytes start in path: 0, or room left for a tar header (oci_layer_leave_room) */
    const char *media_type;
};

void oci_blob_release(struct oci_blob *blob);

/* The most bytes a layer taken from elsewhere (a base image) may expand to, or
 * a docker-archive's layer may hold: AMLPKG_MAX_LAYER_MB MiB, 65536 (64 GiB)
 * unless set. A small gzip of zeros would otherwise cost its whole expansion
 * in time, or in $TMPDIR. */
int64_t oci_layer_max_bytes(void);

struct oci_layer_writer;

enum oci_compression {
    OCI_COMPRESSION_AUTO, /* resolved per layer by oci_layer_choose_compression */
    OCI_COMPRESSION_GZIP,
    OCI_COMPRESSION_ZSTD,
    OCI_COMPRESSION_NONE,
};

#define OCI_MEDIA_TYPE_LAYER "application/vnd.oci.image.layer.v1.tar"
#define OCI_MEDIA_TYPE_LAYER_GZIP OCI_MEDIA_TYPE_LAYER "+gzip"
#define OCI_MEDIA_TYPE_LAYER_ZSTD OCI_MEDIA_TYPE_LAYER "+zstd"

/* "gzip", "zstd", "none" or "auto" to its enum; -1 for anything else. */
int oci_compression_parse(const char *name);
const char *oci_compression_name(enum oci_compression c);

/* What auto means for a layer made of these host files or trees: a plain tar
 * when it holds at least 1 MiB and the first MiB of its largest file does not
 * compress (deflated size over 90%: model weights), gzip otherwise. The choice
 * depends on the bytes only, so it reproduces like the rest of the layer. */
int oci_layer_choose_compression(enum oci_compression *out, const char *const *host_paths, size_t n);

/* Adds the bytes of the regular files under host_path (a file or a tree) to *total. */
int oci_layer_input_bytes(const char *host_path, int64_t *total);

/* Writes the layer into a new file inside work_dir. compression is GZIP, ZSTD
 * or NONE; level is the gzip level (1 = fastest .. 9 = smallest; zstd uses 1
 * for level 1 and its default 3 above). */
int oci_layer_begin(struct oci_layer_writer **out, const char *work_dir, int64_t mtime,
                    enum oci_compression compression, int level);
/* image_path is relative to / ("var/azureml-app"). */
int oci_layer_add_dir(struct oci_layer_writer *w, const char *image_path);
/* Adds a host file (regular file or symlink), its permission bits normalised (oci_layer_mode). */
/* The permission bits a layer records for a host file: 0755 for directories and
 * files with any execute bit, 0644 for other files, whatever the umask or the
 * host's owner and group bits (like ko and apko): the same digest on every
 * machine. Owner and group are always 0:0. */
unsigned oci_layer_mode(unsigned st_mode);
int oci_layer_add_file(struct oci_layer_writer *w, const char *image_path, const char *host_path);
/* Adds a host file or directory tree (sorted, recursively) at image_path. */
int oci_layer_add_tree(struct oci_layer_writer *w, const char *image_path, const char *host_path);
/* The same, keeping hard links: a file with several names in the tree is written once, under the name
 * that comes first in the sorted walk, and its other names become tar hard-link entries to it. */
int oci_layer_add_tree_keeping_links(struct oci_layer_writer *w, const char *image_path, const char *host_path);
/* An entry taken from another layer (layer_normalise.h): owner, group and permission bits (setuid,
 * setgid, sticky) are kept, because a step that ran `chown` or `chmod 1777` meant them; user and group
 * names, atime and ctime are dropped and mtime is the writer's. type is S_IFREG, S_IFDIR, S_IFLNK or
 * S_IFIFO; hardlink (a regular file's) or symlink names the target; xattrs are name/value pairs. */
struct oci_layer_xattr {
    const char *name;
    const void *value;
    size_t size;
};
struct oci_layer_entry {
    const char *path;
    unsigned type, perm;
    int64_t uid, gid;
    int64_t size; /* regular files: the body's size, read from data_fd at data_offset */
    const char *symlink, *hardlink;
    const struct oci_layer_xattr *xattrs;
    size_t n_xattrs;
};
/* Adds e as it is (no parents added: the caller writes a whole, sorted tree). */
int oci_layer_add_entry(struct oci_layer_writer *w, const struct oci_layer_entry *e, int data_fd, int64_t data_offset);
/* Starts the blob bytes this far into the file, before anything is added:
 * room for the header that makes the file an archive of the layer in place. */
int oci_layer_leave_room(struct oci_layer_writer *w, int64_t bytes);
int oci_layer_finish(struct oci_layer_writer *w, struct oci_blob *out);
void oci_layer_abort(struct oci_layer_writer *w);

#endif
