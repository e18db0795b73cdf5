/* Index-driven operators: TopK, CumSum, Trilu, OneHot, EyeLike, GatherND,
 * ScatterND, ScatterElements, NonZero, Compress. Every index read from a
 * tensor is range-checked before use. */
#include "ops.h"

#include <math.h>
#include <string.h>

static int64_t read_int(const struct tensor *t, int64_t i)
{
    return t->type == TENSOR_INT64 ? ((const int64_t *)t->data)[i] : ((const int32_t *)t->data)[i];
}

static int is_index_type(const struct tensor *t)
{
    return t->type == TENSOR_INT64 || t->type == TENSOR_INT32;
}

/* Stable merge sort of positions by value (descending when largest), so equal
 * values keep the lower index first, as TopK requires. */
static void sort_positions(int64_t *pos, int64_t *tmp, int64_t n, const double *val, int largest)
{
    for (int64_t width = 1; width < n; width *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * width) {
            int64_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            int64_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                double a = val[pos[i]], b = val[pos[j]];
                int take_right = largest ? b > a : b < a;
                tmp[k++] = take_right ? pos[j++] : pos[i++];
            }
            while (i < mid)
                tmp[k++] = pos[i++];
            while (j < hi)
                tmp[k++] = pos[j++];
        }
        memcpy(pos, tmp, (size_t)n * sizeof *pos);
    }
}

int op_topk(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    if (!ops_is_numeric(x->type))
        return ops_unsupported(call, "input of type %s is not supported", tensor_type_name(x->type));
    int64_t k;
    int n_k, axis, rc;
    if (ops_input(call, 1)) {
        rc = ops_read_ints(call, call->inputs[1], &k, 1, &n_k);
        if (rc)
            return rc;
        if (n_k != 1)
            return ops_fail(call, "K must hold one value");
    } else
        k = ops_attr_int(call, "k", -1);
    rc = ops_axis(call, ops_attr_int(call, "axis", -1), x->rank, &axis);
    if (rc)
        return rc;
    int64_t n = x->dims[axis];
    if (k < 0 || k > n)
        return ops_fail(call, "K=%lld is outside 0..%lld", (long long)k, (long long)n);
    int largest = ops_attr_int(call, "largest", 1) != 0;
    int64_t dims[TENSOR_MAX_RANK], outer = 1, inner = 1;
    for (int i = 0; i < x->rank; i++) {
        dims[i] = i == axis ? k : x->dims[i];
        if (i < axis)
            outer *= x->dims[i];
        if (i > axis)
            inner *= x->dims[i];
    }
    rc = ops_alloc_output(call, 0, x->type, x->rank, dims);
    if (!rc && call->n_outputs > 1)
        rc = ops_alloc_output(call, 1, TENSOR_INT64, x->rank, dims);
    if (rc)
        return rc;
    double *val = arena_alloc(call->arena, (size_t)(n + 1) * sizeof *val);
    int64_t *pos = arena_alloc(call->arena, (size_t)(n + 1) * sizeof *pos);
    int64_t *tmp = arena_alloc(call->arena, (size_t)(n + 1) * sizeof *tmp);
    if (!val || !pos || !tmp)
        return ops_fail(call, "out of request memory");
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            for (int64_t i = 0; i < n; i++) {
                val[i] = ops_load(x->type, x->data, (o * n + i) * inner + j);
                pos[i] = i;
            }
            sort_positions(pos, tmp, n, val, largest);
            for (int64_t i = 0; i < k; i++) {
                int64_t at = (o * k + i) * inner + j;
                ops_store(x->type, call->outputs[0].data, at, val[pos[i]]);
                if (call->n_outputs > 1)
                    ((int64_t *)call->outputs[1].data)[at] = pos[i];
            }
        }
    return 0;
}

