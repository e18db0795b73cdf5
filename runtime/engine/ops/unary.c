/* Elementwise math on one input: float32/float64, plus integers where ONNX
 * defines the operator for them (Abs, Neg, Sign, Clip). */
#include "ops.h"

#include <math.h>

enum unary_op {
    U_ABS,
    U_NEG,
    U_SIGN,
    U_EXP,
    U_LOG,
    U_SQRT,
    U_RECIP,
    U_FLOOR,
    U_CEIL,
    U_ROUND,
    U_SIN,
    U_COS,
    U_TAN,
    U_ASIN,
    U_ACOS,
    U_ATAN,
    U_SINH,
    U_COSH,
    U_ASINH,
    U_ACOSH,
    U_ATANH,
    U_ERF
};

static double apply(enum unary_op op, double x)
{
    switch (op) {
    case U_ABS: return fabs(x);
    case U_NEG: return -x;
    case U_SIGN: return x > 0 ? 1 : x < 0 ? -1 : x;
    case U_EXP: return exp(x);
    case U_LOG: return log(x);
    case U_SQRT: return sqrt(x);
    case U_RECIP: return 1 / x;
    case U_FLOOR: return floor(x);
    case U_CEIL: return ceil(x);
    case U_ROUND: return nearbyint(x); /* half to even in the default rounding mode */
    case U_SIN: return sin(x);
    case U_COS: return cos(x);
    case U_TAN: return tan(x);
    case U_ASIN: return asin(x);
    case U_ACOS: return acos(x);
    case U_ATAN: return atan(x);
    case U_SINH: return sinh(x);
    case U_COSH: return cosh(x);
    case U_ASINH: return asinh(x);
    case U_ACOSH: return acosh(x);
    case U_ATANH: return atanh(x);
    case U_ERF: return erf(x);
    }
    return x;
}

static int unary(const struct op_call *call, enum unary_op op)
{
    const struct tensor *x = call->inputs[0];
    int int_ok = op == U_ABS || op == U_NEG || op == U_SIGN;
    int is_float =
        x->type == TENSOR_FLOAT || x->type == TENSOR_DOUBLE || x->type == TENSOR_FLOAT16 || x->type == TENSOR_BFLOAT16;
    if (!is_float && !(int_ok && ops_is_numeric(x->type)))
        return ops_unsupported(call, "input of type %s is not supported", tensor_type_name(x->type));
    int rc = ops_alloc_output(call, 0, x->type, x->rank, x->dims);
    if (rc)
        return rc;
    int64_t n = tensor_element_count(x);
    void *y = call->outputs[0].data;
    if (x->type == TENSOR_FLOAT) {
        const float *a = x->data;
        float *z = y;
        /* The float functions where they differ from rounding a double result. */
        switch (op) {
        case U_EXP:
            for (int64_t i = 0; i < n; i++)
                z[i] = expf(a[i]);
            return 0;
        case U_ABS:
            for (int64_t i = 0; i < n; i++)
                z[i] = fabsf(a[i]);
            return 0;
        case U_NEG:
            for (int64_t i = 0; i < n; i++)
                z[i] = -a[i];
            return 0;
        case U_SQRT:
            for (int64_t i = 0; i < n; i++)
                z[i] = sqrtf(a[i]);
            return 0;
        default:
            for (int64_t i = 0; i < n; i++)
                z[i] = (float)apply(op, a[i]);
            return 0;
        }
    }
    if (x->type == TENSOR_INT64) {
        /* Exact, no trip through double; negation wraps like the hardware. */
        const int64_t *a = x->data;
        int64_t *z = y;
        for (int64_t i = 0; i < n; i++) {
            int64_t v = a[i];
            z[i] = op == U_SIGN ? (v > 0) - (v < 0) : (op == U_NEG || v < 0) ? (int64_t)(0 - (uint64_t)v) : v;
        }
        return 0;
    }
    for (int64_t i = 0; i < n; i++)
        ops_store(x->type, y, i, apply(op, ops_load(x->type, x->data, i)));
    return 0;
}

