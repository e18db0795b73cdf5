/* Image references: "registry/repository:tag" and "...@sha256:<hex>".
 *
 * Follows the grammar of distribution/reference that docker, podman and skopeo
 * share: the first path component is a registry when it contains '.' or ':'
 * or is "localhost"; otherwise the registry is Docker Hub ("docker.io") and a
 * single-component name gets the "library/" prefix. With neither tag nor
 * digest the tag is "latest". struct reference is caller-owned and holds fixed
 * buffers, so it needs no release. */
#ifndef AMLPKG_REFERENCE_H
#define AMLPKG_REFERENCE_H

#include <stddef.h>

#define REFERENCE_DEFAULT_REGISTRY "docker.io"
#define REFERENCE_NAME_MAX 255

struct reference {
    char registry[256];   /* "docker.io", "localhost:5000", "[::1]:5000" */
    char repository[256]; /* "library/ubuntu", "team/ridge" */
    char tag[129];        /* "" when only a digest was given */
    char digest[72];      /* "sha256:<64 hex>" or "" */
};

/* Parses text; on error sets "invalid image reference 'text': why". */
int reference_parse(struct reference *out, const char *text);
/* "registry/repository[:tag][@digest]" into out (truncated to size). */
void reference_format(char *out, size_t size, const struct reference *ref);
/* What to put after /manifests/: the digest when there is one, else the tag. */
const char *reference_manifest_id(const struct reference *ref);
/* Host[:port] to connect to (Docker Hub's API lives at registry-1.docker.io). */
const char *reference_api_host(const struct reference *ref);
/* 1 when host[:port] is loopback (localhost, 127.0.0.0/8, ::1). */
int reference_host_is_loopback(const char *host);
/* 1 when s is "sha256:" followed by 64 lower-case hex digits. */
int reference_valid_digest(const char *s);

/* Where an image is: the transports skopeo and podman write before it.
 *   docker://REF            a registry (REF as above)
 *   oci-archive:PATH        a tar of an OCI image layout (plain or compressed)
 *   docker-archive:PATH     the `docker save` / `podman save` layout
 *   oci:DIR[:TAG]           an OCI image layout directory (TAG: its ref.name)
 *   anything else           IMAGE_UNSPECIFIED: a path when one exists, else a
 *                           registry reference (image_location_resolve)
 * rest points into the text that was parsed (the part after the prefix). */
enum image_transport {
    IMAGE_UNSPECIFIED,
    IMAGE_REGISTRY,
    IMAGE_OCI_ARCHIVE,
    IMAGE_DOCKER_ARCHIVE,
    IMAGE_OCI_LAYOUT,
    IMAGE_LOCAL_PATH, /* resolved: an existing file or directory, read by its contents */
};

struct image_location {
    enum image_transport transport;
    const char *rest;
};

/* Splits off the transport; an empty rest is refused ("oci-archive:" alone).
 * A docker:// reference is checked with reference_parse. */
int image_location_parse(struct image_location *out, const char *text);
/* IMAGE_UNSPECIFIED becomes IMAGE_LOCAL_PATH when rest exists on disk (or is
 * "DIR:NAME" of an existing layout directory), else IMAGE_REGISTRY when rest
 * parses as a reference naming its registry (host with '.', ':' or localhost),
 * else an error saying the path does not exist. */
int image_location_resolve(struct image_location *loc, const char *text);
/* "docker://", "oci-archive:", ...: the prefix for a transport ("" for a plain path). */
const char *image_transport_prefix(enum image_transport t);

#endif
