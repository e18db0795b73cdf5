#include "runtime/tls.h"

#include "common/err.h"
#include "common/tls_pem.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* TLS 1.2 suites: ECDHE key exchange (forward secrecy) and AEAD ciphers only,
 * as in Mozilla's "intermediate" profile. TLS 1.3 keeps OpenSSL's defaults,
 * which are all of that kind. */
#define TLS12_CIPHERS                                                                                                  \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"                         \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

struct tls_server {
    SSL_CTX *ctx;
    const char *cert_file, *key_file;
};

struct tls_conn {
    SSL *ssl;
    int fd;
    int checked_first_byte;
    int failed; /* no close_notify after a fatal error */
};

/* OpenSSL's reason for the last failure, or fallback when it gave none. */
static const char *openssl_reason(const char *fallback)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    return r ? r : fallback;
}

/* The chain and key as tls_pem_load read and checked them; the context takes them over. */
static int use_pair(SSL_CTX *ctx, const char *cert_file, const char *key_file)
{
    struct tls_pem_pair p;
    int rc = tls_pem_load(&p, cert_file, key_file);
    if (rc)
        return rc;
    if (SSL_CTX_use_certificate(ctx, p.cert) != 1) {
        rc = err_set(ERR_INVALID, "tls certificate '%s': %s", cert_file, openssl_reason("refused"));
        goto done;
    }
    for (size_t i = 0; i < p.n_chain; i++) {
        if (SSL_CTX_add0_chain_cert(ctx, p.chain[i]) != 1) {
            rc = err_set(ERR_INVALID, "tls certificate '%s': intermediate certificate: %s", cert_file,
                         openssl_reason("refused"));
            goto done;
        }
        p.chain[i] = NULL; /* the context owns it now */
    }
    if (SSL_CTX_use_PrivateKey(ctx, p.key) != 1)
        rc = err_set(ERR_INVALID, "tls key '%s': %s", key_file, openssl_reason("refused"));
done:
    tls_pem_release(&p);
    return rc;
}

/* Offers HTTP/1.1 to clients that negotiate a protocol (curl asks for h2 first). */
static int select_http11(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                         unsigned int inlen, void *arg)
{
    (void)ssl, (void)arg;
    static const unsigned char http11[] = "\x08http/1.1";
    unsigned char *selected;
    if (SSL_select_next_proto(&selected, outlen, http11, sizeof http11 - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

static int context_new(SSL_CTX **out, const char *cert_file, const char *key_file)
{
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return err_set(ERR_NOMEM, "cannot create a TLS context: %s", openssl_reason("out of memory"));
    int rc = 0;
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 || SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1 ||
        SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"amlserve", 8) != 1) {
        rc = err_set(ERR_UNSUPPORTED, "cannot configure TLS: %s", openssl_reason("unknown error"));
        goto done;
    }
    /* Renegotiation is a denial-of-service lever and HTTP/1.1 never needs it;
     * a client that closes without close_notify has simply gone. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    /* The event loop retries partial writes from a buffer that may move; idle
     * keep-alive connections give their I/O buffers back. */
    SSL_CTX_set_mode(ctx,
                     SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_alpn_select_cb(ctx, select_http11, NULL);
    /* Resumption through stateless tickets only: no per-session server memory to grow. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    rc = use_pair(ctx, cert_file, key_file);
done:
    ERR_clear_error();
    if (rc)
        SSL_CTX_free(ctx);
    else
        *out = ctx;
    return rc;
}

int tls_server_new(struct tls_server **out, const char *cert_file, const char *key_file)
{
    /* The image's behaviour must not depend on whatever openssl.cnf the host has. */
    if (OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG, NULL) != 1)
        return err_set(ERR_UNSUPPORTED, "cannot initialise OpenSSL");
    struct tls_server *t = calloc(1, sizeof *t);
    if (!t)
        return err_set(ERR_NOMEM, "out of memory");
    t->cert_file = cert_file;
    t->key_file = key_file;
    int rc = context_new(&t->ctx, cert_file, key_file);
    if (rc) {
        free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int tls_server_reload(struct tls_server *t)
{
    SSL_CTX *fresh;
    int rc = context_new(&fresh, t->cert_file, t->key_file);
    if (rc)
        return rc;
    SSL_CTX_free(t->ctx); /* open connections hold their own reference to it */
    t->ctx = fresh;
    return 0;
}

void tls_server_free(struct tls_server *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ctx);
    free(t);
}

void tls_server_serial(const struct tls_server *t, char *out, size_t size)
{
    snprintf(out, size, "?");
    X509 *cert = SSL_CTX_get0_certificate(t->ctx);
    BIGNUM *bn = cert ? ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL) : NULL;
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    if (hex)
        snprintf(out, size, "%s", hex);
    OPENSSL_free(hex);
    BN_free(bn);
}

int tls_conn_new(struct tls_conn **out, struct tls_server *t, int fd)
{
    struct tls_conn *c = calloc(1, sizeof *c);
    SSL *ssl = c ? SSL_new(t->ctx) : NULL;
    if (!ssl || SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        free(c);
        ERR_clear_error();
        return err_set(ERR_NOMEM, "cannot start a TLS connection");
    }
    SSL_set_accept_state(ssl);
    c->ssl = ssl;
    c->fd = fd;
    *out = c;
    return 0;
}

/* Maps a failed SSL_read/SSL_write to a TLS_ code (or 0 for a clean close). */
static ssize_t io_result(struct tls_conn *c, int ret)
{
    int e = SSL_get_error(c->ssl, ret);
    ERR_clear_error();
    switch (e) {
    case SSL_ERROR_WANT_READ: return TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE: return TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN: return 0;
    default: c->failed = 1; return TLS_FAILED;
    }
}

/* A TLS connection starts with a handshake record (0x16); an ASCII letter
 * means a plain HTTP request, which deserves a readable answer, not an alert. */
static ssize_t check_first_byte(struct tls_conn *c)
{
    unsigned char first;
    ssize_t n;
    do
        n = recv(c->fd, &first, 1, MSG_PEEK);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? TLS_WANT_READ : (c->failed = 1, TLS_FAILED);
    if (n == 0)
        return (c->failed = 1, 0);
    c->checked_first_byte = 1;
    if (first >= 'A' && first <= 'Z') {
        c->failed = 1;
        return TLS_NOT_TLS;
    }
    return 1;
}

ssize_t tls_conn_read(struct tls_conn *c, void *buf, size_t len)
{
    if (c->failed)
        return TLS_FAILED;
    if (!c->checked_first_byte) {
        ssize_t r = check_first_byte(c);
        if (r <= 0)
            return r;
    }
    ERR_clear_error();
    size_t got = 0;
    int ret = SSL_read_ex(c->ssl, buf, len, &got);
    return ret == 1 ? (ssize_t)got : io_result(c, ret);
}

ssize_t tls_conn_write(struct tls_conn *c, const void *buf, size_t len)
{
    if (c->failed)
        return TLS_FAILED;
    ERR_clear_error();
    size_t put = 0;
    int ret = SSL_write_ex(c->ssl, buf, len, &put);
    return ret == 1 ? (ssize_t)put : io_result(c, ret);
}

int tls_conn_has_pending(const struct tls_conn *c)
{
    return !c->failed && SSL_has_pending(c->ssl);
}

void tls_conn_free(struct tls_conn *c)
{
    if (!c)
        return;
    if (!c->failed && SSL_is_init_finished(c->ssl)) {
        SSL_shutdown(c->ssl); /* non-blocking: sent if the socket takes it */
        ERR_clear_error();
    }
    SSL_free(c->ssl);
    free(c);
}
