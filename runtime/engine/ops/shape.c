/* Operators that move, view or create data without arithmetic: reshaping,
 * transposition, slicing, gathering, concatenation, casts and constants. Any
 * element type the engine holds works here, copied by element size. */
#include "ops.h"

#include "common/err.h"

#include <math.h>
#include <string.h>

#define VIEW_MAX_RANK (2 * TENSOR_MAX_RANK)

/* out[i0..] = in[offset + Σ ik·strides[k]] over dims (element strides, any sign).
 * The innermost dimension is copied in one memcpy when it is contiguous. */
static void strided_copy(void *out, const void *in, size_t elem, int rank, const int64_t *dims, const int64_t *strides,
                         int64_t offset)
{
    int64_t total = 1;
    for (int i = 0; i < rank; i++)
        total *= dims[i];
    if (total == 0)
        return;
    int64_t inner = rank ? dims[rank - 1] : 1, step = rank ? strides[rank - 1] : 0;
    int64_t idx[VIEW_MAX_RANK] = {0};
    uint8_t *o = out;
    const uint8_t *s = in;
    for (int64_t done = 0; done < total; done += inner) {
        int64_t off = offset;
        for (int d = 0; d < rank - 1; d++)
            off += idx[d] * strides[d];
        if (step == 1)
            memcpy(o + (size_t)done * elem, s + (size_t)off * elem, (size_t)inner * elem);
        else
            for (int64_t i = 0; i < inner; i++)
                memcpy(o + (size_t)(done + i) * elem, s + (size_t)(off + i * step) * elem, elem);
        for (int d = rank - 2; d >= 0; d--) {
            if (++idx[d] < dims[d])
                break;
            idx[d] = 0;
        }
    }
}

static void contiguous_strides(int64_t *strides, const struct tensor *t)
{
    int64_t s = 1;
    for (int i = t->rank - 1; i >= 0; i--) {
        strides[i] = s;
        s *= t->dims[i];
    }
}

/* The output shares the input's data under a new shape. */
static int view(const struct op_call *call, const struct tensor *x, int rank, const int64_t *dims)
{
    struct tensor *y = &call->outputs[0];
    if (rank > TENSOR_MAX_RANK)
        return ops_unsupported(call, "rank %d is above %d", rank, TENSOR_MAX_RANK);
    y->type = x->type;
    y->rank = rank;
    for (int i = 0; i < rank; i++)
        y->dims[i] = dims[i];
    y->data = x->data;
    if (tensor_element_count(y) != tensor_element_count(x)) {
        char a[96], b[96];
        tensor_format_shape(a, sizeof a, x->dims, x->rank);
        tensor_format_shape(b, sizeof b, dims, rank);
        return ops_fail(call, "cannot view shape %s as %s", a, b);
    }
    return 0;
}

int op_identity(const struct op_call *call)
{
    call->outputs[0] = *call->inputs[0];
    return 0;
}

/* Inference only: the data passes through and the mask is all true. */
int op_dropout(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0], *ratio_t = ops_input(call, 1), *train_t = ops_input(call, 2);
    float ratio = ops_attr_float(call, "ratio", 0.5f);
    if (ratio_t && tensor_element_count(ratio_t) == 1 && ops_is_numeric(ratio_t->type))
        ratio = (float)ops_load(ratio_t->type, ratio_t->data, 0);
    int training = train_t && tensor_element_count(train_t) == 1 && ops_load(train_t->type, train_t->data, 0) != 0;
    if (training && ratio != 0)
        return ops_unsupported(call, "training mode (random dropout) is not supported");
    call->outputs[0] = *x;
    if (call->n_outputs > 1) {
        int rc = ops_alloc_output(call, 1, TENSOR_BOOL, x->rank, x->dims);
        if (rc)
            return rc;
        memset(call->outputs[1].data, 1, (size_t)tensor_element_count(x));
    }
    return 0;
}

int op_reshape(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0], *shape_t = ops_input(call, 1);
    int64_t dims[TENSOR_MAX_RANK];
    int rank = 0, rc;
    if (shape_t) {
        rc = ops_read_ints(call, shape_t, dims, TENSOR_MAX_RANK, &rank);
        if (rc)
            return rc;
    } else {
        size_t n;
        const int64_t *s = ops_attr_ints(call, "shape", &n);
        if (n > TENSOR_MAX_RANK)
            return ops_unsupported(call, "rank %zu is above %d", n, TENSOR_MAX_RANK);
        for (size_t i = 0; i < n; i++)
            dims[i] = s[i];
        rank = (int)n;
    }
    int allowzero = (int)ops_attr_int(call, "allowzero", 0);
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] == 0 && !allowzero) {
            if (i >= x->rank)
                return ops_fail(call, "shape[%d] is 0 but the input has rank %d", i, x->rank);
            dims[i] = x->dims[i];
        }
        if (dims[i] == -1) {
            if (infer >= 0)
                return ops_fail(call, "shape has more than one -1");
            infer = i;
            continue;
        }
        if (dims[i] < 0)
            return ops_fail(call, "shape[%d] is %lld", i, (long long)dims[i]);
        if (dims[i] && known > INT64_MAX / dims[i])
            return ops_fail(call, "shape is too large");
        known *= dims[i];
    }
    if (infer >= 0) {
        int64_t total = tensor_element_count(x);
        if (known == 0 || total % known)
            return ops_fail(call, "cannot infer the -1 dimension");
        dims[infer] = total / known;
    }
    return view(call, x, rank, dims);
}

