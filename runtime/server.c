#include "server.h"

#include "common/err.h"
#include "common/json.h"
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEADERS 100
#define READ_CHUNK (64 * 1024)
#define OUT_HIGH_WATER (1u << 20) /* stop reading while this much output is pending */
#define DRAIN_LIMIT_MS 30000
#define KEEP_BODY_CAP (1u << 20) /* a body buffer bigger than this is freed after its request */
#define CLIENT_BUCKETS 1024      /* per-address connection counts */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Bytes of request bodies held over all connections; only the event loop
 * touches it (pool threads read bodies but never free or grow them). */
struct body_budget {
    size_t used, limit;
};

/* ---- session: one connection's protocol state, no sockets ---- */

struct header_span {
    size_t name_off, name_len, value_off, value_len;
};

struct server_session {
    http_parser parser;
    http_parser_settings settings;
    const struct server_config *cfg;
    http_handler_fn handler;
    void *ctx;
    struct buf head; /* URL, then header names and values, NUL-separated; capped */
    size_t url_len;
    struct header_span hdr[MAX_HEADERS];
    size_t n_hdr;
    int last_was_value;
    struct buf body;
    struct buf *out;
    struct arena arena;
    struct buf resp_headers, resp_body;
    int error_status; /* set by a callback that stopped the parser */
    const char *error_message;
    int in_message;
    int closing;
    /* The request being answered; headers point into head. */
    struct http_header req_headers[MAX_HEADERS];
    struct http_request req;
    struct http_response resp;
    int req_keep_alive;
    /* Set by the event loop: hands a request to the scoring pool. Returns -1
     * when the queue is full. NULL answers every request inline. */
    int (*defer)(void *defer_ctx, struct server_session *s);
    void *defer_ctx;
    int deferred;          /* a request is with the pool: parsing is paused */
    struct buf pending_in; /* bytes that arrived after it, parsed once it is answered */
    /* Deadlines: when the request's first byte came (or the connection was
     * made, before any), and when its headers were complete. */
    long long head_start_ms, body_start_ms;
    int headers_done;
    long requests_done;
    struct body_budget *budget; /* NULL: none (set by the event loop) */
    size_t charged;             /* this session's share of it */
};

void server_config_defaults(struct server_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->port = 5001;
    cfg->max_header_bytes = 16 * 1024;
    cfg->max_body_bytes = 100u * 1024 * 1024;
    cfg->read_timeout_ms = 30000;
    cfg->header_timeout_ms = 30000;
    cfg->body_timeout_ms = 300000;
    cfg->max_connections = 4096;
    cfg->max_connections_per_client = 512;
    cfg->max_queue = 1024;
    cfg->stop_fd = -1;
}

const char *http_status_text(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    }
    return status < 500 ? "Client Error" : "Server Error";
}

