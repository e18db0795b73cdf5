/* Signing and verifying an image where it lives: in a registry (REF), in an
 * OCI layout directory (DIR or DIR:NAME:TAG) or in an oci-archive.
 *
 * The signature is cosign's: a simple-signing payload (simple_signing.h)
 * naming the image's manifest digest and the reference it is to be pulled
 * as, signed with the key, added as a layer to the manifest tagged
 * sha256-<hex>.sig (cosign_sig.h). In a registry that tag sits in the image's
 * repository, where cosign and podman look; in a layout the manifest is an
 * index entry with artifactType COSIGN_SIG_ARTIFACT_TYPE beside the image
 * (com.amlpkg.artifact.for = the image digest); an oci-archive is unpacked,
 * signed as a layout and written back in place (atomically).
 *
 * The OCI 1.1 form (trust_bundle.h) is a sigstore bundle referrer whose statement names the image
 * (cosign sign --new-bundle-format): what cosign 3, Kyverno and Ratify read. podman, skopeo and
 * CRI-O read only the tag form, so both are written by default (TRUST_FORMAT_BOTH).
 *
 * Verification reads every signature layer: each is checked against the key
 * (bad signatures and other keys' signatures are reported, not fatal), and a
 * good signature must name the image's digest. trust_verify_image fails when
 * no layer is a good signature of this image. Bundles are checked the same way (signed by the key,
 * their statement's subject the image's digest); either form verifies the image. Results are
 * caller-owned. */
#ifndef AMLPKG_TRUST_IMAGE_H
#define AMLPKG_TRUST_IMAGE_H

#include "builder/registry/registry.h"
#include "builder/trust/simple_signing.h"
#include "builder/trust/trust_key.h"

enum trust_format { TRUST_FORMAT_TAG = 1, TRUST_FORMAT_BUNDLE = 2, TRUST_FORMAT_BOTH = 3 };
#define TRUST_FORMAT_DEFAULT TRUST_FORMAT_BOTH

/* "tag", "bundle" or "both"; ERR_USAGE otherwise. */
int trust_format_parse(enum trust_format *out, const char *name);

struct trust_sign_options {
    enum trust_format format;           /* 0: TRUST_FORMAT_DEFAULT */
    const struct registry_options *reg; /* for REF targets */
    const char *identity;               /* critical.identity.docker-reference; NULL: derived from the target */
    const char *creator;                /* optional.creator */
    long long timestamp;                /* optional.timestamp (seconds) */
};

struct trust_signed {
    char image_digest[72];
    char identity[512];
    char sig_tag[80];    /* "sha256-<hex>.sig" */
    char location[1024]; /* where the signature went: "REGISTRY/REPO:TAG" or the layout/archive path */
    size_t n_signatures; /* in the signature manifest now (tag form) */
    char bundle_digest[72]; /* the bundle referrer's manifest, or "" */
};

#define TRUST_MAX_REPORTED 32

struct trust_check {
    struct simple_signing payload; /* valid when parsed */
    int good;                      /* verified with the key and names the image */
    int bundle;                    /* a sigstore bundle referrer (else a layer of the .sig manifest) */
    char problem[300];             /* why not, when !good */
};

struct trust_verified {
    char image_digest[72];
    char location[1024];
    size_t n_signatures, n_good;
    struct trust_check checks[TRUST_MAX_REPORTED];
    size_t n_checks;
};

int trust_sign_image(struct trust_signed *out, const char *target, const struct trust_key *key,
                     const struct trust_sign_options *opt);
/* Signs repo@digest on an open registry (after a push): identity as in trust_sign_options. */
int trust_sign_registry(struct trust_signed *out, struct registry *reg, const char *repo, const char *digest,
                        const struct trust_key *key, const struct trust_sign_options *opt);
/* 0 when at least one signature of the image verifies with key; ERR_NOTFOUND
 * when it has no signatures; ERR_MISMATCH when none verifies (out says why). */
int trust_verify_image(struct trust_verified *out, const char *target, const struct trust_key *key,
                       const struct registry_options *reg);

#endif
