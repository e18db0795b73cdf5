/* Sequences and optionals: SequenceEmpty/Construct/Insert/At/Erase/Length,
 * ConcatFromSequence, SplitToSequence, Optional, OptionalHasElement,
 * OptionalGetElement.
 *
 * A sequence value is a tensor of type TENSOR_SEQUENCE whose data is a struct
 * tensor_sequence in the run's arena; an optional without a value is a tensor of
 * type TENSOR_NONE. Items are shared, never copied: values are immutable. */
#include "ops.h"

#include "common/err.h"

#include <string.h>

static const struct tensor_sequence *seq_input(const struct op_call *call, int i)
{
    const struct tensor *t = ops_input(call, i);
    if (!t || t->type != TENSOR_SEQUENCE || !t->data) {
        ops_fail(call, "input %d must be a sequence, got %s", i, t ? tensor_type_name(t->type) : "nothing");
        return NULL;
    }
    return t->data;
}

/* Output `index` becomes a new sequence of count items (uninitialised) of elem_type. */
static struct tensor *seq_output(const struct op_call *call, int index, enum tensor_type elem_type, int64_t count)
{
    struct tensor_sequence *s = arena_alloc(call->arena, sizeof *s);
    struct tensor *items = arena_alloc(call->arena, (size_t)(count + 1) * sizeof *items);
    if (!s || !items) {
        err_set(ERR_LIMIT, "node '%s' (%s): output does not fit in the request memory limit",
                call->node->name ? call->node->name : "", call->node->op_type);
        return NULL;
    }
    s->elem_type = elem_type;
    s->count = count;
    s->items = items;
    call->outputs[index] = (struct tensor){.type = TENSOR_SEQUENCE, .rank = 0, .data = s};
    return items;
}

/* A position input (scalar int32/int64) against a sequence of length n; positions
 * run from -n to n - 1, or to n when inserting. */
static int seq_position(const struct op_call *call, int i, int64_t n, int inserting, int64_t def, int64_t *out)
{
    const struct tensor *t = ops_input(call, i);
    if (!t) {
        *out = def;
        return 0;
    }
    if ((t->type != TENSOR_INT64 && t->type != TENSOR_INT32) || tensor_element_count(t) != 1)
        return ops_fail(call, "position must be one int32 or int64");
    int64_t p = t->type == TENSOR_INT64 ? *(const int64_t *)t->data : *(const int32_t *)t->data;
    if (p < -n || p > (inserting ? n : n - 1))
        return ops_fail(call, "position %lld is out of range for a sequence of %lld", (long long)p, (long long)n);
    *out = p < 0 ? p + n : p;
    return 0;
}

/* An empty sequence may have no items array at all. */
static void copy_items(struct tensor *to, const struct tensor *from, int64_t n)
{
    if (n > 0)
        memcpy(to, from, (size_t)n * sizeof *to);
}

static int check_item(const struct op_call *call, enum tensor_type elem_type, const struct tensor *t)
{
    if (!tensor_type_size(t->type))
        return ops_unsupported(call, "sequences of %s are not supported", tensor_type_name(t->type));
    if (elem_type != TENSOR_UNDEFINED && t->type != elem_type)
        return ops_fail(call, "a %s tensor cannot join a sequence of %s", tensor_type_name(t->type),
                        tensor_type_name(elem_type));
    return 0;
}

int op_sequence_empty(const struct op_call *call)
{
    enum tensor_type type = (enum tensor_type)ops_attr_int(call, "dtype", TENSOR_FLOAT);
    if (!tensor_type_size(type))
        return ops_unsupported(call, "dtype %d is not supported", (int)type);
    return seq_output(call, 0, type, 0) ? 0 : ERR_LIMIT;
}

int op_sequence_construct(const struct op_call *call)
{
    enum tensor_type type = call->inputs[0] ? call->inputs[0]->type : TENSOR_UNDEFINED;
    for (int i = 0; i < call->n_inputs; i++) {
        if (!call->inputs[i])
            return ops_fail(call, "input %d is empty", i);
        int rc = check_item(call, type, call->inputs[i]);
        if (rc)
            return rc;
    }
    struct tensor *items = seq_output(call, 0, type, call->n_inputs);
    if (!items)
        return ERR_LIMIT;
    for (int i = 0; i < call->n_inputs; i++)
        items[i] = *call->inputs[i];
    return 0;
}