int op_flatten(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    int64_t axis = ops_attr_int(call, "axis", 1);
    if (axis < -(int64_t)x->rank || axis > x->rank)
        return ops_fail(call, "axis %lld is out of range for rank %d", (long long)axis, x->rank);
    if (axis < 0)
        axis += x->rank;
    int64_t dims[2] = {1, 1};
    for (int i = 0; i < x->rank; i++)
        dims[i >= axis] *= x->dims[i];
    return view(call, x, 2, dims);
}

int op_transpose(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    size_t n;
    const int64_t *perm_attr = ops_attr_ints(call, "perm", &n);
    int perm[TENSOR_MAX_RANK], seen[TENSOR_MAX_RANK] = {0};
    if (perm_attr && (int)n != x->rank)
        return ops_fail(call, "perm has %zu entries for rank %d", n, x->rank);
    for (int i = 0; i < x->rank; i++) {
        int64_t p = perm_attr ? perm_attr[i] : x->rank - 1 - i;
        if (p < 0 || p >= x->rank || seen[p]++)
            return ops_fail(call, "perm is not a permutation of 0..%d", x->rank - 1);
        perm[i] = (int)p;
    }
    int64_t dims[TENSOR_MAX_RANK], in_strides[TENSOR_MAX_RANK], strides[TENSOR_MAX_RANK];
    contiguous_strides(in_strides, x);
    for (int i = 0; i < x->rank; i++) {
        dims[i] = x->dims[perm[i]];
        strides[i] = in_strides[perm[i]];
    }
    int rc = ops_alloc_output(call, 0, x->type, x->rank, dims);
    if (rc)
        return rc;
    strided_copy(call->outputs[0].data, x->data, tensor_type_size(x->type), x->rank, dims, strides, 0);
    return 0;
}

/* Axes from input 1 (opset 13) or the "axes" attribute; *n = -1 when neither. */
static int read_axes(const struct op_call *call, int input, int64_t *axes, int *n)
{
    const struct tensor *t = ops_input(call, input);
    if (t)
        return ops_read_ints(call, t, axes, TENSOR_MAX_RANK, n);
    size_t count;
    const int64_t *a = ops_attr_ints(call, "axes", &count);
    if (!ops_attr(call, "axes")) {
        *n = -1;
        return 0;
    }
    if (count > TENSOR_MAX_RANK)
        return ops_fail(call, "too many axes");
    for (size_t i = 0; i < count; i++)
        axes[i] = a[i];
    *n = (int)count;
    return 0;
}

int op_squeeze(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    int64_t axes[TENSOR_MAX_RANK];
    int n, drop[TENSOR_MAX_RANK] = {0};
    int rc = read_axes(call, 1, axes, &n);
    if (rc)
        return rc;
    for (int i = 0; i < n; i++) {
        int a;
        rc = ops_axis(call, axes[i], x->rank, &a);
        if (rc)
            return rc;
        if (x->dims[a] != 1)
            return ops_fail(call, "cannot squeeze axis %d of size %lld", a, (long long)x->dims[a]);
        drop[a] = 1;
    }
    int64_t dims[TENSOR_MAX_RANK];
    int rank = 0;
    for (int i = 0; i < x->rank; i++)
        if (!(n < 0 ? x->dims[i] == 1 : drop[i]))
            dims[rank++] = x->dims[i];
    return view(call, x, rank, dims);
}

int op_unsqueeze(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    int64_t axes[TENSOR_MAX_RANK];
    int n, add[TENSOR_MAX_RANK] = {0};
    int rc = read_axes(call, 1, axes, &n);
    if (rc)
        return rc;
    if (n < 0)
        return ops_fail(call, "axes are missing");
    int rank = x->rank + n;
    if (rank > TENSOR_MAX_RANK)
        return ops_unsupported(call, "rank %d is above %d", rank, TENSOR_MAX_RANK);
    for (int i = 0; i < n; i++) {
        int a;
        rc = ops_axis(call, axes[i], rank, &a);
        if (rc)
            return rc;
        if (add[a]++)
            return ops_fail(call, "axis %d is repeated", a);
    }
    int64_t dims[TENSOR_MAX_RANK];
    for (int i = 0, j = 0; i < rank; i++)
        dims[i] = add[i] ? 1 : x->dims[j++];
    return view(call, x, rank, dims);
}