const char *http_request_header(const struct http_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

static struct server_session *session_of(http_parser *p)
{
    return p->data;
}

static int stop_with(struct server_session *s, int status, const char *message)
{
    s->error_status = status;
    s->error_message = message;
    return -1;
}

/* Grows this session's share of the body budget to total; -1 when that does not fit. */
static int budget_charge(struct server_session *s, size_t total)
{
    struct body_budget *b = s->budget;
    if (!b || total <= s->charged)
        return 0;
    size_t more = total - s->charged;
    if (more > b->limit || b->used > b->limit - more)
        return -1;
    b->used += more;
    s->charged = total;
    return 0;
}

/* The body is done with: give its share back and its memory if it was big. */
static void body_release(struct server_session *s)
{
    if (s->budget)
        s->budget->used -= s->charged;
    s->charged = 0;
    if (s->body.cap > KEEP_BODY_CAP) {
        size_t limit = s->body.limit;
        buf_release(&s->body);
        buf_init(&s->body, limit);
    } else {
        buf_reset(&s->body);
    }
}

static const char busy_message[] = "Server is busy: request bodies in flight exceed its budget (--max-buffered-body-mb); retry";

static int head_append(struct server_session *s, const char *at, size_t len)
{
    if (buf_append(&s->head, at, len) == 0)
        return 0;
    return stop_with(s, 431, "Request headers are too large");
}

static int on_message_begin(http_parser *p)
{
    struct server_session *s = session_of(p);
    s->in_message = 1;
    s->head_start_ms = now_ms();
    s->headers_done = 0;
    buf_reset(&s->head);
    body_release(s);
    s->url_len = 0;
    s->n_hdr = 0;
    s->last_was_value = 0;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct server_session *s = session_of(p);
    s->url_len += len;
    return head_append(s, at, len);
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct server_session *s = session_of(p);
    if (s->n_hdr == 0 || s->last_was_value) {
        if (s->n_hdr == MAX_HEADERS)
            return stop_with(s, 431, "Too many request headers");
        if (head_append(s, "", 1)) /* terminates the URL or the previous value */
            return -1;
        s->hdr[s->n_hdr++] = (struct header_span){.name_off = s->head.len};
        s->last_was_value = 0;
    }
    s->hdr[s->n_hdr - 1].name_len += len;
    return head_append(s, at, len);
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct server_session *s = session_of(p);
    struct header_span *h = &s->hdr[s->n_hdr - 1];
    if (!s->last_was_value) {
        if (head_append(s, "", 1))
            return -1;
        h->value_off = s->head.len;
        s->last_was_value = 1;
    }
    h->value_len += len;
    return head_append(s, at, len);
}

static void fill_request(struct server_session *s, http_parser *p, int with_body);
static void response_reset(struct server_session *s);
static void finish_request(struct server_session *s);

static int on_headers_complete(http_parser *p)
{
    struct server_session *s = session_of(p);
    if (head_append(s, "", 1))
        return -1;
    int has_length = (p->flags & F_CONTENTLENGTH) != 0;
    if (has_length && p->content_length > s->cfg->max_body_bytes)
        return stop_with(s, 413, "Request body is too large");
    /* The caller's look at the headers (auth) comes before any body byte is read. */
    if (s->cfg->check_headers) {
        fill_request(s, p, 0);
        response_reset(s);
        if (s->cfg->check_headers(s->ctx, &s->req, &s->resp)) {
            s->req_keep_alive = 0;
            finish_request(s);
            return -1; /* closing: the body is never read */
        }
        arena_reset(&s->arena);
    }
    /* A declared length is reserved now, so a busy server says so before the body is sent. */
    if (has_length && p->content_length > 0) {
        if (budget_charge(s, (size_t)p->content_length))
            return stop_with(s, 503, busy_message);
        if (buf_reserve(&s->body, (size_t)p->content_length))
            return stop_with(s, 503, "Server is out of memory for this request body; retry");
    }
    s->headers_done = 1;
    s->body_start_ms = now_ms();
    /* Expect: 100-continue — say so before the client sends the body. */
    for (size_t i = 0; i < s->n_hdr; i++) {
        const struct header_span *h = &s->hdr[i];
        if (h->name_len == 6 && strncasecmp(s->head.data + h->name_off, "expect", 6) == 0 && h->value_len == 12 &&
            strncasecmp(s->head.data + h->value_off, "100-continue", 12) == 0)
            buf_append_str(s->out, "HTTP/1.1 100 Continue\r\n\r\n");
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct server_session *s = session_of(p);
    if (s->body.limit && (len > s->body.limit || s->body.len > s->body.limit - len))
        return stop_with(s, 413, "Request body is too large");
    if (budget_charge(s, s->body.len + len)) /* chunked: charged as it grows */
        return stop_with(s, 503, busy_message);
    if (buf_append(&s->body, at, len) == 0)
        return 0;
    return stop_with(s, 503, "Server is out of memory for this request body; retry");
}

static void write_response(struct server_session *s, struct http_response *resp, int keep_alive)
{
    struct buf *o = s->out;
    buf_appendf(o, "HTTP/1.1 %d %s\r\n", resp->status, http_status_text(resp->status));
    if (resp->content_type)
        buf_appendf(o, "Content-Type: %s\r\n", resp->content_type);
    buf_appendf(o, "Content-Length: %zu\r\n", resp->body->len);
    buf_append(o, resp->headers->data ? resp->headers->data : "", resp->headers->len);
    if (!keep_alive)
        buf_append_str(o, "Connection: close\r\n");
    buf_append(o, "\r\n", 2);
    buf_append(o, resp->body->data ? resp->body->data : "", resp->body->len);
}

/* Splits "/path?query" (or an absolute URL) into path and query in the arena. */
static void split_url(struct server_session *s, struct http_request *req)
{
    const char *url = s->head.data;
    size_t len = s->url_len;
    if (len && url[0] != '/') {
        const char *scheme = memmem(url, len, "://", 3);
        const char *slash = scheme ? memchr(scheme + 3, '/', len - (size_t)(scheme + 3 - url)) : NULL;
        if (slash) {
            len -= (size_t)(slash - url);
            url = slash;
        }
    }
    const char *q = memchr(url, '?', len);
    size_t path_len = q ? (size_t)(q - url) : len;
    req->path = arena_strndup(&s->arena, url, path_len);
    req->query = q ? arena_strndup(&s->arena, q + 1, len - path_len - 1) : "";
    if (!req->path || !req->query) {
        req->path = "/";
        req->query = "";
    }
}

static void response_reset(struct server_session *s)
{
    buf_reset(&s->resp_headers);
    buf_reset(&s->resp_body);
    s->resp = (struct http_response){.status = 200, .headers = &s->resp_headers, .body = &s->resp_body};
    s->req.arena = &s->arena;
    s->arena.limit = s->cfg->max_request_memory_bytes; /* a scorer may lift it once the input is parsed */
}

/* Queues the answer to s->req and readies the session for the next request. */
static void finish_request(struct server_session *s)
{
    write_response(s, &s->resp, s->req_keep_alive);
    arena_reset(&s->arena);
    body_release(s);
    s->in_message = 0;
    s->requests_done++;
    if (!s->req_keep_alive) {
        s->closing = 1;
        enum http_errno e = HTTP_PARSER_ERRNO(&s->parser);
        if (e == HPE_OK || e == HPE_PAUSED)
            http_parser_pause(&s->parser, 1); /* ignore anything pipelined after a closing request */
    }
}

static void dispatch(struct server_session *s)
{
    response_reset(s);
    s->handler(s->ctx, &s->req, &s->resp);
    finish_request(s);
}

/* s->req from what was parsed; without the body before it has been read. */
static void fill_request(struct server_session *s, http_parser *p, int with_body)
{
    for (size_t i = 0; i < s->n_hdr; i++) {
        s->req_headers[i].name = s->head.data + s->hdr[i].name_off;
        s->req_headers[i].value = s->head.data + s->hdr[i].value_off;
        if (!s->hdr[i].value_len && !s->hdr[i].value_off)
            s->req_headers[i].value = "";
    }
    s->req = (struct http_request){
        .method = http_method_str((enum http_method)p->method),
        .headers = s->req_headers,
        .n_headers = s->n_hdr,
        .body = with_body && s->body.data ? s->body.data : "",
        .body_len = with_body ? s->body.len : 0,
        .worker = -1,
        .headers_only = !with_body,
    };
    split_url(s, &s->req);
}

static int on_message_complete(http_parser *p)
{
    struct server_session *s = session_of(p);
    fill_request(s, p, 1);
    s->req_keep_alive = http_should_keep_alive(p) && !s->closing;
    const struct server_config *cfg = s->cfg;
    if (s->defer && !(cfg->is_inline && cfg->is_inline(s->ctx, &s->req))) {
        response_reset(s);
        if (s->defer(s->defer_ctx, s) == 0) {
            s->deferred = 1;
            http_parser_pause(p, 1);
            return 0;
        }
        s->req.error_status = 503;
        s->req.error_message = "Server is busy: the scoring queue is full";
    }
    dispatch(s);
    return 0;
}

int server_session_new(struct server_session **out, const struct server_config *cfg, http_handler_fn handler, void *ctx)
{
    struct server_session *s = calloc(1, sizeof *s);
    if (!s)
        return err_set(ERR_NOMEM, "out of memory");
    http_parser_init(&s->parser, HTTP_REQUEST);
    s->parser.data = s;
    http_parser_settings_init(&s->settings);
    s->settings.on_message_begin = on_message_begin;
    s->settings.on_url = on_url;
    s->settings.on_header_field = on_header_field;
    s->settings.on_header_value = on_header_value;
    s->settings.on_headers_complete = on_headers_complete;
    s->settings.on_body = on_body;
    s->settings.on_message_complete = on_message_complete;
    s->cfg = cfg;
    s->handler = handler;
    s->ctx = ctx;
    buf_init(&s->head, cfg->max_header_bytes);
    buf_init(&s->body, cfg->max_body_bytes);
    buf_init(&s->resp_headers, 0);
    buf_init(&s->resp_body, 0);
    buf_init(&s->pending_in, 0);
    arena_init(&s->arena, 16 * 1024, cfg->max_request_memory_bytes);
    s->head_start_ms = now_ms();
    *out = s;
    return 0;
}

void server_session_free(struct server_session *s)
{
    if (!s)
        return;
    body_release(s);
    buf_release(&s->head);
    buf_release(&s->body);
    buf_release(&s->resp_headers);
    buf_release(&s->resp_body);
    buf_release(&s->pending_in);
    arena_release(&s->arena);
    free(s);
}

/* Answers a request that could not be read, through the handler so it gets
 * the same headers as every other response, then marks the session closing. */
static void session_fail(struct server_session *s, int status, const char *message)
{
    s->req =
        (struct http_request){.error_status = status, .error_message = message, .path = "", .query = "", .worker = -1};
    /* The path, when it was read, lets the handler answer in its route's protocol (e.g. a 413 under /v2). */
    if (s->in_message && s->url_len && s->head.len >= s->url_len)
        split_url(s, &s->req);
    s->req_keep_alive = 0;
    dispatch(s);
    s->closing = 1;
    s->in_message = 0;
}

int server_session_feed(struct server_session *s, const char *data, size_t len, struct buf *out)
{
    if (s->closing)
        return -1;
    s->out = out;
    if (s->deferred) /* parsed once the pool has answered */
        return buf_append(&s->pending_in, data, len) == 0 ? 0 : -1;
    size_t used = http_parser_execute(&s->parser, &s->settings, data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&s->parser);
    if (s->closing)
        return -1;
    if (e == HPE_OK && used == len)
        return 0;
    if (e == HPE_PAUSED && s->deferred)
        return buf_append(&s->pending_in, data + used, len - used) == 0 ? 0 : -1;
    if (s->error_status)
        session_fail(s, s->error_status, s->error_message);
    else if (e == HPE_HEADER_OVERFLOW)
        session_fail(s, 431, "Request headers are too large");
    else
        session_fail(s, 400, http_errno_description(e));
    return -1;
}

/* Runs the deferred request's handler; called on a pool thread while the
 * event loop leaves the session alone. */
static void session_run_deferred(struct server_session *s, int worker, double queue_ms, int waited_too_long)
{
    s->req.worker = worker;
    s->req.queue_ms = queue_ms;
    if (waited_too_long) {
        s->req.error_status = 503;
        s->req.error_message = "Server is busy: the request waited too long in the scoring queue";
    }
    s->handler(s->ctx, &s->req, &s->resp);
}

/* Back on the event loop: queue the pool's answer, then parse whatever
 * arrived meanwhile. Returns like server_session_feed. */
static int session_complete_deferred(struct server_session *s, struct buf *out)
{
    s->out = out;
    s->deferred = 0;
    finish_request(s);
    if (s->closing)
        return -1;
    http_parser_pause(&s->parser, 0);
    if (!s->pending_in.len)
        return 0;
    struct buf pending = s->pending_in;
    buf_init(&s->pending_in, 0);
    int rc = server_session_feed(s, pending.data, pending.len, out);
    buf_release(&pending);
    return rc;
}

/* Which absolute deadline the request being read has passed, or NULL. */
static const char *session_deadline_passed(const struct server_session *s, long long now)
{
    const struct server_config *cfg = s->cfg;
    if (!s->in_message || s->deferred || s->closing)
        return NULL;
    if (!s->headers_done && cfg->header_timeout_ms > 0 && now - s->head_start_ms >= cfg->header_timeout_ms)
        return "Timed out reading the request headers (--header-timeout-ms)";
    if (s->headers_done && cfg->body_timeout_ms > 0 && now - s->body_start_ms >= cfg->body_timeout_ms)
        return "Timed out reading the request body (--body-timeout-ms)";
    return NULL;
}

/* A connection went quiet, or too slow, in the middle of a request. */
static void session_timeout(struct server_session *s, struct buf *out, const char *why)
{
    s->out = out;
    if (s->in_message && !s->closing)
        session_fail(s, 408, why ? why : "Timed out reading the request");
}

/* ---- sockets and the event loop ---- */

struct conn {
    int fd;
    struct tls_conn *tls; /* NULL: plain HTTP */
    /* TLS can need the other direction: a read that must send (handshake),
     * a write that must receive first. */
    int read_needs_out, write_needs_in;
    struct server_session *session;
    struct conn *job_next; /* in the pool's queue or done list */
    long long queued_ms;
    struct loop *loop;
    int parked; /* out of epoll while its request is with the pool */
    int doomed; /* evicted: closed after this batch of events, which may still name it */
    struct buf out;
    long long deadline_ms;  /* idle timeout: pushed back by every read */
    long long last_active_ms; /* last read or answer: the longest idle is evicted first */
    uint32_t events; /* what epoll watches for it */
    struct client_count *client; /* its peer address's count */
    struct conn *prev, *next;
};

/* Open connections per peer address, for max_connections_per_client. */
struct client_count {
    unsigned char addr[16]; /* IPv4 as ::ffff:a.b.c.d; IPv6 cut to its /64 */
    int n;      /* open connections */
    int doomed; /* of those, evicted and closed after this batch */
    struct client_count *next;
};

/* The scoring pool: connections whose request waits (queue) or has been
 * answered by a thread (done, handed back through done_fd). */
struct pool {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct conn *queue_head, *queue_tail, *done;
    int queued, stopping;
    int done_fd; /* eventfd */
    int max_queue, max_wait_ms;
    pthread_t *threads;
    int n_threads;
};

struct pool_thread_arg {
    struct pool *pool;
    int index;
};

struct loop {
    struct pool *pool; /* NULL: handlers run inline */
    const struct server_config *cfg;
    http_handler_fn handler;
    void *ctx;
    int epfd, listen_fd, signal_fd;
    struct conn *conns;
    int n_conns, n_doomed;
    struct body_budget budget;
    struct client_count *clients[CLIENT_BUCKETS];
    int draining;
    long long drain_deadline;
};

/* epoll data for the listening socket and the control fds. */
static char tag_listen, tag_signal, tag_stop, tag_done;

static void *pool_thread(void *argp)
{
    struct pool_thread_arg *arg = argp;
    struct pool *p = arg->pool;
    int index = arg->index;
    free(arg);
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->queue_head && !p->stopping)
            pthread_cond_wait(&p->wake, &p->lock);
        if (!p->queue_head)
            break;
        struct conn *c = p->queue_head;
        p->queue_head = c->job_next;
        if (!p->queue_head)
            p->queue_tail = NULL;
        p->queued--;
        pthread_mutex_unlock(&p->lock);

        long long waited = now_ms() - c->queued_ms;
        session_run_deferred(c->session, index, (double)waited, p->max_wait_ms > 0 && waited > p->max_wait_ms);

        pthread_mutex_lock(&p->lock);
        c->job_next = p->done;
        p->done = c;
        uint64_t one = 1;
        if (write(p->done_fd, &one, sizeof one) < 0) {
            /* the counter cannot overflow in practice; the loop also polls */
        }
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* server_session defer hook (ctx is the conn): queue it for a pool thread. */
static int pool_submit(void *ctx, struct server_session *s)
{
    (void)s;
    struct conn *c = ctx;
    struct pool *p = c->loop->pool;
    pthread_mutex_lock(&p->lock);
    int full = p->queued >= p->max_queue;
    if (!full) {
        c->job_next = NULL;
        c->queued_ms = now_ms();
        if (p->queue_tail)
            p->queue_tail->job_next = c;
        else
            p->queue_head = c;
        p->queue_tail = c;
        p->queued++;
        pthread_cond_signal(&p->wake);
    }
    pthread_mutex_unlock(&p->lock);
    return full ? -1 : 0;
}

static void pool_stop(struct pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    if (p->done_fd >= 0)
        close(p->done_fd);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    free(p->threads);
    free(p);
}

static int pool_start(struct pool **out, const struct server_config *cfg)
{
    struct pool *p = calloc(1, sizeof *p);
    if (!p)
        return err_set(ERR_NOMEM, "out of memory");
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    p->max_queue = cfg->max_queue > 0 ? cfg->max_queue : 1024;
    p->max_wait_ms = cfg->max_queue_wait_ms;
    p->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    p->threads = calloc((size_t)cfg->scoring_threads, sizeof *p->threads);
    if (p->done_fd < 0 || !p->threads) {
        pool_stop(p);
        return err_set_errno(ERR_IO, "cannot start the scoring pool");
    }
    for (int i = 0; i < cfg->scoring_threads; i++) {
        struct pool_thread_arg *arg = malloc(sizeof *arg);
        if (arg)
            *arg = (struct pool_thread_arg){.pool = p, .index = i};
        if (!arg || pthread_create(&p->threads[i], NULL, pool_thread, arg) != 0) {
            free(arg);
            pool_stop(p);
            return err_set(ERR_IO, "cannot start scoring thread %d", i);
        }
        p->n_threads++;
    }
    *out = p;
    return 0;
}

static void client_drop(struct loop *l, struct client_count *cc);

static void conn_close(struct loop *l, struct conn *c)
{
    if (!c->parked)
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    tls_conn_free(c->tls);
    /* Unread input would turn close into a reset that can overtake the last
     * answer (a 401 sent before the body): take a little of it first. */
    char sink[4096];
    for (int i = 0; i < 16 && recv(c->fd, sink, sizeof sink, MSG_DONTWAIT) > 0; i++)
        ;
    close(c->fd);
    if (c->doomed && c->client)
        c->client->doomed--;
    client_drop(l, c->client);
    if (c->prev)
        c->prev->next = c->next;
    else
        l->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    server_session_free(c->session);
    buf_release(&c->out);
    free(c);
    l->n_conns--;
}

/* Watches for output room while output is pending (no reading meanwhile:
 * that is the backpressure), else for input; TLS may ask for the other one. */
static void conn_watch(struct loop *l, struct conn *c, int writing)
{
    int out = writing ? !c->write_needs_in : c->read_needs_out;
    uint32_t events = out ? EPOLLOUT : EPOLLIN | EPOLLRDHUP;
    if (c->events == events)
        return;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    epoll_ctl(l->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->events = events;
}

#define IO_AGAIN (-2) /* the socket is not ready: wait for the event conn_watch picks */

/* One recv or send, through TLS when the connection has it. recv returns 0
 * at the end of the stream; both return -1 when the connection is dead. */
static ssize_t conn_recv(struct conn *c, char *data, size_t len)
{
    if (c->tls) {
        ssize_t n = tls_conn_read(c->tls, data, len);
        c->read_needs_out = n == TLS_WANT_WRITE;
        if (n == TLS_WANT_READ || n == TLS_WANT_WRITE)
            return IO_AGAIN;
        return n == TLS_NOT_TLS ? TLS_NOT_TLS : n < 0 ? -1 : n;
    }
    for (;;) {
        ssize_t n = recv(c->fd, data, len, 0);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return errno == EAGAIN || errno == EWOULDBLOCK ? IO_AGAIN : -1;
    }
}

static ssize_t conn_send(struct conn *c, const char *data, size_t len)
{
    if (c->tls) {
        ssize_t n = tls_conn_write(c->tls, data, len);
        c->write_needs_in = n == TLS_WANT_READ;
        return n == TLS_WANT_READ || n == TLS_WANT_WRITE ? IO_AGAIN : n < 0 ? -1 : n;
    }
    for (;;) {
        ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return errno == EAGAIN || errno == EWOULDBLOCK ? IO_AGAIN : -1;
    }
}

/* Writes pending output; returns -1 when the connection should be closed now. */
static int conn_flush(struct loop *l, struct conn *c)
{
    size_t off = 0;
    while (off < c->out.len) {
        ssize_t n = conn_send(c, c->out.data + off, c->out.len - off);
        if (n == IO_AGAIN)
            break;
        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    buf_consume(&c->out, off);
    if (c->out.len) {
        conn_watch(l, c, 1);
        return 0;
    }
    conn_watch(l, c, 0);
    if (c->session->closing)
        return -1;
    if (l->draining && !c->session->in_message)
        return -1;
    return 0;
}

/* While a request is with the pool nothing is read from the connection:
 * what the client sends meanwhile waits in the kernel. What is already queued
 * for it is sent now as far as the socket takes it. */
static void conn_park(struct loop *l, struct conn *c)
{
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    c->parked = 1;
    size_t off = 0;
    while (off < c->out.len) {
        ssize_t n = conn_send(c, c->out.data + off, c->out.len - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    buf_consume(&c->out, off);
}

static void conn_unpark(struct loop *l, struct conn *c)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    epoll_ctl(l->epfd, EPOLL_CTL_ADD, c->fd, &ev);
    c->parked = 0;
    c->events = ev.events;
}

/* Plain HTTP sent to the TLS port: a readable 400 in plain text, then close. */
static void reply_not_tls(struct conn *c)
{
    static const char body[] = "{\"message\": \"this port speaks HTTPS: use https://\"}";
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     sizeof body - 1, body);
    /* Drain the request first: closing with unread input would reset the
     * connection and the client might never see the answer. */
    char sink[4096];
    while (recv(c->fd, sink, sizeof sink, MSG_DONTWAIT) > 0)
        ;
    if (n > 0 && send(c->fd, head, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) > 0)
        shutdown(c->fd, SHUT_WR);
}

static void conn_read(struct loop *l, struct conn *c)
{
    static char chunk[READ_CHUNK];
    for (;;) {
        for (;;) {
            ssize_t n = conn_recv(c, chunk, sizeof chunk);
            if (n == IO_AGAIN)
                break;
            if (n == TLS_NOT_TLS)
                reply_not_tls(c);
            if (n <= 0) {
                /* Peer closed: still send what is queued, then close. */
                c->session->closing = 1;
                break;
            }
            c->last_active_ms = now_ms();
            c->deadline_ms = c->last_active_ms + l->cfg->read_timeout_ms;
            if (server_session_feed(c->session, chunk, (size_t)n, &c->out) < 0)
                break;
            if (c->session->deferred || c->out.len > OUT_HIGH_WATER)
                break;
        }
        if (c->session->deferred) {
            conn_park(l, c);
            return;
        }
        if (conn_flush(l, c) < 0) {
            conn_close(l, c);
            return;
        }
        /* TLS may hold input already taken off the socket, which epoll will
         * not report again: read it now that the output has gone. */
        if (c->out.len || !c->tls || !tls_conn_has_pending(c->tls))
            return;
    }
}

/* After output drained on an event (or after the pool answered): as conn_read's tail. */
static void conn_resume(struct loop *l, struct conn *c)
{
    if (conn_flush(l, c) < 0)
        conn_close(l, c);
    else if (!c->out.len && c->tls && tls_conn_has_pending(c->tls))
        conn_read(l, c);
}

/* Answers handed back by the pool: queue them, resume parsing, and watch
 * the connections again. */
static void pool_collect(struct loop *l)
{
    uint64_t count;
    if (read(l->pool->done_fd, &count, sizeof count) < 0) {
        /* EAGAIN: nothing new */
    }
    pthread_mutex_lock(&l->pool->lock);
    struct conn *done = l->pool->done;
    l->pool->done = NULL;
    pthread_mutex_unlock(&l->pool->lock);
    while (done) {
        struct conn *c = done;
        done = c->job_next;
        int rc = session_complete_deferred(c->session, &c->out);
        if (c->session->deferred)
            continue; /* a pipelined request went straight back to the pool */
        conn_unpark(l, c);
        if (rc < 0)
            c->session->closing = 1;
        c->last_active_ms = now_ms();
        c->deadline_ms = c->last_active_ms + l->cfg->read_timeout_ms;
        conn_resume(l, c);
    }
}

/* The count key of a peer: IPv4 (also v4-mapped) whole, IPv6 by its /64,
 * since one host may hold a whole /64. */
static void client_key(const struct sockaddr_storage *ss, unsigned char key[16])
{
    memset(key, 0, 16);
    if (ss->ss_family == AF_INET) {
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
    } else if (ss->ss_family == AF_INET6) {
        const unsigned char *a = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
        memcpy(key, a, IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a) ? 16 : 8);
    }
}

static struct client_count **client_slot(struct loop *l, const unsigned char key[16])
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (int i = 0; i < 16; i++)
        h = (h ^ key[i]) * 16777619u;
    struct client_count **slot = &l->clients[h % CLIENT_BUCKETS];
    while (*slot && memcmp((*slot)->addr, key, 16) != 0)
        slot = &(*slot)->next;
    return slot;
}

static void client_drop(struct loop *l, struct client_count *cc)
{
    if (!cc || --cc->n > 0)
        return;
    struct client_count **slot = client_slot(l, cc->addr);
    *slot = cc->next;
    free(cc);
}

/* Closes c once the current batch of events is handled (it may still be named in it). */
static void conn_doom(struct loop *l, struct conn *c)
{
    if (c->doomed)
        return;
    if (!c->parked)
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    c->parked = 1; /* out of epoll, as conn_close expects of a parked one */
    c->doomed = 1;
    l->n_doomed++;
    if (c->client)
        c->client->doomed++;
}

/* A new connection at a cap: close the keep-alive connection idle the
 * longest, else the one that has been sending its headers the longest (or
 * has sent nothing yet); only among those from the newcomer's address when
 * client is given (its per-address cap: an address competes with itself).
 * Returns 0 when every candidate is busy with a request's body or answer. */
static int evict_one(struct loop *l, const struct client_count *client)
{
    struct conn *idle = NULL, *slow = NULL;
    for (struct conn *c = l->conns; c; c = c->next) {
        const struct server_session *s = c->session;
        if (c->doomed || c->parked || s->deferred || s->closing || c->out.len || (client && c->client != client))
            continue;
        if (!s->in_message && s->requests_done > 0) {
            if (!idle || c->last_active_ms < idle->last_active_ms)
                idle = c;
        } else if (!s->headers_done || !s->in_message) {
            if (!slow || s->head_start_ms < slow->session->head_start_ms)
                slow = c;
        }
    }
    struct conn *victim = idle ? idle : slow;
    if (!victim)
        return 0;
    conn_doom(l, victim);
    return 1;
}

static void reap_doomed(struct loop *l)
{
    for (struct conn *c = l->conns, *next; c && l->n_doomed; c = next) {
        next = c->next;
        if (c->doomed) {
            conn_close(l, c);
            l->n_doomed--;
        }
    }
}

/* A newcomer that cannot be taken: a short 503 rather than a silent close. */
static void refuse(int fd, const char *why)
{
    char msg[256];
    int body_len = snprintf(msg, sizeof msg, "{\"message\": \"%s\"}", why);
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                     "Retry-After: 1\r\nConnection: close\r\n\r\n%s",
                     body_len, msg);
    if (n > 0 && (size_t)n < sizeof head && send(fd, head, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) > 0)
        shutdown(fd, SHUT_WR);
    close(fd);
}

static void accept_all(struct loop *l)
{
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t peer_len = sizeof peer;
        int fd = accept4(l->listen_fd, (struct sockaddr *)&peer, &peer_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or a transient error such as EMFILE: try again on the next event */
        unsigned char key[16];
        client_key(&peer, key);
        struct client_count **slot = client_slot(l, key);
        int per_client = l->cfg->max_connections_per_client;
        if (per_client > 0 && *slot && (*slot)->n - (*slot)->doomed >= per_client && !evict_one(l, *slot)) {
            refuse(fd, "Too many connections from this address (--max-connections-per-client)");
            continue;
        }
        if (l->n_conns - l->n_doomed >= l->cfg->max_connections && !evict_one(l, NULL)) {
            refuse(fd, "Server is busy: every connection is in use (--max-connections)");
            continue;
        }

        if (!*slot) {
            *slot = calloc(1, sizeof **slot);
            if (!*slot) {
                close(fd);
                continue;
            }
            memcpy((*slot)->addr, key, 16);
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = calloc(1, sizeof *c);
        if (!c || server_session_new(&c->session, l->cfg, l->handler, l->ctx) != 0) {
            free(c);
            close(fd);
            continue;
        }
        c->fd = fd;
        c->loop = l;
        if (l->cfg->tls && tls_conn_new(&c->tls, l->cfg->tls, fd) != 0) {
            err_clear();
            server_session_free(c->session);
            free(c);
            close(fd);
            continue;
        }
        if (l->pool) {
            c->session->defer = pool_submit;
            c->session->defer_ctx = c;
        }
        if (l->budget.limit)
            c->session->budget = &l->budget;
        buf_init(&c->out, 0);
        c->last_active_ms = now_ms();
        c->deadline_ms = c->last_active_ms + l->cfg->read_timeout_ms;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
        c->events = ev.events;
        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            tls_conn_free(c->tls);
            server_session_free(c->session);
            free(c);
            close(fd);
            continue;
        }
        c->client = *slot;
        c->client->n++;
        c->next = l->conns;
        if (l->conns)
            l->conns->prev = c;
        l->conns = c;
        l->n_conns++;
    }
}

static void start_draining(struct loop *l)
{
    if (l->draining)
        return;
    l->draining = 1;
    l->drain_deadline = now_ms() + DRAIN_LIMIT_MS;
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->listen_fd, NULL);
    close(l->listen_fd);
    l->listen_fd = -1;
    for (struct conn *c = l->conns, *next; c; c = next) {
        next = c->next;
        if (!c->session->in_message && !c->out.len)
            conn_doom(l, c); /* start_draining runs amid a batch of events */
    }
}

