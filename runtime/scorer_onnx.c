#include "scorer_onnx.h"

#include "common/err.h"
#include "common/json.h"
#include "runtime/engine/engine.h"
#include "runtime/engine/model_files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Models this small (linear models, small trees) score in microseconds. */
#define SMALL_MODEL_BYTES (256 * 1024)

struct onnx_state {
    struct engine_model *model;
    char *path;
};

/* Reads a rectangular nested JSON array of numbers into t (shape and data). */
static int json_shape(struct tensor *t, const struct json_value *v)
{
    t->rank = 0;
    while (v->type == JSON_ARRAY) {
        if (t->rank == TENSOR_MAX_RANK)
            return err_set(ERR_INVALID, "array nesting deeper than %d", TENSOR_MAX_RANK);
        t->dims[t->rank++] = (int64_t)v->count;
        if (!v->child)
            break;
        v = v->child;
    }
    return 0;
}

static int json_fill(const struct tensor *t, const struct json_value *v, int depth, size_t *pos)
{
    if (depth == t->rank) {
        double x;
        if (v->type == JSON_NUMBER)
            x = v->as.number;
        else if (v->type == JSON_BOOL)
            x = v->as.boolean;
        else
            return err_set(ERR_INVALID, "expected a number at line %d column %d, got %s", v->line,
                           v->column, json_type_name(v->type));
        switch (t->type) {
        case TENSOR_FLOAT: ((float *)t->data)[*pos] = (float)x; break;
        case TENSOR_DOUBLE: ((double *)t->data)[*pos] = x; break;
        case TENSOR_INT64: ((int64_t *)t->data)[*pos] = (int64_t)x; break;
        case TENSOR_INT32: ((int32_t *)t->data)[*pos] = (int32_t)x; break;
        default: ((uint8_t *)t->data)[*pos] = (uint8_t)x; break;
        }
        (*pos)++;
        return 0;
    }
    if (v->type != JSON_ARRAY || (int64_t)v->count != t->dims[depth])
        return err_set(ERR_INVALID, "ragged array at line %d column %d: expected %lld items", v->line,
                       v->column, (long long)t->dims[depth]);
    for (const struct json_value *c = v->child; c; c = c->next) {
        int rc = json_fill(t, c, depth + 1, pos);
        if (rc)
            return rc;
    }
    return 0;
}

static int tensor_from_json(struct tensor *out, const struct engine_io *io, const struct json_value *v,
                            struct arena *arena)
{
    memset(out, 0, sizeof *out);
    out->type = io->shape.type;
    size_t elem = tensor_type_size(out->type);
    if (!elem)
        return err_set(ERR_UNSUPPORTED, "input '%s': type %s cannot be sent as JSON", io->name,
                       tensor_type_name(out->type));
    int rc = json_shape(out, v);
    if (rc)
        return rc;
    int64_t count = tensor_element_count(out);
    if (count < 0 || (uint64_t)count > SIZE_MAX / elem)
        return err_set(ERR_INVALID, "input '%s': too many values", io->name);
    out->data = arena_alloc(arena, (size_t)count * elem + 1);
    if (!out->data)
        return err_set(ERR_LIMIT, "input '%s': request memory limit reached", io->name);
    size_t pos = 0;
    rc = json_fill(out, v, 0, &pos);
    if (rc)
        return rc;
    return 0;
}

static int write_values(struct buf *b, const struct tensor *t, int depth, size_t *pos)
{
    if (depth == t->rank) {
        size_t i = (*pos)++;
        switch (t->type) {
        case TENSOR_FLOAT: return json_write_float(b, ((const float *)t->data)[i]);
        case TENSOR_DOUBLE: return json_write_double(b, ((const double *)t->data)[i]);
        case TENSOR_INT64: return buf_appendf(b, "%lld", (long long)((const int64_t *)t->data)[i]);
        case TENSOR_INT32: return buf_appendf(b, "%d", ((const int32_t *)t->data)[i]);
        case TENSOR_BOOL: return buf_append_str(b, ((const uint8_t *)t->data)[i] ? "true" : "false");
        case TENSOR_INT8: return buf_appendf(b, "%d", ((const int8_t *)t->data)[i]);
        default: return buf_appendf(b, "%u", ((const uint8_t *)t->data)[i]);
        }
    }
    int rc = buf_append(b, "[", 1);
    for (int64_t i = 0; i < t->dims[depth] && !rc; i++) {
        if (i)
            rc = buf_append(b, ",", 1);
        if (!rc)
            rc = write_values(b, t, depth + 1, pos);
    }
    return rc ? rc : buf_append(b, "]", 1);
}

/* Schema of one tensor as nested JSON arrays, with its shape in the description. */
static void tensor_schema(struct buf *b, const struct engine_io *io)
{
    const struct tensor *t = &io->shape;
    int rank = t->rank < 0 ? 1 : t->rank;
    const char *item = t->type == TENSOR_BOOL ? "{\"type\": \"boolean\"}"
                       : (t->type == TENSOR_FLOAT || t->type == TENSOR_DOUBLE) ? "{\"type\": \"number\", \"format\": \"float\"}"
                                                                              : "{\"type\": \"integer\"}";
    for (int i = 0; i < rank; i++)
        buf_append_str(b, "{\"type\": \"array\", \"items\": ");
    buf_append_str(b, item);
    for (int i = 0; i < rank; i++)
        buf_append_str(b, "}");
}