int op_sequence_insert(const struct op_call *call)
{
    const struct tensor_sequence *s = seq_input(call, 0);
    if (!s)
        return ERR_INVALID;
    const struct tensor *t = call->inputs[1];
    int64_t pos;
    int rc = check_item(call, s->elem_type, t);
    if (!rc)
        rc = seq_position(call, 2, s->count, 1, s->count, &pos);
    if (rc)
        return rc;
    struct tensor *items = seq_output(call, 0, t->type, s->count + 1);
    if (!items)
        return ERR_LIMIT;
    copy_items(items, s->items, pos);
    items[pos] = *t;
    copy_items(items + pos + 1, s->items + pos, s->count - pos);
    return 0;
}

int op_sequence_at(const struct op_call *call)
{
    const struct tensor_sequence *s = seq_input(call, 0);
    if (!s)
        return ERR_INVALID;
    int64_t pos;
    int rc = seq_position(call, 1, s->count, 0, 0, &pos);
    if (rc)
        return rc;
    call->outputs[0] = s->items[pos];
    return 0;
}

int op_sequence_erase(const struct op_call *call)
{
    const struct tensor_sequence *s = seq_input(call, 0);
    if (!s)
        return ERR_INVALID;
    if (s->count == 0)
        return ops_fail(call, "cannot erase from an empty sequence");
    int64_t pos;
    int rc = seq_position(call, 1, s->count, 0, s->count - 1, &pos);
    if (rc)
        return rc;
    struct tensor *items = seq_output(call, 0, s->elem_type, s->count - 1);
    if (!items)
        return ERR_LIMIT;
    copy_items(items, s->items, pos);
    copy_items(items + pos, s->items + pos + 1, s->count - pos - 1);
    return 0;
}

int op_sequence_length(const struct op_call *call)
{
    const struct tensor_sequence *s = seq_input(call, 0);
    if (!s)
        return ERR_INVALID;
    int rc = ops_alloc_output(call, 0, TENSOR_INT64, 0, NULL);
    if (rc)
        return rc;
    *(int64_t *)call->outputs[0].data = s->count;
    return 0;
}

/* Concatenates (new_axis 0) or stacks (new_axis 1) the items along axis. */
int op_concat_from_sequence(const struct op_call *call)
{
    const struct tensor_sequence *s = seq_input(call, 0);
    if (!s)
        return ERR_INVALID;
    if (s->count == 0)
        return ops_fail(call, "cannot concatenate an empty sequence");
    int stack = ops_attr_int(call, "new_axis", 0) != 0;
    const struct tensor *first = &s->items[0];
    int out_rank = first->rank + stack, axis;
    if (out_rank > TENSOR_MAX_RANK)
        return ops_unsupported(call, "rank %d is above %d", out_rank, TENSOR_MAX_RANK);
    int rc = ops_axis(call, ops_attr_int(call, "axis", 0), out_rank, &axis);
    if (rc)
        return rc;
    int64_t dims[TENSOR_MAX_RANK], total = 0;
    for (int64_t k = 0; k < s->count; k++) {
        const struct tensor *t = &s->items[k];
        int same = t->type == first->type && t->rank == first->rank;
        for (int d = 0; same && d < t->rank; d++)
            same = d == axis && !stack ? 1 : t->dims[d] == first->dims[d];
        if (!same)
            return ops_fail(call, "item %lld's type or shape does not match the first item's", (long long)k);
        total += stack ? 1 : t->dims[axis];
    }
    for (int d = 0, src = 0; d < out_rank; d++)
        dims[d] = stack && d == axis ? 1 : first->dims[src++];
    dims[axis] = total;
    rc = ops_alloc_output(call, 0, first->type, out_rank, dims);
    if (rc)
        return rc;
    /* Each item is outer blocks of (its extent along axis) x inner elements. */
    size_t elem = tensor_type_size(first->type);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++)
        outer *= dims[d];
    for (int d = axis + 1; d < out_rank; d++)
        inner *= dims[d];
    uint8_t *out = call->outputs[0].data;
    int64_t offset = 0; /* along axis */
    for (int64_t k = 0; k < s->count; k++) {
        int64_t extent = stack ? 1 : s->items[k].dims[axis];
        size_t block = (size_t)(extent * inner) * elem;
        for (int64_t o = 0; o < outer && block; o++)
            memcpy(out + ((size_t)(o * total + offset) * (size_t)inner) * elem,
                   (const uint8_t *)s->items[k].data + (size_t)o * block, block);
        offset += extent;
    }
    return 0;
}

