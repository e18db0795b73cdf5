/* Reading a docker-archive (the `docker save` / `podman save --format
 * docker-archive` layout: manifest.json naming one image's config and layer
 * files, which may be links, by path). Regular files are unpacked into a
 * caller-owned directory; links are resolved lexically and never created; a
 * member path that leaves the archive is ignored. Layers are taken as the
 * archive holds them (plain tar, gzip or zstd: the bytes say, since a
 * docker-archive names no media types), each hashed as it is stored. */
#ifndef AMLPKG_DOCKER_ARCHIVE_H
#define AMLPKG_DOCKER_ARCHIVE_H

#include "common/buf.h"
#include "builder/sys/digest.h"
#include "builder/image/oci_layer.h"

#include <stddef.h>

struct docker_archive {
    /* set by the caller */
    const char *context; /* message prefix: "amlpkg push", "spec.yaml: environment.base_image" */
    const char *dir;     /* an existing directory to unpack into */
    /* results: the config's bytes and digest, the layers (paths in dir) */
    struct buf config;
    char config_digest[DIGEST_STRING_SIZE];
    struct oci_blob *layers;
    size_t n_layers;
};

/* Unpacks and reads the docker-archive at path. Release with docker_archive_release. */
int docker_archive_load(struct docker_archive *d, const char *path);
void docker_archive_release(struct docker_archive *d);

/* The OCI layer media type of a layer file by its first bytes, or NULL when it
 * is neither a tar nor a gzip or zstd stream. */
const char *docker_archive_layer_type(const char *path);

#endif