int op_concat(const struct op_call *call)
{
    const struct tensor *x0 = call->inputs[0];
    int axis, rc = ops_axis(call, ops_attr_int(call, "axis", 0), x0->rank, &axis);
    if (rc)
        return rc;
    int64_t dims[TENSOR_MAX_RANK];
    memcpy(dims, x0->dims, sizeof dims);
    dims[axis] = 0;
    for (int k = 0; k < call->n_inputs; k++) {
        const struct tensor *x = call->inputs[k];
        if (!x || x->type != x0->type || x->rank != x0->rank)
            return ops_fail(call, "input %d differs in type or rank from input 0", k);
        for (int i = 0; i < x->rank; i++)
            if (i != axis && x->dims[i] != x0->dims[i])
                return ops_fail(call, "input %d differs in dimension %d from input 0", k, i);
        dims[axis] += x->dims[axis];
    }
    rc = ops_alloc_output(call, 0, x0->type, x0->rank, dims);
    if (rc)
        return rc;
    size_t elem = tensor_type_size(x0->type);
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < x0->rank; i++) {
        if (i < axis)
            outer *= dims[i];
        else if (i > axis)
            inner *= dims[i];
    }
    uint8_t *out = call->outputs[0].data;
    for (int64_t o = 0; o < outer; o++)
        for (int k = 0; k < call->n_inputs; k++) {
            size_t block = (size_t)(call->inputs[k]->dims[axis] * inner) * elem;
            if (block)
                memcpy(out, (const uint8_t *)call->inputs[k]->data + (size_t)o * block, block);
            out += block;
        }
    return 0;
}

static int index_at(const struct op_call *call, const struct tensor *idx, int64_t i, int64_t dim, int64_t *out)
{
    int64_t v = idx->type == TENSOR_INT64 ? ((const int64_t *)idx->data)[i] : ((const int32_t *)idx->data)[i];
    if (v < -dim || v >= dim)
        return ops_fail(call, "index %lld is out of range for a dimension of %lld", (long long)v, (long long)dim);
    *out = v < 0 ? v + dim : v;
    return 0;
}

int op_gather(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0], *idx = call->inputs[1];
    if (idx->type != TENSOR_INT64 && idx->type != TENSOR_INT32)
        return ops_fail(call, "indices must be int64 or int32, got %s", tensor_type_name(idx->type));
    int axis, rc = ops_axis(call, ops_attr_int(call, "axis", 0), x->rank, &axis);
    if (rc)
        return rc;
    int rank = x->rank - 1 + idx->rank;
    if (rank > TENSOR_MAX_RANK)
        return ops_unsupported(call, "rank %d is above %d", rank, TENSOR_MAX_RANK);
    int64_t dims[TENSOR_MAX_RANK];
    int r = 0;
    for (int i = 0; i < axis; i++)
        dims[r++] = x->dims[i];
    for (int i = 0; i < idx->rank; i++)
        dims[r++] = idx->dims[i];
    for (int i = axis + 1; i < x->rank; i++)
        dims[r++] = x->dims[i];
    rc = ops_alloc_output(call, 0, x->type, rank, dims);
    if (rc)
        return rc;
    size_t elem = tensor_type_size(x->type);
    int64_t outer = 1, inner = 1, n_idx = tensor_element_count(idx), dim = x->dims[axis];
    for (int i = 0; i < axis; i++)
        outer *= x->dims[i];
    for (int i = axis + 1; i < x->rank; i++)
        inner *= x->dims[i];
    size_t block = (size_t)inner * elem;
    uint8_t *out = call->outputs[0].data;
    const uint8_t *in = x->data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < n_idx; j++) {
            int64_t k;
            rc = index_at(call, idx, j, dim, &k);
            if (rc)
                return rc;
            if (block)
                memcpy(out, in + (size_t)(o * dim + k) * block, block);
            out += block;
        }
    return 0;
}

int op_gather_elements(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0], *idx = call->inputs[1];
    if (idx->type != TENSOR_INT64 && idx->type != TENSOR_INT32)
        return ops_fail(call, "indices must be int64 or int32, got %s", tensor_type_name(idx->type));
    int axis, rc = ops_axis(call, ops_attr_int(call, "axis", 0), x->rank, &axis);
    if (rc)
        return rc;
    if (idx->rank != x->rank)
        return ops_fail(call, "indices must have the data's rank");
    for (int i = 0; i < x->rank; i++)
        if (i != axis && idx->dims[i] > x->dims[i])
            return ops_fail(call, "indices dimension %d is larger than the data's", i);
    rc = ops_alloc_output(call, 0, x->type, idx->rank, idx->dims);
    if (rc)
        return rc;
    int64_t strides[TENSOR_MAX_RANK], idx_pos[TENSOR_MAX_RANK] = {0};
    contiguous_strides(strides, x);
    size_t elem = tensor_type_size(x->type);
    int64_t n = tensor_element_count(idx);
    for (int64_t i = 0; i < n; i++) {
        int64_t k, off = 0;
        rc = index_at(call, idx, i, x->dims[axis], &k);
        if (rc)
            return rc;
        for (int d = 0; d < x->rank; d++)
            off += (d == axis ? k : idx_pos[d]) * strides[d];
        memcpy((uint8_t *)call->outputs[0].data + (size_t)i * elem, (const uint8_t *)x->data + (size_t)off * elem,
               elem);
        for (int d = x->rank - 1; d >= 0; d--) {
            if (++idx_pos[d] < idx->dims[d])
                break;
            idx_pos[d] = 0;
        }
    }
    return 0;
}

