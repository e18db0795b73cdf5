/* Deterministic image layers: a tar stream written with libarchive, gzipped
 * with zlib, both digests computed while writing (one pass over the data).
 *
 * Determinism rules: the caller adds entries in sorted order; parent
 * directories are emitted explicitly (mode 0755) before their contents; every
 * entry has uid/gid 0, no user or group names, no xattrs or atime, and mtime
 * fixed to the writer's epoch (SOURCE_DATE_EPOCH). A writer comes from
 * oci_layer_begin and is consumed by oci_layer_finish or oci_layer_abort. */
#ifndef AMLPKG_OCI_LAYER_H
#define AMLPKG_OCI_LAYER_H

#include "digest.h"

#include <stdint.h>

/* A finished blob on disk. path is owned (oci_blob_release frees it). */
struct oci_blob {
    char digest[DIGEST_STRING_SIZE];  /* of the bytes in path */
    char diff_id[DIGEST_STRING_SIZE]; /* of the uncompressed tar (layers only) */
    int64_t size;
    char *path;
    const char *media_type;
};

void oci_blob_release(struct oci_blob *blob);

struct oci_layer_writer;

/* Writes the layer into a new file inside work_dir. level is the gzip level
 * (1 = fastest .. 9 = smallest). */
int oci_layer_begin(struct oci_layer_writer **out, const char *work_dir, int64_t mtime, int level);
/* image_path is relative to / ("var/azureml-app"). */
int oci_layer_add_dir(struct oci_layer_writer *w, const char *image_path);
/* Adds a host file (regular file or symlink), keeping its permission bits. */
int oci_layer_add_file(struct oci_layer_writer *w, const char *image_path, const char *host_path);
/* Adds a host file or directory tree (sorted, recursively) at image_path. */
int oci_layer_add_tree(struct oci_layer_writer *w, const char *image_path, const char *host_path);
int oci_layer_finish(struct oci_layer_writer *w, struct oci_blob *out);
void oci_layer_abort(struct oci_layer_writer *w);

#endif
