/* Tensors as the Open Inference Protocol (KServe v2) carries them: datatype
 * names, JSON "data" arrays (flat or nested, row-major) and raw
 * little-endian bytes of the binary tensor data extension.
 *
 * Decoders fill a tensor whose type, rank and dims the caller has set; the
 * element memory comes from the caller's arena. Encoders append to a buf.
 * Messages name the tensor ("input 'x': ..."). No HTTP here. */
#ifndef AMLSERVE_OIP_TENSOR_H
#define AMLSERVE_OIP_TENSOR_H

#include "common/arena.h"
#include "common/buf.h"
#include "common/json.h"
#include "runtime/engine/tensor.h"

#include <stddef.h>

/* "FP32" for TENSOR_FLOAT, ...; NULL for a type the protocol cannot name. */
const char *oip_datatype_name(enum tensor_type type);
/* The engine type of a protocol datatype: TENSOR_STRING for "BYTES",
 * TENSOR_UNDEFINED for a name the protocol does not define. */
enum tensor_type oip_datatype_parse(const char *name);
/* "BOOL, UINT8, ..., BF16": the datatypes amlserve accepts, for messages. */
const char *oip_datatype_list(void);

/* Bytes the tensor's elements take (count x element size); -1 on overflow. */
int64_t oip_tensor_bytes(const struct tensor *t);

/* Fills t->data from a JSON array whose leaves, in row-major order, are its
 * elements (nesting is free; the leaf count must equal the shape's). Numbers
 * for numeric types (integers must be whole and in range), true/false for
 * BOOL. what names the tensor in errors (ERR_INVALID, ERR_LIMIT). */
int oip_tensor_from_json(struct tensor *t, const struct json_value *data, struct arena *arena, const char *what);
/* Copies len raw bytes into t->data; len must be exactly oip_tensor_bytes(t). */
int oip_tensor_from_raw(struct tensor *t, const void *raw, size_t len, struct arena *arena, const char *what);

/* The elements as one flat JSON array. */
int oip_tensor_write_json(struct buf *b, const struct tensor *t);
/* The shape as a JSON array ("[2,3]"); symbolic dims (-1) stay -1; unknown rank is [-1]. */
int oip_shape_write_json(struct buf *b, const struct tensor *t);

#endif
