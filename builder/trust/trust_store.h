/* Where trust material lives beside an image (internal to builder/trust): a registry repository,
 * an OCI layout directory, or an oci-archive (unpacked, edited as a layout, written back).
 *
 * Two kinds of artifact are kept there:
 *   - cosign's signature manifest, found by the tag sha256-<hex>.sig in a registry;
 *   - referrers (the provenance), manifests whose subject is the image, found through the
 *     referrers API or its fallback tag (registry_referrers.h).
 * In a layout either is an index entry with its artifactType and com.amlpkg.artifact.for = the
 * image digest. In an oci-archive a second index entry would make podman load and skopeo ask which
 * image to take, so the image's own entry names it in an annotation (trust_store_annotation).
 *
 * struct trust_store is caller-owned: trust_store_open fills it, trust_store_close releases it
 * (and is safe after a failed open). The registry is borrowed when given to trust_store_attach. */
#ifndef AMLPKG_TRUST_STORE_H
#define AMLPKG_TRUST_STORE_H

#include "builder/image/image_source.h"
#include "builder/registry/registry.h"
#include "common/buf.h"

#define TRUST_STORE_MAX_FOUND 16

struct trust_store {
    struct registry *reg; /* borrowed when !own_reg */
    int own_reg;
    struct registry_conn *c;
    char repo[256];
    struct image_source *src; /* a layout or archive */
    int borrowed_src;         /* src belongs to the caller (trust_store_use_source) */
    int is_archive;
    char *work; /* temporary directory for blobs on their way */
    char image_digest[72];
    long long image_size;
    char image_media_type[256];
    char default_identity[512]; /* the name the image goes by: the reference, or the layout's ref name */
    char location[1024];
};

int trust_store_open(struct trust_store *s, const char *target, const struct registry_options *opt);
/* The image of an open layout or archive (borrowed: trust_store_close leaves it open). */
int trust_store_use_source(struct trust_store *s, struct image_source *src);
/* For an image just pushed: repo@digest on reg (borrowed). */
int trust_store_attach(struct trust_store *s, struct registry *reg, const char *repo, const char *digest);
void trust_store_close(struct trust_store *s);

/* The manifests of artifact_type kept for the image: by tag in a registry when tag is set (cosign's
 * .sig), else by referrers; up to TRUST_STORE_MAX_FOUND digests into found. */
int trust_store_find(struct trust_store *s, char found[][72], size_t *n_found, const char *artifact_type,
                     const char *tag);
/* A manifest or blob, digest-verified. */
int trust_store_read(struct trust_store *s, struct buf *out, const char *digest, long long size, int manifest);
/* Stores an artifact: blobs (data, media type) and its manifest; in a registry under tag, or by
 * digest and recorded as a referrer of the image when tag is NULL. */
struct trust_blob {
    const struct buf *data;
    const char *media_type;
};
int trust_store_put(struct trust_store *s, const char *artifact_type, const struct trust_blob *blobs, size_t n,
                    const struct buf *manifest, const char *tag);

#endif
