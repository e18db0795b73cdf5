/* An image's signatures and attestations travel with it: `amlpkg push` of a signed oci-archive or
 * layout sends what trust_store keeps there (cosign's signature manifest under its sha256-<hex>.sig
 * tag, provenance and sigstore bundle referrers by digest, recorded as referrers of the image), and
 * `amlpkg copy` between registries copies the .sig tag and every referrer of the image (SBOM
 * included), as `cosign copy` does. A signature names an identity: a tag-form signature made for
 * another name than the one pushed to fails podman's matchRepoDigestOrExact there (sign with
 * --identity the destination); bundles name only the digest. Inputs are borrowed. */
#ifndef AMLPKG_TRUST_CARRY_H
#define AMLPKG_TRUST_CARRY_H

#include "builder/image/image_source.h"
#include "builder/registry/registry.h"

struct trust_carried {
    int signature_tags; /* sha256-<hex>.sig manifests sent */
    int referrers;      /* referrer manifests sent (provenance, bundles, SBOM) */
    int referrers_fallback; /* some went into the sha256-<hex> referrers tag */
};

/* After src's image was pushed to repo on reg: its trust artifacts too. */
int trust_carry_push(struct trust_carried *out, struct image_source *src, struct registry *reg, const char *repo,
                     int jobs);
/* After src_repo@digest was copied to dst_repo: its .sig tag and its referrers too. */
int trust_carry_copy(struct trust_carried *out, struct registry *src_reg, const char *src_repo, const char *digest,
                     struct registry *dst_reg, const char *dst_repo, int jobs);

#endif
