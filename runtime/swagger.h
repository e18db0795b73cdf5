/* GET /swagger.json?version=2|3|3.1 as Azure ML serves it: the service's
 * routes (/ health, /score, /swagger.json) with the input and output
 * schemas, derived from sample documents (--input-sample/--output-sample),
 * else from the scorer (an ONNX model's inputs and outputs), else open. A
 * user's swagger.json / swagger2.json / swagger3.json in the app folder is
 * served as is instead. Documents are built once at start-up. */
#ifndef AMLSERVE_SWAGGER_H
#define AMLSERVE_SWAGGER_H

#include "common/buf.h"

struct swagger {
    struct buf v2, v3, v31;
    int no_v2; /* the script's schemas need OpenAPI 3 (see swagger_source) */
};

struct swagger_source {
    const char *title;
    const char *input_schema, *output_schema; /* JSON Schema text or NULL */
    const char *input_sample, *output_sample; /* sample JSON text or NULL */
    const char *user_dir;                     /* where user swagger files may be, or NULL */
    int no_v2; /* a decorated run()'s schemas OpenAPI 2 cannot express (arrays of mixed types):
                * version 2 is refused as Azure ML refuses it, unless the user gives swagger2.json */
};

int swagger_init(struct swagger *s, const struct swagger_source *src);
void swagger_release(struct swagger *s);
/* The document for version ("2" when NULL or empty), or NULL for an unknown or unsupported version. */
const struct buf *swagger_document(const struct swagger *s, const char *version);
/* Azure ML's message for a version swagger_document refused. */
void swagger_refusal(const struct swagger *s, const char *version, char *out, size_t size);
/* Writes a JSON Schema describing a sample document into out. */
int swagger_schema_of_sample(struct buf *out, const char *sample, size_t len, const char *source);

#endif
