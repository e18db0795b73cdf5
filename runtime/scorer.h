/* The one interface between the HTTP server and whatever computes a score.
 *
 * The server owns the request bytes and the response buffer; a scorer reads the
 * former and appends to the latter. Everything a scorer allocates for one call
 * comes from req->arena, which the server clears after the response is sent.
 * Scorers are created once at start-up (ownership passes to the caller through
 * **out) and freed with scorer_free(). score() must be safe to call from one
 * thread at a time per scorer; it never aborts the process. */
#ifndef AMLSERVE_SCORER_H
#define AMLSERVE_SCORER_H

#include "common/arena.h"
#include "common/buf.h"
#include "runtime/server.h"

#include <stddef.h>

struct scorer_request {
    const char *method; /* "POST" or "GET" */
    const char *body;   /* not NUL-terminated necessarily; see body_len */
    size_t body_len;
    const char *query; /* raw query string without '?', or "" */
    const char *path;
    const struct http_header *headers;
    size_t n_headers;
    const char *request_id;
    int worker; /* scoring thread index, or -1 on the event loop */
    struct arena *arena;
};

struct scorer_response {
    int status;               /* HTTP status, 200 unless set */
    const char *content_type; /* static or arena string, "application/json" unless set */
    struct buf *headers;      /* extra "Name: value\r\n" lines */
    struct buf *body;         /* append the response body here */
    int run_failed;           /* sets x-ms-run-function-failed: True */
};

/* One model a scorer serves natively, as protocols that address models by
 * name see it (the Open Inference Protocol). Borrowed for one visit. */
struct engine_model;
struct scorer_model {
    const char *name;
    const char *version; /* "" outside the Azure ML layout NAME/VERSION/FILE */
    const struct engine_model *model;
};

/* Called with the models sorted by name, then version (lowest first). */
typedef int (*scorer_models_fn)(void *arg, const struct scorer_model *models, size_t count);

struct scorer {
    const char *kind; /* "onnx", "python", ... for logs */
    /* Cheap enough (microseconds) to run on the event loop: a hand-off to
     * the scoring pool would cost more than the work itself. */
    int run_inline;
    int (*score)(struct scorer *self, const struct scorer_request *req, struct scorer_response *resp);
    void (*destroy)(struct scorer *self);
    /* Optional: called on SIGHUP from the event loop; reloads what the scorer
     * loaded from files (Python workers re-import the entry script). */
    void (*reload)(struct scorer *self);
    /* Optional: JSON Schemas of the request and response bodies, for swagger. */
    int (*describe)(struct scorer *self, struct buf *input_schema, struct buf *output_schema);
    /* Optional (NULL for entry scripts): calls fn with the models the scorer
     * runs itself and returns what fn returned. The models stay loaded for
     * the call only (a reload waits for it); fn may run them on any thread. */
    int (*visit_models)(struct scorer *self, scorer_models_fn fn, void *arg);
    void *state;
};

static inline void scorer_free(struct scorer *s)
{
    if (s)
        s->destroy(s);
}

#endif
