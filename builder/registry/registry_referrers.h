/* Referrers of a manifest (OCI distribution spec 1.1): artifacts whose
 * `subject` names it, such as the SBOM amlpkg pushes beside an image.
 *
 * Registries with the referrers API list them at GET
 * /v2/<name>/referrers/<digest> and acknowledge a subject on manifest PUT with
 * the OCI-Subject header. For registries without it (the CNCF registry 2.x)
 * the pushing client keeps the "referrers tag schema": an image index tagged
 * sha256-<hex of the subject digest> with one descriptor per referrer
 * (mediaType, digest, size, artifactType, annotations), merged with what the
 * tag already lists so a second push adds nothing. Readers try the API, then
 * that tag. */
#ifndef AMLPKG_REGISTRY_REFERRERS_H
#define AMLPKG_REGISTRY_REFERRERS_H

#include "builder/registry/registry.h"

/* The fallback tag for subject ("sha256:<hex>" -> "sha256-<hex>"). */
void registry_referrers_tag(char out[80], const char *subject);

/* The subject digest of a manifest (bytes) into subject, or "" when it has none. */
int registry_manifest_subject(char subject[72], const char *bytes, size_t len, const char *what);

/* Makes the referrer manifest (digest, media_type, bytes) findable from its
 * subject: nothing when the registry acknowledged the subject (subject_ack) or
 * answers the referrers API; otherwise adds it to the fallback index unless
 * that lists it already. *used_fallback (may be NULL) says whether the tag
 * schema was used. */
int registry_referrers_record(struct registry_conn *c, const char *repo, const char *subject, const char *digest,
                              const char *media_type, const char *bytes, size_t len, int subject_ack,
                              int *used_fallback);

/* The referrers of subject as an OCI image index (its "manifests" the
 * descriptors) into out: from the referrers API, else the fallback tag, else
 * an index with no manifests. */
int registry_referrers_list(struct registry_conn *c, struct buf *out, const char *repo, const char *subject);

/* Finds the referrer of subject with artifactType artifact_type (API or
 * fallback tag) and downloads its first layer, digest-verified, to dest_path;
 * its manifest digest into digest. ERR_NOTFOUND when subject has none. */
int registry_referrer_pull_file(struct registry_conn *c, char digest[72], const char *repo, const char *subject,
                                const char *artifact_type, const char *dest_path);

#endif
