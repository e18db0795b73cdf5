/* Linear quantization: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear,
 * MatMulInteger and QLinearMatMul (uint8/int8 with int32 accumulation). */
#include "ops.h"

#include <math.h>

/* Per-tensor (one value) or per-axis (one value per index along axis) parameter. */
static int param_index(const struct op_call *call, const struct tensor *p, const struct tensor *x, int64_t *stride,
                       int64_t *len)
{
    int64_t n = tensor_element_count(p);
    *stride = 0;
    *len = 1;
    if (n == 1)
        return 0;
    int axis, rc = ops_axis(call, ops_attr_int(call, "axis", 1), x->rank, &axis);
    if (rc)
        return rc;
    if (p->rank != 1 || n != x->dims[axis])
        return ops_fail(call, "scale and zero point must hold one value or one per index of axis %d", axis);
    *len = n;
    *stride = 1;
    for (int i = axis + 1; i < x->rank; i++)
        *stride *= x->dims[i];
    return 0;
}

static double quantize(double v, enum tensor_type type)
{
    double lo = type == TENSOR_INT8 ? -128 : 0, hi = type == TENSOR_INT8 ? 127 : 255;
    v = nearbyint(v);
    return v < lo ? lo : v > hi ? hi : isnan(v) ? 0 : v;
}

int op_quantize_linear(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0], *scale = call->inputs[1], *zp = ops_input(call, 2);
    enum tensor_type type = zp ? zp->type : TENSOR_UINT8;
    if ((x->type != TENSOR_FLOAT && x->type != TENSOR_INT32) || scale->type != TENSOR_FLOAT ||
        (type != TENSOR_UINT8 && type != TENSOR_INT8))
        return ops_unsupported(call, "types %s -> %s are not supported", tensor_type_name(x->type),
                               tensor_type_name(type));
    int64_t stride, len;
    int rc = param_index(call, scale, x, &stride, &len);
    if (!rc && zp && tensor_element_count(zp) != len)
        rc = ops_fail(call, "zero point and scale differ in length");
    if (!rc)
        rc = ops_alloc_output(call, 0, type, x->rank, x->dims);
    if (rc)
        return rc;
    int64_t n = tensor_element_count(x);
    for (int64_t i = 0; i < n; i++) {
        int64_t p = stride ? i / stride % len : 0;
        /* The division in float32, as the definition has it: halves must round the same way. */
        float q = (float)ops_load(x->type, x->data, i) / ((const float *)scale->data)[p];
        double z = zp ? ops_load(zp->type, zp->data, p) : 0;
        ops_store(type, call->outputs[0].data, i, quantize(nearbyintf(q) + z, type));
    }
    return 0;
}

int op_dequantize_linear(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0], *scale = call->inputs[1], *zp = ops_input(call, 2);
    if ((x->type != TENSOR_UINT8 && x->type != TENSOR_INT8 && x->type != TENSOR_INT32) || scale->type != TENSOR_FLOAT ||
        (zp && zp->type != x->type))
        return ops_unsupported(call, "input of type %s is not supported", tensor_type_name(x->type));
    int64_t stride, len;
    int rc = param_index(call, scale, x, &stride, &len);
    if (!rc && zp && tensor_element_count(zp) != len)
        rc = ops_fail(call, "zero point and scale differ in length");
    if (!rc)
        rc = ops_alloc_output(call, 0, TENSOR_FLOAT, x->rank, x->dims);
    if (rc)
        return rc;
    int64_t n = tensor_element_count(x);
    float *y = call->outputs[0].data;
    for (int64_t i = 0; i < n; i++) {
        int64_t p = stride ? i / stride % len : 0;
        double z = zp ? ops_load(zp->type, zp->data, p) : 0;
        y[i] = (float)((ops_load(x->type, x->data, i) - z) * ((const float *)scale->data)[p]);
    }
    return 0;
}

int op_dynamic_quantize_linear(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    if (x->type != TENSOR_FLOAT)
        return ops_unsupported(call, "input of type %s is not supported", tensor_type_name(x->type));
    int rc = ops_alloc_output(call, 0, TENSOR_UINT8, x->rank, x->dims);
    if (!rc && call->n_outputs > 1)
        rc = ops_alloc_output(call, 1, TENSOR_FLOAT, 0, NULL);
    if (!rc && call->n_outputs > 2)
        rc = ops_alloc_output(call, 2, TENSOR_UINT8, 0, NULL);
    if (rc)
        return rc;
    int64_t n = tensor_element_count(x);
    const float *a = x->data;
    float lo = 0, hi = 0;
    for (int64_t i = 0; i < n; i++) {
        lo = a[i] < lo ? a[i] : lo;
        hi = a[i] > hi ? a[i] : hi;
    }
    float scale = (hi - lo) / 255.0f;
    double zp = scale != 0 ? quantize(0 - lo / scale, TENSOR_UINT8) : 0; /* float32 division */
    uint8_t *y = call->outputs[0].data;
    for (int64_t i = 0; i < n; i++)
        y[i] = (uint8_t)(scale != 0 ? quantize(nearbyintf(a[i] / scale) + zp, TENSOR_UINT8) : zp);
    if (call->n_outputs > 1)
        *(float *)call->outputs[1].data = scale;
    if (call->n_outputs > 2)
        *(uint8_t *)call->outputs[2].data = (uint8_t)zp;
    return 0;
}

