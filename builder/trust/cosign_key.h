/* cosign's own encrypted private key (cosign generate-key-pair, cosign.key): a PEM block
 * "ENCRYPTED SIGSTORE PRIVATE KEY" (older cosign: "ENCRYPTED COSIGN PRIVATE KEY") whose body is
 *
 *   {"kdf": {"name": "scrypt", "params": {"N": 32768, "r": 8, "p": 1}, "salt": base64(32 bytes)},
 *    "cipher": {"name": "nacl/secretbox", "nonce": base64(24 bytes)},
 *    "ciphertext": base64(secretbox of the PKCS#8 DER key)}
 *
 * (go-securesystemslib's "encrypted" format). The key is scrypt(passphrase, salt, N, r, p) of 32
 * bytes, through OpenSSL; the box is opened with nacl_secretbox.h. Parameters beyond what cosign
 * writes by a wide margin are refused before any work (N at most 2^18, r and p at most 16), so a
 * key file cannot make amlpkg allocate gigabytes. struct cosign_key_box is caller-owned. */
#ifndef AMLPKG_COSIGN_KEY_H
#define AMLPKG_COSIGN_KEY_H

#include "builder/trust/nacl_secretbox.h"
#include "common/buf.h"

#include <stddef.h>
#include <stdint.h>

#define COSIGN_KEY_CIPHERTEXT_MAX (16u << 10)

struct cosign_key_box {
    uint64_t n, r, p;
    unsigned char salt[64];
    size_t salt_len;
    unsigned char nonce[SECRETBOX_NONCE_BYTES];
    unsigned char ciphertext[COSIGN_KEY_CIPHERTEXT_MAX];
    size_t ciphertext_len;
};

/* 1 when text holds one of cosign's encrypted key PEM blocks. */
int cosign_key_is(const char *text, size_t len);
/* Reads the PEM block and its JSON; what names the file in messages. */
int cosign_key_parse(struct cosign_key_box *out, const char *text, size_t len, const char *what);
/* The PKCS#8 DER key in box, decrypted with pass, appended to der. ERR_MISMATCH: wrong passphrase
 * (or a changed file). der holds key material: the caller cleanses it. */
int cosign_key_open(struct buf *der, const struct cosign_key_box *box, const char *pass, const char *what);

/* What cosign generate-key-pair writes: der (a PKCS#8 key) sealed with pass (empty allowed, as cosign
 * allows) under a fresh salt and nonce, scrypt N=32768 r=8 p=1, as the "ENCRYPTED SIGSTORE PRIVATE KEY"
 * PEM block, appended to pem. */
int cosign_key_seal(struct buf *pem, const unsigned char *der, size_t len, const char *pass);

#endif