static void io_object_schema(struct buf *b, const struct engine_model *m, int inputs)
{
    size_t n = inputs ? engine_input_count(m) : engine_output_count(m);
    buf_append_str(b, "{\"type\": \"object\", \"properties\": {");
    for (size_t i = 0; i < n; i++) {
        const struct engine_io *io = inputs ? engine_input(m, i) : engine_output(m, i);
        if (i)
            buf_append_str(b, ", ");
        const char *name = n == 1 && inputs ? "data" : io->name;
        json_write_string(b, name, strlen(name));
        buf_append_str(b, ": ");
        tensor_schema(b, io);
    }
    buf_append_str(b, "}}");
}

static int onnx_describe(struct scorer *self, struct buf *input_schema, struct buf *output_schema)
{
    const struct onnx_state *st = self->state;
    io_object_schema(input_schema, st->model, 1);
    if (engine_output_count(st->model) == 1)
        tensor_schema(output_schema, engine_output(st->model, 0));
    else
        io_object_schema(output_schema, st->model, 0);
    return 0;
}

static int fail_request(struct scorer_response *resp, int code)
{
    resp->status = code == ERR_LIMIT ? 413 : 400;
    buf_reset(resp->body);
    buf_append_str(resp->body, "{\"message\": ");
    const char *msg = err_message(code);
    json_write_string(resp->body, msg, strlen(msg));
    buf_append_str(resp->body, "}");
    err_clear();
    return 0;
}

static int onnx_score(struct scorer *self, const struct scorer_request *req, struct scorer_response *resp)
{
    struct onnx_state *st = self->state;
    const struct engine_model *m = st->model;
    size_t n_in = engine_input_count(m), n_out = engine_output_count(m);
    struct json_value *doc;
    int rc = json_parse(&doc, req->arena, req->body, req->body_len, "request body");
    if (rc)
        return fail_request(resp, rc);
    struct tensor *inputs = arena_alloc(req->arena, (n_in + 1) * sizeof *inputs);
    struct tensor *outputs = arena_alloc(req->arena, (n_out + 1) * sizeof *outputs);
    if (!inputs || !outputs)
        return fail_request(resp, err_set(ERR_LIMIT, "request memory limit reached"));
    for (size_t i = 0; i < n_in; i++) {
        const struct engine_io *io = engine_input(m, i);
        const struct json_value *v = json_member(doc, io->name);
        if (!v && n_in == 1)
            v = doc->type == JSON_ARRAY ? doc : json_member(doc, "data");
        if (!v)
            return fail_request(resp, err_set(ERR_INVALID, "missing input '%s'%s", io->name,
                                              n_in == 1 ? " (send {\"data\": [...]})" : ""));
        rc = tensor_from_json(&inputs[i], io, v, req->arena);
        if (rc)
            return fail_request(resp, rc);
    }
    rc = engine_run(m, req->arena, inputs, outputs);
    if (rc == ERR_INVALID || rc == ERR_LIMIT)
        return fail_request(resp, rc);
    if (rc)
        return rc;
    struct buf *b = resp->body;
    size_t pos = 0;
    if (n_out == 1)
        return write_values(b, &outputs[0], 0, &pos);
    rc = buf_append(b, "{", 1);
    for (size_t i = 0; i < n_out && !rc; i++) {
        const char *name = engine_output(m, i)->name;
        pos = 0;
        if (i)
            rc = buf_append(b, ", ", 2);
        if (!rc)
            rc = json_write_string(b, name, strlen(name));
        if (!rc)
            rc = buf_append(b, ": ", 2);
        if (!rc)
            rc = write_values(b, &outputs[i], 0, &pos);
    }
    return rc ? rc : buf_append(b, "}", 1);
}

static void onnx_destroy(struct scorer *self)
{
    struct onnx_state *st = self->state;
    engine_model_free(st->model);
    free(st->path);
    free(st);
    free(self);
}

const char *scorer_onnx_model_path(const struct scorer *s)
{
    return ((const struct onnx_state *)s->state)->path;
}

int scorer_onnx_new(struct scorer **out, const char *model_dir)
{
    *out = NULL;
    char **found = NULL;
    size_t count = 0;
    char *path = NULL;
    int rc = model_files_find_onnx(&found, &count, model_dir);
    if (!rc && count == 0)
        rc = err_set(ERR_NOTFOUND, "no .onnx model under '%s' and no entry script", model_dir);
    if (!rc && count > 1)
        rc = err_set(ERR_UNSUPPORTED,
                     "%zu .onnx models under '%s': no-code scoring serves one model; add an entry script",
                     count, model_dir);
    if (!rc) {
        path = found[0];
        found[0] = NULL;
    }
    model_files_free(found, count);
    struct onnx_state *state = NULL;
    struct scorer *s = NULL;
    if (rc)
        goto done;
    state = calloc(1, sizeof *state);
    s = calloc(1, sizeof *s);
    if (!state || !s) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    rc = engine_model_load_file(&state->model, path);
    if (rc)
        goto done;
    if (engine_input_count(state->model) == 0) {
        rc = err_set(ERR_UNSUPPORTED, "%s: the model has no inputs to feed", path);
        goto done;
    }
    state->path = path;
    path = NULL;
    s->kind = "onnx";
    struct stat st;
    s->run_inline = stat(state->path, &st) == 0 && st.st_size < SMALL_MODEL_BYTES;
    s->score = onnx_score;
    s->destroy = onnx_destroy;
    s->describe = onnx_describe;
    s->state = state;
    *out = s;
    s = NULL;
    state = NULL;
done:
    if (state)
        engine_model_free(state->model);
    free(state);
    free(s);
    free(path);
    return rc;
}