int op_shape(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    int64_t start = ops_attr_int(call, "start", 0), end = ops_attr_int(call, "end", x->rank);
    if (start < 0)
        start += x->rank;
    if (end < 0)
        end += x->rank;
    start = start < 0 ? 0 : start > x->rank ? x->rank : start;
    end = end < 0 ? 0 : end > x->rank ? x->rank : end;
    int64_t n = end > start ? end - start : 0;
    int rc = ops_alloc_output(call, 0, TENSOR_INT64, 1, &n);
    if (rc)
        return rc;
    for (int64_t i = 0; i < n; i++)
        ((int64_t *)call->outputs[0].data)[i] = x->dims[start + i];
    return 0;
}

int op_size(const struct op_call *call)
{
    int rc = ops_alloc_output(call, 0, TENSOR_INT64, 0, NULL);
    if (!rc)
        *(int64_t *)call->outputs[0].data = tensor_element_count(call->inputs[0]);
    return rc;
}

static int cast_to(const struct op_call *call, int64_t to)
{
    const struct tensor *x = call->inputs[0];
    enum tensor_type type = (enum tensor_type)to;
    if ((type == TENSOR_STRING || x->type == TENSOR_STRING) && type != x->type)
        return ops_cast_string(call, type);
    if (to < 0 || to > 64 || !tensor_type_size(type) || (!ops_is_numeric(type) && type != TENSOR_BOOL))
        return ops_unsupported(call, "cast to data type %lld is not supported", (long long)to);
    if (!ops_is_numeric(x->type) && x->type != TENSOR_BOOL)
        return ops_unsupported(call, "cast from %s is not supported", tensor_type_name(x->type));
    if (x->type == type) {
        call->outputs[0] = *x;
        return 0;
    }
    int rc = ops_alloc_output(call, 0, type, x->rank, x->dims);
    if (rc)
        return rc;
    int64_t n = tensor_element_count(x);
    void *y = call->outputs[0].data;
    int to_integer = type == TENSOR_INT32 || type == TENSOR_INT16 || type == TENSOR_INT8 || type == TENSOR_UINT64 ||
                     type == TENSOR_UINT32 || type == TENSOR_UINT16 || type == TENSOR_UINT8;
    if (x->type == TENSOR_INT64 && to_integer) {
        /* Integer narrowing keeps the low bits, exactly (no trip through double). */
        const int64_t *a = x->data;
        for (int64_t i = 0; i < n; i++) {
            switch (type) {
            case TENSOR_INT32: ((int32_t *)y)[i] = (int32_t)a[i]; break;
            case TENSOR_INT16: ((int16_t *)y)[i] = (int16_t)a[i]; break;
            case TENSOR_INT8: ((int8_t *)y)[i] = (int8_t)a[i]; break;
            case TENSOR_UINT64: ((uint64_t *)y)[i] = (uint64_t)a[i]; break;
            case TENSOR_UINT32: ((uint32_t *)y)[i] = (uint32_t)a[i]; break;
            case TENSOR_UINT16: ((uint16_t *)y)[i] = (uint16_t)a[i]; break;
            default: ((uint8_t *)y)[i] = (uint8_t)a[i]; break;
            }
        }
        return 0;
    }
    for (int64_t i = 0; i < n; i++)
        ops_store(type, y, i, ops_load(x->type, x->data, i));
    return 0;
}

int op_cast(const struct op_call *call)
{
    if (!ops_attr(call, "to"))
        return ops_fail(call, "attribute 'to' is missing");
    return cast_to(call, ops_attr_int(call, "to", 0));
}

int op_cast_like(const struct op_call *call)
{
    return cast_to(call, call->inputs[1]->type);
}

int op_constant(const struct op_call *call)
{
    const Onnx__AttributeProto *a;
    if ((a = ops_attr(call, "value")) && a->t)
        return ops_tensor_from_proto(call, &call->outputs[0], a->t);
    if ((a = ops_attr(call, "value_float")) && a->has_f) {
        int rc = ops_alloc_output(call, 0, TENSOR_FLOAT, 0, NULL);
        if (!rc)
            *(float *)call->outputs[0].data = a->f;
        return rc;
    }
    if ((a = ops_attr(call, "value_int")) && a->has_i) {
        int rc = ops_alloc_output(call, 0, TENSOR_INT64, 0, NULL);
        if (!rc)
            *(int64_t *)call->outputs[0].data = a->i;
        return rc;
    }
    if ((a = ops_attr(call, "value_floats"))) {
        int64_t n = (int64_t)a->n_floats;
        int rc = ops_alloc_output(call, 0, TENSOR_FLOAT, 1, &n);
        if (!rc && n)
            memcpy(call->outputs[0].data, a->floats, (size_t)n * sizeof(float));
        return rc;
    }
    if ((a = ops_attr(call, "value_ints"))) {
        int64_t n = (int64_t)a->n_ints;
        int rc = ops_alloc_output(call, 0, TENSOR_INT64, 1, &n);
        if (!rc && n)
            memcpy(call->outputs[0].data, a->ints, (size_t)n * sizeof(int64_t));
        return rc;
    }
    return ops_unsupported(call, "only tensor, float and int values are supported");
}

