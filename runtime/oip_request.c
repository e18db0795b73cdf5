#include "oip_request.h"

#include "common/err.h"
#include "runtime/oip_tensor.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* A member that must be a JSON string: its text, or NULL with the error set. */
static const char *string_member(const struct json_value *obj, const char *key, const char *what, int required, int *rc)
{
    const struct json_value *v = json_member(obj, key);
    if (!v) {
        if (required)
            *rc = err_set(ERR_INVALID, "%s: \"%s\" is required", what, key);
        return NULL;
    }
    if (v->type != JSON_STRING) {
        *rc = err_set(ERR_INVALID, "%s: \"%s\" must be a string, got %s (line %d column %d)", what, key,
                      json_type_name(v->type), v->line, v->column);
        return NULL;
    }
    return v->as.string.ptr;
}

/* "parameters", which must be an object when present; NULL when absent. */
static int parameters_of(const struct json_value **out, const struct json_value *obj, const char *what)
{
    *out = json_member(obj, "parameters");
    if (*out && (*out)->type != JSON_OBJECT)
        return err_set(ERR_INVALID, "%s: \"parameters\" must be an object, got %s", what, json_type_name((*out)->type));
    return 0;
}

/* A boolean parameter (absent: *value unchanged). */
static int bool_parameter(int *value, const struct json_value *params, const char *key, const char *what)
{
    const struct json_value *v = params ? json_member(params, key) : NULL;
    if (!v)
        return 0;
    if (v->type != JSON_BOOL)
        return err_set(ERR_INVALID, "%s: parameter \"%s\" must be true or false, got %s", what, key,
                       json_type_name(v->type));
    *value = v->as.boolean;
    return 0;
}

static int parse_shape(struct tensor *t, const struct json_value *shape, const char *what)
{
    if (!shape)
        return err_set(ERR_INVALID, "%s: \"shape\" is required", what);
    if (shape->type != JSON_ARRAY)
        return err_set(ERR_INVALID, "%s: \"shape\" must be an array of integers, got %s", what,
                       json_type_name(shape->type));
    if (shape->count > TENSOR_MAX_RANK)
        return err_set(ERR_INVALID, "%s: \"shape\" has %zu dimensions; at most %d are supported", what, shape->count,
                       TENSOR_MAX_RANK);
    t->rank = 0;
    for (const struct json_value *d = shape->child; d; d = d->next) {
        if (d->type != JSON_NUMBER || d->as.number != floor(d->as.number) || d->as.number < 0 ||
            d->as.number > 9007199254740992.0)
            return err_set(ERR_INVALID, "%s: \"shape\" dimension %d must be a non-negative integer (line %d column %d)",
                           what, t->rank, d->line, d->column);
        t->dims[t->rank++] = (int64_t)d->as.number;
    }
    if (tensor_element_count(t) < 0)
        return err_set(ERR_INVALID, "%s: \"shape\" has too many elements", what);
    return 0;
}

static int parse_input(struct oip_input *in, const struct json_value *v, size_t index, size_t *raw_total,
                       const char **raw_first)
{
    char what[160];
    snprintf(what, sizeof what, "inputs[%zu]", index);
    if (v->type != JSON_OBJECT)
        return err_set(ERR_INVALID, "%s must be an object, got %s", what, json_type_name(v->type));
    int rc = 0;
    in->name = string_member(v, "name", what, 1, &rc);
    if (rc)
        return rc;
    snprintf(what, sizeof what, "input '%.100s'", in->name);
    in->datatype = string_member(v, "datatype", what, 1, &rc);
    if (rc)
        return rc;
    in->shape.type = oip_datatype_parse(in->datatype);
    if (in->shape.type == TENSOR_STRING)
        return err_set(ERR_UNSUPPORTED,
                       "%s: datatype BYTES is not supported: amlserve serves ONNX models with numeric and bool "
                       "tensors only (models with string inputs are refused when they load)",
                       what);
    if (in->shape.type == TENSOR_UNDEFINED)
        return err_set(ERR_INVALID, "%s: unknown datatype '%.40s' (the protocol's datatypes are %s, BYTES)", what,
                       in->datatype, oip_datatype_list());
    if ((rc = parse_shape(&in->shape, json_member(v, "shape"), what)))
        return rc;
    const struct json_value *params;
    if ((rc = parameters_of(&params, v, what)))
        return rc;
    const struct json_value *size = params ? json_member(params, "binary_data_size") : NULL;
    in->data = json_member(v, "data");
    if (size) {
        if (size->type != JSON_NUMBER || size->as.number != floor(size->as.number) || size->as.number < 0 ||
            size->as.number > 1e15)
            return err_set(ERR_INVALID, "%s: parameter \"binary_data_size\" must be a non-negative integer", what);
        if (in->data)
            return err_set(ERR_INVALID, "%s: has both \"data\" and a \"binary_data_size\" parameter; send one", what);
        in->raw_len = (size_t)size->as.number;
        in->raw = *raw_first; /* placed once every size is known */
        *raw_total += in->raw_len;
        return 0;
    }
    if (!in->data)
        return err_set(ERR_INVALID,
                       "%s: \"data\" is required (or a \"binary_data_size\" parameter with the binary "
                       "tensor data extension)",
                       what);
    return 0;
}

