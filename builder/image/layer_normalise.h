/* Re-writing a layer a container engine built (the executor's environment
 * stage) so that the same steps give the same bytes on every machine:
 *   - entries sorted by path (a hard link's group keeps its data on the first
 *     name in that order, so every link still follows its target);
 *   - one mtime (the caller's epoch), no atime/ctime, no user or group names;
 *   - owner, group and permission bits kept as the steps left them (a `chown
 *     app` or `chmod 1777` is meant; inputs the engine copies are staged with
 *     fixed modes, and the engine runs steps under umask 022);
 *   - what the engine adds on its own dropped: /run/.containerenv, /.dockerenv,
 *     the empty /etc/hostname, /etc/hosts and /etc/resolv.conf mount points,
 *     SELinux labels and overlay bookkeeping xattrs (an overlay "opaque"
 *     directory mark becomes the DIR/.wh..wh..opq entry layer tars use);
 *   - a path the tar holds twice kept once, as its last entry says.
 * The result is a gzip layer (zlib, the given level), like amlpkg's own. */
#ifndef AMLPKG_LAYER_NORMALISE_H
#define AMLPKG_LAYER_NORMALISE_H

#include "builder/image/oci_layer.h"

#include <stddef.h>
#include <stdint.h>

/* Reads the layer blob at in_path (tar, gzip or zstd) and writes its normalised
 * form into a new file in work_dir (*out; release with oci_blob_release and
 * unlink). what names the layer in messages; *dropped (may be NULL) receives
 * the number of engine entries left out. */
int layer_normalise(struct oci_blob *out, const char *in_path, const char *work_dir, int64_t mtime, int gzip_level,
                    const char *what, size_t *dropped);

/* A plain tar layer gzipped as it is (the bytes inside unchanged, so its diff_id stays): the engine's
 * copy of a base layer, saved uncompressed, compressed the same way on every machine. out->diff_id
 * is set from diff_id. */
int layer_gzip(struct oci_blob *out, const char *in_path, const char *diff_id, const char *work_dir, int gzip_level);

/* 1 when the entry at path (relative, no "./") is one the engine adds by itself. */
int layer_normalise_is_engine_noise(const char *path, int regular, int64_t size);

#endif
