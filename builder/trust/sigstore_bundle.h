/* The sigstore bundle (protobuf-specs, media type v0.3, JSON form): what cosign 3 and other sigstore
 * clients keep as an image's signature or attestation since OCI 1.1 referrers.
 *
 *   {"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
 *    "verificationMaterial": {"publicKey": {"hint": KEY-ID}},
 *    "dsseEnvelope": {DSSE envelope, dsse.h}            -- or --
 *    "messageSignature": {"messageDigest": {"algorithm": "SHA2_256", "digest": base64(32 bytes)},
 *                         "signature": base64(SIG)}}
 *
 * amlpkg writes DSSE bundles (an image signature is an in-toto statement naming the image with
 * predicate type https://sigstore.dev/cosign/sign/v1, as cosign sign --new-bundle-format writes it;
 * provenance is the SLSA statement) with a public-key hint and no transparency-log entry (offline
 * signing). It reads both contents. struct sigstore_bundle is caller-owned; sigstore_bundle_release
 * frees what parse allocated. */
#ifndef AMLPKG_SIGSTORE_BUNDLE_H
#define AMLPKG_SIGSTORE_BUNDLE_H

#include "builder/trust/dsse.h"
#include "common/buf.h"

#include <stddef.h>

#define SIGSTORE_BUNDLE_MEDIA_TYPE "application/vnd.dev.sigstore.bundle.v0.3+json"
#define SIGSTORE_BUNDLE_MEDIA_PREFIX "application/vnd.dev.sigstore.bundle"
#define COSIGN_SIGN_PREDICATE_TYPE "https://sigstore.dev/cosign/sign/v1"
#define SIGSTORE_BUNDLE_LIMIT (DSSE_LIMIT + (64u << 10))

struct sigstore_bundle {
    int is_dsse;
    struct dsse_envelope dsse;      /* when is_dsse */
    unsigned char message_digest[32]; /* messageSignature: SHA-256 of the signed artifact */
    unsigned char signature[512];
    size_t signature_len;
    char key_hint[128]; /* verificationMaterial.publicKey.hint, or "" */
};

/* Appends a bundle holding the DSSE envelope of (type, body) with one signature, hinting key_hint. */
int sigstore_bundle_write_dsse(struct buf *out, const char *type, const void *body, size_t len, const void *sig,
                               size_t sig_len, const char *key_hint);
/* Reads a bundle (any v0.x media type); what names it in messages. */
int sigstore_bundle_parse(struct sigstore_bundle *out, const char *data, size_t len, const char *what);
void sigstore_bundle_release(struct sigstore_bundle *b);

#endif
