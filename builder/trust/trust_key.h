/* Signing keys: ECDSA P-256 (cosign's default) and Ed25519, as PEM files.
 *
 * A private key is PKCS#8 ("PRIVATE KEY", or "ENCRYPTED PRIVATE KEY" under a
 * passphrase, AES-256-CBC with PBKDF2); a public key is PKIX ("PUBLIC KEY"),
 * the form cosign, podman and skopeo read with keyPath. The passphrase comes
 * from AMLPKG_SIGNING_PASSWORD, else a prompt on the terminal, else none.
 * cosign's own "ENCRYPTED SIGSTORE PRIVATE KEY" (scrypt + NaCl secretbox,
 * cosign_key.h) is read too, its passphrase also from COSIGN_PASSWORD.
 *
 * OpenSSL is loaded lazily in amlpkg (builder/sys/openssl_lazy.c): only the
 * commands that sign or verify bring libcrypto in. struct trust_key owns its
 * EVP_PKEY; trust_key_free releases it. Key bytes never reach an error message. */
#ifndef AMLPKG_TRUST_KEY_H
#define AMLPKG_TRUST_KEY_H

#include "common/buf.h"

#include <stddef.h>

enum trust_algorithm { TRUST_ECDSA_P256, TRUST_ED25519 };

struct trust_key {
    void *pkey; /* EVP_PKEY * */
    enum trust_algorithm algorithm;
    int is_private;
    char key_id[72]; /* "sha256:<hex>" of the DER public key: names the key in reports */
};

#define TRUST_PASSWORD_ENV "AMLPKG_SIGNING_PASSWORD"

/* How keygen writes the private key: PEM PKCS#8 (AES-256-CBC when the passphrase is not empty), or
 * cosign's "ENCRYPTED SIGSTORE PRIVATE KEY" (scrypt + nacl/secretbox, always sealed) that cosign sign
 * --key reads. */
enum trust_key_format { TRUST_KEY_PEM, TRUST_KEY_COSIGN };

/* Writes prefix.key (0600) and prefix.pub; refuses to replace existing files unless force. */
int trust_keygen(const char *prefix, enum trust_algorithm algorithm, enum trust_key_format format, int force);
/* Reads a private key (path) with the passphrase of AMLPKG_SIGNING_PASSWORD or a prompt. */
int trust_key_load_private(struct trust_key **out, const char *path);
/* Reads a public key; a private key file is accepted too (its public half is used). */
int trust_key_load_public(struct trust_key **out, const char *path);
void trust_key_free(struct trust_key *key);

/* The signature of data[0..len) into out (raw bytes: ASN.1 DER for ECDSA over
 * SHA-256, 64 bytes for Ed25519). */
int trust_sign(struct buf *out, const struct trust_key *key, const void *data, size_t len);
/* 0 when sig is key's signature of data; ERR_MISMATCH when it is not. */
int trust_verify(const struct trust_key *key, const void *data, size_t len, const void *sig, size_t sig_len);
/* The name of an algorithm ("ecdsa-p256", "ed25519"). */
const char *trust_algorithm_name(enum trust_algorithm a);
/* Parses "ecdsa-p256" / "ecdsa" / "ed25519"; ERR_USAGE otherwise. */
int trust_algorithm_parse(enum trust_algorithm *out, const char *name);

#endif
