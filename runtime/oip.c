#include "oip.h"

#include "common/err.h"
#include "common/json.h"
#include "runtime/engine/engine.h"
#include "runtime/oip_request.h"
#include "runtime/oip_tensor.h"
#include "version.h"

#include <stdio.h>
#include <string.h>

#define PLATFORM "onnx_onnxv1"

static const char entry_script_message[] =
    "this package scores with an entry script: its run() answers POST /score; the Open Inference Protocol's "
    "model routes serve the ONNX models of no-code packages only";

void oip_error(struct http_response *resp, int status, const char *message)
{
    resp->status = status;
    resp->content_type = "application/json";
    buf_reset(resp->body);
    buf_append_str(resp->body, "{\"error\": ");
    json_write_string(resp->body, message, strlen(message));
    buf_append_str(resp->body, "}");
}

/* ---- routes ---- */

static int hex_value(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* One path segment, percent-decoded; NULL when empty or badly encoded.
 * Without an arena (routing before the request has one) only its presence counts. */
static const char *segment(struct arena *arena, const char *s, size_t len)
{
    if (!arena)
        return len ? "" : NULL;
    char *out = len ? arena_alloc(arena, len + 1) : NULL;
    if (!out)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            if (i + 2 >= len)
                return NULL;
            int a = hex_value(s[i + 1]), b = hex_value(s[i + 2]);
            if (a < 0 || b < 0 || (a == 0 && b == 0))
                return NULL;
            out[n++] = (char)(a * 16 + b);
            i += 2;
        } else {
            out[n++] = s[i];
        }
    }
    out[n] = 0;
    return out;
}

int oip_match(struct oip_route *out, const char *path, struct arena *arena)
{
    memset(out, 0, sizeof *out);
    if (strncmp(path, "/v2", 3) != 0 || (path[3] && path[3] != '/'))
        return 0;
    out->kind = OIP_NOT_FOUND;
    /* Split what follows /v2/ into segments; more than 6 is no route. */
    const char *seg[7];
    size_t len[7], n = 0;
    const char *p = path[3] ? path + 4 : path + 3;
    while (*p && n < 7) {
        const char *slash = strchr(p, '/');
        seg[n] = p;
        len[n] = slash ? (size_t)(slash - p) : strlen(p);
        n++;
        p = slash ? slash + 1 : p + strlen(p);
        if (slash && !*p && n < 7) { /* a trailing slash: an empty last segment */
            seg[n] = p;
            len[n++] = 0;
        }
    }
    if (*p)
        return 1;
#define IS(i, text) (len[i] == strlen(text) && strncmp(seg[i], text, len[i]) == 0)
    if (n == 0 || (n == 1 && len[0] == 0)) {
        out->kind = OIP_SERVER_METADATA;
        return 1;
    }
    if (n == 2 && IS(0, "health")) {
        out->kind = IS(1, "live") ? OIP_LIVE : IS(1, "ready") ? OIP_READY : OIP_NOT_FOUND;
        return 1;
    }
    if (n < 2 || !IS(0, "models") || !(out->name = segment(arena, seg[1], len[1])))
        return 1;
    size_t rest = 2;
    if (n >= 4 && IS(2, "versions")) {
        if (!(out->version = segment(arena, seg[3], len[3])))
            return 1;
        rest = 4;
    }
    if (n == rest)
        out->kind = OIP_MODEL_METADATA;
    else if (n == rest + 1 && IS(rest, "ready"))
        out->kind = OIP_MODEL_READY;
    else if (n == rest + 1 && IS(rest, "infer"))
        out->kind = OIP_INFER;
#undef IS
    return 1;
}

const char *oip_route_method(enum oip_kind kind)
{
    return kind == OIP_INFER ? "POST" : "GET";
}

int oip_route_needs_auth(enum oip_kind kind)
{
    return kind == OIP_MODEL_METADATA || kind == OIP_MODEL_READY || kind == OIP_INFER;
}

/* ---- models ---- */

/* The model a route names: that version, or the highest one (models come
 * sorted by version within a name, so the last of the name). */
static const struct scorer_model *find_model(const struct scorer_model *models, size_t count, const struct oip_route *r)
{
    const struct scorer_model *found = NULL;
    for (size_t i = 0; i < count; i++) {
        if (strcmp(models[i].name, r->name) != 0)
            continue;
        if (r->version && strcmp(models[i].version, r->version) != 0)
            continue;
        found = &models[i];
    }
    return found;
}