int op_cumsum(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0], *axis_t = call->inputs[1];
    if (!ops_is_numeric(x->type))
        return ops_unsupported(call, "input of type %s is not supported", tensor_type_name(x->type));
    if (!is_index_type(axis_t) || tensor_element_count(axis_t) != 1)
        return ops_fail(call, "axis must be an integer scalar");
    int axis, rc = ops_axis(call, read_int(axis_t, 0), x->rank, &axis);
    if (rc)
        return rc;
    int exclusive = ops_attr_int(call, "exclusive", 0) != 0, reverse = ops_attr_int(call, "reverse", 0) != 0;
    rc = ops_alloc_output(call, 0, x->type, x->rank, x->dims);
    if (rc)
        return rc;
    int64_t outer = 1, inner = 1, n = x->dims[axis];
    for (int i = 0; i < x->rank; i++) {
        if (i < axis)
            outer *= x->dims[i];
        if (i > axis)
            inner *= x->dims[i];
    }
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            double sum = 0;
            for (int64_t s = 0; s < n; s++) {
                int64_t i = reverse ? n - 1 - s : s, at = (o * n + i) * inner + j;
                double v = ops_load(x->type, x->data, at);
                if (!exclusive)
                    sum += v;
                ops_store(x->type, call->outputs[0].data, at, sum);
                if (exclusive)
                    sum += v;
            }
        }
    return 0;
}

int op_trilu(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0], *k_t = ops_input(call, 1);
    if (x->rank < 2)
        return ops_fail(call, "input must have rank 2 or more");
    int64_t k = 0;
    if (k_t) {
        if (!is_index_type(k_t) || tensor_element_count(k_t) != 1)
            return ops_fail(call, "k must be an integer scalar");
        k = read_int(k_t, 0);
    }
    int upper = ops_attr_int(call, "upper", 1) != 0;
    int rc = ops_alloc_output(call, 0, x->type, x->rank, x->dims);
    if (rc)
        return rc;
    int64_t rows = x->dims[x->rank - 2], cols = x->dims[x->rank - 1], total = tensor_element_count(x);
    size_t elem = tensor_type_size(x->type);
    uint8_t *y = call->outputs[0].data;
    memset(y, 0, (size_t)total * elem);
    for (int64_t i = 0; i < total; i++) {
        int64_t c = i % cols, r = cols ? i / cols % rows : 0;
        /* compared as c - r against k without overflow: |k| may be huge */
        int keep = upper ? (k <= 0 ? c - r >= k : c - r >= k) : (c - r <= k);
        if (keep)
            memcpy(y + (size_t)i * elem, (const uint8_t *)x->data + (size_t)i * elem, elem);
    }
    return 0;
}

int op_one_hot(const struct op_call *call)
{
    const struct tensor *idx = call->inputs[0], *depth_t = call->inputs[1], *values = call->inputs[2];
    if (!ops_is_numeric(idx->type) || !ops_is_numeric(depth_t->type) || tensor_element_count(depth_t) != 1)
        return ops_fail(call, "indices and depth must be numeric, depth a scalar");
    if (tensor_element_count(values) != 2)
        return ops_fail(call, "values must hold [off, on]");
    double depth_v = ops_load(depth_t->type, depth_t->data, 0);
    if (!(depth_v >= 1 && depth_v <= (double)(1 << 24)))
        return ops_fail(call, "depth %.0f is out of range", depth_v);
    int64_t depth = (int64_t)depth_v;
    int rank = idx->rank + 1, axis;
    if (rank > TENSOR_MAX_RANK)
        return ops_unsupported(call, "rank %d is above %d", rank, TENSOR_MAX_RANK);
    int rc = ops_axis(call, ops_attr_int(call, "axis", -1), rank, &axis);
    if (rc)
        return rc;
    int64_t dims[TENSOR_MAX_RANK], outer = 1, inner = 1;
    for (int i = 0, j = 0; i < rank; i++) {
        dims[i] = i == axis ? depth : idx->dims[j++];
        if (i < axis)
            outer *= dims[i];
        if (i > axis)
            inner *= dims[i];
    }
    rc = ops_alloc_output(call, 0, values->type, rank, dims);
    if (rc)
        return rc;
    size_t elem = tensor_type_size(values->type);
    const uint8_t *off = values->data, *on = off + elem;
    uint8_t *y = call->outputs[0].data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t d = 0; d < depth; d++)
            for (int64_t j = 0; j < inner; j++) {
                double v = ops_load(idx->type, idx->data, o * inner + j);
                if (v < 0)
                    v += (double)depth;
                memcpy(y + (size_t)((o * depth + d) * inner + j) * elem, v == (double)d ? on : off, elem);
            }
    return 0;
}

