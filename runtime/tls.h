/* Optional TLS termination for amlserve's listener (OpenSSL, linked statically).
 *
 * A tls_server holds the certificate chain and private key in one server
 * context; tls_server_reload builds a new context from the same files and
 * swaps it in only when it loads, so a bad new certificate leaves the old one
 * serving. Connections keep a reference to the context they started with.
 * Only TLS 1.2 and 1.3 are offered, with forward-secret AEAD ciphers.
 *
 * A tls_conn wraps one accepted non-blocking socket. Reads and writes never
 * block: they return TLS_WANT_READ or TLS_WANT_WRITE, and the event loop
 * retries once the socket is ready in that direction (a read can need to
 * write during the handshake, and the other way round). Everything here runs
 * on the event-loop thread. */
#ifndef AMLSERVE_TLS_H
#define AMLSERVE_TLS_H

#include <stddef.h>
#include <sys/types.h>

struct tls_server;
struct tls_conn;

enum {
    TLS_FAILED = -1,     /* protocol error or a dead socket: close without more TLS */
    TLS_WANT_READ = -2,  /* retry when the socket is readable */
    TLS_WANT_WRITE = -3, /* retry when the socket is writable */
    TLS_NOT_TLS = -4,    /* the client spoke plain HTTP to the TLS port */
};

/* Loads cert_file (PEM: the certificate, then any intermediates) and key_file
 * (PEM, unencrypted). Errors name the file and what is wrong with it. Both
 * paths are borrowed for the server's lifetime. */
int tls_server_new(struct tls_server **out, const char *cert_file, const char *key_file);
/* Re-reads both files; on error the old certificate stays and the error is returned. */
int tls_server_reload(struct tls_server *t);
void tls_server_free(struct tls_server *t);
/* The served certificate's serial number in hex, into out (for logs). */
void tls_server_serial(const struct tls_server *t, char *out, size_t size);

/* Starts the server side of a handshake on fd (non-blocking). */
int tls_conn_new(struct tls_conn **out, struct tls_server *t, int fd);
/* Returns the bytes read (> 0), 0 when the peer closed, or a TLS_ code. The
 * handshake happens inside the first reads. */
ssize_t tls_conn_read(struct tls_conn *c, void *buf, size_t len);
/* Returns the bytes written (> 0; may be fewer than len) or a TLS_ code. After
 * a TLS_WANT_ code, call again with at least the same bytes (they may have
 * moved in memory). */
ssize_t tls_conn_write(struct tls_conn *c, const void *buf, size_t len);
/* 1 when decrypted or buffered input waits that the socket will not signal again. */
int tls_conn_has_pending(const struct tls_conn *c);
/* Sends close_notify (best effort, once the handshake has finished) and frees. */
void tls_conn_free(struct tls_conn *c);

#endif