static void not_found(struct http_response *resp, const struct scorer_model *models, size_t count,
                      const struct oip_route *r)
{
    struct buf msg;
    buf_init(&msg, 4096);
    int known = 0;
    for (size_t i = 0; i < count && !known; i++)
        known = strcmp(models[i].name, r->name) == 0;
    if (known) {
        buf_appendf(&msg, "model '%s' has no version '%s'; its versions:", r->name, r->version);
        for (size_t i = 0; i < count; i++)
            if (strcmp(models[i].name, r->name) == 0)
                buf_appendf(&msg, " '%s'", models[i].version);
    } else {
        buf_appendf(&msg, "no model '%s' in this service; its models:", r->name);
        for (size_t i = 0; i < count; i++)
            if (i == 0 || strcmp(models[i].name, models[i - 1].name) != 0)
                buf_appendf(&msg, "%s '%s'", i ? "," : "", models[i].name);
    }
    oip_error(resp, 404, msg.data ? msg.data : "model not found");
    buf_release(&msg);
}

static void write_io_metadata(struct buf *b, const struct engine_io *io)
{
    buf_append_str(b, "{\"name\":");
    json_write_string(b, io->name, strlen(io->name));
    const char *dt = oip_datatype_name(io->shape.type);
    buf_appendf(b, ",\"datatype\":\"%s\",\"shape\":", dt ? dt : "UNSUPPORTED");
    oip_shape_write_json(b, &io->shape);
    buf_append_str(b, "}");
}

static void model_metadata(struct http_response *resp, const struct scorer_model *models, size_t count,
                           const struct scorer_model *m)
{
    struct buf *b = resp->body;
    resp->content_type = "application/json";
    buf_append_str(b, "{\"name\":");
    json_write_string(b, m->name, strlen(m->name));
    if (m->version[0]) {
        buf_append_str(b, ",\"versions\":[");
        int first = 1;
        for (size_t i = 0; i < count; i++) {
            if (strcmp(models[i].name, m->name) != 0 || !models[i].version[0])
                continue;
            if (!first)
                buf_append_str(b, ",");
            json_write_string(b, models[i].version, strlen(models[i].version));
            first = 0;
        }
        buf_append_str(b, "]");
    }
    buf_append_str(b, ",\"platform\":\"" PLATFORM "\",\"inputs\":[");
    for (size_t i = 0; i < engine_input_count(m->model); i++) {
        if (i)
            buf_append_str(b, ",");
        write_io_metadata(b, engine_input(m->model, i));
    }
    buf_append_str(b, "],\"outputs\":[");
    for (size_t i = 0; i < engine_output_count(m->model); i++) {
        if (i)
            buf_append_str(b, ",");
        write_io_metadata(b, engine_output(m->model, i));
    }
    buf_append_str(b, "]}");
}

/* ---- inference ---- */

/* A 4xx from an error code: the message set where it was found. */
static void request_error(struct http_response *resp, int rc)
{
    oip_error(resp, rc == ERR_LIMIT ? 413 : rc == ERR_NOTFOUND ? 404 : 400, err_message(rc));
    err_clear();
}

static int names_list(struct buf *b, const struct engine_model *m, int inputs)
{
    size_t n = inputs ? engine_input_count(m) : engine_output_count(m);
    for (size_t i = 0; i < n; i++) {
        const char *name = (inputs ? engine_input(m, i) : engine_output(m, i))->name;
        buf_append_str(b, i ? ", '" : "'");
        buf_append_str(b, name);
        buf_append_str(b, "'");
    }
    return 0;
}

/* The request's tensors bound to the model's inputs, in the model's order. */
static int bind_inputs(struct tensor *bound, const struct oip_request *rq, const struct engine_model *m,
                       struct arena *arena)
{
    size_t n_in = engine_input_count(m);
    char what[160];
    for (size_t k = 0; k < rq->n_inputs; k++) {
        size_t i = 0;
        while (i < n_in && strcmp(engine_input(m, i)->name, rq->inputs[k].name) != 0)
            i++;
        if (i == n_in) {
            struct buf names;
            buf_init(&names, 4096);
            names_list(&names, m, 1);
            int rc = err_set(ERR_INVALID, "unknown input '%.100s': the model's inputs are %s", rq->inputs[k].name,
                             names.data ? names.data : "");
            buf_release(&names);
            return rc;
        }
    }
    for (size_t i = 0; i < n_in; i++) {
        const struct engine_io *io = engine_input(m, i);
        const struct oip_input *in = NULL;
        for (size_t k = 0; k < rq->n_inputs && !in; k++)
            if (strcmp(rq->inputs[k].name, io->name) == 0)
                in = &rq->inputs[k];
        if (!in) {
            struct buf want;
            buf_init(&want, 256);
            oip_shape_write_json(&want, &io->shape);
            int rc = err_set(ERR_INVALID, "missing input '%s' (%s, shape %s)", io->name,
                             oip_datatype_name(io->shape.type) ? oip_datatype_name(io->shape.type) : "?",
                             want.data ? want.data : "");
            buf_release(&want);
            return rc;
        }
        snprintf(what, sizeof what, "input '%.100s'", io->name);
        if (in->shape.type != io->shape.type)
            return err_set(ERR_INVALID, "%s: datatype %s does not match the model's %s", what, in->datatype,
                           oip_datatype_name(io->shape.type) ? oip_datatype_name(io->shape.type) : "?");
        int shape_ok = io->shape.rank < 0 || io->shape.rank == in->shape.rank;
        for (int d = 0; shape_ok && io->shape.rank >= 0 && d < io->shape.rank; d++)
            shape_ok = io->shape.dims[d] < 0 || io->shape.dims[d] == in->shape.dims[d];
        if (!shape_ok) {
            struct buf want, got;
            buf_init(&want, 256);
            buf_init(&got, 256);
            oip_shape_write_json(&want, &io->shape);
            oip_shape_write_json(&got, &in->shape);
            int rc = err_set(ERR_INVALID, "%s: shape %s does not match the model's %s (-1: any size)", what, got.data,
                             want.data);
            buf_release(&want);
            buf_release(&got);
            return rc;
        }
        bound[i] = in->shape;
        int rc = in->data ? oip_tensor_from_json(&bound[i], in->data, arena, what)
                          : oip_tensor_from_raw(&bound[i], in->raw, in->raw_len, arena, what);
        if (rc)
            return rc;
    }
    return 0;
}

