/* MaxPool, AveragePool (1-D to 3-D) and the global pools. MaxPool also takes
 * int8/uint8 and double through the generic element access. */
#include "ops.h"

#include <math.h>
#include <string.h>

static int pool(const struct op_call *call, int is_max)
{
    const struct tensor *x = call->inputs[0];
    if (is_max ? !ops_is_numeric(x->type) || x->type == TENSOR_INT32 || x->type == TENSOR_INT64
               : x->type != TENSOR_FLOAT && x->type != TENSOR_DOUBLE)
        return ops_unsupported(call, "input of type %s is not supported", tensor_type_name(x->type));
    if (!ops_attr(call, "kernel_shape"))
        return ops_fail(call, "attribute 'kernel_shape' is missing");
    struct ops_window w;
    int rc = ops_window_init(call, &w, x, NULL);
    if (rc)
        return rc;
    if (!is_max && ops_attr(call, "dilations"))
        for (int i = 0; i < OPS_MAX_SPATIAL; i++)
            if (w.dilation[i] != 1)
                return ops_unsupported(call, "dilations in AveragePool are not supported");
    int include_pad = ops_attr_int(call, "count_include_pad", 0) != 0;
    int col_major = ops_attr_int(call, "storage_order", 0) != 0;
    int64_t dims[TENSOR_MAX_RANK];
    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    for (int i = 0; i < w.n_spatial; i++)
        dims[2 + i] = w.out[OPS_MAX_SPATIAL - w.n_spatial + i];
    rc = ops_alloc_output(call, 0, x->type, x->rank, dims);
    if (!rc && is_max && call->n_outputs > 1)
        rc = ops_alloc_output(call, 1, TENSOR_INT64, x->rank, dims);
    if (rc)
        return rc;
    int64_t *indices = is_max && call->n_outputs > 1 ? call->outputs[1].data : NULL;
    int64_t planes = x->dims[0] * x->dims[1];
    int64_t in_size = w.in[0] * w.in[1] * w.in[2];
    int64_t o = 0;
    for (int64_t p = 0; p < planes; p++)
        for (int64_t od = 0; od < w.out[0]; od++)
            for (int64_t oh = 0; oh < w.out[1]; oh++)
                for (int64_t ow = 0; ow < w.out[2]; ow++, o++) {
                    int64_t start[3] = {od * w.stride[0] - w.pad_begin[0], oh * w.stride[1] - w.pad_begin[1],
                                        ow * w.stride[2] - w.pad_begin[2]};
                    double best = -INFINITY, sum = 0;
                    int64_t best_at = -1, count = 0, padded = 0;
                    for (int64_t kd = 0; kd < w.kernel[0]; kd++)
                        for (int64_t kh = 0; kh < w.kernel[1]; kh++)
                            for (int64_t kw = 0; kw < w.kernel[2]; kw++) {
                                int64_t pos[3] = {start[0] + kd * w.dilation[0], start[1] + kh * w.dilation[1],
                                                  start[2] + kw * w.dilation[2]};
                                int inside = 1, in_padded = 1;
                                for (int i = 0; i < 3; i++) {
                                    inside &= pos[i] >= 0 && pos[i] < w.in[i];
                                    in_padded &= pos[i] >= -w.pad_begin[i] && pos[i] < w.in[i] + w.pad_end[i];
                                }
                                padded += in_padded;
                                if (!inside)
                                    continue;
                                int64_t at = (pos[0] * w.in[1] + pos[1]) * w.in[2] + pos[2];
                                double v = ops_load(x->type, x->data, p * in_size + at);
                                count++;
                                sum += v;
                                if (v > best || best_at < 0) {
                                    best = v;
                                    best_at = at;
                                }
                            }
                    if (is_max) {
                        ops_store(x->type, call->outputs[0].data, o, best);
                        if (indices) {
                            int64_t at = best_at < 0 ? 0 : best_at;
                            if (col_major) { /* spatial index with the last dimension slowest */
                                int64_t d = at / (w.in[1] * w.in[2]), h = at / w.in[2] % w.in[1], ww = at % w.in[2];
                                at = (ww * w.in[1] + h) * w.in[0] + d;
                            }
                            indices[o] = p * in_size + at;
                        }
                    } else {
                        int64_t div = include_pad ? padded : count;
                        ops_store(x->type, call->outputs[0].data, o, div ? sum / (double)div : 0);
                    }
                }
    return 0;
}

int op_max_pool(const struct op_call *call)
{
    return pool(call, 1);
}
int op_average_pool(const struct op_call *call)
{
    return pool(call, 0);
}

