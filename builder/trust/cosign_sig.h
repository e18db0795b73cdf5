/* The signature manifest cosign keeps beside an image: an OCI image manifest
 * tagged "sha256-<hex of the image digest>.sig" whose layers are simple-
 * signing payloads (simple_signing.h), each carrying its base64 signature in
 * the annotation dev.cosignproject.cosign/signature. That is where cosign,
 * podman and skopeo (registries.d: use-sigstore-attachments) look.
 *
 * A new signature is added as one more layer: those already there stay
 * (cosign does the same), so several keys can sign one image. The config is
 * a minimal OCI image config listing the layers. struct cosign_layer is
 * caller-owned; raw, when set, is malloc'd and freed by cosign_layers_free. */
#ifndef AMLPKG_COSIGN_SIG_H
#define AMLPKG_COSIGN_SIG_H

#include "common/buf.h"

#include <stddef.h>

#define COSIGN_SIGNATURE_ANNOTATION "dev.cosignproject.cosign/signature"
/* artifactType of the signature manifest in an OCI layout's index (beside the image). */
#define COSIGN_SIG_ARTIFACT_TYPE "application/vnd.dev.cosign.artifact.sig.v1+json"
#define COSIGN_SIGNATURE_MAX 2048 /* base64 of a signature; ECDSA P-256 DER is at most 72 bytes */

struct cosign_layer {
    char digest[72];
    long long size;
    char media_type[128];
    char signature[COSIGN_SIGNATURE_MAX]; /* base64, "" when the layer has none */
    char *raw;                            /* the descriptor as read (kept as is when rewritten), or NULL */
};

/* "sha256-<hex>.sig" for an image digest. */
void cosign_sig_tag(char out[80], const char *image_digest);
/* The layers of a signature manifest; what names it in messages. */
int cosign_sig_parse(struct cosign_layer **out, size_t *out_n, const char *manifest, size_t len, const char *what);
void cosign_layers_free(struct cosign_layer *layers, size_t n);
/* The config and manifest of a signature manifest with layers[0..n) (raw descriptors as they were). */
int cosign_sig_manifest(struct buf *manifest, struct buf *config, const struct cosign_layer *layers, size_t n);

#endif