int op_eye_like(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    if (x->rank != 2)
        return ops_fail(call, "input must be 2-D");
    int64_t dtype = ops_attr_int(call, "dtype", x->type);
    enum tensor_type type = dtype > 0 && dtype < 64 ? (enum tensor_type)dtype : TENSOR_UNDEFINED;
    if (!ops_is_numeric(type) && type != TENSOR_BOOL)
        return ops_unsupported(call, "dtype %lld is not supported", (long long)dtype);
    int64_t k = ops_attr_int(call, "k", 0);
    int rc = ops_alloc_output(call, 0, type, 2, x->dims);
    if (rc)
        return rc;
    for (int64_t r = 0; r < x->dims[0]; r++)
        for (int64_t c = 0; c < x->dims[1]; c++)
            ops_store(type, call->outputs[0].data, r * x->dims[1] + c, c - r == k);
    return 0;
}

int op_gather_nd(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0], *idx = call->inputs[1];
    if (!is_index_type(idx) || idx->rank < 1)
        return ops_fail(call, "indices must be an int64 tensor of rank 1 or more");
    int64_t b = ops_attr_int(call, "batch_dims", 0), m = idx->dims[idx->rank - 1];
    if (b < 0 || b >= idx->rank || b >= x->rank || m < 1 || m > x->rank - b)
        return ops_fail(call, "batch_dims or the index length is out of range");
    int64_t dims[TENSOR_MAX_RANK], batch = 1, per_batch = 1, slice = 1;
    int rank = 0;
    for (int i = 0; i < idx->rank - 1; i++) {
        if (i < b && idx->dims[i] != x->dims[i])
            return ops_fail(call, "batch dimensions of data and indices differ");
        dims[rank++] = idx->dims[i];
        if (i < b)
            batch *= idx->dims[i];
        else
            per_batch *= idx->dims[i];
    }
    for (int i = (int)(b + m); i < x->rank; i++) {
        if (rank >= TENSOR_MAX_RANK)
            return ops_unsupported(call, "output rank is above %d", TENSOR_MAX_RANK);
        dims[rank++] = x->dims[i];
        slice *= x->dims[i];
    }
    int rc = ops_alloc_output(call, 0, x->type, rank, dims);
    if (rc)
        return rc;
    size_t elem = tensor_type_size(x->type);
    int64_t batch_stride = 1;
    for (int i = (int)b; i < x->rank; i++)
        batch_stride *= x->dims[i];
    uint8_t *y = call->outputs[0].data;
    for (int64_t bi = 0; bi < batch; bi++)
        for (int64_t p = 0; p < per_batch; p++) {
            int64_t off = 0, stride = slice;
            for (int64_t j = m - 1; j >= 0; j--) {
                int64_t dim = x->dims[b + j], v = read_int(idx, (bi * per_batch + p) * m + j);
                if (v < -dim || v >= dim)
                    return ops_fail(call, "index %lld is out of range", (long long)v);
                off += (v < 0 ? v + dim : v) * stride;
                stride *= dim;
            }
            memcpy(y + (size_t)((bi * per_batch + p) * slice) * elem,
                   (const uint8_t *)x->data + (size_t)(bi * batch_stride + off) * elem, (size_t)slice * elem);
        }
    return 0;
}

enum reduction { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN };

static int read_reduction(const struct op_call *call, enum reduction *out)
{
    const Onnx__AttributeProto *a = ops_attr(call, "reduction");
    *out = RED_NONE;
    if (!a || !a->has_s)
        return 0;
    static const char *names[] = {"none", "add", "mul", "max", "min"};
    for (int i = 0; i < 5; i++)
        if (a->s.len == strlen(names[i]) && memcmp(a->s.data, names[i], a->s.len) == 0) {
            *out = (enum reduction)i;
            return 0;
        }
    return ops_fail(call, "unknown reduction");
}

static void scatter_one(enum tensor_type type, void *y, int64_t at, const void *upd, int64_t from, enum reduction r)
{
    size_t elem = tensor_type_size(type);
    if (r == RED_NONE) {
        memcpy((uint8_t *)y + (size_t)at * elem, (const uint8_t *)upd + (size_t)from * elem, elem);
        return;
    }
    double a = ops_load(type, y, at), b = ops_load(type, upd, from);
    double v = r == RED_ADD ? a + b : r == RED_MUL ? a * b : r == RED_MAX ? (a > b ? a : b) : (a < b ? a : b);
    ops_store(type, y, at, v);
}

