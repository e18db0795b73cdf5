/* The ONNX-ML (ai.onnx.ml) feature transforms and output helpers: Scaler,
 * Normalizer, Binarizer, OneHotEncoder, ArrayFeatureExtractor and ZipMap. */
#include "ml.h"

#include "common/err.h"

#include <math.h>
#include <string.h>

/* Y = (X - offset) * scale over the last axis; offset and scale hold one value or one per feature. */
int op_scaler(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    if (!ops_is_numeric(x->type))
        return ops_unsupported(call, "input of type %s is not supported", tensor_type_name(x->type));
    int64_t c = x->rank ? x->dims[x->rank - 1] : 1, n_off, n_scale;
    double *off, *scale;
    int rc = ml_attr_doubles(call, "offset", &off, &n_off);
    if (!rc)
        rc = ml_attr_doubles(call, "scale", &scale, &n_scale);
    if (rc)
        return rc;
    if ((n_off > 1 && n_off != c) || (n_scale > 1 && n_scale != c))
        return ops_fail(call, "offset (%lld values) and scale (%lld) must hold 1 or %lld values", (long long)n_off,
                        (long long)n_scale, (long long)c);
    if ((rc = ops_alloc_output(call, 0, TENSOR_FLOAT, x->rank, x->dims)))
        return rc;
    int64_t total = tensor_element_count(x);
    for (int64_t i = 0; i < total; i++) {
        int64_t f = c ? i % c : 0;
        double o = n_off ? off[n_off == 1 ? 0 : f] : 0, s = n_scale ? scale[n_scale == 1 ? 0 : f] : 1;
        ((float *)call->outputs[0].data)[i] = (float)((tensor_load(x->type, x->data, i) - o) * s);
    }
    return 0;
}

/* Each row divided by its MAX (largest magnitude), L1 or L2 norm; rows of zeros stay zero. */
int op_normalizer(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    int64_t n, c;
    int rc = ml_rows(call, x, &n, &c);
    if (rc)
        return rc;
    enum { N_MAX, N_L1, N_L2 } norm;
    if (ml_attr_is(call, "norm", "MAX"))
        norm = N_MAX;
    else if (ml_attr_is(call, "norm", "L1"))
        norm = N_L1;
    else if (ml_attr_is(call, "norm", "L2"))
        norm = N_L2;
    else
        return ops_fail(call, "norm '%s' is not one of MAX, L1, L2", ml_attr_string(call, "norm", ""));
    if ((rc = ops_alloc_output(call, 0, TENSOR_FLOAT, x->rank, x->dims)))
        return rc;
    float *y = call->outputs[0].data;
    for (int64_t r = 0; r < n; r++) {
        double d = 0;
        for (int64_t k = 0; k < c; k++) {
            double v = fabs(tensor_load(x->type, x->data, r * c + k));
            d = norm == N_MAX ? fmax(d, v) : norm == N_L1 ? d + v : d + v * v;
        }
        if (norm == N_L2)
            d = sqrt(d);
        for (int64_t k = 0; k < c; k++) {
            double v = tensor_load(x->type, x->data, r * c + k);
            y[r * c + k] = (float)(d > 0 ? v / d : v);
        }
    }
    return 0;
}

/* 1 where X > threshold, else 0, in X's type. */
int op_binarizer(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    if (!ops_is_numeric(x->type))
        return ops_unsupported(call, "input of type %s is not supported", tensor_type_name(x->type));
    double threshold = ops_attr_float(call, "threshold", 0);
    int rc = ops_alloc_output(call, 0, x->type, x->rank, x->dims);
    if (rc)
        return rc;
    int64_t total = tensor_element_count(x);
    for (int64_t i = 0; i < total; i++)
        tensor_store(x->type, call->outputs[0].data, i, tensor_load(x->type, x->data, i) > threshold);
    return 0;
}

/* X of any shape → float X.shape + [categories]: 1 at each value's category.
 * A value in no category gives a row of zeros (zeros=1) or an error (zeros=0). */
