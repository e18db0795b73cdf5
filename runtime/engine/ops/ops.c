#include "ops.h"

#include "runtime/engine/mem_plan.h"

#include "common/err.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Filled from the one operator list, in its order (ops_find takes the first match). */
static const struct op_kernel op_table[] = {
#define OP_KERNEL(domain, op_type, min_inputs, max_inputs, max_outputs, kernel)                                        \
    {domain, op_type, min_inputs, max_inputs, max_outputs, kernel},
#define OP_ALIAS OP_KERNEL
#define OP_CONTROL(domain, op_type, min_inputs, max_inputs, max_outputs)                                               \
    {domain, op_type, min_inputs, max_inputs, max_outputs, NULL},
#include "runtime/engine/ops/op_list.h"
#undef OP_KERNEL
#undef OP_ALIAS
#undef OP_CONTROL
};

const struct op_kernel *ops_find(const char *domain, const char *op_type)
{
    /* "ai.onnx" is another spelling of the default domain. */
    if (!domain || strcmp(domain, "ai.onnx") == 0)
        domain = "";
    for (size_t i = 0; i < sizeof op_table / sizeof op_table[0]; i++)
        if (strcmp(op_table[i].domain, domain) == 0 && strcmp(op_table[i].op_type, op_type) == 0)
            return &op_table[i];
    return NULL;
}

static int node_failv(const struct op_call *call, int code, const char *fmt, va_list ap)
{
    char detail[512];
    vsnprintf(detail, sizeof detail, fmt, ap);
    const char *name = call->node->name && call->node->name[0] ? call->node->name : "(unnamed)";
    return err_set(code, "node '%s' (%s): %s", name, call->node->op_type, detail);
}

int ops_fail(const struct op_call *call, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = node_failv(call, ERR_INVALID, fmt, ap);
    va_end(ap);
    return rc;
}

int ops_unsupported(const struct op_call *call, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = node_failv(call, ERR_UNSUPPORTED, fmt, ap);
    va_end(ap);
    return rc;
}

const struct tensor *ops_input(const struct op_call *call, int i)
{
    return i < call->n_inputs ? call->inputs[i] : NULL;
}

int ops_alloc_tensor(const struct op_call *call, struct tensor *t, enum tensor_type type, int rank, const int64_t *dims)
{
    if (rank < 0 || rank > TENSOR_MAX_RANK)
        return ops_unsupported(call, "rank %d is above %d", rank, TENSOR_MAX_RANK);
    t->type = type;
    t->rank = rank;
    for (int i = 0; i < rank; i++)
        t->dims[i] = dims[i];
    int64_t count = tensor_element_count(t);
    size_t elem = tensor_type_size(type);
    if (!elem)
        return ops_unsupported(call, "data type %s is not supported", tensor_type_name(type));
    if (count < 0 || (uint64_t)count > SIZE_MAX / elem)
        return ops_fail(call, "a result is too large");
    /* One spare byte so empty tensors still get a distinct, non-NULL pointer. */
    t->data = arena_alloc(call->arena, (size_t)count * elem + 1);
    if (!t->data)
        return err_set(ERR_LIMIT, "node '%s' (%s): output does not fit in the request memory limit",
                       call->node->name ? call->node->name : "", call->node->op_type);
    /* Strings start empty: a kernel that leaves some unset must not leave stray pointers. */
    if (type == TENSOR_STRING)
        memset(t->data, 0, (size_t)count * elem);
    return 0;
}

int ops_alloc_output(const struct op_call *call, int index, enum tensor_type type, int rank, const int64_t *dims)
{
    struct tensor *t = &call->outputs[index];
    size_t elem = tensor_type_size(type);
    if (!call->memory || type == TENSOR_STRING || !elem || rank < 0 || rank > TENSOR_MAX_RANK)
        return ops_alloc_tensor(call, t, type, rank, dims);
    int64_t count = 1;
    for (int i = 0; i < rank; i++)
        count = dims[i] < 0 || (dims[i] && count > INT64_MAX / dims[i]) ? -1 : count * dims[i];
    if (count < 0 || (uint64_t)count > (SIZE_MAX - 1) / elem)
        return ops_alloc_tensor(call, t, type, rank, dims); /* which reports it */
    size_t bytes = (size_t)count * elem + 1;
    void *planned = mem_run_output(call->memory, call->node_index, index, bytes);
    if (!planned) {
        int rc = ops_alloc_tensor(call, t, type, rank, dims);
        if (!rc)
            mem_run_note(call->memory, call->node_index, index, t->data, bytes);
        return rc;
    }
    t->type = type;
    t->rank = rank;
    for (int i = 0; i < rank; i++)
        t->dims[i] = dims[i];
    t->data = planned;
    return 0;
}

