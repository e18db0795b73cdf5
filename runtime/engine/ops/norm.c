/* Normalizations (float32): BatchNormalization (stored statistics, or the
 * batch's in training mode), InstanceNormalization, LayerNormalization, LRN
 * and MeanVarianceNormalization. */
#include "ops.h"

#include <math.h>
#include <string.h>

static int is_channel_vector(const struct tensor *t, int64_t c)
{
    return t && t->type == TENSOR_FLOAT && t->rank == 1 && t->dims[0] == c;
}

/* Inference uses the stored mean and variance; training mode (opset 14+) uses
 * the batch's own and also returns the updated running statistics. */
int op_batch_norm(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    if (x->type != TENSOR_FLOAT)
        return ops_unsupported(call, "input of type %s is not supported", tensor_type_name(x->type));
    int training = ops_attr_int(call, "training_mode", 0) != 0;
    if (!training && call->n_outputs > 1)
        return ops_unsupported(call, "the training outputs of opsets before 14 are not supported");
    if (!ops_attr_int(call, "spatial", 1))
        return ops_unsupported(call, "spatial=0 is not supported");
    if (x->rank < 2)
        return ops_fail(call, "input must have rank 2 or more");
    int64_t c = x->dims[1];
    for (int i = 1; i <= 4; i++)
        if (!is_channel_vector(call->inputs[i], c))
            return ops_fail(call, "input %d must be a float32 vector of %lld channels", i, (long long)c);
    float eps = ops_attr_float(call, "epsilon", 1e-5f), momentum = ops_attr_float(call, "momentum", 0.9f);
    int rc = ops_alloc_output(call, 0, x->type, x->rank, x->dims);
    for (int k = 1; !rc && k < call->n_outputs; k++)
        rc = ops_alloc_output(call, k, TENSOR_FLOAT, 1, &c);
    if (rc)
        return rc;
    const float *scale = call->inputs[1]->data, *b = call->inputs[2]->data, *mean = call->inputs[3]->data,
                *var = call->inputs[4]->data, *in = x->data;
    float *y = call->outputs[0].data;
    int64_t inner = 1, batch = x->dims[0];
    for (int i = 2; i < x->rank; i++)
        inner *= x->dims[i];
    for (int64_t ch = 0; ch < c; ch++) {
        float m = mean[ch], v = var[ch];
        if (training) {
            double s = 0, sq = 0, count = (double)(batch * inner);
            for (int64_t n = 0; n < batch; n++)
                for (int64_t i = 0; i < inner; i++) {
                    double a = in[(n * c + ch) * inner + i];
                    s += a;
                    sq += a * a;
                }
            double bm = count ? s / count : 0, bv = count ? sq / count - bm * bm : 0;
            m = (float)bm;
            v = (float)(bv > 0 ? bv : 0);
            if (call->n_outputs > 1)
                ((float *)call->outputs[1].data)[ch] = mean[ch] * momentum + m * (1 - momentum);
            if (call->n_outputs > 2)
                ((float *)call->outputs[2].data)[ch] = var[ch] * momentum + v * (1 - momentum);
        }
        /* Folded into one multiply-add per element. */
        float k = scale[ch] / sqrtf(v + eps), off = b[ch] - m * k;
        for (int64_t n = 0; n < batch; n++) {
            int64_t base = (n * c + ch) * inner;
            for (int64_t i = 0; i < inner; i++)
                y[base + i] = in[base + i] * k + off;
        }
    }
    return 0;
}

