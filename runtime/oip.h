/* The Open Inference Protocol (KServe "predict protocol v2", Triton's HTTP
 * API) beside the Azure ML contract: a route table over the server's request
 * type for GET /v2, /v2/health/{live,ready},
 * /v2/models/NAME[/versions/VERSION][/ready] and
 * POST /v2/models/NAME[/versions/VERSION]/infer, with the binary tensor data
 * extension in both directions.
 *
 * Models are the scorer's own (scorer->visit_models): every ONNX model of
 * the package, named and versioned by the Azure ML layout
 * AZUREML_MODEL_DIR/NAME/VERSION/FILE; without a version in the URL the
 * highest one answers. An entry-script package has no models the server can
 * run itself: its model routes answer 501 naming POST /score.
 *
 * contract.c owns what every route shares (auth, CORS, headers, metrics, the
 * access log); this module decides what a /v2 route means and answers it.
 * Errors are {"error": "..."} as the protocol asks. Everything allocated for
 * a request comes from its arena. */
#ifndef AMLSERVE_OIP_H
#define AMLSERVE_OIP_H

#include "runtime/scorer.h"
#include "runtime/server.h"

enum oip_kind {
    OIP_NOT_FOUND, /* under /v2 but no route of the protocol */
    OIP_LIVE,
    OIP_READY,
    OIP_SERVER_METADATA,
    OIP_MODEL_METADATA,
    OIP_MODEL_READY,
    OIP_INFER,
};

struct oip_route {
    enum oip_kind kind;
    const char *name;    /* model routes: percent-decoded, in the arena */
    const char *version; /* NULL when the URL names none */
};

/* 1 when path is /v2 or under it (out says which route), else 0. With a
 * NULL arena the names are not decoded (only the kind is wanted). */
int oip_match(struct oip_route *out, const char *path, struct arena *arena);
/* The method a route answers ("GET" also takes HEAD), for 405s and Allow. */
const char *oip_route_method(enum oip_kind kind);
/* Model routes sit behind the service's keys; health and server metadata do not (probes). */
int oip_route_needs_auth(enum oip_kind kind);

/* Answers a matched route whose method and auth were checked. failed is set
 * when the answer is a server-side failure (x-ms-run-function-failed). */
void oip_serve(struct scorer *scorer, const struct oip_route *route, const struct http_request *req,
               struct http_response *resp, int *failed);
/* {"error": message} with status. */
void oip_error(struct http_response *resp, int status, const char *message);

#endif