int op_constant_of_shape(const struct op_call *call)
{
    int64_t dims[TENSOR_MAX_RANK];
    int rank;
    int rc = ops_read_ints(call, call->inputs[0], dims, TENSOR_MAX_RANK, &rank);
    if (rc)
        return rc;
    for (int i = 0; i < rank; i++)
        if (dims[i] < 0)
            return ops_fail(call, "shape[%d] is negative", i);
    struct tensor value = {.type = TENSOR_FLOAT};
    float zero = 0;
    value.data = &zero;
    const Onnx__AttributeProto *a = ops_attr(call, "value");
    if (a && a->t) {
        rc = ops_tensor_from_proto(call, &value, a->t);
        if (rc)
            return rc;
        if (tensor_element_count(&value) != 1)
            return ops_fail(call, "value must hold one element");
    }
    rc = ops_alloc_output(call, 0, value.type, rank, dims);
    if (rc)
        return rc;
    size_t elem = tensor_type_size(value.type);
    int64_t n = tensor_element_count(&call->outputs[0]);
    for (int64_t i = 0; i < n; i++)
        memcpy((uint8_t *)call->outputs[0].data + (size_t)i * elem, value.data, elem);
    return 0;
}

/* Slice: starts/ends/axes/steps as inputs since opset 10, attributes before. */
int op_slice(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    int64_t starts[TENSOR_MAX_RANK], ends[TENSOR_MAX_RANK], axes[TENSOR_MAX_RANK], steps[TENSOR_MAX_RANK];
    int n_starts, n_ends, n_axes = -1, n_steps = -1, rc;
    if (call->n_inputs >= 3) {
        rc = ops_read_ints(call, call->inputs[1], starts, TENSOR_MAX_RANK, &n_starts);
        if (!rc)
            rc = ops_read_ints(call, call->inputs[2], ends, TENSOR_MAX_RANK, &n_ends);
        if (!rc && ops_input(call, 3))
            rc = ops_read_ints(call, call->inputs[3], axes, TENSOR_MAX_RANK, &n_axes);
        if (!rc && ops_input(call, 4))
            rc = ops_read_ints(call, call->inputs[4], steps, TENSOR_MAX_RANK, &n_steps);
        if (rc)
            return rc;
    } else {
        size_t ns, ne, na;
        const int64_t *s = ops_attr_ints(call, "starts", &ns), *e = ops_attr_ints(call, "ends", &ne),
                      *a = ops_attr_ints(call, "axes", &na);
        if (ns > TENSOR_MAX_RANK || ne > TENSOR_MAX_RANK || na > TENSOR_MAX_RANK)
            return ops_fail(call, "too many axes");
        memcpy(starts, s ? s : starts, ns * sizeof *s);
        memcpy(ends, e ? e : ends, ne * sizeof *e);
        if (a) {
            memcpy(axes, a, na * sizeof *a);
            n_axes = (int)na;
        }
        n_starts = (int)ns;
        n_ends = (int)ne;
    }
    if (n_ends != n_starts || (n_axes >= 0 && n_axes != n_starts) || (n_steps >= 0 && n_steps != n_starts))
        return ops_fail(call, "starts, ends, axes and steps differ in length");
    int64_t dims[TENSOR_MAX_RANK], strides[TENSOR_MAX_RANK], in_strides[TENSOR_MAX_RANK], offset = 0;
    int64_t first[TENSOR_MAX_RANK] = {0}, step_of[TENSOR_MAX_RANK];
    int seen[TENSOR_MAX_RANK] = {0};
    contiguous_strides(in_strides, x);
    for (int i = 0; i < x->rank; i++) {
        dims[i] = x->dims[i];
        step_of[i] = 1;
    }
    for (int k = 0; k < n_starts; k++) {
        int a;
        rc = ops_axis(call, n_axes >= 0 ? axes[k] : k, x->rank, &a);
        if (rc)
            return rc;
        if (seen[a]++)
            return ops_fail(call, "axis %d is repeated", a);
        int64_t dim = x->dims[a], step = n_steps >= 0 ? steps[k] : 1, s = starts[k], e = ends[k];
        if (step == 0)
            return ops_fail(call, "step must not be 0");
        if (s < 0)
            s += dim;
        if (e < 0)
            e += dim;
        int64_t len;
        if (step > 0) {
            s = s < 0 ? 0 : s > dim ? dim : s;
            e = e < 0 ? 0 : e > dim ? dim : e;
            len = e > s ? (e - s - 1) / step + 1 : 0;
        } else {
            s = s < 0 ? -1 : s > dim - 1 ? dim - 1 : s;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
            len = s > e ? (s - e - 1) / (step == INT64_MIN ? INT64_MAX : -step) + 1 : 0;
        }
        dims[a] = len;
        first[a] = len ? s : 0;
        step_of[a] = step;
    }
    for (int i = 0; i < x->rank; i++) {
        strides[i] = in_strides[i] * step_of[i];
        offset += first[i] * in_strides[i];
    }
    rc = ops_alloc_output(call, 0, x->type, x->rank, dims);
    if (rc)
        return rc;
    strided_copy(call->outputs[0].data, x->data, tensor_type_size(x->type), x->rank, dims, strides, offset);
    return 0;
}