struct infer_call {
    const struct oip_route *route;
    const struct http_request *req;
    struct http_response *resp;
    const struct oip_request *rq;
};

static int write_response(struct infer_call *call, const struct scorer_model *m, const struct tensor *outputs)
{
    const struct oip_request *rq = call->rq;
    struct buf *b = call->resp->body;
    size_t n_out = engine_output_count(m->model);
    size_t n = rq->n_outputs ? rq->n_outputs : n_out;
    /* Which model output each response output is, and whether it goes binary. */
    size_t *which = arena_alloc(call->req->arena, (n + 1) * sizeof *which);
    int *binary = arena_alloc(call->req->arena, (n + 1) * sizeof *binary);
    if (!which || !binary)
        return err_set(ERR_LIMIT, "request memory limit reached");
    int any_binary = 0;
    for (size_t k = 0; k < n; k++) {
        which[k] = k;
        binary[k] = rq->binary_output;
        if (rq->n_outputs) {
            size_t i = 0;
            while (i < n_out && strcmp(engine_output(m->model, i)->name, rq->outputs[k].name) != 0)
                i++;
            if (i == n_out) /* infer_on checked the names before the run */
                return err_set(ERR_UNSUPPORTED, "unknown output '%.100s'", rq->outputs[k].name);
            which[k] = i;
            binary[k] = rq->outputs[k].binary;
        }
        any_binary |= binary[k];
    }
    int rc = buf_append_str(b, "{\"model_name\":");
    rc = rc ? rc : json_write_string(b, m->name, strlen(m->name));
    if (!rc && m->version[0]) {
        rc = buf_append_str(b, ",\"model_version\":");
        rc = rc ? rc : json_write_string(b, m->version, strlen(m->version));
    }
    if (!rc && rq->id) {
        rc = buf_append_str(b, ",\"id\":");
        rc = rc ? rc : json_write_string(b, rq->id, rq->id_len);
    }
    rc = rc ? rc : buf_append_str(b, ",\"outputs\":[");
    for (size_t k = 0; k < n && !rc; k++) {
        const struct tensor *t = &outputs[which[k]];
        const char *name = engine_output(m->model, which[k])->name;
        const char *dt = oip_datatype_name(t->type);
        if (!dt || t->type == TENSOR_STRING)
            return err_set(ERR_UNSUPPORTED, "output '%s' is a %s, which the protocol cannot carry", name,
                           tensor_type_name(t->type));
        rc = buf_append_str(b, k ? ",{\"name\":" : "{\"name\":");
        rc = rc ? rc : json_write_string(b, name, strlen(name));
        rc = rc ? rc : buf_appendf(b, ",\"datatype\":\"%s\",\"shape\":", dt);
        rc = rc ? rc : oip_shape_write_json(b, t);
        if (binary[k])
            rc = rc ? rc
                    : buf_appendf(b, ",\"parameters\":{\"binary_data_size\":%lld}}", (long long)oip_tensor_bytes(t));
        else {
            rc = rc ? rc : buf_append_str(b, ",\"data\":");
            rc = rc ? rc : oip_tensor_write_json(b, t);
            rc = rc ? rc : buf_append_str(b, "}");
        }
    }
    rc = rc ? rc : buf_append_str(b, "]}");
    if (rc || !any_binary)
        return rc;
    /* Binary tensor data extension: the raw outputs follow the JSON, in its order. */
    size_t json_len = b->len;
    for (size_t k = 0; k < n && !rc; k++) {
        int64_t bytes = oip_tensor_bytes(&outputs[which[k]]);
        if (binary[k] && bytes > 0)
            rc = buf_append(b, outputs[which[k]].data, (size_t)bytes);
    }
    if (rc)
        return rc;
    call->resp->content_type = "application/octet-stream";
    return buf_appendf(call->resp->headers, "Inference-Header-Content-Length: %zu\r\n", json_len);
}