int op_instance_norm(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    if (x->type != TENSOR_FLOAT)
        return ops_unsupported(call, "input of type %s is not supported", tensor_type_name(x->type));
    if (x->rank < 3)
        return ops_fail(call, "input must have rank 3 or more");
    int64_t c = x->dims[1], inner = 1;
    for (int i = 1; i <= 2; i++)
        if (!is_channel_vector(call->inputs[i], c))
            return ops_fail(call, "input %d must be a float32 vector of %lld channels", i, (long long)c);
    for (int i = 2; i < x->rank; i++)
        inner *= x->dims[i];
    float eps = ops_attr_float(call, "epsilon", 1e-5f);
    int rc = ops_alloc_output(call, 0, x->type, x->rank, x->dims);
    if (rc)
        return rc;
    const float *scale = call->inputs[1]->data, *b = call->inputs[2]->data, *in = x->data;
    float *y = call->outputs[0].data;
    for (int64_t p = 0; p < x->dims[0] * c; p++) {
        const float *a = in + p * inner;
        double mean = 0, var = 0;
        for (int64_t i = 0; i < inner; i++)
            mean += a[i];
        mean = inner ? mean / (double)inner : 0;
        for (int64_t i = 0; i < inner; i++)
            var += (a[i] - mean) * (a[i] - mean);
        var = inner ? var / (double)inner : 0;
        double k = scale[p % c] / sqrt(var + eps);
        for (int64_t i = 0; i < inner; i++)
            y[p * inner + i] = (float)((a[i] - mean) * k + b[p % c]);
    }
    return 0;
}

/* A Scale or B input broadcast to the normalized shape, as n floats. */
static int expand_to(const struct op_call *call, float **out, const struct tensor *t, const struct tensor *norm)
{
    *out = NULL;
    if (!t)
        return 0;
    if (t->type != TENSOR_FLOAT)
        return ops_unsupported(call, "scale and bias of type %s are not supported", tensor_type_name(t->type));
    const struct tensor *ts[2] = {norm, t};
    struct ops_bcast bc;
    int rc = ops_broadcast(call, &bc, 2, ts);
    if (rc)
        return rc;
    if (bc.rank != norm->rank || bc.total != tensor_element_count(norm))
        return ops_fail(call, "scale or bias does not broadcast to the normalized shape");
    float *v = arena_alloc(call->arena, (size_t)bc.total * sizeof *v + 1);
    if (!v)
        return ops_fail(call, "out of request memory");
    for (int64_t j = 0; j < bc.total; j++) {
        int64_t rem = j, off = 0;
        for (int d = bc.rank - 1; d >= 0; d--) {
            off += (rem % bc.dims[d]) * bc.strides[1][d];
            rem /= bc.dims[d];
        }
        v[j] = ((const float *)t->data)[off];
    }
    *out = v;
    return 0;
}

int op_layer_norm(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    if (x->type != TENSOR_FLOAT)
        return ops_unsupported(call, "input of type %s is not supported", tensor_type_name(x->type));
    int axis, rc = ops_axis(call, ops_attr_int(call, "axis", -1), x->rank, &axis);
    if (rc)
        return rc;
    float eps = ops_attr_float(call, "epsilon", 1e-5f);
    struct tensor norm = {.type = TENSOR_FLOAT, .rank = x->rank - axis};
    int64_t outer = 1, n = 1, stat_dims[TENSOR_MAX_RANK];
    for (int i = 0; i < x->rank; i++) {
        if (i < axis)
            outer *= x->dims[i];
        else {
            n *= x->dims[i];
            norm.dims[i - axis] = x->dims[i];
        }
        stat_dims[i] = i < axis ? x->dims[i] : 1;
    }
    float *scale, *bias;
    rc = expand_to(call, &scale, call->inputs[1], &norm);
    if (!rc)
        rc = expand_to(call, &bias, ops_input(call, 2), &norm);
    if (!rc)
        rc = ops_alloc_output(call, 0, x->type, x->rank, x->dims);
    for (int k = 1; !rc && k < call->n_outputs; k++)
        rc = ops_alloc_output(call, k, TENSOR_FLOAT, x->rank, stat_dims);
    if (rc)
        return rc;
    const float *in = x->data;
    float *y = call->outputs[0].data;
    float *mean_out = call->n_outputs > 1 ? call->outputs[1].data : NULL;
    float *inv_out = call->n_outputs > 2 ? call->outputs[2].data : NULL;
    for (int64_t o = 0; o < outer; o++) {
        const float *a = in + o * n;
        double mean = 0, var = 0;
        for (int64_t i = 0; i < n; i++)
            mean += a[i];
        mean = n ? mean / (double)n : 0;
        for (int64_t i = 0; i < n; i++)
            var += (a[i] - mean) * (a[i] - mean);
        var = n ? var / (double)n : 0;
        double inv = 1 / sqrt(var + eps);
        for (int64_t i = 0; i < n; i++)
            y[o * n + i] = (float)((a[i] - mean) * inv * scale[i] + (bias ? bias[i] : 0));
        if (mean_out)
            mean_out[o] = (float)mean;
        if (inv_out)
            inv_out[o] = (float)inv;
    }
    return 0;
}