int op_scatter_nd(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0], *idx = call->inputs[1], *upd = call->inputs[2];
    enum reduction red;
    int rc = read_reduction(call, &red);
    if (rc)
        return rc;
    if (!is_index_type(idx) || idx->rank < 1 || upd->type != x->type)
        return ops_fail(call, "indices must be int64 and updates of the data's type");
    int64_t m = idx->dims[idx->rank - 1];
    if (m < 1 || m > x->rank || upd->rank != idx->rank - 1 + x->rank - m)
        return ops_fail(call, "indices and updates shapes do not fit the data");
    int64_t n = 1, slice = 1;
    for (int i = 0; i < idx->rank - 1; i++) {
        if (upd->dims[i] != idx->dims[i])
            return ops_fail(call, "updates shape does not fit the indices");
        n *= idx->dims[i];
    }
    for (int i = (int)m; i < x->rank; i++) {
        if (upd->dims[idx->rank - 1 + i - m] != x->dims[i])
            return ops_fail(call, "updates shape does not fit the data");
        slice *= x->dims[i];
    }
    if (red != RED_NONE && !ops_is_numeric(x->type))
        return ops_unsupported(call, "reduction on %s is not supported", tensor_type_name(x->type));
    rc = ops_alloc_output(call, 0, x->type, x->rank, x->dims);
    if (rc)
        return rc;
    size_t elem = tensor_type_size(x->type);
    memcpy(call->outputs[0].data, x->data, (size_t)tensor_element_count(x) * elem);
    for (int64_t p = 0; p < n; p++) {
        int64_t off = 0, stride = slice;
        for (int64_t j = m - 1; j >= 0; j--) {
            int64_t dim = x->dims[j], v = read_int(idx, p * m + j);
            if (v < -dim || v >= dim)
                return ops_fail(call, "index %lld is out of range", (long long)v);
            off += (v < 0 ? v + dim : v) * stride;
            stride *= dim;
        }
        for (int64_t s = 0; s < slice; s++)
            scatter_one(x->type, call->outputs[0].data, off + s, upd->data, p * slice + s, red);
    }
    return 0;
}

int op_scatter_elements(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0], *idx = call->inputs[1], *upd = call->inputs[2];
    enum reduction red;
    int rc = read_reduction(call, &red);
    if (rc)
        return rc;
    if (!is_index_type(idx) || upd->type != x->type || idx->rank != x->rank || upd->rank != x->rank)
        return ops_fail(call, "indices and updates must match the data's rank and type");
    int axis;
    rc = ops_axis(call, ops_attr_int(call, "axis", 0), x->rank, &axis);
    if (rc)
        return rc;
    for (int i = 0; i < x->rank; i++)
        if (idx->dims[i] != upd->dims[i] || (i != axis && idx->dims[i] > x->dims[i]))
            return ops_fail(call, "indices and updates shapes do not fit the data");
    if (red != RED_NONE && !ops_is_numeric(x->type))
        return ops_unsupported(call, "reduction on %s is not supported", tensor_type_name(x->type));
    rc = ops_alloc_output(call, 0, x->type, x->rank, x->dims);
    if (rc)
        return rc;
    memcpy(call->outputs[0].data, x->data, (size_t)tensor_element_count(x) * tensor_type_size(x->type));
    int64_t strides[TENSOR_MAX_RANK], pos[TENSOR_MAX_RANK] = {0}, s = 1;
    for (int i = x->rank - 1; i >= 0; i--) {
        strides[i] = s;
        s *= x->dims[i];
    }
    int64_t n = tensor_element_count(idx);
    for (int64_t i = 0; i < n; i++) {
        int64_t dim = x->dims[axis], v = read_int(idx, i), off = 0;
        if (v < -dim || v >= dim)
            return ops_fail(call, "index %lld is out of range", (long long)v);
        for (int d = 0; d < x->rank; d++)
            off += (d == axis ? (v < 0 ? v + dim : v) : pos[d]) * strides[d];
        scatter_one(x->type, call->outputs[0].data, off, upd->data, i, red);
        for (int d = x->rank - 1; d >= 0; d--) {
            if (++pos[d] < idx->dims[d])
                break;
            pos[d] = 0;
        }
    }
    return 0;
}

static int is_nonzero(const struct tensor *t, int64_t i)
{
    size_t elem = tensor_type_size(t->type);
    if (t->type == TENSOR_FLOAT || t->type == TENSOR_DOUBLE || t->type == TENSOR_FLOAT16 || t->type == TENSOR_BFLOAT16)
        return ops_load(t->type, t->data, i) != 0;
    const uint8_t *p = (const uint8_t *)t->data + (size_t)i * elem;
    for (size_t b = 0; b < elem; b++)
        if (p[b])
            return 1;
    return 0;
}

