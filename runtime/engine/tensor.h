/* Dense tensors as the engine passes them between operators.
 *
 * A tensor does not own its data: constants point into memory owned by the
 * loaded model, intermediate values into the caller's per-run arena. Type codes
 * are ONNX's TensorProto.DataType values so no mapping table is needed. */
#ifndef AMLSERVE_TENSOR_H
#define AMLSERVE_TENSOR_H

#include <stddef.h>
#include <stdint.h>

enum tensor_type {
    TENSOR_UNDEFINED = 0,
    TENSOR_FLOAT = 1,
    TENSOR_UINT8 = 2,
    TENSOR_INT8 = 3,
    TENSOR_UINT16 = 4,
    TENSOR_INT16 = 5,
    TENSOR_INT32 = 6,
    TENSOR_INT64 = 7,
    TENSOR_STRING = 8, /* elements are struct tensor_string (bytes borrowed like tensor data) */
    TENSOR_BOOL = 9,
    TENSOR_FLOAT16 = 10, /* IEEE half, stored as its bits; kernels compute in float/double */
    TENSOR_DOUBLE = 11,
    TENSOR_UINT32 = 12,
    TENSOR_UINT64 = 13,
    TENSOR_BFLOAT16 = 16, /* the top half of a float32, stored as its bits */
    /* Values that are not tensors, with codes ONNX's DataType does not use.
     * tensor_type_size is 0 for them, so kernels that allocate refuse them. */
    TENSOR_SEQUENCE = 1000, /* data points to a struct tensor_sequence */
    TENSOR_NONE = 1001,     /* an optional without a value; data is NULL */
};

#define TENSOR_MAX_RANK 8

struct tensor {
    enum tensor_type type;
    int rank;
    int64_t dims[TENSOR_MAX_RANK];
    void *data;
};

/* One element of a string tensor: len bytes, not NUL-terminated; data may be
 * NULL when len is 0. Kernels that move elements (Reshape, Gather, Concat, ...)
 * copy these structs; the bytes live as long as the tensor's data. */
struct tensor_string {
    const char *data;
    size_t len;
};

/* An ONNX sequence: count values of elem_type (tensors of one type). Items
 * are borrowed like tensor data; a sequence op builds a new item array. */
struct tensor_sequence {
    enum tensor_type elem_type;
    int64_t count;
    const struct tensor *items;
};

/* Bytes per element, 0 for types the engine cannot hold. */
size_t tensor_type_size(enum tensor_type type);
const char *tensor_type_name(enum tensor_type type);
/* Product of dims (1 for a scalar); -1 when it would overflow. */
int64_t tensor_element_count(const struct tensor *t);
/* Element i as a double, and v stored into element i (integers saturate, NaN
 * becomes 0: out-of-range float-to-integer conversion is undefined in C). Exact
 * for every integer up to 2^53. */
double tensor_load(enum tensor_type type, const void *data, int64_t i);
void tensor_store(enum tensor_type type, void *data, int64_t i, double v);
/* "[2,10]" into out (always NUL-terminated). */
void tensor_format_shape(char *out, size_t out_size, const int64_t *dims, int rank);

#endif