int op_expand(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    struct tensor shape = {.type = x->type};
    int rc = ops_read_ints(call, call->inputs[1], shape.dims, TENSOR_MAX_RANK, &shape.rank);
    if (rc)
        return rc;
    const struct tensor *ts[2] = {x, &shape};
    struct ops_bcast bc;
    rc = ops_broadcast(call, &bc, 2, ts);
    if (!rc)
        rc = ops_alloc_output(call, 0, x->type, bc.rank, bc.dims);
    if (rc)
        return rc;
    strided_copy(call->outputs[0].data, x->data, tensor_type_size(x->type), bc.rank, bc.dims, bc.strides[0], 0);
    return 0;
}

/* Output viewed as [reps0, d0, reps1, d1, ...]: the repeat axes have stride 0. */
int op_tile(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    int64_t reps[TENSOR_MAX_RANK];
    int n;
    int rc = ops_read_ints(call, call->inputs[1], reps, TENSOR_MAX_RANK, &n);
    if (rc)
        return rc;
    if (n != x->rank)
        return ops_fail(call, "repeats has %d entries for rank %d", n, x->rank);
    int64_t dims[TENSOR_MAX_RANK], vdims[VIEW_MAX_RANK], vstrides[VIEW_MAX_RANK], in_strides[TENSOR_MAX_RANK];
    contiguous_strides(in_strides, x);
    for (int i = 0; i < n; i++) {
        if (reps[i] < 0)
            return ops_fail(call, "repeats[%d] is negative", i);
        if (x->dims[i] && reps[i] > INT64_MAX / x->dims[i])
            return ops_fail(call, "result is too large");
        dims[i] = x->dims[i] * reps[i];
        vdims[2 * i] = reps[i];
        vdims[2 * i + 1] = x->dims[i];
        vstrides[2 * i] = 0;
        vstrides[2 * i + 1] = in_strides[i];
    }
    rc = ops_alloc_output(call, 0, x->type, x->rank, dims);
    if (rc)
        return rc;
    strided_copy(call->outputs[0].data, x->data, tensor_type_size(x->type), 2 * n, vdims, vstrides, 0);
    return 0;
}

int op_range(const struct op_call *call)
{
    const struct tensor *s = call->inputs[0], *l = call->inputs[1], *d = call->inputs[2];
    if (!ops_is_numeric(s->type) || s->type != l->type || s->type != d->type)
        return ops_fail(call, "start, limit and delta must share one numeric type");
    if (tensor_element_count(s) != 1 || tensor_element_count(l) != 1 || tensor_element_count(d) != 1)
        return ops_fail(call, "start, limit and delta must be scalars");
    double start = ops_load(s->type, s->data, 0), limit = ops_load(l->type, l->data, 0),
           delta = ops_load(d->type, d->data, 0);
    if (delta == 0)
        return ops_fail(call, "delta must not be 0");
    double count = ceil((limit - start) / delta);
    if (!(count >= 0))
        count = 0;
    if (count > (double)(1 << 30))
        return ops_fail(call, "range of %.0f elements is too large", count);
    int64_t n = (int64_t)count;
    int rc = ops_alloc_output(call, 0, s->type, 1, &n);
    if (rc)
        return rc;
    for (int64_t i = 0; i < n; i++)
        ops_store(s->type, call->outputs[0].data, i, start + (double)i * delta);
    return 0;
}

int op_split(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    int axis, rc = ops_axis(call, ops_attr_int(call, "axis", 0), x->rank, &axis);
    if (rc)
        return rc;
    int n = call->n_outputs;
    int64_t sizes[64];
    int n_sizes = -1;
    if (ops_input(call, 1)) {
        rc = ops_read_ints(call, call->inputs[1], sizes, 64, &n_sizes);
        if (rc)
            return rc;
    } else if (ops_attr(call, "split")) {
        size_t count;
        const int64_t *sp = ops_attr_ints(call, "split", &count);
        if (count > 64)
            return ops_fail(call, "too many splits");
        for (size_t i = 0; i < count; i++)
            sizes[i] = sp[i];
        n_sizes = (int)count;
    }
    int64_t dim = x->dims[axis];
    if (n_sizes < 0) {
        int64_t chunk = (dim + n - 1) / n;
        for (int i = 0; i < n; i++) {
            int64_t left = dim - chunk * i;
            sizes[i] = left < 0 ? 0 : left < chunk ? left : chunk;
        }
        n_sizes = n;
    }
    int64_t sum = 0;
    for (int i = 0; i < n_sizes; i++) {
        if (sizes[i] < 0 || sizes[i] > dim)
            return ops_fail(call, "split sizes are invalid");
        sum += sizes[i];
    }
    if (n_sizes != n || sum != dim)
        return ops_fail(call, "split sizes do not add up to dimension %lld over %d outputs", (long long)dim, n);
    int64_t in_strides[TENSOR_MAX_RANK], offset = 0;
    contiguous_strides(in_strides, x);
    for (int k = 0; k < n; k++) {
        int64_t dims[TENSOR_MAX_RANK];
        memcpy(dims, x->dims, sizeof dims);
        dims[axis] = sizes[k];
        rc = ops_alloc_output(call, k, x->type, x->rank, dims);
        if (rc)
            return rc;
        strided_copy(call->outputs[k].data, x->data, tensor_type_size(x->type), x->rank, dims, in_strides, offset);
        offset += sizes[k] * in_strides[axis];
    }
    return 0;
}

