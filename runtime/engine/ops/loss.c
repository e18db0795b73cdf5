/* NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (float32), so models
 * exported with their loss head still run. */
#include "ops.h"

#include <math.h>
#include <string.h>

enum reduction { RED_MEAN, RED_SUM, RED_NONE };

static int read_reduction(const struct op_call *call, enum reduction *out)
{
    const Onnx__AttributeProto *a = ops_attr(call, "reduction");
    *out = RED_MEAN;
    if (!a || !a->has_s)
        return 0;
    if (a->s.len == 3 && memcmp(a->s.data, "sum", 3) == 0)
        *out = RED_SUM;
    else if (a->s.len == 4 && memcmp(a->s.data, "none", 4) == 0)
        *out = RED_NONE;
    else if (!(a->s.len == 4 && memcmp(a->s.data, "mean", 4) == 0))
        return ops_fail(call, "unknown reduction");
    return 0;
}

/* loss[n, d...] = -logp[n, target[n, d...], d...] · weight[target]; output
 * `out_index` gets the reduced (or unreduced) loss. */
static int nll(const struct op_call *call, int out_index, const struct tensor *logp, const struct tensor *target,
               const struct tensor *weight)
{
    enum reduction red;
    int rc = read_reduction(call, &red);
    if (rc)
        return rc;
    if (logp->type != TENSOR_FLOAT || logp->rank < 2)
        return ops_unsupported(call, "input must be float32 of rank 2 or more");
    if (target->type != TENSOR_INT64 && target->type != TENSOR_INT32)
        return ops_fail(call, "target must be int64 or int32");
    if (target->rank != logp->rank - 1 || target->dims[0] != logp->dims[0])
        return ops_fail(call, "target shape does not match the input");
    for (int i = 1; i < target->rank; i++)
        if (target->dims[i] != logp->dims[i + 1])
            return ops_fail(call, "target shape does not match the input");
    int64_t c = logp->dims[1];
    if (weight && (weight->type != TENSOR_FLOAT || weight->rank != 1 || weight->dims[0] != c))
        return ops_fail(call, "weight must be a float32 vector of %lld classes", (long long)c);
    const Onnx__AttributeProto *ig = ops_attr(call, "ignore_index");
    int has_ignore = ig && ig->has_i;
    int64_t ignore = has_ignore ? ig->i : 0;
    rc = red == RED_NONE ? ops_alloc_output(call, out_index, TENSOR_FLOAT, target->rank, target->dims)
                         : ops_alloc_output(call, out_index, TENSOR_FLOAT, 0, NULL);
    if (rc)
        return rc;
    int64_t n = logp->dims[0], inner = tensor_element_count(target) / (n ? n : 1);
    const float *lp = logp->data, *w = weight ? weight->data : NULL;
    float *y = call->outputs[out_index].data;
    double sum = 0, wsum = 0;
    for (int64_t b = 0; b < n; b++)
        for (int64_t d = 0; d < inner; d++) {
            int64_t i = b * inner + d;
            int64_t t =
                target->type == TENSOR_INT64 ? ((const int64_t *)target->data)[i] : ((const int32_t *)target->data)[i];
            double loss = 0, wt = 0;
            if (!(has_ignore && t == ignore)) {
                if (t < 0 || t >= c)
                    return ops_fail(call, "target %lld is not a class index", (long long)t);
                wt = w ? w[t] : 1;
                loss = -lp[(b * c + t) * inner + d] * wt;
            }
            if (red == RED_NONE)
                y[i] = (float)loss;
            sum += loss;
            wsum += wt;
        }
    if (red == RED_SUM)
        y[0] = (float)sum;
    else if (red == RED_MEAN)
        y[0] = (float)(wsum != 0 ? sum / wsum : 0);
    return 0;
}

int op_nll_loss(const struct op_call *call)
{
    return nll(call, 0, call->inputs[0], call->inputs[1], ops_input(call, 2));
}

int op_softmax_cross_entropy_loss(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    if (x->type != TENSOR_FLOAT || x->rank < 2)
        return ops_unsupported(call, "scores must be float32 of rank 2 or more");
    /* log_softmax over the class axis (1), into output 1 or a scratch tensor */
    struct tensor scratch, *logp = call->n_outputs > 1 ? &call->outputs[1] : &scratch;
    int rc = ops_alloc_tensor(call, logp, TENSOR_FLOAT, x->rank, x->dims);
    if (rc)
        return rc;
    int64_t n = x->dims[0], c = x->dims[1], inner = 1;
    for (int i = 2; i < x->rank; i++)
        inner *= x->dims[i];
    const float *in = x->data;
    float *out = logp->data;
    for (int64_t b = 0; b < n; b++)
        for (int64_t d = 0; d < inner && c > 0; d++) {
            const float *a = in + b * c * inner + d;
            float *z = out + b * c * inner + d;
            float mx = a[0];
            for (int64_t k = 1; k < c; k++)
                mx = a[k * inner] > mx ? a[k * inner] : mx;
            double s = 0;
            for (int64_t k = 0; k < c; k++)
                s += exp((double)a[k * inner] - mx);
            float lse = (float)log(s);
            for (int64_t k = 0; k < c; k++)
                z[k * inner] = a[k * inner] - mx - lse;
        }
    return nll(call, 0, logp, call->inputs[1], ops_input(call, 2));
}