int op_non_zero(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    int64_t n = tensor_element_count(x), count = 0;
    for (int64_t i = 0; i < n; i++)
        count += is_nonzero(x, i);
    int64_t dims[2] = {x->rank, count};
    int rc = ops_alloc_output(call, 0, TENSOR_INT64, 2, dims);
    if (rc)
        return rc;
    int64_t *y = call->outputs[0].data, pos[TENSOR_MAX_RANK] = {0}, k = 0;
    for (int64_t i = 0; i < n; i++) {
        if (is_nonzero(x, i)) {
            for (int d = 0; d < x->rank; d++)
                y[d * count + k] = pos[d];
            k++;
        }
        for (int d = x->rank - 1; d >= 0; d--) {
            if (++pos[d] < x->dims[d])
                break;
            pos[d] = 0;
        }
    }
    return 0;
}

int op_compress(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0], *cond = call->inputs[1];
    if (cond->type != TENSOR_BOOL || cond->rank != 1)
        return ops_fail(call, "condition must be a 1-D bool tensor");
    const Onnx__AttributeProto *axis_attr = ops_attr(call, "axis");
    int axis = 0, rank = 1, rc;
    int64_t dims[TENSOR_MAX_RANK], outer = 1, inner = 1, n = tensor_element_count(x);
    if (axis_attr) {
        rc = ops_axis(call, axis_attr->i, x->rank, &axis);
        if (rc)
            return rc;
        rank = x->rank;
        memcpy(dims, x->dims, sizeof dims);
        n = x->dims[axis];
        for (int i = 0; i < x->rank; i++) {
            if (i < axis)
                outer *= x->dims[i];
            if (i > axis)
                inner *= x->dims[i];
        }
    }
    int64_t keep = 0, limit = cond->dims[0] < n ? cond->dims[0] : n;
    const uint8_t *c = cond->data;
    for (int64_t i = 0; i < limit; i++)
        keep += c[i] != 0;
    dims[axis_attr ? axis : 0] = keep;
    rc = ops_alloc_output(call, 0, x->type, rank, dims);
    if (rc)
        return rc;
    size_t elem = tensor_type_size(x->type), block = (size_t)inner * elem;
    uint8_t *y = call->outputs[0].data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < limit; i++)
            if (c[i]) {
                memcpy(y, (const uint8_t *)x->data + (size_t)(o * n + i) * block, block);
                y += block;
            }
    return 0;
}

static double box_iou(const float *a, const float *b, int center)
{
    float ay0, ax0, ay1, ax1, by0, bx0, by1, bx1;
    if (center) { /* [x_center, y_center, width, height] */
        ax0 = a[0] - a[2] / 2, ax1 = a[0] + a[2] / 2, ay0 = a[1] - a[3] / 2, ay1 = a[1] + a[3] / 2;
        bx0 = b[0] - b[2] / 2, bx1 = b[0] + b[2] / 2, by0 = b[1] - b[3] / 2, by1 = b[1] + b[3] / 2;
    } else { /* [y1, x1, y2, x2], either corner order */
        ay0 = fminf(a[0], a[2]), ay1 = fmaxf(a[0], a[2]), ax0 = fminf(a[1], a[3]), ax1 = fmaxf(a[1], a[3]);
        by0 = fminf(b[0], b[2]), by1 = fmaxf(b[0], b[2]), bx0 = fminf(b[1], b[3]), bx1 = fmaxf(b[1], b[3]);
    }
    double iw = fmin(ax1, bx1) - fmax(ax0, bx0), ih = fmin(ay1, by1) - fmax(ay0, by0);
    if (iw <= 0 || ih <= 0)
        return 0;
    double inter = iw * ih, uni = (double)(ax1 - ax0) * (ay1 - ay0) + (double)(bx1 - bx0) * (by1 - by0) - inter;
    return uni > 0 ? inter / uni : 0;
}