static int infer_on(void *arg, const struct scorer_model *models, size_t count)
{
    struct infer_call *call = arg;
    const struct scorer_model *m = find_model(models, count, call->route);
    if (!m) {
        not_found(call->resp, models, count, call->route);
        return 0;
    }
    struct arena *arena = call->req->arena;
    size_t n_in = engine_input_count(m->model), n_out = engine_output_count(m->model);
    struct tensor *inputs = arena_alloc(arena, (n_in + 1) * sizeof *inputs);
    struct tensor *outputs = arena_alloc(arena, (n_out + 1) * sizeof *outputs);
    int rc = inputs && outputs ? 0 : err_set(ERR_LIMIT, "request memory limit reached");
    /* Unknown output names are refused before the model runs. */
    for (size_t k = 0; k < call->rq->n_outputs && !rc; k++) {
        size_t i = 0;
        while (i < n_out && strcmp(engine_output(m->model, i)->name, call->rq->outputs[k].name) != 0)
            i++;
        if (i == n_out) {
            struct buf names;
            buf_init(&names, 4096);
            names_list(&names, m->model, 0);
            rc = err_set(ERR_INVALID, "unknown output '%.100s': the model's outputs are %s", call->rq->outputs[k].name,
                         names.data ? names.data : "");
            buf_release(&names);
        }
    }
    if (!rc)
        rc = bind_inputs(inputs, call->rq, m->model, arena);
    if (rc) {
        request_error(call->resp, rc);
        return 0;
    }
    arena->limit = 0; /* the request's limit bounds its parsing; the model's own needs are the model's */
    rc = engine_run(m->model, arena, inputs, outputs);
    if (rc == ERR_INVALID || rc == ERR_LIMIT) {
        request_error(call->resp, rc);
        return 0;
    }
    call->resp->content_type = "application/json";
    return rc ? rc : write_response(call, m, outputs);
}

static void infer(struct scorer *scorer, const struct oip_route *r, const struct http_request *req,
                  struct http_response *resp, int *failed)
{
    struct oip_request rq;
    err_clear();
    int rc = oip_request_parse(&rq, req->body, req->body_len,
                               http_request_header(req, "inference-header-content-length"), req->arena);
    if (rc)
        return request_error(resp, rc);
    struct infer_call call = {.route = r, .req = req, .resp = resp, .rq = &rq};
    rc = scorer->visit_models(scorer, infer_on, &call);
    if (rc) {
        fprintf(stderr, "amlserve: v2 inference failed: %s\n", err_message(rc));
        oip_error(resp, 500, err_message(rc));
        err_clear();
        *failed = 1;
    }
}

struct metadata_call {
    const struct oip_route *route;
    struct http_response *resp;
};

static int metadata_on(void *arg, const struct scorer_model *models, size_t count)
{
    struct metadata_call *call = arg;
    const struct scorer_model *m = find_model(models, count, call->route);
    if (!m)
        not_found(call->resp, models, count, call->route);
    else if (call->route->kind == OIP_MODEL_READY)
        call->resp->content_type = NULL; /* 200, empty body: the model is loaded */
    else
        model_metadata(call->resp, models, count, m);
    return 0;
}

void oip_serve(struct scorer *scorer, const struct oip_route *r, const struct http_request *req,
               struct http_response *resp, int *failed)
{
    *failed = 0;
    switch (r->kind) {
    case OIP_LIVE:
    case OIP_READY: /* amlserve listens only once every model loaded: ready whenever it answers */
        resp->content_type = NULL;
        return;
    case OIP_SERVER_METADATA:
        resp->content_type = "application/json";
        buf_appendf(resp->body, "{\"name\":\"amlserve\",\"version\":\"%s\",\"extensions\":[%s]}", AMLPKG_VERSION,
                    scorer->visit_models ? "\"binary_tensor_data\"" : "");
        return;
    case OIP_NOT_FOUND:
        return oip_error(resp, 404,
                         "not found: the Open Inference Protocol routes are GET /v2, GET /v2/health/live, GET "
                         "/v2/health/ready, GET /v2/models/NAME[/versions/VERSION][/ready], POST "
                         "/v2/models/NAME[/versions/VERSION]/infer");
    default: break;
    }
    if (!scorer->visit_models)
        return oip_error(resp, 501, entry_script_message);
    if (r->kind == OIP_INFER)
        return infer(scorer, r, req, resp, failed);
    struct metadata_call call = {.route = r, .resp = resp};
    scorer->visit_models(scorer, metadata_on, &call);
}
