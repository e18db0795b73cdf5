/* Elementwise operators with numpy broadcasting: arithmetic, comparison,
 * logic, Where and the variadic Max/Min/Sum/Mean. */
#include "ops.h"

#include <math.h>
#include <string.h>

enum bin_op {
    BIN_ADD,
    BIN_SUB,
    BIN_MUL,
    BIN_DIV,
    BIN_MAX,
    BIN_MIN,
    BIN_MOD,
    BIN_FMOD,
    BIN_PRELU,
    BIN_SHL,
    BIN_SHR,
    BIN_EQ,
    BIN_LT,
    BIN_GT,
    BIN_LE,
    BIN_GE,
    BIN_AND,
    BIN_OR,
    BIN_XOR,
    BIN_POW
};

struct bin_ctx {
    enum bin_op op;
    enum tensor_type type;   /* of the first input */
    enum tensor_type type_b; /* of the second (differs only for Pow) */
    const void *x, *y;
    void *z;
};

/* Sign test that stays quiet for unsigned types. */
static inline int is_negative(int64_t v)
{
    return v < 0;
}
#define NEG(v) (is_signed && is_negative((int64_t)(v)))

/* Integer arithmetic wraps (through unsigned) and division by zero gives 0:
 * inputs come from requests, and neither may crash the server. */
#define INT_ROW(T, U, MINV, SIGNED)                                                                                    \
    static void row_##T(enum bin_op op, T *z, const T *x, const T *y, int64_t sx, int64_t sy, int64_t n)               \
    {                                                                                                                  \
        const int is_signed = SIGNED;                                                                                  \
        for (int64_t i = 0; i < n; i++) {                                                                              \
            T a = x[i * sx], b = y[i * sy];                                                                            \
            switch (op) {                                                                                              \
            case BIN_ADD: z[i] = (T)((U)a + (U)b); break;                                                              \
            case BIN_SUB: z[i] = (T)((U)a - (U)b); break;                                                              \
            case BIN_MUL: z[i] = (T)((U)a * (U)b); break;                                                              \
            case BIN_DIV: z[i] = b == 0 || (a == MINV && b == (T)-1) ? 0 : (T)(a / b); break;                          \
            case BIN_MAX: z[i] = a > b ? a : b; break;                                                                 \
            case BIN_MIN: z[i] = a < b ? a : b; break;                                                                 \
            case BIN_FMOD: z[i] = b == 0 || (a == MINV && b == (T)-1) ? 0 : (T)(a % b); break;                         \
            case BIN_MOD: {                                                                                            \
                T r = b == 0 || (a == MINV && b == (T)-1) ? 0 : (T)(a % b);                                            \
                z[i] = r != 0 && (NEG(r) != NEG(b)) ? (T)(r + b) : r;                                                  \
                break;                                                                                                 \
            }                                                                                                          \
            case BIN_PRELU: z[i] = NEG(a) ? (T)((U)a * (U)b) : a; break;                                               \
            case BIN_SHL: z[i] = (uint64_t)b >= sizeof(T) * 8 ? 0 : (T)((U)a << b); break;                             \
            case BIN_SHR: z[i] = (uint64_t)b >= sizeof(T) * 8 ? 0 : (T)((U)a >> b); break;                             \
            default: break;                                                                                            \
            }                                                                                                          \
        }                                                                                                              \
    }
INT_ROW(int64_t, uint64_t, INT64_MIN, 1)
INT_ROW(int32_t, uint32_t, INT32_MIN, 1)
INT_ROW(int16_t, uint16_t, INT16_MIN, 1)
INT_ROW(int8_t, uint8_t, INT8_MIN, 1)
INT_ROW(uint64_t, uint64_t, 0, 0)
INT_ROW(uint32_t, uint32_t, 0, 0)
INT_ROW(uint16_t, uint16_t, 0, 0)
INT_ROW(uint8_t, uint8_t, 0, 0)