int op_non_max_suppression(const struct op_call *call)
{
    const struct tensor *boxes = call->inputs[0], *scores = call->inputs[1];
    const struct tensor *max_t = ops_input(call, 2), *iou_t = ops_input(call, 3), *score_t = ops_input(call, 4);
    if (boxes->type != TENSOR_FLOAT || scores->type != TENSOR_FLOAT || boxes->rank != 3 || boxes->dims[2] != 4 ||
        scores->rank != 3 || scores->dims[0] != boxes->dims[0] || scores->dims[2] != boxes->dims[1])
        return ops_fail(call, "boxes must be [batch, n, 4] and scores [batch, classes, n], float32");
    int64_t max_out = 0;
    if (max_t && tensor_element_count(max_t) == 1 && is_index_type(max_t))
        max_out = read_int(max_t, 0);
    float iou_th =
        iou_t && iou_t->type == TENSOR_FLOAT && tensor_element_count(iou_t) == 1 ? *(const float *)iou_t->data : 0;
    int has_score_th = score_t && score_t->type == TENSOR_FLOAT && tensor_element_count(score_t) == 1;
    float score_th = has_score_th ? *(const float *)score_t->data : 0;
    int center = ops_attr_int(call, "center_point_box", 0) != 0;
    int64_t batch = boxes->dims[0], n = boxes->dims[1], classes = scores->dims[1];
    if (max_out < 0)
        max_out = 0;
    if (max_out > n)
        max_out = n;
    int64_t cap = batch * classes * max_out;
    int64_t *sel = arena_alloc(call->arena, (size_t)(cap * 3) * sizeof *sel + 1);
    int64_t *order = arena_alloc(call->arena, (size_t)n * sizeof *order + 1);
    int64_t *tmp = arena_alloc(call->arena, (size_t)n * sizeof *tmp + 1);
    int64_t *kept = arena_alloc(call->arena, (size_t)n * sizeof *kept + 1);
    double *val = arena_alloc(call->arena, (size_t)n * sizeof *val + 1);
    if (!sel || !order || !tmp || !kept || !val)
        return ops_fail(call, "out of request memory");
    int64_t count = 0;
    for (int64_t b = 0; b < batch; b++)
        for (int64_t c = 0; c < classes; c++) {
            const float *sc = (const float *)scores->data + (b * classes + c) * n;
            const float *bx = (const float *)boxes->data + b * n * 4;
            for (int64_t i = 0; i < n; i++) {
                order[i] = i;
                val[i] = sc[i];
            }
            sort_positions(order, tmp, n, val, 1);
            int64_t n_kept = 0;
            for (int64_t i = 0; i < n && n_kept < max_out; i++) {
                int64_t k = order[i];
                if (has_score_th && !(sc[k] > score_th))
                    break;
                int ok = 1;
                for (int64_t j = 0; j < n_kept && ok; j++)
                    ok = box_iou(bx + k * 4, bx + kept[j] * 4, center) <= iou_th;
                if (!ok)
                    continue;
                kept[n_kept++] = k;
                sel[count * 3] = b;
                sel[count * 3 + 1] = c;
                sel[count * 3 + 2] = k;
                count++;
            }
        }
    int64_t dims[2] = {count, 3};
    int rc = ops_alloc_output(call, 0, TENSOR_INT64, 2, dims);
    if (rc)
        return rc;
    if (count)
        memcpy(call->outputs[0].data, sel, (size_t)(count * 3) * sizeof *sel);
    return 0;
}

/* Slices along an axis compared as numbers, lexicographically. */
struct unique_ctx {
    const struct tensor *x;
    int64_t n, inner, outer;
};

static int slice_cmp(const struct unique_ctx *u, int64_t a, int64_t b)
{
    for (int64_t o = 0; o < u->outer; o++)
        for (int64_t i = 0; i < u->inner; i++) {
            double va = ops_load(u->x->type, u->x->data, (o * u->n + a) * u->inner + i);
            double vb = ops_load(u->x->type, u->x->data, (o * u->n + b) * u->inner + i);
            if (va != vb)
                return va < vb ? -1 : 1;
        }
    return 0;
}

