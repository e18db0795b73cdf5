#include "tensor.h"

#include <stdio.h>

size_t tensor_type_size(enum tensor_type type)
{
    switch (type) {
    case TENSOR_FLOAT:
    case TENSOR_INT32:
        return 4;
    case TENSOR_INT64:
    case TENSOR_DOUBLE:
        return 8;
    case TENSOR_UINT8:
    case TENSOR_INT8:
    case TENSOR_BOOL:
        return 1;
    case TENSOR_UNDEFINED:
        break;
    }
    return 0;
}

const char *tensor_type_name(enum tensor_type type)
{
    switch (type) {
    case TENSOR_FLOAT: return "float32";
    case TENSOR_UINT8: return "uint8";
    case TENSOR_INT8: return "int8";
    case TENSOR_INT32: return "int32";
    case TENSOR_INT64: return "int64";
    case TENSOR_BOOL: return "bool";
    case TENSOR_DOUBLE: return "float64";
    case TENSOR_UNDEFINED: break;
    }
    return "unsupported";
}

int64_t tensor_element_count(const struct tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i] < 0 || (t->dims[i] && n > INT64_MAX / t->dims[i]))
            return -1;
        n *= t->dims[i];
    }
    return n;
}

void tensor_format_shape(char *out, size_t out_size, const int64_t *dims, int rank)
{
    size_t used = 0;
    if (out_size == 0)
        return;
    out[0] = '\0';
    used += (size_t)snprintf(out, out_size, "[");
    for (int i = 0; i < rank && used < out_size; i++) {
        if (dims[i] < 0)
            used += (size_t)snprintf(out + used, out_size - used, "%s?", i ? "," : "");
        else
            used += (size_t)snprintf(out + used, out_size - used, "%s%lld", i ? "," : "",
                                     (long long)dims[i]);
    }
    if (used < out_size)
        snprintf(out + used, out_size - used, "]");
}