static int is_q8(const struct tensor *t)
{
    return t && (t->type == TENSOR_UINT8 || t->type == TENSOR_INT8);
}

/* acc[m,n] = Σk (a[m,k] - a_zp[m]) · (b[k,n] - b_zp[n]), batched over A's leading
 * dimensions; B is either 2-D (shared) or has the same leading dimensions as A. */
static int integer_matmul(const struct op_call *call, int32_t **out, int64_t *dims, int *rank, const struct tensor *a,
                          const struct tensor *b, const struct tensor *azp, const struct tensor *bzp)
{
    if (!is_q8(a) || !is_q8(b) || (azp && azp->type != a->type) || (bzp && bzp->type != b->type))
        return ops_unsupported(call, "only uint8/int8 operands are supported");
    if (a->rank < 2 || (b->rank != 2 && b->rank != a->rank))
        return ops_unsupported(call, "B must be 2-D or have A's rank");
    int64_t m = a->dims[a->rank - 2], k = a->dims[a->rank - 1], n = b->dims[b->rank - 1], batch = 1;
    if (b->dims[b->rank - 2] != k)
        return ops_fail(call, "inner dimensions differ");
    for (int i = 0; i < a->rank - 2; i++) {
        if (b->rank == a->rank && b->dims[i] != a->dims[i])
            return ops_unsupported(call, "broadcasting batch dimensions is not supported");
        batch *= a->dims[i];
    }
    if (azp && tensor_element_count(azp) != 1 && tensor_element_count(azp) != m)
        return ops_fail(call, "a_zero_point must be a scalar or one per row");
    if (bzp && tensor_element_count(bzp) != 1 && tensor_element_count(bzp) != n)
        return ops_fail(call, "b_zero_point must be a scalar or one per column");
    *rank = a->rank;
    for (int i = 0; i < a->rank - 1; i++)
        dims[i] = a->dims[i];
    dims[a->rank - 1] = n;
    int32_t *acc = arena_alloc(call->arena, (size_t)(batch * m * n) * sizeof *acc + 1);
    if (!acc)
        return ops_fail(call, "out of request memory");
    for (int64_t t = 0; t < batch; t++) {
        int64_t a_off = t * m * k, b_off = b->rank == 2 ? 0 : t * k * n;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                int64_t s = 0;
                double za = azp ? ops_load(azp->type, azp->data, tensor_element_count(azp) == 1 ? 0 : i) : 0;
                double zb = bzp ? ops_load(bzp->type, bzp->data, tensor_element_count(bzp) == 1 ? 0 : j) : 0;
                for (int64_t p = 0; p < k; p++)
                    s += (int64_t)(ops_load(a->type, a->data, a_off + i * k + p) - za) *
                         (int64_t)(ops_load(b->type, b->data, b_off + p * n + j) - zb);
                acc[(t * m + i) * n + j] = (int32_t)s;
            }
    }
    *out = acc;
    return 0;
}

int op_matmul_integer(const struct op_call *call)
{
    int32_t *acc;
    int64_t dims[TENSOR_MAX_RANK];
    int rank;
    int rc = integer_matmul(call, &acc, dims, &rank, call->inputs[0], call->inputs[1], ops_input(call, 2),
                            ops_input(call, 3));
    if (rc)
        return rc;
    call->outputs[0] = (struct tensor){.type = TENSOR_INT32, .rank = rank, .data = acc};
    for (int i = 0; i < rank; i++)
        call->outputs[0].dims[i] = dims[i];
    return 0;
}

int op_qlinear_matmul(const struct op_call *call)
{
    const struct tensor *as = call->inputs[1], *bs = call->inputs[4], *ys = call->inputs[6], *yzp = call->inputs[7];
    if (as->type != TENSOR_FLOAT || bs->type != TENSOR_FLOAT || ys->type != TENSOR_FLOAT || !is_q8(yzp) ||
        tensor_element_count(as) != 1 || tensor_element_count(bs) != 1 || tensor_element_count(ys) != 1 ||
        tensor_element_count(yzp) != 1)
        return ops_unsupported(call, "only per-tensor float scales are supported");
    int32_t *acc;
    int64_t dims[TENSOR_MAX_RANK];
    int rank;
    int rc =
        integer_matmul(call, &acc, dims, &rank, call->inputs[0], call->inputs[3], call->inputs[2], call->inputs[5]);
    if (!rc)
        rc = ops_alloc_output(call, 0, yzp->type, rank, dims);
    if (rc)
        return rc;
    double k = (double)*(const float *)as->data * *(const float *)bs->data / *(const float *)ys->data;
    double z = ops_load(yzp->type, yzp->data, 0);
    int64_t n = tensor_element_count(&call->outputs[0]);
    for (int64_t i = 0; i < n; i++)
        ops_store(yzp->type, call->outputs[0].data, i, quantize(acc[i] * k + z, yzp->type));
    return 0;
}