int op_unique(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    if (!ops_is_numeric(x->type))
        return ops_unsupported(call, "input of type %s is not supported", tensor_type_name(x->type));
    const Onnx__AttributeProto *axis_attr = ops_attr(call, "axis");
    int sorted = ops_attr_int(call, "sorted", 1) != 0, axis = 0, rc;
    struct unique_ctx u = {.x = x, .n = tensor_element_count(x), .inner = 1, .outer = 1};
    if (axis_attr) {
        rc = ops_axis(call, axis_attr->i, x->rank, &axis);
        if (rc)
            return rc;
        u.n = x->dims[axis];
        for (int i = 0; i < x->rank; i++) {
            if (i < axis)
                u.outer *= x->dims[i];
            if (i > axis)
                u.inner *= x->dims[i];
        }
    }
    /* Sort slice positions (stable, so equal slices keep index order), then group runs. */
    int64_t *pos = arena_alloc(call->arena, (size_t)u.n * sizeof *pos + 1);
    int64_t *tmp = arena_alloc(call->arena, (size_t)u.n * sizeof *tmp + 1);
    int64_t *first = arena_alloc(call->arena, (size_t)u.n * sizeof *first + 1);
    int64_t *counts = arena_alloc(call->arena, (size_t)u.n * sizeof *counts + 1);
    int64_t *group_of = arena_alloc(call->arena, (size_t)u.n * sizeof *group_of + 1);
    int64_t *order = arena_alloc(call->arena, (size_t)u.n * sizeof *order + 1);
    int64_t *rank_of = arena_alloc(call->arena, (size_t)u.n * sizeof *rank_of + 1);
    if (!pos || !tmp || !first || !counts || !group_of || !order || !rank_of)
        return ops_fail(call, "out of request memory");
    for (int64_t k = 0; k < u.n; k++)
        pos[k] = k;
    for (int64_t width = 1; width < u.n; width *= 2) {
        for (int64_t lo = 0; lo < u.n; lo += 2 * width) {
            int64_t mid = lo + width < u.n ? lo + width : u.n, hi = lo + 2 * width < u.n ? lo + 2 * width : u.n;
            int64_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = slice_cmp(&u, pos[j], pos[i]) < 0 ? pos[j++] : pos[i++];
            while (i < mid)
                tmp[k++] = pos[i++];
            while (j < hi)
                tmp[k++] = pos[j++];
        }
        memcpy(pos, tmp, (size_t)u.n * sizeof *pos);
    }
    /* Groups in value order; first[g] is the lowest index (the run's head, by stability). */
    int64_t n_unique = 0;
    for (int64_t k = 0; k < u.n; k++) {
        if (k == 0 || slice_cmp(&u, pos[k - 1], pos[k]) != 0) {
            first[n_unique] = pos[k];
            counts[n_unique++] = 0;
        }
        counts[n_unique - 1]++;
        group_of[pos[k]] = n_unique - 1;
    }
    /* order[r] = the group placed r-th: value order when sorted, else by first occurrence */
    for (int64_t g = 0; g < n_unique; g++)
        order[g] = g;
    if (!sorted) {
        int64_t r = 0;
        for (int64_t k = 0; k < u.n; k++)
            if (first[group_of[k]] == k)
                order[r++] = group_of[k];
    }
    for (int64_t r = 0; r < n_unique; r++)
        rank_of[order[r]] = r;
    int64_t *inverse = group_of;
    int64_t dims[TENSOR_MAX_RANK];
    int rank = 1;
    if (axis_attr) {
        memcpy(dims, x->dims, sizeof dims);
        dims[axis] = n_unique;
        rank = x->rank;
    } else
        dims[0] = n_unique;
    rc = ops_alloc_output(call, 0, x->type, rank, dims);
    if (!rc && call->n_outputs > 1)
        rc = ops_alloc_output(call, 1, TENSOR_INT64, 1, &n_unique);
    if (!rc && call->n_outputs > 2)
        rc = ops_alloc_output(call, 2, TENSOR_INT64, 1, &u.n);
    if (!rc && call->n_outputs > 3)
        rc = ops_alloc_output(call, 3, TENSOR_INT64, 1, &n_unique);
    if (rc)
        return rc;
    size_t elem = tensor_type_size(x->type), block = (size_t)u.inner * elem;
    for (int64_t o = 0; o < u.outer; o++)
        for (int64_t r = 0; r < n_unique; r++)
            if (block)
                memcpy((uint8_t *)call->outputs[0].data + (size_t)(o * n_unique + r) * block,
                       (const uint8_t *)x->data + (size_t)(o * u.n + first[order[r]]) * block, block);
    for (int64_t r = 0; r < n_unique; r++) {
        if (call->n_outputs > 1)
            ((int64_t *)call->outputs[1].data)[r] = first[order[r]];
        if (call->n_outputs > 3)
            ((int64_t *)call->outputs[3].data)[r] = counts[order[r]];
    }
    if (call->n_outputs > 2)
        for (int64_t k = 0; k < u.n; k++)
            ((int64_t *)call->outputs[2].data)[k] = rank_of[inverse[k]];
    return 0;
}
