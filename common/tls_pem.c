#include "common/tls_pem.h"

#include "common/buf.h"
#include "common/err.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#define PEM_FILE_LIMIT (1u << 20)

/* OpenSSL's reason for the last failure, or fallback when it gave none. */
static const char *openssl_reason(const char *fallback)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    return r ? r : fallback;
}

/* Never prompt for a passphrase: a server has no terminal to ask on. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

/* Reads a PEM file into a memory BIO; the message names what the file is for. */
static int read_pem(BIO **out, struct buf *b, const char *what, const char *path)
{
    buf_init(b, PEM_FILE_LIMIT);
    int rc = buf_read_file(b, path);
    if (rc) {
        /* buf_read_file says "PATH: what went wrong"; say which file it was for. */
        char detail[512];
        const char *m = err_message(rc);
        size_t n = strlen(path);
        snprintf(detail, sizeof detail, "%s", strncmp(m, path, n) == 0 && m[n] == ':' ? m + n + 2 : m);
        err_clear();
        return err_set(rc, "tls %s '%s': %s", what, path, detail);
    }
    *out = BIO_new_mem_buf(b->data, (int)b->len);
    return *out ? 0 : err_set(ERR_NOMEM, "out of memory");
}

/* The certificate, then every further certificate in the file as its chain. */
static int load_chain(struct tls_pem_pair *p, const char *path)
{
    struct buf b;
    BIO *bio = NULL;
    int rc = read_pem(&bio, &b, "certificate", path);
    if (rc)
        goto done;
    p->cert = PEM_read_bio_X509_AUX(bio, NULL, no_passphrase, NULL);
    if (!p->cert) {
        rc = err_set(ERR_INVALID,
                     "tls certificate '%s': no PEM certificate in it (expected -----BEGIN "
                     "CERTIFICATE-----)",
                     path);
        goto done;
    }
    X509 *extra;
    while ((extra = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)) != NULL) {
        X509 **grown = realloc(p->chain, (p->n_chain + 1) * sizeof *grown);
        if (!grown) {
            X509_free(extra);
            rc = err_set(ERR_NOMEM, "out of memory");
            goto done;
        }
        p->chain = grown;
        p->chain[p->n_chain++] = extra;
    }
    /* The loop ends at the end of the file, which OpenSSL reports as an error. */
    unsigned long e = ERR_peek_last_error();
    if (ERR_GET_LIB(e) != ERR_LIB_PEM || ERR_GET_REASON(e) != PEM_R_NO_START_LINE)
        rc = err_set(ERR_INVALID, "tls certificate '%s': a certificate after the first is malformed (%s)", path,
                     openssl_reason("unreadable"));
done:
    BIO_free(bio);
    buf_release(&b);
    return rc;
}

/* The key, which must belong to the certificate already read from cert_file. */
static int load_key(struct tls_pem_pair *p, const char *path, const char *cert_file)
{
    struct buf b;
    BIO *bio = NULL;
    int rc = read_pem(&bio, &b, "key", path);
    if (rc)
        goto done;
    p->key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    if (!p->key && memmem(b.data, b.len, "ENCRYPTED", 9))
        rc = err_set(ERR_UNSUPPORTED,
                     "tls key '%s': the key is encrypted: amlserve needs it unencrypted "
                     "(protect the file instead)",
                     path);
    else if (!p->key)
        rc =
            err_set(ERR_INVALID, "tls key '%s': no PEM private key in it (expected -----BEGIN PRIVATE KEY-----)", path);
    else if (X509_check_private_key(p->cert, p->key) != 1)
        rc = err_set(ERR_MISMATCH, "tls key '%s' does not match the certificate '%s'", path, cert_file);
done:
    BIO_free(bio);
    if (b.data)
        OPENSSL_cleanse(b.data, b.len); /* the key's text should not linger in freed memory */
    buf_release(&b);
    return rc;
}

int tls_pem_load(struct tls_pem_pair *out, const char *cert_file, const char *key_file)
{
    *out = (struct tls_pem_pair){0};
    /* What is accepted must not depend on whatever openssl.cnf the host has (amlserve loads none). */
    if (OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL) != 1)
        return err_set(ERR_UNSUPPORTED, "cannot initialise OpenSSL");
    ERR_clear_error();
    int rc = load_chain(out, cert_file);
    if (!rc)
        rc = load_key(out, key_file, cert_file);
    ERR_clear_error();
    if (rc)
        tls_pem_release(out);
    return rc;
}

void tls_pem_release(struct tls_pem_pair *p)
{
    X509_free(p->cert);
    for (size_t i = 0; i < p->n_chain; i++)
        X509_free(p->chain[i]);
    free(p->chain);
    EVP_PKEY_free(p->key);
    *p = (struct tls_pem_pair){0};
}

int tls_pem_check(const char *cert_file, const char *key_file)
{
    struct tls_pem_pair p;
    int rc = tls_pem_load(&p, cert_file, key_file);
    if (!rc)
        tls_pem_release(&p);
    return rc;
}
