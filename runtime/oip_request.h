/* The Open Inference Protocol's inference request (KServe v2 / Triton REST):
 * the JSON object, and with the binary tensor data extension the raw tensor
 * bytes that follow it in the body (Inference-Header-Content-Length gives
 * the JSON's length; each binary input says its size in the
 * "binary_data_size" parameter, in input order).
 *
 * The parse checks the request on its own (types, shapes, sizes, which
 * parameters mean what); matching it to a model is the caller's job.
 * Everything parsed lives in the caller's arena and points into the body,
 * which must outlive it. */
#ifndef AMLSERVE_OIP_REQUEST_H
#define AMLSERVE_OIP_REQUEST_H

#include "common/arena.h"
#include "common/json.h"
#include "runtime/engine/tensor.h"

#include <stddef.h>

struct oip_input {
    const char *name;
    const char *datatype; /* as sent */
    /* type, rank and dims from "datatype" and "shape"; data is NULL */
    struct tensor shape;
    const struct json_value *data; /* the "data" array, or NULL for a binary input */
    const char *raw;               /* binary input: its bytes in the body */
    size_t raw_len;
};

struct oip_output {
    const char *name;
    int binary; /* "binary_data": true, or the request's "binary_data_output" */
};

struct oip_request {
    const char *id; /* NULL when the request has none */
    size_t id_len;
    struct oip_input *inputs;
    size_t n_inputs;
    struct oip_output *outputs; /* NULL and 0: every output of the model */
    size_t n_outputs;
    int binary_output; /* "binary_data_output": outputs not listed in "outputs" come back binary */
};

/* body[0..len) as sent; header_length is the Inference-Header-Content-Length
 * header's value or NULL without one (then the whole body is JSON).
 * Errors (ERR_INVALID, ERR_UNSUPPORTED for BYTES, ERR_LIMIT) name the field. */
int oip_request_parse(struct oip_request *out, const char *body, size_t len, const char *header_length,
                      struct arena *arena);

#endif
