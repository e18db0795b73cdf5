/* The HTTP/1.1 server of amlserve: one epoll event loop, non-blocking sockets,
 * Debian's http_parser for the protocol.
 *
 * It handles keep-alive, pipelining (responses in request order), Expect:
 * 100-continue, chunked request bodies, header and body size limits (431/413),
 * timeouts (408: an idle timeout reset by each read, plus absolute deadlines
 * for a request's headers and for its body, so trickling a byte at a time buys
 * nothing), a connection cap with a per-address cap under it (at either cap
 * the longest-idle keep-alive connection, else the one sending its headers the
 * longest, makes room for a newcomer: at the per-address cap one of that
 * address's own), a budget for request bodies buffered over all connections
 * (503), a per-request arena limit, an early look at the headers
 * (check_headers: auth before any body is read or 100 Continue sent) and
 * graceful shutdown: on SIGTERM or
 * SIGINT (or a write to stop_fd) it stops accepting, finishes what is in
 * flight, and returns 0. Slow routes can run on a fixed pool of scoring
 * threads; the loop keeps serving other connections meanwhile, and a
 * connection's pipelined requests are still answered in order. With a TLS
 * server configured every connection is HTTPS: handshakes, reads and writes
 * run non-blocking in the same loop. What to answer is the handler's business; every
 * request gets its own arena, cleared once the response is queued. The
 * request and everything it points to are borrowed for the handler call only. */
#ifndef AMLSERVE_SERVER_H
#define AMLSERVE_SERVER_H

#include "common/arena.h"
#include "common/buf.h"

#include <stddef.h>

struct http_header {
    const char *name; /* NUL-terminated, as received */
    const char *value;
};

struct http_request {
    const char *method;
    const char *path;  /* without the query string */
    const char *query; /* after '?', or "" */
    const struct http_header *headers;
    size_t n_headers;
    const char *body;
    size_t body_len;
    struct arena *arena;
    /* Non-zero when the request could not be read (400, 408, 413, 431):
     * the handler answers with that status; method and path may be NULL. */
    int error_status;
    const char *error_message;
    /* Index of the scoring thread running the handler, or -1 on the event loop. */
    int worker;
    double queue_ms;  /* time it waited for that thread */
    int headers_only; /* check_headers: the body has not been read */
};

struct http_response {
    int status;
    const char *content_type; /* NULL for no body type */
    struct buf *headers;      /* extra "Name: value\r\n" lines */
    struct buf *body;
};

struct tls_server; /* runtime/tls.h */

typedef void (*http_handler_fn)(void *ctx, const struct http_request *req, struct http_response *resp);

struct server_config {
    const char *host; /* NULL or "" for every address, IPv6 and IPv4 */
    int port;
    size_t max_header_bytes;
    size_t max_body_bytes;
    int read_timeout_ms;   /* idle: no byte for this long closes (408 mid-request) */
    int header_timeout_ms; /* a request's headers must be complete this long after its first byte */
    int body_timeout_ms;   /* its body this long after the headers (0: no deadline for either) */
    int max_connections;
    /* Per peer address (IPv6: per /64), 0: no cap. At it, that address's own
     * longest-idle (else slowest) connection makes room, as at the global cap. */
    int max_connections_per_client;
    /* Request bodies buffered at once over all connections (a Content-Length
     * is reserved when the headers arrive); past it 503. 0: no budget. */
    size_t max_buffered_body_bytes;
    /* Each request's arena while its input is parsed (JSON tree, tensors;
     * a scorer lifts it before running the model); 0: none. A handler sees
     * arena->over_limit when it ran out. */
    size_t max_request_memory_bytes;
    int stop_fd; /* readable means "shut down"; -1 for none */
    /* HTTPS instead of HTTP: every accepted connection is TLS (borrowed; the
     * owner may reload it between events, e.g. from on_reload). NULL: plain. */
    struct tls_server *tls;
    int handle_signals; /* SIGTERM/SIGINT shut down (only from the main thread) */
    /* Scoring pool: requests for which is_inline (if set) says no run on one of
     * scoring_threads threads (0: everything runs on the event loop). At most
     * max_queue wait (else 503 at once); one that waited over
     * max_queue_wait_ms is answered 503 (0: no limit). */
    int scoring_threads;
    int max_queue;
    int max_queue_wait_ms;
    int (*is_inline)(void *ctx, const struct http_request *req);
    /* Called on the event loop once a request's headers are in, before its
     * body is read or 100 Continue sent; req has no body (body_len 0). A
     * non-zero return means resp holds the final answer: it is sent and the
     * connection closes without reading the body. NULL: none. */
    int (*check_headers)(void *ctx, const struct http_request *req, struct http_response *resp);
    /* Called after each batch of events, e.g. to flush a buffered access log. */
    void (*on_idle)(void *hook_ctx);
    /* Called on SIGHUP (with handle_signals), e.g. to re-read key files. */
    void (*on_reload)(void *hook_ctx);
    /* Called about once a second on the event loop, e.g. to notice changed files. */
    void (*on_tick)(void *hook_ctx);
    /* Called once the socket listens, with the bound port. */
    void (*on_listening)(void *hook_ctx, int port);
    void *hook_ctx;
};

void server_config_defaults(struct server_config *cfg);
/* Case-insensitive header lookup, or NULL. */
const char *http_request_header(const struct http_request *req, const char *name);
const char *http_status_text(int status);
/* Binds, then serves until shutdown. Returns 0 after a clean shutdown. */
int server_run(const struct server_config *cfg, http_handler_fn handler, void *ctx);

/* The parsing core without sockets, for the fuzzer and unit tests: feeds
 * bytes as if they came from one connection and appends every response the
 * server would write to out. Returns 0, or -1 once the server would close. */
struct server_session;
int server_session_new(struct server_session **out, const struct server_config *cfg, http_handler_fn handler,
                       void *ctx);
int server_session_feed(struct server_session *s, const char *data, size_t len, struct buf *out);
void server_session_free(struct server_session *s);

#endif
