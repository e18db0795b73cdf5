/* Reductions over a set of axes, and ArgMax/ArgMin along one. Values go
 * through double so one loop serves every numeric type. */
#include "ops.h"

#include <math.h>
#include <string.h>

enum reduce { R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_LOG_SUM, R_LOG_SUM_EXP, R_SUM_SQUARE };

static int reduce(const struct op_call *call, enum reduce kind)
{
    const struct tensor *x = call->inputs[0];
    if (!ops_is_numeric(x->type))
        return ops_unsupported(call, "input of type %s is not supported", tensor_type_name(x->type));
    int64_t axes[TENSOR_MAX_RANK];
    int n_axes = 0, rc;
    const struct tensor *axes_t = ops_input(call, 1);
    if (axes_t) {
        rc = ops_read_ints(call, axes_t, axes, TENSOR_MAX_RANK, &n_axes);
        if (rc)
            return rc;
    } else {
        size_t n;
        const int64_t *a = ops_attr_ints(call, "axes", &n);
        if (n > TENSOR_MAX_RANK)
            return ops_fail(call, "too many axes");
        for (size_t i = 0; i < n; i++)
            axes[i] = a[i];
        n_axes = (int)n;
    }
    int keepdims = ops_attr_int(call, "keepdims", 1) != 0;
    int reduced[TENSOR_MAX_RANK] = {0};
    if (n_axes == 0) {
        if (ops_attr_int(call, "noop_with_empty_axes", 0)) {
            call->outputs[0] = *x;
            return 0;
        }
        for (int i = 0; i < x->rank; i++)
            reduced[i] = 1;
    }
    for (int i = 0; i < n_axes; i++) {
        int a;
        rc = ops_axis(call, axes[i], x->rank, &a);
        if (rc)
            return rc;
        reduced[a] = 1;
    }
    int64_t dims[TENSOR_MAX_RANK], out_strides[TENSOR_MAX_RANK];
    int rank = 0;
    for (int i = 0; i < x->rank; i++) {
        if (!reduced[i])
            dims[rank++] = x->dims[i];
        else if (keepdims)
            dims[rank++] = 1;
    }
    /* Strides into the output for each input axis; 0 along reduced axes. */
    int64_t s = 1;
    for (int i = x->rank - 1; i >= 0; i--) {
        out_strides[i] = reduced[i] ? 0 : s;
        if (!reduced[i])
            s *= x->dims[i];
    }
    rc = ops_alloc_output(call, 0, x->type, rank, dims);
    if (rc)
        return rc;
    int64_t n_out = tensor_element_count(&call->outputs[0]), n_in = tensor_element_count(x);
    int64_t group = n_out ? n_in / n_out : 0;
    double *acc = arena_alloc(call->arena, (size_t)(n_out ? n_out : 1) * sizeof *acc);
    if (!acc)
        return ops_fail(call, "out of request memory");
    double init = kind == R_MAX ? -INFINITY : kind == R_MIN ? INFINITY : kind == R_PROD ? 1 : 0;
    for (int64_t i = 0; i < n_out; i++)
        acc[i] = init;
    int64_t idx[TENSOR_MAX_RANK] = {0};
    for (int64_t i = 0; i < n_in; i++) {
        int64_t o = 0;
        for (int d = 0; d < x->rank; d++)
            o += idx[d] * out_strides[d];
        double v = ops_load(x->type, x->data, i);
        switch (kind) {
        case R_SUM:
        case R_MEAN:
        case R_LOG_SUM: acc[o] += v; break;
        case R_MAX: acc[o] = v > acc[o] || isnan(v) ? v : acc[o]; break;
        case R_MIN: acc[o] = v < acc[o] || isnan(v) ? v : acc[o]; break;
        case R_PROD: acc[o] *= v; break;
        case R_L1: acc[o] += fabs(v); break;
        case R_L2:
        case R_SUM_SQUARE: acc[o] += v * v; break;
        case R_LOG_SUM_EXP: acc[o] += exp(v); break;
        }
        for (int d = x->rank - 1; d >= 0; d--) {
            if (++idx[d] < x->dims[d])
                break;
            idx[d] = 0;
        }
    }
    for (int64_t i = 0; i < n_out; i++) {
        double v = acc[i];
        switch (kind) {
        case R_MEAN: v = group ? v / (double)group : NAN; break;
        case R_L2: v = sqrt(v); break;
        case R_LOG_SUM:
        case R_LOG_SUM_EXP: v = log(v); break;
        default: break;
        }
        ops_store(x->type, call->outputs[0].data, i, v);
    }
    return 0;
}

int op_reduce_sum(const struct op_call *call)
{
    return reduce(call, R_SUM);
}
int op_reduce_mean(const struct op_call *call)
{
    return reduce(call, R_MEAN);
}
int op_reduce_max(const struct op_call *call)
{
    return reduce(call, R_MAX);
}
int op_reduce_min(const struct op_call *call)
{
    return reduce(call, R_MIN);
}
int op_reduce_prod(const struct op_call *call)
{
    return reduce(call, R_PROD);
}
int op_reduce_l1(const struct op_call *call)
{
    return reduce(call, R_L1);
}
int op_reduce_l2(const struct op_call *call)
{
    return reduce(call, R_L2);
}
int op_reduce_log_sum(const struct op_call *call)
{
    return reduce(call, R_LOG_SUM);
}
int op_reduce_log_sum_exp(const struct op_call *call)
{
    return reduce(call, R_LOG_SUM_EXP);
}
int op_reduce_sum_square(const struct op_call *call)
{
    return reduce(call, R_SUM_SQUARE);
}

static int arg_extreme(const struct op_call *call, int want_max)
{
    const struct tensor *x = call->inputs[0];
    if (!ops_is_numeric(x->type))
        return ops_unsupported(call, "input of type %s is not supported", tensor_type_name(x->type));
    int axis, rc = ops_axis(call, ops_attr_int(call, "axis", 0), x->rank, &axis);
    if (rc)
        return rc;
    int keepdims = ops_attr_int(call, "keepdims", 1) != 0, last = ops_attr_int(call, "select_last_index", 0) != 0;
    int64_t dims[TENSOR_MAX_RANK], outer = 1, inner = 1, n = x->dims[axis];
    int rank = 0;
    for (int i = 0; i < x->rank; i++) {
        if (i != axis)
            dims[rank++] = x->dims[i];
        else if (keepdims)
            dims[rank++] = 1;
        if (i < axis)
            outer *= x->dims[i];
        if (i > axis)
            inner *= x->dims[i];
    }
    if (n == 0 && outer > 0 && inner > 0)
        return ops_fail(call, "cannot take the arg%s of an empty axis", want_max ? "max" : "min");
    rc = ops_alloc_output(call, 0, TENSOR_INT64, rank, dims);
    if (rc)
        return rc;
    int64_t *out = call->outputs[0].data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            int64_t base = o * n * inner + j, best = 0;
            double bv = ops_load(x->type, x->data, base);
            for (int64_t k = 1; k < n; k++) {
                double v = ops_load(x->type, x->data, base + k * inner);
                int better = want_max ? (last ? v >= bv : v > bv) : (last ? v <= bv : v < bv);
                if (better) {
                    bv = v;
                    best = k;
                }
            }
            out[o * inner + j] = best;
        }
    return 0;
}

int op_argmax(const struct op_call *call)
{
    return arg_extreme(call, 1);
}
int op_argmin(const struct op_call *call)
{
    return arg_extreme(call, 0);
}
