#include "oip_tensor.h"

#include "common/err.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* The binary extension sends tensors little-endian, which is how this host
 * holds them: raw bytes are copied, never swapped. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "amlserve assumes a little-endian host");

static const struct {
    const char *name;
    enum tensor_type type;
} datatypes[] = {
    {"BOOL", TENSOR_BOOL},     {"UINT8", TENSOR_UINT8},  {"UINT16", TENSOR_UINT16}, {"UINT32", TENSOR_UINT32},
    {"UINT64", TENSOR_UINT64}, {"INT8", TENSOR_INT8},    {"INT16", TENSOR_INT16},   {"INT32", TENSOR_INT32},
    {"INT64", TENSOR_INT64},   {"FP16", TENSOR_FLOAT16}, {"FP32", TENSOR_FLOAT},    {"FP64", TENSOR_DOUBLE},
    {"BF16", TENSOR_BFLOAT16}, {"BYTES", TENSOR_STRING},
};

const char *oip_datatype_name(enum tensor_type type)
{
    for (size_t i = 0; i < sizeof datatypes / sizeof datatypes[0]; i++)
        if (datatypes[i].type == type)
            return datatypes[i].name;
    return NULL;
}

enum tensor_type oip_datatype_parse(const char *name)
{
    for (size_t i = 0; i < sizeof datatypes / sizeof datatypes[0]; i++)
        if (strcmp(datatypes[i].name, name) == 0)
            return datatypes[i].type;
    return TENSOR_UNDEFINED;
}

const char *oip_datatype_list(void)
{
    return "BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64, BF16";
}

int64_t oip_tensor_bytes(const struct tensor *t)
{
    int64_t count = tensor_element_count(t);
    int64_t elem = (int64_t)tensor_type_size(t->type);
    if (count < 0 || !elem || count > INT64_MAX / elem)
        return -1;
    return count * elem;
}

static int alloc_data(struct tensor *t, struct arena *arena, const char *what, size_t *out_bytes)
{
    int64_t bytes = oip_tensor_bytes(t);
    if (bytes < 0 || (uint64_t)bytes >= SIZE_MAX)
        return err_set(ERR_INVALID, "%s: the shape has too many elements", what);
    t->data = arena_alloc(arena, (size_t)bytes + 1);
    if (!t->data)
        return err_set(ERR_LIMIT, "%s: request memory limit reached", what);
    *out_bytes = (size_t)bytes;
    return 0;
}

/* Leaves under v (a non-array counts as one); stops counting past cap. */
static int64_t count_leaves(const struct json_value *v, int64_t cap)
{
    if (v->type != JSON_ARRAY)
        return 1;
    int64_t n = 0;
    for (const struct json_value *c = v->child; c && n <= cap; c = c->next)
        n += count_leaves(c, cap - n);
    return n;
}

/* Whole numbers within [lo, hi]: the integer datatypes refuse 1.5 and 300 for UINT8 rather than guess. */
static int integral_in(double x, double lo, double hi)
{
    return x == floor(x) && x >= lo && x <= hi;
}

static int store_leaf(struct tensor *t, int64_t i, const struct json_value *v, const char *what)
{
    enum tensor_type type = t->type;
    if (type == TENSOR_BOOL) {
        if (v->type != JSON_BOOL)
            return err_set(ERR_INVALID, "%s: element %lld is %s at line %d column %d; BOOL data are true or false",
                           what, (long long)i, json_type_name(v->type), v->line, v->column);
        ((uint8_t *)t->data)[i] = (uint8_t)(v->as.boolean != 0);
        return 0;
    }
    if (v->type != JSON_NUMBER)
        return err_set(ERR_INVALID, "%s: element %lld is %s at line %d column %d; %s data are numbers", what,
                       (long long)i, json_type_name(v->type), v->line, v->column, oip_datatype_name(type));
    double x = v->as.number;
    int ok = 1;
    switch (type) {
    case TENSOR_UINT8: ok = integral_in(x, 0, UINT8_MAX); break;
    case TENSOR_UINT16: ok = integral_in(x, 0, UINT16_MAX); break;
    case TENSOR_UINT32: ok = integral_in(x, 0, UINT32_MAX); break;
    case TENSOR_UINT64: ok = integral_in(x, 0, 18446744073709549568.0); break;
    case TENSOR_INT8: ok = integral_in(x, INT8_MIN, INT8_MAX); break;
    case TENSOR_INT16: ok = integral_in(x, INT16_MIN, INT16_MAX); break;
    case TENSOR_INT32: ok = integral_in(x, INT32_MIN, INT32_MAX); break;
    case TENSOR_INT64: ok = integral_in(x, -9223372036854775808.0, 9223372036854774784.0); break;
    default: break; /* floats take any number, NaN and infinities included */
    }
    if (!ok)
        return err_set(ERR_INVALID, "%s: element %lld (%.17g at line %d column %d) is not a valid %s", what,
                       (long long)i, x, v->line, v->column, oip_datatype_name(type));
    tensor_store(type, t->data, i, x);
    return 0;
}

