/* CORS for the scoring routes, as AML_CORS_ORIGINS configures it in Azure
 * ML: a comma-separated list of allowed origins, or "*". Responses to an
 * allowed Origin carry Access-Control-Allow-Origin; preflight OPTIONS
 * requests get the allowed methods and headers. Others get no CORS headers,
 * so browsers refuse them. */
#ifndef AMLSERVE_CORS_H
#define AMLSERVE_CORS_H

#include "common/buf.h"
#include "runtime/server.h"

struct cors {
    char *origins; /* owned copy, comma-separated; NULL: CORS off */
    int any;       /* "*" */
};

void cors_init(struct cors *c, const char *origins);
void cors_release(struct cors *c);
/* Adds the CORS headers a response to req needs. Returns 1 when req is a
 * preflight (OPTIONS with Access-Control-Request-Method) from an allowed origin. */
int cors_apply(const struct cors *c, const struct http_request *req, struct buf *headers);

#endif
