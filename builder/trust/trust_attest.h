/* Build provenance as a signed attestation: the in-toto statement (provenance.h) in a DSSE
 * envelope (dsse.h) signed with the signing key, attached to the image as an OCI referrer
 * (artifactType application/vnd.in-toto+json, one layer of application/vnd.dsse.envelope.v1+json,
 * subject the image), beside the SBOM: in a registry through the referrers API or its fallback tag,
 * in a layout as an index entry, in an oci-archive named by the image entry's annotation
 * (trust_store.h). In the OCI 1.1 form (TRUST_FORMAT_BUNDLE) the same statement goes in a sigstore
 * bundle referrer (trust_bundle.h); verification accepts either. All inputs are borrowed. */
#ifndef AMLPKG_TRUST_ATTEST_H
#define AMLPKG_TRUST_ATTEST_H

#include "builder/registry/registry.h"
#include "builder/trust/provenance.h"
#include "builder/trust/trust_image.h"
#include "builder/trust/trust_key.h"

/* The statement for the image written at output, from its config and the SBOM at sbom_path (NULL: none). */
int trust_provenance_collect(struct buf *out, const char *output, const char *sbom_path, const char *spec_path,
                             long long started);
/* Signs and attaches statement to the image at target (a layout or oci-archive). */
int trust_attest_image(const char *target, const struct trust_key *key, const char *statement, size_t len,
                       enum trust_format format);
/* The same for repo@digest on reg (just pushed). */
int trust_attest_registry(struct registry *reg, const char *repo, const char *digest, const struct trust_key *key,
                          const char *statement, size_t len, enum trust_format format);

struct trust_provenance {
    char image_digest[72];
    size_t n_found, n_good;
    struct provenance_summary summary; /* of the first good one */
    char problem[400];                 /* why the last bad one was refused */
};

/* 0 when a provenance attestation of the image is signed by key and names the image; ERR_NOTFOUND
 * when there is none; ERR_MISMATCH when none verifies. */
int trust_verify_provenance(struct trust_provenance *out, const char *target, const struct trust_key *key,
                            const struct registry_options *reg);

#endif