static void sweep_timeouts(struct loop *l)
{
    long long now = now_ms();
    for (struct conn *c = l->conns, *next; c; c = next) {
        next = c->next;
        if (c->session->deferred) /* the scorer's own timeout governs it */
            continue;
        const char *why = session_deadline_passed(c->session, now);
        if (!why && now < c->deadline_ms && !(l->draining && now > l->drain_deadline))
            continue;
        session_timeout(c->session, &c->out, why);
        if (c->out.len)
            conn_flush(l, c); /* best effort: the 408 goes out if the socket takes it */
        conn_close(l, c);
    }
}

static int parse_listen_address(struct sockaddr_storage *ss, socklen_t *len, const char *host, int port, int *v6only)
{
    memset(ss, 0, sizeof *ss);
    *v6only = 0;
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (!host || !host[0] || strcmp(host, "::") == 0) {
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = in6addr_any;
        in6->sin6_port = htons((uint16_t)port);
        *len = sizeof *in6;
        return 0;
    }
    /* Numeric addresses only: amlserve is static and never resolves names. */
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        *len = sizeof *in4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *len = sizeof *in6;
        *v6only = 1;
        return 0;
    }
    return err_set(ERR_INVALID, "listen address '%s' is not a numeric IPv4 or IPv6 address", host);
}

