/* Binary arithmetic with numpy broadcasting. */
#include "ops.h"

#include <string.h>

enum binary_op { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV };

/* Output shape under numpy broadcasting rules; -1 when incompatible. */
static int broadcast_shape(int64_t *out, const struct tensor *a, const struct tensor *b)
{
    int rank = a->rank > b->rank ? a->rank : b->rank;
    for (int i = 0; i < rank; i++) {
        int ai = i - (rank - a->rank), bi = i - (rank - b->rank);
        int64_t da = ai >= 0 ? a->dims[ai] : 1;
        int64_t db = bi >= 0 ? b->dims[bi] : 1;
        if (da != db && da != 1 && db != 1)
            return -1;
        out[i] = da == 1 ? db : da;
    }
    return rank;
}

/* Element strides of t viewed with out's rank; 0 along broadcast dimensions. */
static void broadcast_strides(int64_t *strides, const struct tensor *t, int rank)
{
    int64_t stride = 1;
    for (int i = rank - 1; i >= 0; i--) {
        int ti = i - (rank - t->rank);
        int64_t d = ti >= 0 ? t->dims[ti] : 1;
        strides[i] = d == 1 ? 0 : stride;
        stride *= d;
    }
}

static inline float apply(enum binary_op op, float x, float y)
{
    switch (op) {
    case BIN_ADD: return x + y;
    case BIN_SUB: return x - y;
    case BIN_MUL: return x * y;
    case BIN_DIV: return x / y;
    }
    return 0;
}

static int binary_float(const struct op_call *call, enum binary_op op)
{
    const struct tensor *a = call->inputs[0], *b = call->inputs[1];
    if (a->type != TENSOR_FLOAT || b->type != TENSOR_FLOAT)
        return ops_fail(call, "inputs of type %s and %s are not supported (float32 only)",
                        tensor_type_name(a->type), tensor_type_name(b->type));
    int64_t dims[TENSOR_MAX_RANK];
    int rank = broadcast_shape(dims, a, b);
    if (rank < 0) {
        char sa[96], sb[96];
        tensor_format_shape(sa, sizeof sa, a->dims, a->rank);
        tensor_format_shape(sb, sizeof sb, b->dims, b->rank);
        return ops_fail(call, "shapes %s and %s cannot be broadcast", sa, sb);
    }
    int rc = ops_alloc_output(call, 0, TENSOR_FLOAT, rank, dims);
    if (rc)
        return rc;
    const float *x = a->data, *y = b->data;
    float *z = call->outputs[0].data;
    int64_t total = tensor_element_count(&call->outputs[0]);
    if (total == 0)
        return 0;
    int64_t na = tensor_element_count(a), nb = tensor_element_count(b);
    if (na == total && nb == total) {
        for (int64_t i = 0; i < total; i++)
            z[i] = apply(op, x[i], y[i]);
        return 0;
    }
    /* General case: walk the output with an index counter, the innermost
     * dimension as a tight loop. */
    int64_t sa[TENSOR_MAX_RANK], sb[TENSOR_MAX_RANK], idx[TENSOR_MAX_RANK] = {0};
    broadcast_strides(sa, a, rank);
    broadcast_strides(sb, b, rank);
    int64_t inner = rank ? dims[rank - 1] : 1;
    int64_t ia_step = rank ? sa[rank - 1] : 0, ib_step = rank ? sb[rank - 1] : 0;
    for (int64_t done = 0; done < total; done += inner) {
        int64_t offa = 0, offb = 0;
        for (int d = 0; d < rank - 1; d++) {
            offa += idx[d] * sa[d];
            offb += idx[d] * sb[d];
        }
        for (int64_t i = 0; i < inner; i++)
            z[done + i] = apply(op, x[offa + i * ia_step], y[offb + i * ib_step]);
        for (int d = rank - 2; d >= 0; d--) {
            if (++idx[d] < dims[d])
                break;
            idx[d] = 0;
        }
    }
    return 0;
}

int op_add(const struct op_call *call) { return binary_float(call, BIN_ADD); }
int op_sub(const struct op_call *call) { return binary_float(call, BIN_SUB); }
int op_mul(const struct op_call *call) { return binary_float(call, BIN_MUL); }
int op_div(const struct op_call *call) { return binary_float(call, BIN_DIV); }