/* LRN across channels: y = x / (bias + alpha/size · Σ x²)^beta. */
int op_lrn(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    if (x->type != TENSOR_FLOAT || x->rank < 2)
        return ops_unsupported(call, "only float32 inputs of rank 2 or more are supported");
    int64_t size = ops_attr_int(call, "size", 0);
    if (size < 1)
        return ops_fail(call, "size must be positive");
    float alpha = ops_attr_float(call, "alpha", 1e-4f), beta = ops_attr_float(call, "beta", 0.75f),
          bias = ops_attr_float(call, "bias", 1.0f);
    int rc = ops_alloc_output(call, 0, x->type, x->rank, x->dims);
    if (rc)
        return rc;
    int64_t c = x->dims[1], inner = 1, lo = (size - 1) / 2, hi = size - 1 - lo;
    for (int i = 2; i < x->rank; i++)
        inner *= x->dims[i];
    const float *in = x->data;
    float *y = call->outputs[0].data;
    for (int64_t n = 0; n < x->dims[0]; n++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t i = 0; i < inner; i++) {
                double sq = 0;
                int64_t first = ch - lo < 0 ? 0 : ch - lo, last = hi >= c - ch ? c - 1 : ch + hi;
                for (int64_t k = first; k <= last; k++) {
                    double v = in[(n * c + k) * inner + i];
                    sq += v * v;
                }
                int64_t at = (n * c + ch) * inner + i;
                y[at] = (float)(in[at] / pow(bias + alpha / (double)size * sq, beta));
            }
    return 0;
}

/* MeanVarianceNormalization over axes (default 0, 2, 3): (x - mean) / (std + 1e-9). */
int op_mean_variance_norm(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    if (x->type != TENSOR_FLOAT)
        return ops_unsupported(call, "input of type %s is not supported", tensor_type_name(x->type));
    size_t n_axes;
    const int64_t *axes = ops_attr_ints(call, "axes", &n_axes);
    static const int64_t default_axes[3] = {0, 2, 3};
    if (!axes) {
        axes = default_axes;
        n_axes = 3;
    }
    int reduced[TENSOR_MAX_RANK] = {0};
    for (size_t i = 0; i < n_axes; i++) {
        int a;
        int rc = ops_axis(call, axes[i], x->rank, &a);
        if (rc)
            return rc;
        reduced[a] = 1;
    }
    int rc = ops_alloc_output(call, 0, x->type, x->rank, x->dims);
    if (rc)
        return rc;
    /* Group index of each element: its coordinates along the kept axes. */
    int64_t n = tensor_element_count(x), groups = 1, gstride[TENSOR_MAX_RANK], s = 1;
    for (int i = x->rank - 1; i >= 0; i--) {
        gstride[i] = reduced[i] ? 0 : s;
        if (!reduced[i])
            s *= x->dims[i];
    }
    groups = s;
    double *sum = arena_alloc(call->arena, (size_t)(2 * groups) * sizeof *sum + 1);
    if (!sum)
        return ops_fail(call, "out of request memory");
    double *sq = sum + groups;
    for (int64_t g = 0; g < 2 * groups; g++)
        sum[g] = 0;
    const float *in = x->data;
    float *y = call->outputs[0].data;
    int64_t count = groups ? n / groups : 0;
    for (int pass = 0; pass < 2; pass++) {
        int64_t pos[TENSOR_MAX_RANK] = {0};
        for (int64_t i = 0; i < n; i++) {
            int64_t g = 0;
            for (int d = 0; d < x->rank; d++)
                g += pos[d] * gstride[d];
            if (pass == 0) {
                sum[g] += in[i];
                sq[g] += (double)in[i] * in[i];
            } else {
                double mean = sum[g] / (double)count, var = sq[g] / (double)count - mean * mean;
                y[i] = (float)((in[i] - mean) / (sqrt(var > 0 ? var : 0) + 1e-9));
            }
            for (int d = x->rank - 1; d >= 0; d--) {
                if (++pos[d] < x->dims[d])
                    break;
                pos[d] = 0;
            }
        }
    }
    return 0;
}
