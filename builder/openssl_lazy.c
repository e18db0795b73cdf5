/* The OpenSSL functions of runtime/tls.c, loaded on first use (lazy_lib.h).
 *
 * amlpkg runs tls.c only to check a spec's service.tls pair the way amlserve
 * will load it; every other command would load libssl and libcrypto for
 * nothing. This file is linked into amlpkg alone, outside libamlpkg.a:
 * amlserve, the tests and the fuzz targets link OpenSSL itself. The
 * connection functions are here only because tls.o refers to them. libcrypto's
 * functions are found through libssl, which depends on it. */
#include "lazy_lib.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#ifndef AMLPKG_SSL_SONAME
#define AMLPKG_SSL_SONAME "libssl.so.3"
#endif

static struct lazy_lib ssl = LAZY_LIB(AMLPKG_SSL_SONAME);

/* libcrypto */
LAZY_FORWARD(ssl, BIGNUM *, ASN1_INTEGER_to_BN, (const ASN1_INTEGER *ai, BIGNUM *bn), (ai, bn))
LAZY_FORWARD(ssl, int, BIO_free, (BIO *a), (a))
LAZY_FORWARD(ssl, BIO *, BIO_new_mem_buf, (const void *buf, int len), (buf, len))
LAZY_FORWARD(ssl, char *, BN_bn2hex, (const BIGNUM *a), (a))
LAZY_FORWARD_VOID(ssl, BN_free, (BIGNUM *a), (a))
LAZY_FORWARD_VOID(ssl, CRYPTO_free, (void *ptr, const char *file, int line), (ptr, file, line))
LAZY_FORWARD_VOID(ssl, ERR_clear_error, (void), ())
LAZY_FORWARD(ssl, unsigned long, ERR_peek_last_error, (void), ())
LAZY_FORWARD(ssl, const char *, ERR_reason_error_string, (unsigned long e), (e))
LAZY_FORWARD_VOID(ssl, EVP_PKEY_free, (EVP_PKEY *pkey), (pkey))
LAZY_FORWARD_VOID(ssl, OPENSSL_cleanse, (void *ptr, size_t len), (ptr, len))
LAZY_FORWARD(ssl, X509 *, PEM_read_bio_X509, (BIO *bp, X509 **x, pem_password_cb *cb, void *u), (bp, x, cb, u))
LAZY_FORWARD(ssl, X509 *, PEM_read_bio_X509_AUX, (BIO *bp, X509 **x, pem_password_cb *cb, void *u), (bp, x, cb, u))
LAZY_FORWARD(ssl, EVP_PKEY *, PEM_read_bio_PrivateKey, (BIO *bp, EVP_PKEY **x, pem_password_cb *cb, void *u),
             (bp, x, cb, u))
LAZY_FORWARD(ssl, int, X509_check_private_key, (const X509 *x509, const EVP_PKEY *pkey), (x509, pkey))
LAZY_FORWARD_VOID(ssl, X509_free, (X509 *a), (a))
LAZY_FORWARD(ssl, const ASN1_INTEGER *, X509_get0_serialNumber, (const X509 *x), (x))

/* libssl: the server context */
LAZY_FORWARD(ssl, int, OPENSSL_init_ssl, (uint64_t opts, const OPENSSL_INIT_SETTINGS *settings), (opts, settings))
LAZY_FORWARD(ssl, const SSL_METHOD *, TLS_server_method, (void), ())
LAZY_FORWARD(ssl, SSL_CTX *, SSL_CTX_new, (const SSL_METHOD *meth), (meth))
LAZY_FORWARD_VOID(ssl, SSL_CTX_free, (SSL_CTX *ctx), (ctx))
LAZY_FORWARD(ssl, long, SSL_CTX_ctrl, (SSL_CTX *ctx, int cmd, long larg, void *parg), (ctx, cmd, larg, parg))
LAZY_FORWARD(ssl, X509 *, SSL_CTX_get0_certificate, (const SSL_CTX *ctx), (ctx))
LAZY_FORWARD_VOID(ssl, SSL_CTX_set_alpn_select_cb, (SSL_CTX *ctx, SSL_CTX_alpn_select_cb_func cb, void *arg),
                  (ctx, cb, arg))
LAZY_FORWARD(ssl, int, SSL_CTX_set_cipher_list, (SSL_CTX *ctx, const char *str), (ctx, str))
LAZY_FORWARD(ssl, uint64_t, SSL_CTX_set_options, (SSL_CTX *ctx, uint64_t op), (ctx, op))
LAZY_FORWARD(ssl, int, SSL_CTX_set_session_id_context,
             (SSL_CTX *ctx, const unsigned char *sid_ctx, unsigned int sid_ctx_len), (ctx, sid_ctx, sid_ctx_len))
LAZY_FORWARD(ssl, int, SSL_CTX_use_PrivateKey, (SSL_CTX *ctx, EVP_PKEY *pkey), (ctx, pkey))
LAZY_FORWARD(ssl, int, SSL_CTX_use_certificate, (SSL_CTX *ctx, X509 *x), (ctx, x))
LAZY_FORWARD(ssl, int, SSL_select_next_proto,
             (unsigned char **out, unsigned char *outlen, const unsigned char *in, unsigned int inlen,
              const unsigned char *client, unsigned int client_len),
             (out, outlen, in, inlen, client, client_len))

/* libssl: connections, which amlpkg never makes */
LAZY_FORWARD(ssl, SSL *, SSL_new, (SSL_CTX *ctx), (ctx))
LAZY_FORWARD_VOID(ssl, SSL_free, (SSL *s), (s))
LAZY_FORWARD(ssl, int, SSL_get_error, (const SSL *s, int ret_code), (s, ret_code))
LAZY_FORWARD(ssl, int, SSL_has_pending, (const SSL *s), (s))
LAZY_FORWARD(ssl, int, SSL_is_init_finished, (const SSL *s), (s))
LAZY_FORWARD(ssl, int, SSL_read_ex, (SSL *s, void *buf, size_t num, size_t *readbytes), (s, buf, num, readbytes))
LAZY_FORWARD_VOID(ssl, SSL_set_accept_state, (SSL *s), (s))
LAZY_FORWARD(ssl, int, SSL_set_fd, (SSL *s, int fd), (s, fd))
LAZY_FORWARD(ssl, int, SSL_shutdown, (SSL *s), (s))
LAZY_FORWARD(ssl, int, SSL_write_ex, (SSL *s, const void *buf, size_t num, size_t *written), (s, buf, num, written))