int op_one_hot_encoder(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    if (!ops_is_numeric(x->type))
        return ops_unsupported(call, "input of type %s is not supported", tensor_type_name(x->type));
    size_t n_cats;
    const int64_t *cats = ops_attr_ints(call, "cats_int64s", &n_cats);
    const Onnx__AttributeProto *strings = ops_attr(call, "cats_strings");
    if (!n_cats && strings && strings->n_strings)
        return ops_unsupported(call, "string categories (cats_strings) are not supported: the engine has no "
                                     "string tensors");
    if (!n_cats)
        return ops_fail(call, "cats_int64s is missing");
    if (x->rank >= TENSOR_MAX_RANK)
        return ops_unsupported(call, "rank %d is above %d", x->rank + 1, TENSOR_MAX_RANK);
    int zeros = ops_attr_int(call, "zeros", 1) != 0;
    int64_t dims[TENSOR_MAX_RANK];
    memcpy(dims, x->dims, (size_t)x->rank * sizeof *dims);
    dims[x->rank] = (int64_t)n_cats;
    int rc = ops_alloc_output(call, 0, TENSOR_FLOAT, x->rank + 1, dims);
    if (rc)
        return rc;
    int64_t total = tensor_element_count(x);
    float *y = call->outputs[0].data;
    memset(y, 0, (size_t)total * n_cats * sizeof *y);
    for (int64_t i = 0; i < total; i++) {
        double v = tensor_load(x->type, x->data, i);
        size_t j = 0;
        while (j < n_cats && (double)cats[j] != v)
            j++;
        if (j < n_cats)
            y[(size_t)i * n_cats + j] = 1;
        else if (!zeros)
            return ops_fail(call, "value %g is in no category (zeros=0)", v);
    }
    return 0;
}

/* The elements of X's last axis at the given indices: Y = X[..., indices]; a 1-D X gives [1, n]. */
int op_array_feature_extractor(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0], *idx = call->inputs[1];
    size_t elem = tensor_type_size(x->type);
    if (idx->type != TENSOR_INT64)
        return ops_fail(call, "indices must be int64, got %s", tensor_type_name(idx->type));
    if (x->rank < 1)
        return ops_fail(call, "the input must have at least one dimension");
    int64_t c = x->dims[x->rank - 1], m = tensor_element_count(idx), outer = tensor_element_count(x) / (c ? c : 1);
    const int64_t *ind = idx->data;
    for (int64_t j = 0; j < m; j++)
        if (ind[j] < 0 || ind[j] >= c)
            return ops_fail(call, "index %lld is out of range for %lld features", (long long)ind[j], (long long)c);
    int64_t dims[TENSOR_MAX_RANK];
    int rank = x->rank == 1 ? 2 : x->rank;
    if (x->rank == 1)
        dims[0] = 1;
    else
        memcpy(dims, x->dims, (size_t)(x->rank - 1) * sizeof *dims);
    dims[rank - 1] = m;
    int rc = ops_alloc_output(call, 0, x->type, rank, dims);
    if (rc)
        return rc;
    for (int64_t r = 0; r < outer; r++)
        for (int64_t j = 0; j < m; j++)
            memcpy((uint8_t *)call->outputs[0].data + (size_t)(r * m + j) * elem,
                   (const uint8_t *)x->data + (size_t)(r * c + ind[j]) * elem, elem);
    return 0;
}

/* The engine has no sequence or map values: ZipMap passes its [N, C] scores
 * through (a [C] input becomes [1, C]) after checking them against its labels.
 * When a ZipMap's result is a graph output, the engine names the columns with
 * the labels (engine_io.map_keys) and amlserve writes one {label: score} object
 * per row. */
int op_zip_map(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    const Onnx__AttributeProto *ints = ops_attr(call, "classlabels_int64s");
    const Onnx__AttributeProto *strs = ops_attr(call, "classlabels_strings");
    int64_t k = ints && ints->n_ints ? (int64_t)ints->n_ints : strs ? (int64_t)strs->n_strings : 0;
    if (x->type != TENSOR_FLOAT)
        return ops_fail(call, "the input must be float, got %s", tensor_type_name(x->type));
    if (!k)
        return ops_fail(call, "classlabels_int64s or classlabels_strings is required");
    if ((x->rank != 1 && x->rank != 2) || x->dims[x->rank - 1] != k)
        return ops_fail(call, "the input must be [N, %lld] for %lld labels", (long long)k, (long long)k);
    struct tensor *y = &call->outputs[0];
    *y = *x;
    if (x->rank == 1) {
        y->rank = 2;
        y->dims[0] = 1;
        y->dims[1] = k;
    }
    return 0;
}