static int open_listener(const struct server_config *cfg, int *out_port)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    int v6only = 0;
    int rc = parse_listen_address(&ss, &len, cfg->host, cfg->port, &v6only);
    if (rc)
        return rc;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 && ss.ss_family == AF_INET6 && (!cfg->host || !cfg->host[0])) {
        /* No IPv6 on this host: every IPv4 address instead. */
        struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
        memset(&ss, 0, sizeof ss);
        in4->sin_family = AF_INET;
        in4->sin_addr.s_addr = htonl(INADDR_ANY);
        in4->sin_port = htons((uint16_t)cfg->port);
        len = sizeof *in4;
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    }
    if (fd < 0)
        return err_set_errno(ERR_IO, "cannot create a socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 1024) != 0) {
        rc = err_set_errno(ERR_IO, "cannot listen on port %d", cfg->port);
        close(fd);
        return rc;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    getsockname(fd, (struct sockaddr *)&bound, &blen);
    *out_port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                  : ((struct sockaddr_in *)&bound)->sin_port);
    return fd;
}

static int add_fd(int epfd, int fd, void *tag)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

int server_run(const struct server_config *cfg, http_handler_fn handler, void *ctx)
{
    struct loop l = {.cfg = cfg, .handler = handler, .ctx = ctx, .epfd = -1, .listen_fd = -1, .signal_fd = -1};
    l.budget.limit = cfg->max_buffered_body_bytes;
    signal(SIGPIPE, SIG_IGN);
    int port = 0;
    int rc = open_listener(cfg, &port);
    if (rc < 0)
        return rc;
    l.listen_fd = rc;
    rc = 0;
    l.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l.epfd < 0 || add_fd(l.epfd, l.listen_fd, &tag_listen) != 0) {
        rc = err_set_errno(ERR_IO, "epoll setup failed");
        goto done;
    }
    if (cfg->handle_signals) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        sigprocmask(SIG_BLOCK, &set, NULL);
        l.signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
        if (l.signal_fd < 0 || add_fd(l.epfd, l.signal_fd, &tag_signal) != 0) {
            rc = err_set_errno(ERR_IO, "signal setup failed");
            goto done;
        }
    }
    if (cfg->stop_fd >= 0 && add_fd(l.epfd, cfg->stop_fd, &tag_stop) != 0) {
        rc = err_set_errno(ERR_IO, "epoll setup failed");
        goto done;
    }
    if (cfg->scoring_threads > 0) {
        rc = pool_start(&l.pool, cfg);
        if (rc || add_fd(l.epfd, l.pool->done_fd, &tag_done) != 0) {
            rc = rc ? rc : err_set_errno(ERR_IO, "epoll setup failed");
            goto done;
        }
    }
    if (cfg->on_listening)
        cfg->on_listening(cfg->hook_ctx, port);
    struct epoll_event events[256];
    long long next_sweep = now_ms() + 1000;
    while (!l.draining || l.n_conns > 0) {
        int n = epoll_wait(l.epfd, events, 256, 1000);
        if (n < 0 && errno != EINTR) {
            rc = err_set_errno(ERR_IO, "epoll_wait failed");
            break;
        }
        for (int i = 0; i < n; i++) {
            void *tag = events[i].data.ptr;
            if (tag == &tag_listen) {
                accept_all(&l);
            } else if (tag == &tag_signal) {
                struct signalfd_siginfo si;
                while (read(l.signal_fd, &si, sizeof si) == (ssize_t)sizeof si) {
                    if (si.ssi_signo == SIGHUP && cfg->on_reload)
                        cfg->on_reload(cfg->hook_ctx);
                    else if (si.ssi_signo != SIGHUP)
                        start_draining(&l);
                }
            } else if (tag == &tag_stop) {
                start_draining(&l);
            } else if (tag == &tag_done) {
                pool_collect(&l);
            } else {
                /* Pending output decides, not the event: with TLS a write
                 * may wait for input and a read for output room. */
                struct conn *c = tag;
                if (c->doomed)
                    continue;
                if (c->out.len)
                    conn_resume(&l, c);
                else
                    conn_read(&l, c);
            }
        }
        reap_doomed(&l);
        if (cfg->on_idle)
            cfg->on_idle(cfg->hook_ctx);
        if (now_ms() >= next_sweep) {
            sweep_timeouts(&l);
            if (cfg->on_tick)
                cfg->on_tick(cfg->hook_ctx);
            next_sweep = now_ms() + 1000;
        }
    }
done:
    pool_stop(l.pool); /* finishes what is queued; nothing is collected after */
    while (l.conns)
        conn_close(&l, l.conns);
    if (l.listen_fd >= 0)
        close(l.listen_fd);
    if (l.signal_fd >= 0)
        close(l.signal_fd);
    if (l.epfd >= 0)
        close(l.epfd);
    return rc;
}