static int global_pool(const struct op_call *call, int is_max)
{
    const struct tensor *x = call->inputs[0];
    if (x->type != TENSOR_FLOAT && x->type != TENSOR_DOUBLE)
        return ops_unsupported(call, "input of type %s is not supported", tensor_type_name(x->type));
    if (x->rank < 3)
        return ops_fail(call, "input must have rank 3 or more");
    int64_t dims[TENSOR_MAX_RANK], size = 1;
    for (int i = 0; i < x->rank; i++) {
        dims[i] = i < 2 ? x->dims[i] : 1;
        if (i >= 2)
            size *= x->dims[i];
    }
    int rc = ops_alloc_output(call, 0, x->type, x->rank, dims);
    if (rc)
        return rc;
    int64_t planes = x->dims[0] * x->dims[1];
    for (int64_t p = 0; p < planes; p++) {
        double acc = is_max ? -INFINITY : 0;
        for (int64_t i = 0; i < size; i++) {
            double v = ops_load(x->type, x->data, p * size + i);
            acc = is_max ? (v > acc ? v : acc) : acc + v;
        }
        ops_store(x->type, call->outputs[0].data, p, is_max ? acc : size ? acc / (double)size : 0);
    }
    return 0;
}

int op_global_average_pool(const struct op_call *call)
{
    return global_pool(call, 0);
}
int op_global_max_pool(const struct op_call *call)
{
    return global_pool(call, 1);
}

/* MaxUnpool: scatters X to the positions MaxPool's Indices recorded. Indices
 * address the shape MaxPool saw (inferred from kernel, strides, pads); a larger
 * output_shape keeps those coordinates and leaves the rest zero. */
int op_max_unpool(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0], *idx = call->inputs[1], *shape = ops_input(call, 2);
    if (idx->type != TENSOR_INT64 || tensor_element_count(idx) != tensor_element_count(x))
        return ops_fail(call, "indices must be int64 with the input's shape");
    if (!ops_attr(call, "kernel_shape"))
        return ops_fail(call, "attribute 'kernel_shape' is missing");
    size_t nk, ns, np;
    const int64_t *k = ops_attr_ints(call, "kernel_shape", &nk), *st = ops_attr_ints(call, "strides", &ns),
                  *pd = ops_attr_ints(call, "pads", &np);
    int sp = x->rank - 2, rank = x->rank, rc;
    if (sp < 1 || nk != (size_t)sp || (st && ns != nk) || (pd && np != 2 * nk))
        return ops_fail(call, "kernel_shape, strides or pads do not match the rank");
    struct tensor inferred = {.rank = x->rank};
    inferred.dims[0] = x->dims[0];
    inferred.dims[1] = x->dims[1];
    for (int i = 0; i < sp; i++) {
        int64_t s = st ? st[i] : 1, p0 = pd ? pd[i] : 0, p1 = pd ? pd[i + sp] : 0;
        if (s < 1 || s > (1 << 20) || k[i] < 1 || k[i] > (1 << 20) || p0 < 0 || p1 < 0 || p0 > (1 << 20) ||
            p1 > (1 << 20) || x->dims[2 + i] > (1 << 30))
            return ops_fail(call, "kernel, stride or pad out of range in dimension %d", 2 + i);
        inferred.dims[2 + i] = (x->dims[2 + i] - 1) * s + k[i] - p0 - p1;
        if (inferred.dims[2 + i] < 0)
            return ops_fail(call, "output dimension %d is negative", 2 + i);
    }
    int64_t dims[TENSOR_MAX_RANK];
    memcpy(dims, inferred.dims, sizeof dims);
    if (shape) {
        rc = ops_read_ints(call, shape, dims, TENSOR_MAX_RANK, &rank);
        if (rc)
            return rc;
        if (rank != x->rank)
            return ops_fail(call, "output_shape must have the input's rank");
        for (int i = 0; i < rank; i++)
            if (dims[i] < inferred.dims[i])
                return ops_fail(call, "output_shape is smaller than the pooled input's shape");
    }
    rc = ops_alloc_output(call, 0, x->type, rank, dims);
    if (rc)
        return rc;
    int64_t total = tensor_element_count(&call->outputs[0]), limit = tensor_element_count(&inferred);
    int64_t n = tensor_element_count(x);
    size_t elem = tensor_type_size(x->type);
    memset(call->outputs[0].data, 0, (size_t)total * elem);
    const int64_t *ix = idx->data;
    for (int64_t i = 0; i < n; i++) {
        if (ix[i] < 0 || ix[i] >= limit)
            return ops_fail(call, "index %lld is out of range", (long long)ix[i]);
        int64_t rem = ix[i], off = 0, stride = 1;
        for (int d = rank - 1; d >= 0; d--) {
            off += rem % inferred.dims[d] * stride;
            rem /= inferred.dims[d];
            stride *= dims[d];
        }
        memcpy((uint8_t *)call->outputs[0].data + (size_t)off * elem, (const uint8_t *)x->data + (size_t)i * elem,
               elem);
    }
    return 0;
}