#define FLOAT_ROW(T, FMOD)                                                                                             \
    static void row_##T(enum bin_op op, T *z, const T *x, const T *y, int64_t sx, int64_t sy, int64_t n)               \
    {                                                                                                                  \
        switch (op) {                                                                                                  \
        case BIN_ADD:                                                                                                  \
            for (int64_t i = 0; i < n; i++)                                                                            \
                z[i] = x[i * sx] + y[i * sy];                                                                          \
            break;                                                                                                     \
        case BIN_SUB:                                                                                                  \
            for (int64_t i = 0; i < n; i++)                                                                            \
                z[i] = x[i * sx] - y[i * sy];                                                                          \
            break;                                                                                                     \
        case BIN_MUL:                                                                                                  \
            for (int64_t i = 0; i < n; i++)                                                                            \
                z[i] = x[i * sx] * y[i * sy];                                                                          \
            break;                                                                                                     \
        case BIN_DIV:                                                                                                  \
            for (int64_t i = 0; i < n; i++)                                                                            \
                z[i] = x[i * sx] / y[i * sy];                                                                          \
            break;                                                                                                     \
        default:                                                                                                       \
            for (int64_t i = 0; i < n; i++) {                                                                          \
                T a = x[i * sx], b = y[i * sy];                                                                        \
                switch (op) {                                                                                          \
                case BIN_MAX: z[i] = isnan(a) || a > b ? a : b; break;                                                 \
                case BIN_MIN: z[i] = isnan(a) || a < b ? a : b; break;                                                 \
                case BIN_FMOD: z[i] = FMOD(a, b); break;                                                               \
                case BIN_MOD: {                                                                                        \
                    T r = FMOD(a, b);                                                                                  \
                    z[i] = r != 0 && ((r < 0) != (b < 0)) ? r + b : r;                                                 \
                    break;                                                                                             \
                }                                                                                                      \
                case BIN_PRELU: z[i] = a < 0 ? a * b : a; break;                                                       \
                default: break;                                                                                        \
                }                                                                                                      \
            }                                                                                                          \
        }                                                                                                              \
    }
typedef float f32;
typedef double f64;
FLOAT_ROW(f32, fmodf)
FLOAT_ROW(f64, fmod)

#define CMP_ROW(T)                                                                                                     \
    static void cmp_##T(enum bin_op op, uint8_t *z, const T *x, const T *y, int64_t sx, int64_t sy, int64_t n)         \
    {                                                                                                                  \
        for (int64_t i = 0; i < n; i++) {                                                                              \
            T a = x[i * sx], b = y[i * sy];                                                                            \
            switch (op) {                                                                                              \
            case BIN_EQ: z[i] = a == b; break;                                                                         \
            case BIN_LT: z[i] = a < b; break;                                                                          \
            case BIN_GT: z[i] = a > b; break;                                                                          \
            case BIN_LE: z[i] = a <= b; break;                                                                         \
            case BIN_GE: z[i] = a >= b; break;                                                                         \
            case BIN_AND: z[i] = a && b; break;                                                                        \
            case BIN_OR: z[i] = a || b; break;                                                                         \
            case BIN_XOR: z[i] = !a != !b; break;                                                                      \
            default: break;                                                                                            \
            }                                                                                                          \
        }                                                                                                              \
    }
CMP_ROW(f32)
CMP_ROW(f64)
CMP_ROW(int64_t)
CMP_ROW(int32_t)
CMP_ROW(int16_t)
CMP_ROW(int8_t)
CMP_ROW(uint64_t)
CMP_ROW(uint32_t)
CMP_ROW(uint16_t)
CMP_ROW(uint8_t)

static int is_compare(enum bin_op op)
{
    return op >= BIN_EQ && op <= BIN_XOR;
}

/* Types without a typed row (float16): each element through double. */
static void generic_row(const struct bin_ctx *c, int64_t oz, const int64_t *oi, const int64_t *st, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        double a = ops_load(c->type, c->x, oi[0] + i * st[0]), b = ops_load(c->type, c->y, oi[1] + i * st[1]), r = 0;
        switch (c->op) {
        case BIN_ADD: r = a + b; break;
        case BIN_SUB: r = a - b; break;
        case BIN_MUL: r = a * b; break;
        case BIN_DIV: r = a / b; break;
        case BIN_MAX: r = isnan(a) || a > b ? a : b; break;
        case BIN_MIN: r = isnan(a) || a < b ? a : b; break;
        case BIN_FMOD: r = fmod(a, b); break;
        case BIN_MOD: r = fmod(a, b), r = r != 0 && ((r < 0) != (b < 0)) ? r + b : r; break;
        case BIN_PRELU: r = a < 0 ? a * b : a; break;
        case BIN_EQ: r = a == b; break;
        case BIN_LT: r = a < b; break;
        case BIN_GT: r = a > b; break;
        case BIN_LE: r = a <= b; break;
        case BIN_GE: r = a >= b; break;
        default: break;
        }
        if (is_compare(c->op))
            ((uint8_t *)c->z)[oz + i] = r != 0;
        else
            ops_store(c->type, c->z, oz + i, r);
    }
}

