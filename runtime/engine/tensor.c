#include "tensor.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

size_t tensor_type_size(enum tensor_type type)
{
    switch (type) {
    case TENSOR_FLOAT:
    case TENSOR_INT32:
    case TENSOR_UINT32: return 4;
    case TENSOR_INT64:
    case TENSOR_UINT64:
    case TENSOR_DOUBLE: return 8;
    case TENSOR_UINT16:
    case TENSOR_INT16:
    case TENSOR_FLOAT16:
    case TENSOR_BFLOAT16: return 2;
    case TENSOR_UINT8:
    case TENSOR_INT8:
    case TENSOR_BOOL: return 1;
    case TENSOR_STRING: return sizeof(struct tensor_string);
    case TENSOR_UNDEFINED:
    case TENSOR_SEQUENCE:
    case TENSOR_NONE: break;
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
    case TENSOR_UINT16: return "uint16";
    case TENSOR_FLOAT16: return "float16";
    case TENSOR_BFLOAT16: return "bfloat16";
    case TENSOR_INT16: return "int16";
    case TENSOR_UINT32: return "uint32";
    case TENSOR_UINT64: return "uint64";
    case TENSOR_STRING: return "string";
    case TENSOR_SEQUENCE: return "sequence";
    case TENSOR_NONE: return "optional without value";
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
            used += (size_t)snprintf(out + used, out_size - used, "%s%lld", i ? "," : "", (long long)dims[i]);
    }
    if (used < out_size)
        snprintf(out + used, out_size - used, "]");
}

static double half_to_double(uint16_t h)
{
    int exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    double v = exp == 0    ? ldexp(mant, -24) /* subnormal */
               : exp == 31 ? (mant ? NAN : INFINITY)
                           : ldexp(1024 + mant, exp - 25);
    return h & 0x8000 ? -v : v;
}

/* Round to nearest even, overflowing to infinity like a hardware conversion. */
static uint16_t double_to_half(double v)
{
    if (isnan(v))
        return 0x7e00;
    uint16_t sign = signbit(v) ? 0x8000 : 0;
    double a = fabs(v);
    if (a < ldexp(1, -14)) /* subnormal range: multiples of 2^-24 (1024 of them is the first normal) */
        return (uint16_t)(sign | (uint16_t)nearbyint(ldexp(a, 24)));
    int e;
    frexp(a, &e); /* a = f·2^e, f in [0.5, 1) */
    e -= 1;
    double mant = nearbyint((ldexp(a, -e) - 1) * 1024);
    if (mant >= 1024) {
        mant = 0;
        e++;
    }
    if (e > 15)
        return sign | 0x7c00;
    return (uint16_t)(sign | (uint16_t)((e + 15) << 10) | (uint16_t)mant);
}

static float bf16_to_float(uint16_t b)
{
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* float32 rounded to nearest even in its top 16 bits. */
static uint16_t float_to_bf16(float f)
{
    if (isnan(f))
        return 0x7fc0;
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    bits += 0x7fff + ((bits >> 16) & 1);
    return (uint16_t)(bits >> 16);
}

double tensor_load(enum tensor_type type, const void *data, int64_t i)
{
    switch (type) {
    case TENSOR_FLOAT: return ((const float *)data)[i];
    case TENSOR_DOUBLE: return ((const double *)data)[i];
    case TENSOR_INT32: return ((const int32_t *)data)[i];
    case TENSOR_INT64: return (double)((const int64_t *)data)[i];
    case TENSOR_INT8: return ((const int8_t *)data)[i];
    case TENSOR_UINT8: return ((const uint8_t *)data)[i];
    case TENSOR_INT16: return ((const int16_t *)data)[i];
    case TENSOR_UINT16: return ((const uint16_t *)data)[i];
    case TENSOR_UINT32: return ((const uint32_t *)data)[i];
    case TENSOR_UINT64: return (double)((const uint64_t *)data)[i];
    case TENSOR_FLOAT16: return half_to_double(((const uint16_t *)data)[i]);
    case TENSOR_BFLOAT16: return bf16_to_float(((const uint16_t *)data)[i]);
    case TENSOR_BOOL: return ((const uint8_t *)data)[i] != 0;
    case TENSOR_UNDEFINED:
    case TENSOR_STRING:
    case TENSOR_SEQUENCE:
    case TENSOR_NONE: break;
    }
    return 0;
}

/* Clamps to [lo, hi] first; hi is the largest double not above the type's maximum. */
static double saturate(double v, double lo, double hi)
{
    return isnan(v) ? 0 : v < lo ? lo : v > hi ? hi : v;
}

void tensor_store(enum tensor_type type, void *data, int64_t i, double v)
{
    switch (type) {
    case TENSOR_FLOAT: ((float *)data)[i] = (float)v; break;
    case TENSOR_DOUBLE: ((double *)data)[i] = v; break;
    case TENSOR_INT32: ((int32_t *)data)[i] = (int32_t)saturate(v, INT32_MIN, INT32_MAX); break;
    case TENSOR_INT64:
        ((int64_t *)data)[i] = (int64_t)saturate(v, -9223372036854775808.0, 9223372036854774784.0);
        break;
    case TENSOR_INT8: ((int8_t *)data)[i] = (int8_t)saturate(v, INT8_MIN, INT8_MAX); break;
    case TENSOR_UINT8: ((uint8_t *)data)[i] = (uint8_t)saturate(v, 0, UINT8_MAX); break;
    case TENSOR_INT16: ((int16_t *)data)[i] = (int16_t)saturate(v, INT16_MIN, INT16_MAX); break;
    case TENSOR_UINT16: ((uint16_t *)data)[i] = (uint16_t)saturate(v, 0, UINT16_MAX); break;
    case TENSOR_UINT32: ((uint32_t *)data)[i] = (uint32_t)saturate(v, 0, UINT32_MAX); break;
    case TENSOR_UINT64: ((uint64_t *)data)[i] = (uint64_t)saturate(v, 0, 18446744073709549568.0); break;
    case TENSOR_FLOAT16: ((uint16_t *)data)[i] = double_to_half(v); break;
    case TENSOR_BFLOAT16: ((uint16_t *)data)[i] = float_to_bf16((float)v); break;
    case TENSOR_BOOL: ((uint8_t *)data)[i] = v != 0; break;
    case TENSOR_UNDEFINED:
    case TENSOR_STRING:
    case TENSOR_SEQUENCE:
    case TENSOR_NONE: break;
    }
}
