/* The Azure ML scoring contract on top of the HTTP server: routes, the
 * x-ms-* headers every response carries, JSON errors, the access log.
 *
 * GET / → 200 "Healthy"; GET /ready → 200 once listening (amlserve listens
 * only after every model and init() loaded); GET|POST|OPTIONS /score → the
 * scorer (OPTIONS: 200 empty, or the CORS preflight answer), behind key auth
 * when keys are set; other methods on /score → 405; GET /swagger.json and
 * GET /metrics (behind auth too unless metrics_public); a request whose
 * arena ran past the per-request memory limit → 413; /v2 and under → the Open Inference Protocol (runtime/oip.h)
 * with the same auth (model routes), CORS, headers, metrics and access log;
 * anything else → 404. Errors are {"message": ...}, {"error": ...} under /v2. struct contract is caller-owned (contract_init); it
 * borrows the scorer, which must outlive it. */
#ifndef AMLSERVE_CONTRACT_H
#define AMLSERVE_CONTRACT_H

#include "runtime/auth.h"
#include "runtime/cors.h"
#include "runtime/metrics.h"
#include "runtime/scorer.h"
#include "runtime/server.h"
#include "runtime/swagger.h"

#include <stdint.h>
#include <stdio.h>

#include "version.h"
#define REQUEST_ID_MAX 100

struct contract {
    struct scorer *scorer;
    FILE *access_log; /* JSON lines; NULL for none */
    /* Optional parts, borrowed; NULL turns each off. */
    struct auth *auth; /* keys for /score */
    struct cors *cors;
    struct metrics *metrics; /* also serves /metrics */
    struct swagger *swagger; /* serves /swagger.json */
    long (*worker_restarts)(const struct scorer *s);
    int metrics_public; /* /metrics answers without auth (a scraper on a private network) */
};

void contract_init(struct contract *c, struct scorer *scorer, FILE *access_log);
/* http_handler_fn for server_run; ctx is a struct contract. */
void contract_handle(void *ctx, const struct http_request *req, struct http_response *resp);
/* check_headers hook: a request that needs auth and lacks it is answered 401
 * before its body is read or 100 Continue sent. */
int contract_check_headers(void *ctx, const struct http_request *req, struct http_response *resp);
/* is_inline hook: everything but scoring is cheap enough for the event loop. */
int contract_is_inline(void *ctx, const struct http_request *req);
/* on_idle hook: flushes the buffered access log. */
void contract_flush_log(void *ctx);

#endif
