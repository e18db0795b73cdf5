/* Row-wise float32 kernels of the optimized CPU backend: Softmax and
 * LayerNormalization over contiguous rows (the last axes), each row on the
 * vector loops of vecmath.c, the rows split over the thread pool when there
 * are enough of them. Anything else is declined to the reference. */
#include "cpu_rows.h"

#include "threadpool.h"
#include "vecmath.h"

#include <math.h>

/* Fewer elements than this stay on the calling thread. */
#define PARALLEL_MIN_ELEMENTS (1 << 16)

struct rows {
    const float *in;
    float *out;
    int64_t rows, cols, per_task;
    /* LayerNormalization */
    const float *scale, *bias;
    float eps;
    float *mean_out, *inv_out;
};

static void run_rows(struct rows *r, pool_task_fn fn)
{
    int tasks = r->rows * r->cols < PARALLEL_MIN_ELEMENTS ? 1 : pool_threads() * 4;
    if (tasks > r->rows)
        tasks = (int)r->rows;
    if (tasks < 1)
        tasks = 1;
    r->per_task = (r->rows + tasks - 1) / tasks;
    pool_run(fn, r, tasks);
}

static void softmax_task(void *ctx, int index)
{
    const struct rows *r = ctx;
    int64_t r0 = index * r->per_task, r1 = r0 + r->per_task < r->rows ? r0 + r->per_task : r->rows;
    for (int64_t i = r0; i < r1; i++) {
        const float *a = r->in + i * r->cols;
        float *z = r->out + i * r->cols;
        float mx = vec_max(a, r->cols);
        float inv = (float)(1.0 / vec_exp_sum(z, a, r->cols, mx));
        vec_binary(VEC_MUL, z, z, 1, &inv, 0, r->cols);
    }
}

/* Rows that are contiguous: the last axis, or (before opset 13) the 2-D view at any axis. */
int cpu_softmax(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    if (!backend_is_float(x) || x->rank < 1)
        return BACKEND_DECLINE;
    int legacy = call->opset && call->opset < 13;
    int64_t axis = ops_attr_int(call, "axis", legacy ? 1 : -1);
    if (axis < 0)
        axis += x->rank;
    if (axis < 0 || axis >= x->rank || (!legacy && axis != x->rank - 1))
        return BACKEND_DECLINE;
    struct rows r = {.rows = 1, .cols = 1};
    for (int i = 0; i < x->rank; i++)
        *(i < axis ? &r.rows : &r.cols) *= x->dims[i];
    int rc = ops_alloc_output(call, 0, TENSOR_FLOAT, x->rank, x->dims);
    if (rc || !r.cols || !r.rows)
        return rc;
    r.in = x->data;
    r.out = call->outputs[0].data;
    run_rows(&r, softmax_task);
    return 0;
}

static void layer_norm_task(void *ctx, int index)
{
    const struct rows *r = ctx;
    int64_t r0 = index * r->per_task, r1 = r0 + r->per_task < r->rows ? r0 + r->per_task : r->rows;
    for (int64_t i = r0; i < r1; i++) {
        const float *a = r->in + i * r->cols;
        double mean = vec_sum(a, r->cols) / (double)r->cols;
        double var = vec_sq_dev(a, r->cols, mean) / (double)r->cols;
        double inv = 1 / sqrt(var + r->eps);
        vec_normalize(r->out + i * r->cols, a, r->cols, mean, (float)inv, r->scale, r->bias);
        if (r->mean_out)
            r->mean_out[i] = (float)mean;
        if (r->inv_out)
            r->inv_out[i] = (float)inv;
    }
}

/* Whether t holds exactly the normalized shape's n values (no broadcasting to expand). */
static int full_operand(const struct tensor *t, const struct tensor *x, int axis)
{
    if (!backend_is_float(t) || t->rank != x->rank - axis)
        return 0;
    for (int i = 0; i < t->rank; i++)
        if (t->dims[i] != x->dims[axis + i])
            return 0;
    return 1;
}

int cpu_layer_norm(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0], *scale = call->inputs[1], *bias = ops_input(call, 2);
    if (!backend_is_float(x) || x->rank < 1 || call->n_outputs > 3)
        return BACKEND_DECLINE;
    int64_t axis = ops_attr_int(call, "axis", -1);
    if (axis < 0)
        axis += x->rank;
    if (axis < 0 || axis >= x->rank || !full_operand(scale, x, (int)axis) || (bias && !full_operand(bias, x, (int)axis)))
        return BACKEND_DECLINE;
    struct rows r = {.rows = 1, .cols = 1, .eps = ops_attr_float(call, "epsilon", 1e-5f)};
    int64_t stat_dims[TENSOR_MAX_RANK];
    for (int i = 0; i < x->rank; i++) {
        *(i < axis ? &r.rows : &r.cols) *= x->dims[i];
        stat_dims[i] = i < axis ? x->dims[i] : 1;
    }
    if (!r.cols)
        return BACKEND_DECLINE; /* the reference's empty-row rules */
    int rc = ops_alloc_output(call, 0, TENSOR_FLOAT, x->rank, x->dims);
    for (int k = 1; !rc && k < call->n_outputs; k++)
        rc = ops_alloc_output(call, k, TENSOR_FLOAT, x->rank, stat_dims);
    if (rc || !r.rows)
        return rc;
    r.in = x->data;
    r.out = call->outputs[0].data;
    r.scale = scale->data;
    r.bias = bias ? bias->data : NULL;
    r.mean_out = call->n_outputs > 1 ? call->outputs[1].data : NULL;
    r.inv_out = call->n_outputs > 2 ? call->outputs[2].data : NULL;
    run_rows(&r, layer_norm_task);
    return 0;
}