/* DCR: out[n, c, h, i, w, j] = in[n, (i·b + j)·C' + c, h, w]; CRD: in[n, c·b² + i·b + j, h, w]. */
int op_depth_to_space(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    int64_t b = ops_attr_int(call, "blocksize", 0);
    if (x->rank != 4 || b < 1 || b > (1 << 16) || x->dims[1] % (b * b))
        return ops_fail(call, "needs a 4-D input whose channels divide by blocksize²");
    const Onnx__AttributeProto *mode = ops_attr(call, "mode");
    int crd = mode && mode->has_s && mode->s.len == 3 && memcmp(mode->s.data, "CRD", 3) == 0;
    int64_t n = x->dims[0], c = x->dims[1] / (b * b), h = x->dims[2], w = x->dims[3];
    int64_t dims[4] = {n, c, h * b, w * b};
    int rc = ops_alloc_output(call, 0, x->type, 4, dims);
    if (rc)
        return rc;
    int64_t vdims[6] = {n, c, h, b, w, b}, hw = h * w;
    int64_t vstrides[6] = {x->dims[1] * hw, crd ? b * b * hw : hw, w, crd ? b * hw : b * c * hw, 1, crd ? hw : c * hw};
    strided_copy(call->outputs[0].data, x->data, tensor_type_size(x->type), 6, vdims, vstrides, 0);
    return 0;
}

/* out[n, (i·b + j)·C + c, h, w] = in[n, c, h·b + i, w·b + j] */
int op_space_to_depth(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    int64_t b = ops_attr_int(call, "blocksize", 0);
    if (x->rank != 4 || b < 1 || b > (1 << 16) || x->dims[2] % b || x->dims[3] % b)
        return ops_fail(call, "needs a 4-D input whose height and width divide by blocksize");
    int64_t n = x->dims[0], c = x->dims[1], h = x->dims[2] / b, w = x->dims[3] / b, W = x->dims[3];
    int64_t dims[4] = {n, c * b * b, h, w};
    int rc = ops_alloc_output(call, 0, x->type, 4, dims);
    if (rc)
        return rc;
    int64_t vdims[6] = {n, b, b, c, h, w};
    int64_t vstrides[6] = {c * x->dims[2] * W, W, 1, x->dims[2] * W, b * W, b};
    strided_copy(call->outputs[0].data, x->data, tensor_type_size(x->type), 6, vdims, vstrides, 0);
    return 0;
}

/* Pad: pads/value/mode as attributes before opset 11, inputs (pads,
 * constant_value, axes) since. Negative pads crop. */
