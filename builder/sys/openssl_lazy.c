/* The libcrypto functions of common/tls_pem.c and builder/trust/, loaded on first use (lazy_lib.h).
 *
 * amlpkg reads PEM files only to check a spec's service.tls pair the way
 * amlserve will load it; every other command would load libcrypto for nothing.
 * This file is linked into amlpkg alone, outside libamlpkg.a: amlserve, the
 * tests and the fuzz targets link OpenSSL itself. */
#include "builder/sys/lazy_lib.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/evp.h>
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

/* builder/trust/trust_key.c: signing keys, signatures (amlpkg keygen, sign, verify). */
LAZY_FORWARD(crypto, int, EVP_PKEY_get_base_id, (const EVP_PKEY *pkey), (pkey))
LAZY_FORWARD(crypto, int, EVP_PKEY_get_group_name,
             (const EVP_PKEY *pkey, char *name, size_t name_sz, size_t *gname_len), (pkey, name, name_sz, gname_len))
LAZY_FORWARD(crypto, int, i2d_PUBKEY, (const EVP_PKEY *a, unsigned char **pp), (a, pp))
LAZY_FORWARD_VOID(crypto, CRYPTO_free, (void *ptr, const char *file, int line), (ptr, file, line))
LAZY_FORWARD(crypto, EVP_PKEY *, PEM_read_bio_PUBKEY, (BIO * bp, EVP_PKEY **x, pem_password_cb *cb, void *u),
             (bp, x, cb, u))
LAZY_FORWARD(crypto, EVP_MD_CTX *, EVP_MD_CTX_new, (void), ())
LAZY_FORWARD_VOID(crypto, EVP_MD_CTX_free, (EVP_MD_CTX * ctx), (ctx))
LAZY_FORWARD(crypto, const EVP_MD *, EVP_sha256, (void), ())
LAZY_FORWARD(crypto, int, EVP_DigestSignInit,
             (EVP_MD_CTX * ctx, EVP_PKEY_CTX **pctx, const EVP_MD *type, ENGINE *e, EVP_PKEY *pkey),
             (ctx, pctx, type, e, pkey))
LAZY_FORWARD(crypto, int, EVP_DigestSign,
             (EVP_MD_CTX * ctx, unsigned char *sigret, size_t *siglen, const unsigned char *tbs, size_t tbslen),
             (ctx, sigret, siglen, tbs, tbslen))
LAZY_FORWARD(crypto, int, EVP_DigestVerifyInit,
             (EVP_MD_CTX * ctx, EVP_PKEY_CTX **pctx, const EVP_MD *type, ENGINE *e, EVP_PKEY *pkey),
             (ctx, pctx, type, e, pkey))
LAZY_FORWARD(crypto, int, EVP_DigestVerify,
             (EVP_MD_CTX * ctx, const unsigned char *sigret, size_t siglen, const unsigned char *tbs, size_t tbslen),
             (ctx, sigret, siglen, tbs, tbslen))
LAZY_FORWARD(crypto, BIO *, BIO_new, (const BIO_METHOD *type), (type))
LAZY_FORWARD(crypto, const BIO_METHOD *, BIO_s_mem, (void), ())
LAZY_FORWARD(crypto, long, BIO_ctrl, (BIO * bp, int cmd, long larg, void *parg), (bp, cmd, larg, parg))
LAZY_FORWARD(crypto, const EVP_CIPHER *, EVP_aes_256_cbc, (void), ())
LAZY_FORWARD(crypto, int, PEM_write_bio_PKCS8PrivateKey,
             (BIO * bp, const EVP_PKEY *x, const EVP_CIPHER *enc, const char *kstr, int klen, pem_password_cb *cb,
              void *u),
             (bp, x, enc, kstr, klen, cb, u))
LAZY_FORWARD(crypto, int, PEM_write_bio_PUBKEY, (BIO * bp, const EVP_PKEY *x), (bp, x))
LAZY_FORWARD(crypto, EVP_PKEY_CTX *, EVP_PKEY_CTX_new_id, (int id, ENGINE *e), (id, e))
LAZY_FORWARD_VOID(crypto, EVP_PKEY_CTX_free, (EVP_PKEY_CTX * ctx), (ctx))
LAZY_FORWARD(crypto, int, EVP_PKEY_keygen_init, (EVP_PKEY_CTX * ctx), (ctx))
LAZY_FORWARD(crypto, int, EVP_PKEY_CTX_set_ec_paramgen_curve_nid, (EVP_PKEY_CTX * ctx, int nid), (ctx, nid))
LAZY_FORWARD(crypto, int, EVP_PKEY_keygen, (EVP_PKEY_CTX * ctx, EVP_PKEY **ppkey), (ctx, ppkey))
/* cosign's encrypted key format (builder/trust/cosign_key.c, nacl_secretbox.c): scrypt, Poly1305, DER. */
LAZY_FORWARD(crypto, int, EVP_PBE_scrypt,
             (const char *pass, size_t passlen, const unsigned char *salt, size_t saltlen, uint64_t N, uint64_t r,
              uint64_t p, uint64_t maxmem, unsigned char *key, size_t keylen),
             (pass, passlen, salt, saltlen, N, r, p, maxmem, key, keylen))
LAZY_FORWARD(crypto, EVP_MAC *, EVP_MAC_fetch, (OSSL_LIB_CTX * libctx, const char *algorithm, const char *properties),
             (libctx, algorithm, properties))
LAZY_FORWARD_VOID(crypto, EVP_MAC_free, (EVP_MAC * mac), (mac))
LAZY_FORWARD(crypto, EVP_MAC_CTX *, EVP_MAC_CTX_new, (EVP_MAC * mac), (mac))
LAZY_FORWARD_VOID(crypto, EVP_MAC_CTX_free, (EVP_MAC_CTX * ctx), (ctx))
LAZY_FORWARD(crypto, int, EVP_MAC_init,
             (EVP_MAC_CTX * ctx, const unsigned char *key, size_t keylen, const OSSL_PARAM params[]),
             (ctx, key, keylen, params))
LAZY_FORWARD(crypto, int, EVP_MAC_update, (EVP_MAC_CTX * ctx, const unsigned char *data, size_t datalen),
             (ctx, data, datalen))
LAZY_FORWARD(crypto, int, EVP_MAC_final, (EVP_MAC_CTX * ctx, unsigned char *out, size_t *outl, size_t outsize),
             (ctx, out, outl, outsize))
LAZY_FORWARD(crypto, int, CRYPTO_memcmp, (const void *a, const void *b, size_t len), (a, b, len))
LAZY_FORWARD(crypto, EVP_PKEY *, d2i_AutoPrivateKey, (EVP_PKEY * *a, const unsigned char **pp, long length),
             (a, pp, length))
LAZY_FORWARD(crypto, int, RAND_bytes, (unsigned char *buf, int num), (buf, num))
LAZY_FORWARD(crypto, PKCS8_PRIV_KEY_INFO *, EVP_PKEY2PKCS8, (const EVP_PKEY *pkey), (pkey))
LAZY_FORWARD(crypto, int, i2d_PKCS8_PRIV_KEY_INFO, (const PKCS8_PRIV_KEY_INFO *a, unsigned char **out), (a, out))
LAZY_FORWARD_VOID(crypto, PKCS8_PRIV_KEY_INFO_free, (PKCS8_PRIV_KEY_INFO * a), (a))
LAZY_FORWARD_VOID(crypto, CRYPTO_clear_free, (void *str, size_t num, const char *file, int line), (str, num, file, line))
