/* A TLS certificate chain and private key read from PEM files and checked to
 * belong together: what amlserve's listener loads (runtime/tls.c) and what
 * amlpkg checks when a spec names service.tls, so that a pair amlpkg accepts
 * is one amlserve will load. Uses OpenSSL's libcrypto only (no TLS context).
 *
 * A tls_pem_pair is caller-owned: tls_pem_load fills it, tls_pem_release frees
 * what is left in it. A caller may take the certificates or the key out of it
 * (setting the member to NULL) before releasing it. */
#ifndef AMLCOMMON_TLS_PEM_H
#define AMLCOMMON_TLS_PEM_H

#include <stddef.h>

typedef struct x509_st X509;
typedef struct evp_pkey_st EVP_PKEY;

struct tls_pem_pair {
    X509 *cert;   /* the first certificate of cert_file */
    X509 **chain; /* every further certificate of cert_file, in order */
    size_t n_chain;
    EVP_PKEY *key; /* the private key of key_file, matching cert */
};

/* Reads cert_file (PEM: the certificate, then any intermediates) and key_file
 * (PEM, unencrypted) and checks that the key belongs to the certificate.
 * Errors name the file and what is wrong with it. */
int tls_pem_load(struct tls_pem_pair *out, const char *cert_file, const char *key_file);
void tls_pem_release(struct tls_pem_pair *p);
/* tls_pem_load, then tls_pem_release: the check alone. */
int tls_pem_check(const char *cert_file, const char *key_file);

#endif