static int parse_output(struct oip_output *o, const struct json_value *v, size_t index, int binary_default)
{
    char what[64];
    snprintf(what, sizeof what, "outputs[%zu]", index);
    if (v->type != JSON_OBJECT)
        return err_set(ERR_INVALID, "%s must be an object, got %s", what, json_type_name(v->type));
    int rc = 0;
    o->name = string_member(v, "name", what, 1, &rc);
    if (rc)
        return rc;
    const struct json_value *params;
    if ((rc = parameters_of(&params, v, what)))
        return rc;
    o->binary = binary_default;
    return bool_parameter(&o->binary, params, "binary_data", what);
}

/* Inference-Header-Content-Length: decimal digits, at most the body. */
static int header_length_of(size_t *out, const char *text, size_t body_len)
{
    size_t n = 0;
    if (!text[0] || strspn(text, "0123456789") != strlen(text) || strlen(text) > 15)
        return err_set(ERR_INVALID, "Inference-Header-Content-Length '%.40s' is not a byte count", text);
    for (const char *p = text; *p; p++)
        n = n * 10 + (size_t)(*p - '0');
    if (n > body_len)
        return err_set(ERR_INVALID, "Inference-Header-Content-Length is %zu but the body has only %zu bytes", n,
                       body_len);
    if (n == 0)
        return err_set(ERR_INVALID, "Inference-Header-Content-Length is 0: the JSON header is required");
    *out = n;
    return 0;
}

int oip_request_parse(struct oip_request *out, const char *body, size_t len, const char *header_length,
                      struct arena *arena)
{
    memset(out, 0, sizeof *out);
    size_t json_len = len;
    int rc = 0;
    if (header_length && (rc = header_length_of(&json_len, header_length, len)))
        return rc;
    struct json_value *doc;
    char source[96];
    snprintf(source, sizeof source,
             header_length ? "inference request (its first %zu bytes, as "
                             "Inference-Header-Content-Length says)"
                           : "inference request",
             json_len);
    if ((rc = json_parse(&doc, arena, body, json_len, source)))
        return rc;
    if (doc->type != JSON_OBJECT)
        return err_set(ERR_INVALID, "the inference request must be a JSON object, got %s", json_type_name(doc->type));
    const struct json_value *id = json_member(doc, "id");
    if (id && id->type != JSON_STRING)
        return err_set(ERR_INVALID, "\"id\" must be a string, got %s", json_type_name(id->type));
    if (id) {
        out->id = id->as.string.ptr;
        out->id_len = id->as.string.len;
    }
    const struct json_value *params;
    if ((rc = parameters_of(&params, doc, "request")))
        return rc;
    if ((rc = bool_parameter(&out->binary_output, params, "binary_data_output", "request")))
        return rc;

    const struct json_value *inputs = json_member(doc, "inputs");
    if (!inputs)
        return err_set(ERR_INVALID, "\"inputs\" is required: a list of {\"name\", \"shape\", \"datatype\", \"data\"}");
    if (inputs->type != JSON_ARRAY)
        return err_set(ERR_INVALID, "\"inputs\" must be an array, got %s", json_type_name(inputs->type));
    out->n_inputs = inputs->count;
    out->inputs = arena_alloc(arena, (inputs->count + 1) * sizeof *out->inputs);
    if (!out->inputs)
        return err_set(ERR_LIMIT, "request memory limit reached");
    memset(out->inputs, 0, (inputs->count + 1) * sizeof *out->inputs);
    size_t raw_total = 0, i = 0;
    const char *raw_at = body + json_len;
    for (const struct json_value *v = inputs->child; v; v = v->next, i++) {
        if ((rc = parse_input(&out->inputs[i], v, i, &raw_total, &raw_at)))
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(out->inputs[j].name, out->inputs[i].name) == 0)
                return err_set(ERR_INVALID, "input '%.100s' is given twice", out->inputs[i].name);
        if (out->inputs[i].raw) {
            if (!header_length)
                return err_set(ERR_INVALID,
                               "input '%.100s' has a \"binary_data_size\" parameter but the request has no "
                               "Inference-Header-Content-Length header",
                               out->inputs[i].name);
            if (out->inputs[i].raw_len > len - json_len - (size_t)(raw_at - (body + json_len)))
                return err_set(ERR_INVALID,
                               "input '%.100s': binary_data_size %zu runs past the end of the body (%zu bytes of "
                               "binary data follow the JSON header)",
                               out->inputs[i].name, out->inputs[i].raw_len, len - json_len);
            raw_at += out->inputs[i].raw_len;
        }
    }
    if (raw_total != len - json_len)
        return err_set(ERR_INVALID,
                       "%zu bytes follow the JSON header but the inputs' binary_data_size parameters add up to %zu",
                       len - json_len, raw_total);

    const struct json_value *outputs = json_member(doc, "outputs");
    if (outputs && outputs->type != JSON_ARRAY)
        return err_set(ERR_INVALID, "\"outputs\" must be an array, got %s", json_type_name(outputs->type));
    if (outputs && outputs->count) {
        out->n_outputs = outputs->count;
        out->outputs = arena_alloc(arena, outputs->count * sizeof *out->outputs);
        if (!out->outputs)
            return err_set(ERR_LIMIT, "request memory limit reached");
        i = 0;
        for (const struct json_value *v = outputs->child; v; v = v->next, i++)
            if ((rc = parse_output(&out->outputs[i], v, i, out->binary_output)))
                return rc;
    }
    return 0;
}