/* Splits along axis into pieces: sizes from the split input (a scalar: equal
 * pieces, the last smaller), or pieces of 1 with the axis dropped unless keepdims. */
int op_split_to_sequence(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0], *split = ops_input(call, 1);
    int axis, rc = ops_axis(call, ops_attr_int(call, "axis", 0), x->rank, &axis);
    if (rc)
        return rc;
    if (!tensor_type_size(x->type))
        return ops_unsupported(call, "inputs of type %s are not supported", tensor_type_name(x->type));
    int64_t dim = x->dims[axis], n = 0, *sizes;
    int squeeze = 0;
    if (!split) {
        n = dim;
        squeeze = ops_attr_int(call, "keepdims", 1) == 0;
    } else if (split->rank == 0) {
        int64_t v[1];
        int got;
        rc = ops_read_ints(call, split, v, 1, &got);
        if (rc)
            return rc;
        if (v[0] < 1)
            return ops_fail(call, "split must be positive, got %lld", (long long)v[0]);
        n = (dim + v[0] - 1) / v[0];
    } else
        n = tensor_element_count(split);
    sizes = arena_alloc(call->arena, (size_t)(n + 1) * sizeof *sizes);
    if (!sizes)
        return err_set(ERR_LIMIT, "request memory limit reached");
    int64_t sum = 0;
    for (int64_t k = 0; k < n; k++) {
        if (!split)
            sizes[k] = 1;
        else if (split->rank == 0) {
            int64_t each = split->type == TENSOR_INT64 ? *(const int64_t *)split->data : *(const int32_t *)split->data;
            sizes[k] = dim - k * each < each ? dim - k * each : each;
        } else
            sizes[k] =
                split->type == TENSOR_INT64 ? ((const int64_t *)split->data)[k] : ((const int32_t *)split->data)[k];
        if (sizes[k] < 0)
            return ops_fail(call, "split sizes must not be negative");
        sum += sizes[k];
    }
    if (split && split->type != TENSOR_INT64 && split->type != TENSOR_INT32)
        return ops_fail(call, "split must be int32 or int64");
    if (sum != dim)
        return ops_fail(call, "split sizes add up to %lld, the axis has %lld", (long long)sum, (long long)dim);
    struct tensor *items = seq_output(call, 0, x->type, n);
    if (!items)
        return ERR_LIMIT;
    size_t elem = tensor_type_size(x->type);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++)
        outer *= x->dims[d];
    for (int d = axis + 1; d < x->rank; d++)
        inner *= x->dims[d];
    int64_t offset = 0;
    for (int64_t k = 0; k < n; k++) {
        int64_t dims[TENSOR_MAX_RANK];
        int rank = 0;
        for (int d = 0; d < x->rank; d++)
            if (d != axis || !squeeze)
                dims[rank++] = d == axis ? sizes[k] : x->dims[d];
        rc = ops_alloc_tensor(call, &items[k], x->type, rank, dims);
        if (rc)
            return rc;
        size_t block = (size_t)(sizes[k] * inner) * elem;
        for (int64_t o = 0; o < outer && block; o++)
            memcpy((uint8_t *)items[k].data + (size_t)o * block,
                   (const uint8_t *)x->data + ((size_t)(o * dim + offset) * (size_t)inner) * elem, block);
        offset += sizes[k];
    }
    return 0;
}

int op_optional(const struct op_call *call)
{
    const struct tensor *t = ops_input(call, 0);
    call->outputs[0] = t ? *t : (struct tensor){.type = TENSOR_NONE};
    return 0;
}

int op_optional_has_element(const struct op_call *call)
{
    const struct tensor *t = ops_input(call, 0);
    int rc = ops_alloc_output(call, 0, TENSOR_BOOL, 0, NULL);
    if (rc)
        return rc;
    *(uint8_t *)call->outputs[0].data = t && t->type != TENSOR_NONE;
    return 0;
}

int op_optional_get_element(const struct op_call *call)
{
    const struct tensor *t = call->inputs[0];
    if (t->type == TENSOR_NONE)
        return ops_fail(call, "the optional holds no value");
    call->outputs[0] = *t;
    return 0;
}
