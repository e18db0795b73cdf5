/* Blob, manifest and tag-list operations of the OCI distribution API, on top of
 * registry_call(). Every function works on one connection (one thread).
 *
 * Uploads: HEAD first (an existing blob is never sent again), cross-repo
 * mount when a source repository on the same registry is known, one
 * monolithic PUT for blobs up to the chunk size (AMLPKG_CHUNK_SIZE, default
 * 64 MiB) and PATCH chunks beyond, resuming from the registry's Range after a
 * dropped connection. Downloads go to a temporary file beside the
 * destination, are SHA-256-verified and renamed into place only when the
 * digest and size match: nothing unverified is ever kept. */
#ifndef AMLPKG_REGISTRY_BLOB_H
#define AMLPKG_REGISTRY_BLOB_H

#include "builder/registry/registry.h"

#define MEDIA_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MEDIA_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MEDIA_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MEDIA_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MANIFEST_LIMIT (4 << 20)

enum blob_result { BLOB_EXISTED, BLOB_MOUNTED, BLOB_UPLOADED };

int registry_blob_exists(struct registry_conn *c, int *out, const char *repo, const char *digest);
/* mount_from: a repository on the same registry that may hold the blob, or NULL. */
int registry_blob_push(struct registry_conn *c, enum blob_result *out, const char *repo, const char *digest,
                       int64_t size, const char *path, const char *mount_from);
int registry_blob_pull(struct registry_conn *c, const char *repo, const char *digest, int64_t size,
                       const char *dest_path);
/* GETs a small blob (a config: at most MANIFEST_LIMIT) into out, verified
 * against digest and size. */
int registry_blob_get(struct registry_conn *c, struct buf *out, const char *repo, const char *digest, int64_t size);
/* GETs a manifest or index by tag or digest. media_type gets the Content-Type
 * (or the document's mediaType), digest the verified sha256 of the bytes. */
int registry_manifest_get(struct registry_conn *c, struct buf *out, char media_type[256], char digest[72],
                          const char *repo, const char *id);
/* subject_ack (may be NULL) is set to 1 when the registry answered with
 * OCI-Subject: it recorded the manifest's subject for the referrers API. */
int registry_manifest_put(struct registry_conn *c, const char *repo, const char *id, const char *data, size_t len,
                          const char *media_type, int *subject_ack);
/* HEADs a manifest by tag or digest: *out is 1 when the registry has it and
 * says its digest is want (so a PUT would change nothing), 0 otherwise. */
int registry_manifest_has(struct registry_conn *c, int *out, const char *repo, const char *id, const char *want);
/* All tags of repo, following the registry's Link pagination (page_size per
 * request, 0 for the registry's default). *out is a malloc'd array of
 * malloc'd strings in the registry's order; free it with registry_tags_free. */
int registry_tags_list(struct registry_conn *c, char ***out, size_t *out_n, const char *repo, long page_size);
void registry_tags_free(char **tags, size_t n);
/* The URL of a Link header's rel="next" entry into out ("" when there is none). */
int registry_link_next(char *out, size_t size, const char *link);

/* 1 for an index / manifest list media type. */
int registry_media_is_index(const char *media_type);

#endif