static void bin_row(void *vctx, int64_t oz, const int64_t *oi, const int64_t *st, int64_t n)
{
    const struct bin_ctx *c = vctx;
    if (c->op == BIN_POW) {
        for (int64_t i = 0; i < n; i++) {
            double a = ops_load(c->type, c->x, oi[0] + i * st[0]);
            double b = ops_load(c->type_b, c->y, oi[1] + i * st[1]);
            if (c->type == TENSOR_FLOAT)
                ((float *)c->z)[oz + i] = powf((float)a, (float)b);
            else
                ops_store(c->type, c->z, oz + i, pow(a, b));
        }
        return;
    }
    if (c->type == TENSOR_FLOAT16 || c->type == TENSOR_BFLOAT16) {
        generic_row(c, oz, oi, st, n);
        return;
    }
#define ARGS(T) (const T *)c->x + oi[0], (const T *)c->y + oi[1], st[0], st[1], n
    if (is_compare(c->op)) {
        uint8_t *z = (uint8_t *)c->z + oz;
        switch (c->type) {
        case TENSOR_FLOAT: cmp_f32(c->op, z, ARGS(float)); break;
        case TENSOR_DOUBLE: cmp_f64(c->op, z, ARGS(double)); break;
        case TENSOR_INT64: cmp_int64_t(c->op, z, ARGS(int64_t)); break;
        case TENSOR_INT32: cmp_int32_t(c->op, z, ARGS(int32_t)); break;
        case TENSOR_INT8: cmp_int8_t(c->op, z, ARGS(int8_t)); break;
        case TENSOR_INT16: cmp_int16_t(c->op, z, ARGS(int16_t)); break;
        case TENSOR_UINT16: cmp_uint16_t(c->op, z, ARGS(uint16_t)); break;
        case TENSOR_UINT32: cmp_uint32_t(c->op, z, ARGS(uint32_t)); break;
        case TENSOR_UINT64: cmp_uint64_t(c->op, z, ARGS(uint64_t)); break;
        case TENSOR_UINT8:
        case TENSOR_BOOL: cmp_uint8_t(c->op, z, ARGS(uint8_t)); break;
        default: break;
        }
        return;
    }
    switch (c->type) {
    case TENSOR_FLOAT: row_f32(c->op, (float *)c->z + oz, ARGS(float)); break;
    case TENSOR_DOUBLE: row_f64(c->op, (double *)c->z + oz, ARGS(double)); break;
    case TENSOR_INT64: row_int64_t(c->op, (int64_t *)c->z + oz, ARGS(int64_t)); break;
    case TENSOR_INT32: row_int32_t(c->op, (int32_t *)c->z + oz, ARGS(int32_t)); break;
    case TENSOR_INT8: row_int8_t(c->op, (int8_t *)c->z + oz, ARGS(int8_t)); break;
    case TENSOR_UINT8: row_uint8_t(c->op, (uint8_t *)c->z + oz, ARGS(uint8_t)); break;
    case TENSOR_INT16: row_int16_t(c->op, (int16_t *)c->z + oz, ARGS(int16_t)); break;
    case TENSOR_UINT16: row_uint16_t(c->op, (uint16_t *)c->z + oz, ARGS(uint16_t)); break;
    case TENSOR_UINT32: row_uint32_t(c->op, (uint32_t *)c->z + oz, ARGS(uint32_t)); break;
    case TENSOR_UINT64: row_uint64_t(c->op, (uint64_t *)c->z + oz, ARGS(uint64_t)); break;
    default: break;
    }
#undef ARGS
}