int op_pad(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    int64_t pads[2 * TENSOR_MAX_RANK] = {0}, given[2 * TENSOR_MAX_RANK], axes[TENSOR_MAX_RANK];
    int n_pads, n_axes = -1, rc;
    double value = 0;
    const void *value_ptr = NULL;
    if (call->opset && call->opset < 11) {
        size_t np;
        const int64_t *p = ops_attr_ints(call, "pads", &np);
        if (np > 2 * TENSOR_MAX_RANK)
            return ops_fail(call, "too many pads");
        for (size_t i = 0; i < np; i++)
            given[i] = p[i];
        n_pads = (int)np;
        value = ops_attr_float(call, "value", 0);
    } else {
        rc = ops_read_ints(call, ops_input(call, 1), given, 2 * TENSOR_MAX_RANK, &n_pads);
        if (rc)
            return rc;
        const struct tensor *v = ops_input(call, 2);
        if (v) {
            if (v->type != x->type || tensor_element_count(v) != 1)
                return ops_fail(call, "constant_value must be one element of the input's type");
            value_ptr = v->data;
        }
        if (ops_input(call, 3)) {
            rc = ops_read_ints(call, call->inputs[3], axes, TENSOR_MAX_RANK, &n_axes);
            if (rc)
                return rc;
        }
    }
    int n = n_axes >= 0 ? n_axes : x->rank;
    if (n_pads != 2 * n)
        return ops_fail(call, "pads has %d values for %d axes", n_pads, n);
    for (int k = 0; k < n; k++) {
        int a = k;
        if (n_axes >= 0 && (rc = ops_axis(call, axes[k], x->rank, &a)))
            return rc;
        pads[a] = given[k];
        pads[a + x->rank] = given[k + n];
    }
    const Onnx__AttributeProto *mode_attr = ops_attr(call, "mode");
    char mode = 'c';
    if (mode_attr && mode_attr->has_s && mode_attr->s.len) {
        const char *m = (const char *)mode_attr->s.data;
        size_t len = mode_attr->s.len;
        if (len == 7 && memcmp(m, "reflect", 7) == 0)
            mode = 'r';
        else if (len == 4 && memcmp(m, "edge", 4) == 0)
            mode = 'e';
        else if (len == 4 && memcmp(m, "wrap", 4) == 0)
            mode = 'w';
        else if (!(len == 8 && memcmp(m, "constant", 8) == 0))
            return ops_fail(call, "unknown mode");
    }
    int64_t dims[TENSOR_MAX_RANK], in_strides[TENSOR_MAX_RANK];
    for (int i = 0; i < x->rank; i++) {
        if (pads[i] < -x->dims[i] || pads[i + x->rank] < -x->dims[i] || pads[i] > (1 << 24) ||
            pads[i + x->rank] > (1 << 24))
            return ops_fail(call, "pad out of range for dimension %d", i);
        dims[i] = x->dims[i] + pads[i] + pads[i + x->rank];
        if (dims[i] < 0)
            return ops_fail(call, "pads crop dimension %d below zero", i);
        if (mode != 'c' && x->dims[i] == 0 && dims[i] > 0)
            return ops_fail(call, "cannot %s-pad an empty dimension", mode == 'r' ? "reflect" : "edge");
    }
    rc = ops_alloc_output(call, 0, x->type, x->rank, dims);
    if (rc)
        return rc;
    contiguous_strides(in_strides, x);
    size_t elem = tensor_type_size(x->type);
    uint8_t fill[16] = {0};
    if (value_ptr)
        memcpy(fill, value_ptr, elem);
    else if (ops_is_numeric(x->type))
        ops_store(x->type, fill, 0, value);
    int64_t total = tensor_element_count(&call->outputs[0]), pos[TENSOR_MAX_RANK] = {0};
    uint8_t *y = call->outputs[0].data;
    for (int64_t o = 0; o < total; o++) {
        int64_t off = 0;
        int outside = 0;
        for (int d = 0; d < x->rank; d++) {
            int64_t i = pos[d] - pads[d], dim = x->dims[d];
            if (i < 0 || i >= dim) {
                if (mode == 'c') {
                    outside = 1;
                    break;
                }
                if (mode == 'e')
                    i = i < 0 ? 0 : dim - 1;
                else if (mode == 'w')
                    i = ((i % dim) + dim) % dim;
                else if (dim == 1)
                    i = 0;
                else { /* reflect without repeating the edge: period 2·(dim-1) */
                    int64_t period = 2 * (dim - 1);
                    i = ((i % period) + period) % period;
                    if (i >= dim)
                        i = period - i;
                }
            }
            off += i * in_strides[d];
        }
        memcpy(y + (size_t)o * elem, outside ? fill : (const uint8_t *)x->data + (size_t)off * elem, elem);
        for (int d = x->rank - 1; d >= 0; d--) {
            if (++pos[d] < dims[d])
                break;
            pos[d] = 0;
        }
    }
    return 0;
}

int op_reverse_sequence(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0], *lens = call->inputs[1];
    int64_t ta = ops_attr_int(call, "time_axis", 0), ba = ops_attr_int(call, "batch_axis", 1);
    if (x->rank < 2 || !((ta == 0 && ba == 1) || (ta == 1 && ba == 0)))
        return ops_fail(call, "time_axis and batch_axis must be 0 and 1");
    if ((lens->type != TENSOR_INT64 && lens->type != TENSOR_INT32) || tensor_element_count(lens) != x->dims[ba])
        return ops_fail(call, "sequence_lens must hold one integer per batch entry");
    int rc = ops_alloc_output(call, 0, x->type, x->rank, x->dims);
    if (rc)
        return rc;
    int64_t inner = 1, strides[2];
    for (int i = 2; i < x->rank; i++)
        inner *= x->dims[i];
    strides[1] = inner;
    strides[0] = x->dims[1] * inner;
    size_t block = (size_t)inner * tensor_type_size(x->type);
    for (int64_t b = 0; b < x->dims[ba]; b++) {
        int64_t len = ops_load(lens->type, lens->data, b) < 0 ? 0 : (int64_t)ops_load(lens->type, lens->data, b);
        if (len > x->dims[ta])
            return ops_fail(call, "sequence length %lld is above %lld", (long long)len, (long long)x->dims[ta]);
        for (int64_t t = 0; t < x->dims[ta]; t++) {
            int64_t src_t = t < len ? len - 1 - t : t;
            size_t elem = tensor_type_size(x->type);
            size_t dst = (size_t)(t * strides[ta] + b * strides[ba]) * elem;
            size_t src = (size_t)(src_t * strides[ta] + b * strides[ba]) * elem;
            if (block)
                memcpy((uint8_t *)call->outputs[0].data + dst, (const uint8_t *)x->data + src, block);
        }
    }
    return 0;
}