const Onnx__AttributeProto *ops_attr(const struct op_call *call, const char *name)
{
    const Onnx__NodeProto *n = call->node;
    for (size_t i = 0; i < n->n_attribute; i++)
        if (n->attribute[i]->name && strcmp(n->attribute[i]->name, name) == 0)
            return n->attribute[i];
    return NULL;
}

int64_t ops_attr_int(const struct op_call *call, const char *name, int64_t def)
{
    const Onnx__AttributeProto *a = ops_attr(call, name);
    return a && a->has_i ? a->i : def;
}

float ops_attr_float(const struct op_call *call, const char *name, float def)
{
    const Onnx__AttributeProto *a = ops_attr(call, name);
    return a && a->has_f ? a->f : def;
}

const int64_t *ops_attr_ints(const struct op_call *call, const char *name, size_t *n)
{
    const Onnx__AttributeProto *a = ops_attr(call, name);
    *n = a ? a->n_ints : 0;
    return *n ? a->ints : NULL;
}

int ops_read_ints(const struct op_call *call, const struct tensor *t, int64_t *out, int max, int *n)
{
    if (!t)
        return ops_fail(call, "a required input is missing");
    if (t->type != TENSOR_INT64 && t->type != TENSOR_INT32)
        return ops_fail(call, "expected an int64 tensor, got %s", tensor_type_name(t->type));
    if (t->rank > 1)
        return ops_fail(call, "expected a 1-D tensor, got rank %d", t->rank);
    int64_t count = tensor_element_count(t);
    if (count < 0 || count > max)
        return ops_fail(call, "expected at most %d values, got %lld", max, (long long)count);
    for (int64_t i = 0; i < count; i++)
        out[i] = t->type == TENSOR_INT64 ? ((const int64_t *)t->data)[i] : ((const int32_t *)t->data)[i];
    *n = (int)count;
    return 0;
}