static int fill_leaves(struct tensor *t, const struct json_value *v, int64_t *pos, const char *what)
{
    if (v->type != JSON_ARRAY) {
        int rc = store_leaf(t, *pos, v, what);
        (*pos)++;
        return rc;
    }
    for (const struct json_value *c = v->child; c; c = c->next) {
        int rc = fill_leaves(t, c, pos, what);
        if (rc)
            return rc;
    }
    return 0;
}

int oip_tensor_from_json(struct tensor *t, const struct json_value *data, struct arena *arena, const char *what)
{
    if (data->type != JSON_ARRAY)
        return err_set(ERR_INVALID, "%s: \"data\" must be an array, got %s", what, json_type_name(data->type));
    int64_t want = tensor_element_count(t);
    if (want < 0)
        return err_set(ERR_INVALID, "%s: the shape has too many elements", what);
    int64_t got = count_leaves(data, want);
    if (got != want) {
        char shape[128];
        tensor_format_shape(shape, sizeof shape, t->dims, t->rank);
        return err_set(ERR_INVALID, "%s: shape %s needs %lld values, \"data\" has %s%lld", what, shape, (long long)want,
                       got > want ? "more than " : "", (long long)(got > want ? want : got));
    }
    size_t bytes;
    int rc = alloc_data(t, arena, what, &bytes);
    if (rc)
        return rc;
    int64_t pos = 0;
    return fill_leaves(t, data, &pos, what);
}

int oip_tensor_from_raw(struct tensor *t, const void *raw, size_t len, struct arena *arena, const char *what)
{
    /* The size first: a shape that claims far more than was sent must not allocate it. */
    int64_t want = oip_tensor_bytes(t);
    if (want < 0 || (uint64_t)want != len) {
        char shape[128];
        tensor_format_shape(shape, sizeof shape, t->dims, t->rank);
        return err_set(ERR_INVALID, "%s: binary_data_size is %zu bytes, shape %s of %s needs %lld", what, len, shape,
                       oip_datatype_name(t->type), (long long)want);
    }
    size_t bytes;
    int rc = alloc_data(t, arena, what, &bytes);
    if (rc)
        return rc;
    /* A copy, not a pointer into the body: the body has no alignment for the kernels. */
    if (bytes)
        memcpy(t->data, raw, bytes);
    if (t->type == TENSOR_BOOL) /* anything but 0 is true, as a C bool byte must be 0 or 1 */
        for (size_t i = 0; i < bytes; i++)
            ((uint8_t *)t->data)[i] = ((uint8_t *)t->data)[i] != 0;
    return 0;
}

static int write_element(struct buf *b, const struct tensor *t, int64_t i)
{
    switch (t->type) {
    case TENSOR_FLOAT: return json_write_float(b, ((const float *)t->data)[i]);
    case TENSOR_DOUBLE: return json_write_double(b, ((const double *)t->data)[i]);
    case TENSOR_FLOAT16:
    case TENSOR_BFLOAT16: return json_write_float(b, (float)tensor_load(t->type, t->data, i));
    case TENSOR_BOOL: return buf_append_str(b, ((const uint8_t *)t->data)[i] ? "true" : "false");
    case TENSOR_INT8: return buf_appendf(b, "%d", ((const int8_t *)t->data)[i]);
    case TENSOR_INT16: return buf_appendf(b, "%d", ((const int16_t *)t->data)[i]);
    case TENSOR_INT32: return buf_appendf(b, "%d", ((const int32_t *)t->data)[i]);
    case TENSOR_INT64: return buf_appendf(b, "%lld", (long long)((const int64_t *)t->data)[i]);
    case TENSOR_UINT8: return buf_appendf(b, "%u", ((const uint8_t *)t->data)[i]);
    case TENSOR_UINT16: return buf_appendf(b, "%u", ((const uint16_t *)t->data)[i]);
    case TENSOR_UINT32: return buf_appendf(b, "%u", ((const uint32_t *)t->data)[i]);
    case TENSOR_UINT64: return buf_appendf(b, "%llu", (unsigned long long)((const uint64_t *)t->data)[i]);
    default: return err_set(ERR_UNSUPPORTED, "a %s tensor cannot be written as JSON", tensor_type_name(t->type));
    }
}

int oip_tensor_write_json(struct buf *b, const struct tensor *t)
{
    int64_t count = tensor_element_count(t);
    if (count < 0)
        return err_set(ERR_INVALID, "tensor too large");
    int rc = buf_append(b, "[", 1);
    for (int64_t i = 0; i < count && !rc; i++) {
        if (i)
            rc = buf_append(b, ",", 1);
        if (!rc)
            rc = write_element(b, t, i);
    }
    return rc ? rc : buf_append(b, "]", 1);
}

int oip_shape_write_json(struct buf *b, const struct tensor *t)
{
    if (t->rank < 0)
        return buf_append_str(b, "[-1]");
    int rc = buf_append(b, "[", 1);
    for (int i = 0; i < t->rank && !rc; i++)
        rc = buf_appendf(b, i ? ",%lld" : "%lld", (long long)(t->dims[i] < 0 ? -1 : t->dims[i]));
    return rc ? rc : buf_append(b, "]", 1);
}