/* out = a OP b with broadcasting; out may be an output or a scratch tensor. */
static int binary_into(const struct op_call *call, struct tensor *out, enum bin_op op, const struct tensor *a,
                       const struct tensor *b)
{
    int logic = op == BIN_AND || op == BIN_OR || op == BIN_XOR;
    if (logic && (a->type != TENSOR_BOOL || b->type != TENSOR_BOOL))
        return ops_fail(call, "inputs must be bool, got %s and %s", tensor_type_name(a->type),
                        tensor_type_name(b->type));
    if (op != BIN_POW && a->type != b->type)
        return ops_fail(call, "inputs have different types %s and %s", tensor_type_name(a->type),
                        tensor_type_name(b->type));
    int bool_ok = logic || op == BIN_EQ;
    if (!ops_is_numeric(a->type) && !(bool_ok && a->type == TENSOR_BOOL))
        return ops_unsupported(call, "inputs of type %s are not supported", tensor_type_name(a->type));
    if (op == BIN_POW && !ops_is_numeric(b->type))
        return ops_unsupported(call, "exponent of type %s is not supported", tensor_type_name(b->type));
    const struct tensor *ts[2] = {a, b};
    struct ops_bcast bc;
    int rc = ops_broadcast(call, &bc, 2, ts);
    if (rc)
        return rc;
    rc = ops_alloc_tensor(call, out, is_compare(op) ? TENSOR_BOOL : a->type, bc.rank, bc.dims);
    if (rc)
        return rc;
    struct bin_ctx ctx = {.op = op, .type = a->type, .type_b = b->type, .x = a->data, .y = b->data, .z = out->data};
    /* Same shapes: one flat row, the common case for elementwise layers. */
    if (tensor_element_count(a) == bc.total && tensor_element_count(b) == bc.total) {
        int64_t zero[2] = {0, 0}, one[2] = {1, 1};
        if (bc.total)
            bin_row(&ctx, 0, zero, one, bc.total);
        return 0;
    }
    ops_broadcast_walk(&bc, bin_row, &ctx);
    return 0;
}

static int binary(const struct op_call *call, enum bin_op op)
{
    return binary_into(call, &call->outputs[0], op, call->inputs[0], call->inputs[1]);
}

int op_add(const struct op_call *call)
{
    return binary(call, BIN_ADD);
}
int op_sub(const struct op_call *call)
{
    return binary(call, BIN_SUB);
}
int op_mul(const struct op_call *call)
{
    return binary(call, BIN_MUL);
}
int op_div(const struct op_call *call)
{
    return binary(call, BIN_DIV);
}
int op_pow(const struct op_call *call)
{
    return binary(call, BIN_POW);
}
/* Before opset 7, PRelu's slope was per channel: a [C] slope applies along axis 1,
 * which numpy broadcasting would align with the last axis instead. */
int op_prelu(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0], *slope = call->inputs[1];
    if (call->opset > 0 && call->opset < 7 && slope->rank == 1 && x->rank > 2 && slope->dims[0] == x->dims[1]) {
        struct tensor channel = *slope;
        channel.rank = x->rank - 1;
        for (int i = 1; i < channel.rank; i++)
            channel.dims[i] = 1;
        return binary_into(call, &call->outputs[0], BIN_PRELU, x, &channel);
    }
    return binary(call, BIN_PRELU);
}
int op_equal(const struct op_call *call)
{
    return binary(call, BIN_EQ);
}
int op_less(const struct op_call *call)
{
    return binary(call, BIN_LT);
}
int op_greater(const struct op_call *call)
{
    return binary(call, BIN_GT);
}
int op_less_equal(const struct op_call *call)
{
    return binary(call, BIN_LE);
}
int op_greater_equal(const struct op_call *call)
{
    return binary(call, BIN_GE);
}
int op_and(const struct op_call *call)
{
    return binary(call, BIN_AND);
}
int op_or(const struct op_call *call)
{
    return binary(call, BIN_OR);
}
int op_xor(const struct op_call *call)
{
    return binary(call, BIN_XOR);
}

int op_bit_shift(const struct op_call *call)
{
    enum tensor_type t = call->inputs[0]->type;
    if (t != TENSOR_UINT8 && t != TENSOR_UINT16 && t != TENSOR_UINT32 && t != TENSOR_UINT64)
        return ops_fail(call, "inputs must be unsigned integers, got %s", tensor_type_name(t));
    const Onnx__AttributeProto *d = ops_attr(call, "direction");
    if (!d || !d->has_s ||
        !((d->s.len == 4 && memcmp(d->s.data, "LEFT", 4) == 0) ||
          (d->s.len == 5 && memcmp(d->s.data, "RIGHT", 5) == 0)))
        return ops_fail(call, "direction must be LEFT or RIGHT");
    return binary(call, d->s.len == 4 ? BIN_SHL : BIN_SHR);
}