int ops_axis(const struct op_call *call, int64_t axis, int rank, int *out)
{
    if (axis < -(int64_t)rank || axis >= rank)
        return ops_fail(call, "axis %lld is out of range for rank %d", (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return 0;
}

int ops_tensor_from_proto(const struct op_call *call, struct tensor *out, const Onnx__TensorProto *p)
{
    enum tensor_type type = (enum tensor_type)p->data_type;
    if (!tensor_type_size(type))
        return ops_unsupported(call, "constant of data type %d is not supported", (int)p->data_type);
    if (p->n_dims > TENSOR_MAX_RANK)
        return ops_unsupported(call, "constant of rank %zu is not supported", p->n_dims);
    int rc = ops_alloc_tensor(call, out, type, (int)p->n_dims, p->dims);
    if (rc)
        return rc;
    int64_t count = tensor_element_count(out);
    size_t bytes = (size_t)count * tensor_type_size(type);
    if (type == TENSOR_STRING) { /* the elements point into the node's own bytes, which outlive the run */
        if (p->n_string_data != (size_t)count)
            return ops_fail(call, "constant holds %zu strings, its shape needs %lld", p->n_string_data,
                            (long long)count);
        for (int64_t i = 0; i < count; i++)
            ((struct tensor_string *)out->data)[i] =
                (struct tensor_string){.data = (const char *)p->string_data[i].data, .len = p->string_data[i].len};
        return 0;
    }
    if (p->has_raw_data) {
        if (p->raw_data.len != bytes)
            return ops_fail(call, "constant holds %zu bytes, its shape needs %zu", p->raw_data.len, bytes);
        if (bytes)
            memcpy(out->data, p->raw_data.data, bytes);
        return 0;
    }
    size_t have;
    switch (type) {
    case TENSOR_FLOAT: have = p->n_float_data; break;
    case TENSOR_DOUBLE: have = p->n_double_data; break;
    case TENSOR_INT64: have = p->n_int64_data; break;
    case TENSOR_UINT32:
    case TENSOR_UINT64: have = p->n_uint64_data; break;
    default: have = p->n_int32_data; break;
    }
    if (have != (size_t)count)
        return ops_fail(call, "constant holds %zu values, its shape needs %lld", have, (long long)count);
    for (int64_t i = 0; i < count; i++) {
        switch (type) {
        case TENSOR_FLOAT: ((float *)out->data)[i] = p->float_data[i]; break;
        case TENSOR_DOUBLE: ((double *)out->data)[i] = p->double_data[i]; break;
        case TENSOR_INT64: ((int64_t *)out->data)[i] = p->int64_data[i]; break;
        case TENSOR_INT32: ((int32_t *)out->data)[i] = p->int32_data[i]; break;
        case TENSOR_INT16:
        case TENSOR_FLOAT16:
        case TENSOR_BFLOAT16:
        case TENSOR_UINT16: ((uint16_t *)out->data)[i] = (uint16_t)p->int32_data[i]; break;
        case TENSOR_UINT32: ((uint32_t *)out->data)[i] = (uint32_t)p->uint64_data[i]; break;
        case TENSOR_UINT64: ((uint64_t *)out->data)[i] = p->uint64_data[i]; break;
        default: ((uint8_t *)out->data)[i] = (uint8_t)p->int32_data[i]; break;
        }
    }
    return 0;
}

int ops_broadcast(const struct op_call *call, struct ops_bcast *b, int n, const struct tensor *const *ts)
{
    int rank = 0;
    for (int k = 0; k < n; k++)
        if (ts[k]->rank > rank)
            rank = ts[k]->rank;
    b->rank = rank;
    b->n = n;
    for (int i = 0; i < rank; i++) {
        int64_t d = 1;
        for (int k = 0; k < n; k++) {
            int ti = i - (rank - ts[k]->rank);
            int64_t dk = ti >= 0 ? ts[k]->dims[ti] : 1;
            if (dk == 1 || dk == d)
                continue;
            if (d != 1) {
                char s0[96], s1[96];
                tensor_format_shape(s0, sizeof s0, ts[0]->dims, ts[0]->rank);
                tensor_format_shape(s1, sizeof s1, ts[k]->dims, ts[k]->rank);
                return ops_fail(call, "shapes %s and %s cannot be broadcast", s0, s1);
            }
            d = dk;
        }
        b->dims[i] = d;
    }
    for (int k = 0; k < n; k++) {
        int64_t stride = 1;
        for (int i = rank - 1; i >= 0; i--) {
            int ti = i - (rank - ts[k]->rank);
            int64_t d = ti >= 0 ? ts[k]->dims[ti] : 1;
            b->strides[k][i] = d == 1 ? 0 : stride;
            stride *= d;
        }
    }
    struct tensor shape = {.rank = rank};
    memcpy(shape.dims, b->dims, sizeof shape.dims);
    b->total = tensor_element_count(&shape);
    if (b->total < 0)
        return ops_fail(call, "broadcast result is too large");
    return 0;
}

void ops_broadcast_walk(const struct ops_bcast *b, ops_row_fn row, void *ctx)
{
    if (b->total == 0)
        return;
    int rank = b->rank;
    int64_t inner = rank ? b->dims[rank - 1] : 1;
    int64_t steps[OPS_MAX_BCAST] = {0}, offs[OPS_MAX_BCAST];
    for (int k = 0; k < b->n; k++)
        steps[k] = rank ? b->strides[k][rank - 1] : 0;
    int64_t idx[TENSOR_MAX_RANK] = {0};
    for (int64_t done = 0; done < b->total; done += inner) {
        for (int k = 0; k < b->n; k++) {
            offs[k] = 0;
            for (int d = 0; d < rank - 1; d++)
                offs[k] += idx[d] * b->strides[k][d];
        }
        row(ctx, done, offs, steps, inner);
        for (int d = rank - 2; d >= 0; d--) {
            if (++idx[d] < b->dims[d])
                break;
            idx[d] = 0;
        }
    }
}

int ops_is_numeric(enum tensor_type type)
{
    switch (type) {
    case TENSOR_FLOAT:
    case TENSOR_DOUBLE:
    case TENSOR_INT32:
    case TENSOR_INT64:
    case TENSOR_INT8:
    case TENSOR_UINT8:
    case TENSOR_INT16:
    case TENSOR_UINT16:
    case TENSOR_UINT32:
    case TENSOR_UINT64:
    case TENSOR_FLOAT16:
    case TENSOR_BFLOAT16: return 1;
    default: return 0;
    }
}

double ops_load(enum tensor_type type, const void *data, int64_t i)
{
    return tensor_load(type, data, i);
}

void ops_store(enum tensor_type type, void *data, int64_t i, double v)
{
    tensor_store(type, data, i, v);
}

int ops_window_init(const struct op_call *call, struct ops_window *w, const struct tensor *x, const int64_t *kernel)
{
    int ns = x->rank - 2;
    if (ns < 1 || ns > OPS_MAX_SPATIAL)
        return ops_unsupported(call, "inputs of rank %d are not supported (1 to %d spatial dimensions)", x->rank,
                               OPS_MAX_SPATIAL);
    size_t nk, nst, nd, np;
    const int64_t *ks = kernel ? kernel : ops_attr_ints(call, "kernel_shape", &nk);
    const int64_t *st = ops_attr_ints(call, "strides", &nst), *dl = ops_attr_ints(call, "dilations", &nd),
                  *pd = ops_attr_ints(call, "pads", &np);
    if (kernel)
        nk = (size_t)ns;
    if (nk != (size_t)ns || (st && nst != (size_t)ns) || (dl && nd != (size_t)ns) || (pd && np != 2 * (size_t)ns))
        return ops_fail(call, "kernel_shape, strides, dilations or pads do not match %d spatial dimensions", ns);
    const Onnx__AttributeProto *ap = ops_attr(call, "auto_pad");
    const char *auto_pad = ap && ap->has_s ? (const char *)ap->s.data : NULL;
    size_t auto_len = ap && ap->has_s ? ap->s.len : 0;
    enum { PAD_NOTSET, PAD_SAME_UPPER, PAD_SAME_LOWER, PAD_VALID } mode = PAD_NOTSET;
    if (auto_len == 10 && memcmp(auto_pad, "SAME_UPPER", 10) == 0)
        mode = PAD_SAME_UPPER;
    else if (auto_len == 10 && memcmp(auto_pad, "SAME_LOWER", 10) == 0)
        mode = PAD_SAME_LOWER;
    else if (auto_len == 5 && memcmp(auto_pad, "VALID", 5) == 0)
        mode = PAD_VALID;
    else if (auto_len && !(auto_len == 6 && memcmp(auto_pad, "NOTSET", 6) == 0))
        return ops_fail(call, "unknown auto_pad value");
    int ceil_mode = ops_attr_int(call, "ceil_mode", 0) != 0;
    int lead = OPS_MAX_SPATIAL - ns;
    w->n_spatial = ns;
    for (int i = 0; i < OPS_MAX_SPATIAL; i++) {
        int j = i - lead;
        int64_t in = j >= 0 ? x->dims[2 + j] : 1, k = j >= 0 ? ks[j] : 1;
        int64_t s = j >= 0 && st ? st[j] : 1, d = j >= 0 && dl ? dl[j] : 1;
        int64_t pb = j >= 0 && pd ? pd[j] : 0, pe = j >= 0 && pd ? pd[j + ns] : 0;
        if (k < 1 || s < 1 || d < 1 || pb < 0 || pe < 0 || k > (1 << 20) || s > (1 << 20) || d > (1 << 20) ||
            pb > (1 << 20) || pe > (1 << 20))
            return ops_fail(call, "kernel, stride, dilation or pad out of range in dimension %d", j);
        int64_t eff = d * (k - 1) + 1, out;
        if (mode == PAD_SAME_UPPER || mode == PAD_SAME_LOWER) {
            out = (in + s - 1) / s;
            int64_t total = (out - 1) * s + eff - in;
            if (total < 0)
                total = 0;
            pb = mode == PAD_SAME_UPPER ? total / 2 : total - total / 2;
            pe = total - pb;
        } else {
            if (mode == PAD_VALID)
                pb = pe = 0;
            int64_t span = in + pb + pe - eff;
            if (span < 0)
                return ops_fail(call, "the window is larger than the padded input in dimension %d", j);
            out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
            /* A window that would start entirely in the end padding is dropped. */
            if (ceil_mode && (out - 1) * s >= in + pb)
                out--;
        }
        w->in[i] = in;
        w->kernel[i] = k;
        w->stride[i] = s;
        w->dilation[i] = d;
        w->pad_begin[i] = pb;
        w->pad_end[i] = pe;
        w->out[i] = out;
    }
    return 0;
}
