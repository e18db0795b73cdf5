#include "contract.h"

#include "common/err.h"
#include "common/json.h"
#include "runtime/oip.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>

static const char run_failed_message[] =
    "An unexpected error occurred in scoring script. Check the logs for more info.";

void contract_init(struct contract *c, struct scorer *scorer, FILE *access_log)
{
    memset(c, 0, sizeof *c);
    c->scorer = scorer;
    c->access_log = access_log;
}

/* xorshift128+, one state per thread (handlers run on several): request ids
 * need to be unique, not secret. */
static uint64_t next_random(void)
{
    static _Thread_local uint64_t rng[2];
    if (!(rng[0] | rng[1])) {
        if (getrandom(rng, sizeof rng, 0) != (ssize_t)sizeof rng || !(rng[0] | rng[1])) {
            rng[0] = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull;
            rng[1] = (uint64_t)(uintptr_t)&rng | 1;
        }
    }
    uint64_t s1 = rng[0];
    const uint64_t s0 = rng[1];
    rng[0] = s0;
    s1 ^= s1 << 23;
    rng[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return rng[1] + s0;
}

static void new_uuid(char out[37])
{
    uint64_t hi = next_random(), lo = next_random();
    hi = (hi & ~0xF000ull) | 0x4000ull;                        /* version 4 */
    lo = (lo & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull; /* RFC 4122 variant */
    snprintf(out, 37, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(hi >> 32), (unsigned)((hi >> 16) & 0xFFFF),
             (unsigned)(hi & 0xFFFF), (unsigned)(lo >> 48), (unsigned long long)(lo & 0xFFFFFFFFFFFFull));
}

static void json_message(struct http_response *resp, int status, const char *message)
{
    resp->status = status;
    resp->content_type = "application/json";
    buf_reset(resp->body);
    buf_append_str(resp->body, "{\"message\": ");
    json_write_string(resp->body, message, strlen(message));
    buf_append_str(resp->body, "}");
}

/* Errors in the shape of the route's protocol: {"error"} under /v2, else {"message"}. */
static void reply_error(const struct http_request *req, struct http_response *resp, int status, const char *message)
{
    struct oip_route r;
    if (req->path && oip_match(&r, req->path, req->arena))
        oip_error(resp, status, message);
    else
        json_message(resp, status, message);
}

/* 1 when the request may pass; else a 401 is in resp. */
static int authorized(struct contract *c, const struct http_request *req, struct http_response *resp)
{
    const char *why;
    if (!c->auth || !auth_enabled(c->auth) ||
        auth_check(c->auth, http_request_header(req, "authorization"), req->arena, &why))
        return 1;
    buf_append_str(resp->headers, "WWW-Authenticate: Bearer\r\n");
    char message[160];
    snprintf(message, sizeof message, "Unauthorized: %s", why);
    reply_error(req, resp, 401, message);
    return 0;
}

static double elapsed_ms(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) * 1e3 + (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

/* Runs the scorer; returns the scoring time in ms. */
static double score(struct contract *c, const struct http_request *req, struct http_response *resp, int *failed,
                    const char *request_id)
{
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    struct scorer_response sr = {
        .status = 200,
        .content_type = "application/json",
        .headers = resp->headers,
        .body = resp->body,
    };
    struct scorer_request sq = {
        .method = req->method,
        .body = req->body,
        .body_len = req->body_len,
        .query = req->query,
        .path = req->path,
        .headers = req->headers,
        .n_headers = req->n_headers,
        .request_id = request_id,
        .worker = req->worker,
        .arena = req->arena,
    };
    err_clear();
    int rc = c->scorer->score(c->scorer, &sq, &sr);
    double ms = elapsed_ms(&start);
    if (rc) {
        fprintf(stderr, "amlserve: scoring failed: %s\n", err_message(rc));
        err_clear();
        json_message(resp, 500, run_failed_message);
        *failed = 1;
        return ms;
    }
    resp->status = sr.status;
    resp->content_type = sr.content_type;
    *failed = sr.run_failed || sr.status >= 500;
    return ms;
}

static void swagger_route(struct contract *c, const struct http_request *req, struct http_response *resp)
{
    char version[16] = "";
    for (const char *q = req->query; q && *q;) {
        const char *end = strchr(q, '&');
        size_t len = end ? (size_t)(end - q) : strlen(q);
        if (len > 8 && strncmp(q, "version=", 8) == 0)
            snprintf(version, sizeof version, "%.*s", (int)(len - 8 < 15 ? len - 8 : 15), q + 8);
        q = end ? end + 1 : NULL;
    }
    const struct buf *doc = c->swagger ? swagger_document(c->swagger, version) : NULL;
    if (!c->swagger)
        return json_message(resp, 404, "Swagger is not available for this service");
    if (!doc) {
        char msg[160];
        swagger_refusal(c->swagger, version, msg, sizeof msg);
        return json_message(resp, 404, msg);
    }
    resp->content_type = "application/json";
    buf_append(resp->body, doc->data, doc->len);
}

/* The Open Inference Protocol's routes (runtime/oip.h) with this contract's CORS and auth. */
static void v2_route(struct contract *c, const struct oip_route *r, const struct http_request *req,
                     struct http_response *resp, int *failed, double *exec_ms)
{
    const char *want = oip_route_method(r->kind);
    int preflight = c->cors && cors_apply(c->cors, req, resp->headers);
    if (strcmp(req->method, "OPTIONS") == 0) {
        if (!preflight)
            buf_appendf(resp->headers, "Allow: %s, OPTIONS\r\n", want);
        return;
    }
    int is_get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    if (r->kind != OIP_NOT_FOUND && (strcmp(want, "GET") == 0 ? !is_get : strcmp(req->method, want) != 0)) {
        char message[96];
        snprintf(message, sizeof message, "Method not allowed; use %s on this route", want);
        buf_appendf(resp->headers, "Allow: %s, OPTIONS\r\n", want);
        return oip_error(resp, 405, message);
    }
    if (oip_route_needs_auth(r->kind) && !authorized(c, req, resp))
        return;
    if (req->headers_only)
        return oip_error(resp, 503, "Authentication changed while the request was read; retry");
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    err_clear();
    oip_serve(c->scorer, r, req, resp, failed);
    if (r->kind == OIP_INFER)
        *exec_ms = elapsed_ms(&start);
}

static void route(struct contract *c, const struct http_request *req, struct http_response *resp, int *failed,
                  double *exec_ms, const char *request_id)
{
    const char *m = req->method;
    int is_get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
    if (strcmp(req->path, "/") == 0 || strcmp(req->path, "/ready") == 0) {
        if (!is_get)
            return json_message(resp, 405, "Method not allowed");
        resp->content_type = "text/plain; charset=utf-8";
        buf_append_str(resp->body, req->path[1] ? "Ready" : "Healthy");
        return;
    }
    if (strcmp(req->path, "/score") == 0) {
        int preflight = c->cors && cors_apply(c->cors, req, resp->headers);
        if (strcmp(m, "OPTIONS") == 0) {
            if (!preflight)
                buf_append_str(resp->headers, "Allow: GET, POST, OPTIONS\r\n");
            return;
        }
        if (strcmp(m, "POST") && strcmp(m, "GET"))
            return json_message(resp, 405, "Method not allowed; use POST (or GET) on /score");
        if (!authorized(c, req, resp))
            return;
        if (req->headers_only) /* the keys changed between the two looks: never score without the body */
            return json_message(resp, 503, "Authentication changed while the request was read; retry");
        *exec_ms = score(c, req, resp, failed, request_id);
        return;
    }
    struct oip_route v2;
    if (oip_match(&v2, req->path, req->arena))
        return v2_route(c, &v2, req, resp, failed, exec_ms);
    if (strcmp(req->path, "/swagger.json") == 0) {
        if (!is_get)
            return json_message(resp, 405, "Method not allowed");
        return swagger_route(c, req, resp);
    }
    if (strcmp(req->path, "/metrics") == 0 && c->metrics) {
        if (!is_get)
            return json_message(resp, 405, "Method not allowed");
        if (!c->metrics_public && !authorized(c, req, resp))
            return;
        resp->content_type = "text/plain; version=0.0.4";
        metrics_render(c->metrics, resp->body, c->worker_restarts ? c->worker_restarts(c->scorer) : 0);
        return;
    }
    json_message(resp, 404,
                 "Not found: the routes are GET /, GET /ready, GET|POST /score, GET /swagger.json, "
                 "GET /metrics, and the Open Inference Protocol's under /v2");
}

static void log_request(struct contract *c, const struct http_request *req, const struct http_response *resp,
                        const char *request_id, double total_ms)
{
    if (!c->access_log)
        return;
    char line[1024];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    /* A stack buffer: the limit keeps buf from ever reallocating it (over-long lines are cut). */
    struct buf b = {.data = line, .cap = sizeof line, .limit = sizeof line - 1};
    buf_appendf(&b, "{\"time\":\"%s.%03ldZ\",\"method\":", when, now.tv_nsec / 1000000);
    const char *method = req->method ? req->method : "-";
    json_write_string(&b, method, strlen(method));
    buf_append_str(&b, ",\"path\":");
    json_write_string(&b, req->path ? req->path : "", req->path ? strlen(req->path) : 0);
    buf_appendf(&b, ",\"status\":%d,\"duration_ms\":%.3f,\"request_id\":\"%s\"}\n", resp->status, total_ms, request_id);
    fwrite(b.data, 1, b.len, c->access_log);
}

void contract_handle(void *ctx, const struct http_request *req, struct http_response *resp)
{
    struct contract *c = ctx;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    if (c->metrics)
        metrics_request_started(c->metrics);
    int failed = 0;
    double exec_ms = 0;
    char request_id[REQUEST_ID_MAX + 1];
    const char *given = req->error_status ? NULL : http_request_header(req, "x-request-id");
    const char *client_id = req->error_status ? NULL : http_request_header(req, "x-ms-client-request-id");
    if (given && given[0] && strlen(given) <= REQUEST_ID_MAX)
        snprintf(request_id, sizeof request_id, "%s", given);
    else
        new_uuid(request_id);

    if (req->error_status)
        reply_error(req, resp, req->error_status, req->error_message ? req->error_message : "Bad request");
    else if ((given && strlen(given) > REQUEST_ID_MAX) || (client_id && strlen(client_id) > REQUEST_ID_MAX))
        reply_error(req, resp, 431, "x-request-id and x-ms-client-request-id must be at most 100 characters");
    else
        route(c, req, resp, &failed, &exec_ms, request_id);
    /* Parsing and scoring draw on the request's arena: past its limit the
     * handler failed for want of memory, which is the request's size. */
    if (req->arena && req->arena->over_limit && resp->status >= 400) {
        char message[256];
        snprintf(message, sizeof message,
                 "Request needs more memory than one request may use (%zu MB, --max-request-memory-mb): "
                 "send fewer rows per request",
                 req->arena->limit >> 20);
        reply_error(req, resp, 413, message);
        failed = 0;
    }

    struct buf *h = resp->headers;
    buf_appendf(h, "x-ms-run-function-failed: %s\r\nx-ms-run-fn-exec-ms: %.3f\r\n", failed ? "True" : "False", exec_ms);
    buf_appendf(h, "x-request-id: %s\r\nx-ms-request-id: %s\r\n", request_id, request_id);
    if (client_id && strlen(client_id) <= REQUEST_ID_MAX && !strpbrk(client_id, "\r\n"))
        buf_appendf(h, "x-ms-client-request-id: %s\r\n", client_id);
    buf_append_str(h, "x-ms-server-version: amlserve/" AMLPKG_VERSION "\r\n");
    double total_ms = elapsed_ms(&start);
    if (c->metrics)
        metrics_request_done(c->metrics, resp->status, total_ms, req->queue_ms);
    log_request(c, req, resp, request_id, total_ms);
}

/* Whether the route behind req wants auth (what route() and v2_route() check). */
static int needs_auth(const struct contract *c, const struct http_request *req)
{
    if (strcmp(req->method, "OPTIONS") == 0)
        return 0;
    if (strcmp(req->path, "/score") == 0)
        return strcmp(req->method, "POST") == 0 || strcmp(req->method, "GET") == 0;
    if (strcmp(req->path, "/metrics") == 0)
        return c->metrics && !c->metrics_public;
    struct oip_route r;
    return oip_match(&r, req->path, req->arena) && oip_route_needs_auth(r.kind);
}

int contract_check_headers(void *ctx, const struct http_request *req, struct http_response *resp)
{
    struct contract *c = ctx;
    if (!c->auth || !auth_enabled(c->auth) || !needs_auth(c, req))
        return 0;
    const char *why;
    if (auth_check(c->auth, http_request_header(req, "authorization"), req->arena, &why))
        return 0;
    /* The whole answer, headers, metrics and access log included: the route refuses it again. */
    contract_handle(ctx, req, resp);
    return 1;
}

int contract_is_inline(void *ctx, const struct http_request *req)
{
    const struct contract *c = ctx;
    if (c->scorer->run_inline || strcmp(req->method, "OPTIONS") == 0)
        return 1;
    struct oip_route r;
    if (oip_match(&r, req->path, req->arena)) /* inference only, and only where the scorer runs models */
        return r.kind != OIP_INFER || !c->scorer->visit_models;
    return strcmp(req->path, "/score") != 0;
}

void contract_flush_log(void *ctx)
{
    struct contract *c = ctx;
    if (c->access_log)
        fflush(c->access_log);
}