int op_mod(const struct op_call *call)
{
    int is_fmod = (int)ops_attr_int(call, "fmod", 0);
    enum tensor_type t = call->inputs[0]->type;
    if (!is_fmod && (t == TENSOR_FLOAT || t == TENSOR_DOUBLE || t == TENSOR_FLOAT16 || t == TENSOR_BFLOAT16))
        return ops_fail(call, "fmod must be 1 for floating-point inputs");
    return binary(call, is_fmod ? BIN_FMOD : BIN_MOD);
}

/* Max, Min, Sum, Mean: folded pairwise, each step broadcasting. */
static int variadic(const struct op_call *call, enum bin_op op, int mean)
{
    if (call->n_inputs < 1 || !call->inputs[0])
        return ops_fail(call, "needs at least one input");
    const struct tensor *acc = call->inputs[0];
    struct tensor tmp[2];
    for (int i = 1; i < call->n_inputs; i++) {
        if (!call->inputs[i])
            return ops_fail(call, "input %d is empty", i);
        struct tensor *dst = i == call->n_inputs - 1 && !mean ? &call->outputs[0] : &tmp[i & 1];
        int rc = binary_into(call, dst, op, acc, call->inputs[i]);
        if (rc)
            return rc;
        acc = dst;
    }
    if (call->n_inputs == 1 && !mean) {
        call->outputs[0] = *acc;
        return 0;
    }
    if (!mean)
        return 0;
    if (acc->type != TENSOR_FLOAT && acc->type != TENSOR_DOUBLE)
        return ops_unsupported(call, "inputs of type %s are not supported", tensor_type_name(acc->type));
    int rc = ops_alloc_output(call, 0, acc->type, acc->rank, acc->dims);
    if (rc)
        return rc;
    int64_t n = tensor_element_count(acc);
    for (int64_t i = 0; i < n; i++)
        ops_store(acc->type, call->outputs[0].data, i, ops_load(acc->type, acc->data, i) / call->n_inputs);
    return 0;
}

int op_max(const struct op_call *call)
{
    return variadic(call, BIN_MAX, 0);
}
int op_min(const struct op_call *call)
{
    return variadic(call, BIN_MIN, 0);
}
int op_sum(const struct op_call *call)
{
    return variadic(call, BIN_ADD, 0);
}
int op_mean(const struct op_call *call)
{
    return variadic(call, BIN_ADD, 1);
}

int op_not(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    if (x->type != TENSOR_BOOL)
        return ops_fail(call, "input must be bool, got %s", tensor_type_name(x->type));
    int rc = ops_alloc_output(call, 0, TENSOR_BOOL, x->rank, x->dims);
    if (rc)
        return rc;
    int64_t n = tensor_element_count(x);
    const uint8_t *a = x->data;
    uint8_t *z = call->outputs[0].data;
    for (int64_t i = 0; i < n; i++)
        z[i] = !a[i];
    return 0;
}

struct where_ctx {
    const uint8_t *cond;
    const uint8_t *x, *y;
    uint8_t *z;
    size_t elem;
};

static void where_row(void *vctx, int64_t oz, const int64_t *oi, const int64_t *st, int64_t n)
{
    const struct where_ctx *c = vctx;
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *src = c->cond[oi[0] + i * st[0]] ? c->x + (size_t)(oi[1] + i * st[1]) * c->elem
                                                        : c->y + (size_t)(oi[2] + i * st[2]) * c->elem;
        memcpy(c->z + (size_t)(oz + i) * c->elem, src, c->elem);
    }
}

int op_where(const struct op_call *call)
{
    const struct tensor *c = call->inputs[0], *x = call->inputs[1], *y = call->inputs[2];
    if (c->type != TENSOR_BOOL)
        return ops_fail(call, "condition must be bool, got %s", tensor_type_name(c->type));
    if (x->type != y->type)
        return ops_fail(call, "inputs have different types %s and %s", tensor_type_name(x->type),
                        tensor_type_name(y->type));
    struct ops_bcast bc;
    int rc = ops_broadcast(call, &bc, 3, call->inputs);
    if (!rc)
        rc = ops_alloc_output(call, 0, x->type, bc.rank, bc.dims);
    if (rc)
        return rc;
    struct where_ctx ctx = {c->data, x->data, y->data, call->outputs[0].data, tensor_type_size(x->type)};
    ops_broadcast_walk(&bc, where_row, &ctx);
    return 0;
}
