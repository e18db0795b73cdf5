/* The libcrypto functions of common/tls_pem.c, loaded on first use (lazy_lib.h).
 *
 * amlpkg reads PEM files only to check a spec's service.tls pair the way
 * amlserve will load it; every other command would load libcrypto for nothing.
 * This file is linked into amlpkg alone, outside libamlpkg.a: amlserve, the
 * tests and the fuzz targets link OpenSSL itself. */
#include "builder/sys/lazy_lib.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#ifndef AMLPKG_CRYPTO_SONAME
#define AMLPKG_CRYPTO_SONAME "libcrypto.so.3"
#endif

static struct lazy_lib crypto = LAZY_LIB(AMLPKG_CRYPTO_SONAME);

LAZY_FORWARD(crypto, int, OPENSSL_init_crypto, (uint64_t opts, const OPENSSL_INIT_SETTINGS *settings), (opts, settings))
LAZY_FORWARD(crypto, int, BIO_free, (BIO * a), (a))
LAZY_FORWARD(crypto, BIO *, BIO_new_mem_buf, (const void *buf, int len), (buf, len))
LAZY_FORWARD_VOID(crypto, ERR_clear_error, (void), ())
LAZY_FORWARD(crypto, unsigned long, ERR_peek_last_error, (void), ())
LAZY_FORWARD(crypto, const char *, ERR_reason_error_string, (unsigned long e), (e))
LAZY_FORWARD_VOID(crypto, EVP_PKEY_free, (EVP_PKEY * pkey), (pkey))
LAZY_FORWARD_VOID(crypto, OPENSSL_cleanse, (void *ptr, size_t len), (ptr, len))
LAZY_FORWARD(crypto, X509 *, PEM_read_bio_X509, (BIO * bp, X509 **x, pem_password_cb *cb, void *u), (bp, x, cb, u))
LAZY_FORWARD(crypto, X509 *, PEM_read_bio_X509_AUX, (BIO * bp, X509 **x, pem_password_cb *cb, void *u), (bp, x, cb, u))
LAZY_FORWARD(crypto, EVP_PKEY *, PEM_read_bio_PrivateKey, (BIO * bp, EVP_PKEY **x, pem_password_cb *cb, void *u),
             (bp, x, cb, u))
LAZY_FORWARD(crypto, int, X509_check_private_key, (const X509 *x509, const EVP_PKEY *pkey), (x509, pkey))
LAZY_FORWARD_VOID(crypto, X509_free, (X509 * a), (a))