int op_abs(const struct op_call *call)
{
    return unary(call, U_ABS);
}
int op_neg(const struct op_call *call)
{
    return unary(call, U_NEG);
}
int op_sign(const struct op_call *call)
{
    return unary(call, U_SIGN);
}
int op_exp(const struct op_call *call)
{
    return unary(call, U_EXP);
}
int op_log(const struct op_call *call)
{
    return unary(call, U_LOG);
}
int op_sqrt(const struct op_call *call)
{
    return unary(call, U_SQRT);
}
int op_reciprocal(const struct op_call *call)
{
    return unary(call, U_RECIP);
}
int op_floor(const struct op_call *call)
{
    return unary(call, U_FLOOR);
}
int op_ceil(const struct op_call *call)
{
    return unary(call, U_CEIL);
}
int op_round(const struct op_call *call)
{
    return unary(call, U_ROUND);
}
int op_sin(const struct op_call *call)
{
    return unary(call, U_SIN);
}
int op_cos(const struct op_call *call)
{
    return unary(call, U_COS);
}
int op_tan(const struct op_call *call)
{
    return unary(call, U_TAN);
}
int op_asin(const struct op_call *call)
{
    return unary(call, U_ASIN);
}
int op_acos(const struct op_call *call)
{
    return unary(call, U_ACOS);
}
int op_atan(const struct op_call *call)
{
    return unary(call, U_ATAN);
}
int op_sinh(const struct op_call *call)
{
    return unary(call, U_SINH);
}
int op_cosh(const struct op_call *call)
{
    return unary(call, U_COSH);
}
int op_asinh(const struct op_call *call)
{
    return unary(call, U_ASINH);
}
int op_acosh(const struct op_call *call)
{
    return unary(call, U_ACOSH);
}
int op_atanh(const struct op_call *call)
{
    return unary(call, U_ATANH);
}
int op_erf(const struct op_call *call)
{
    return unary(call, U_ERF);
}

static int float_to_bool(const struct op_call *call, int inf_test)
{
    const struct tensor *x = call->inputs[0];
    if (x->type != TENSOR_FLOAT && x->type != TENSOR_DOUBLE && x->type != TENSOR_FLOAT16 && x->type != TENSOR_BFLOAT16)
        return ops_unsupported(call, "input of type %s is not supported", tensor_type_name(x->type));
    int rc = ops_alloc_output(call, 0, TENSOR_BOOL, x->rank, x->dims);
    if (rc)
        return rc;
    int pos = (int)ops_attr_int(call, "detect_positive", 1), neg = (int)ops_attr_int(call, "detect_negative", 1);
    int64_t n = tensor_element_count(x);
    uint8_t *z = call->outputs[0].data;
    for (int64_t i = 0; i < n; i++) {
        double v = ops_load(x->type, x->data, i);
        z[i] = inf_test ? isinf(v) && ((v > 0 && pos) || (v < 0 && neg)) : isnan(v) != 0;
    }
    return 0;
}

int op_isnan(const struct op_call *call)
{
    return float_to_bool(call, 0);
}
int op_isinf(const struct op_call *call)
{
    return float_to_bool(call, 1);
}

/* Clip: bounds are attributes before opset 11, optional scalar inputs since. */
int op_clip(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    if (!ops_is_numeric(x->type))
        return ops_unsupported(call, "input of type %s is not supported", tensor_type_name(x->type));
    double lo = -INFINITY, hi = INFINITY;
    if (call->opset && call->opset < 11) {
        lo = ops_attr_float(call, "min", -INFINITY);
        hi = ops_attr_float(call, "max", INFINITY);
    }
    for (int k = 1; k <= 2; k++) {
        const struct tensor *b = ops_input(call, k);
        if (!b)
            continue;
        if (b->type != x->type || tensor_element_count(b) != 1)
            return ops_fail(call, "bound %d must be a scalar of the input's type", k);
        double v = ops_load(b->type, b->data, 0);
        if (k == 1)
            lo = v;
        else
            hi = v;
    }
    int rc = ops_alloc_output(call, 0, x->type, x->rank, x->dims);
    if (rc)
        return rc;
    int64_t n = tensor_element_count(x);
    if (x->type == TENSOR_FLOAT) {
        const float *a = x->data;
        float *z = call->outputs[0].data;
        float l = (float)lo, h = (float)hi;
        for (int64_t i = 0; i < n; i++)
            z[i] = a[i] < l ? l : a[i] > h ? h : a[i];
        return 0;
    }
    for (int64_t i = 0; i < n; i++) {
        double v = ops_load(x->type, x->data, i);
        ops_store(x->type, call->outputs[0].data, i, v < lo ? lo : v > hi ? hi : v);
    }
    return 0;
}
