/* The CUDA backend's host side: float32 Gemm/MatMul, Add/Sub/Mul/Div (same
 * shapes or a scalar side), Relu, Sigmoid and last-axis Softmax on the device
 * kernels of cuda_kernels.cu. Those are linked only into an amlserve built
 * where nvcc exists; here they are weak references, NULL otherwise, and the
 * backend then reports itself as not built. A call the kernels cannot take
 * (another type or broadcast) or a CUDA error at run time declines to the
 * reference kernels, so a flaky device slows a request down but never fails it. */
#include "backend.h"

#include "common/err.h"
#include "cuda_kernels.h"

#include <string.h>

#pragma weak cudak_usable
#pragma weak cudak_gemm
#pragma weak cudak_binary
#pragma weak cudak_activation
#pragma weak cudak_softmax

static int built(void)
{
    return cudak_usable != NULL;
}

static int usable(void)
{
    return built() && cudak_usable();
}

static int cuda_gemm_op(const struct op_call *call, int matmul)
{
    struct backend_gemm g;
    float *y;
    int acc;
    int rc = backend_gemm_args(call, matmul, &g);
    if (rc || (rc = backend_gemm_output(call, g.c, g.beta, g.m, g.n, &y, &acc)))
        return rc;
    return cudak_gemm(g.ta, g.tb, g.m, g.n, g.k, g.alpha, g.a->data, g.b->data, y, acc) ? BACKEND_DECLINE : 0;
}

static int cuda_gemm(const struct op_call *call)
{
    return cuda_gemm_op(call, 0);
}
static int cuda_matmul(const struct op_call *call)
{
    return cuda_gemm_op(call, 1);
}

static int cuda_binary(const struct op_call *call, int op)
{
    const struct tensor *a = call->inputs[0], *b = call->inputs[1];
    if (!backend_is_float(a) || !backend_is_float(b))
        return BACKEND_DECLINE;
    int64_t na = tensor_element_count(a), nb = tensor_element_count(b);
    int same = a->rank == b->rank && na == nb;
    for (int i = 0; same && i < a->rank; i++)
        same = a->dims[i] == b->dims[i];
    const struct tensor *shape = same                            ? a
                                 : nb == 1 && b->rank <= a->rank ? a
                                 : na == 1 && a->rank <= b->rank ? b
                                                                 : NULL;
    if (!shape)
        return BACKEND_DECLINE;
    int rc = ops_alloc_output(call, 0, TENSOR_FLOAT, shape->rank, shape->dims);
    if (rc)
        return rc;
    int64_t n = tensor_element_count(shape);
    return cudak_binary(op, call->outputs[0].data, a->data, same || shape == a, b->data, same || shape == b, n)
               ? BACKEND_DECLINE
               : 0;
}

static int cuda_add(const struct op_call *call)
{
    return cuda_binary(call, 0);
}
static int cuda_sub(const struct op_call *call)
{
    return cuda_binary(call, 1);
}
static int cuda_mul(const struct op_call *call)
{
    return cuda_binary(call, 2);
}
static int cuda_div(const struct op_call *call)
{
    return cuda_binary(call, 3);
}

static int cuda_activation(const struct op_call *call, int act)
{
    const struct tensor *x = call->inputs[0];
    if (!backend_is_float(x))
        return BACKEND_DECLINE;
    int rc = ops_alloc_output(call, 0, TENSOR_FLOAT, x->rank, x->dims);
    if (rc)
        return rc;
    return cudak_activation(act, call->outputs[0].data, x->data, tensor_element_count(x)) ? BACKEND_DECLINE : 0;
}

static int cuda_relu(const struct op_call *call)
{
    return cuda_activation(call, 0);
}
static int cuda_sigmoid(const struct op_call *call)
{
    return cuda_activation(call, 1);
}

static int cuda_softmax(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    if (!backend_is_float(x) || x->rank < 1)
        return BACKEND_DECLINE;
    int64_t axis = ops_attr_int(call, "axis", call->opset && call->opset < 13 ? 1 : -1);
    if (axis < 0)
        axis += x->rank;
    if (axis != x->rank - 1) /* before opset 13 the coerced 2-D form equals this only at the last axis */
        return BACKEND_DECLINE;
    int64_t cols = x->dims[x->rank - 1], total = tensor_element_count(x);
    if (cols <= 0)
        return BACKEND_DECLINE;
    int rc = ops_alloc_output(call, 0, TENSOR_FLOAT, x->rank, x->dims);
    if (rc)
        return rc;
    return cudak_softmax(call->outputs[0].data, x->data, total / cols, cols) ? BACKEND_DECLINE : 0;
}

static const struct backend_kernel kernels[] = {
    {"Gemm", cuda_gemm}, {"MatMul", cuda_matmul},   {"Add", cuda_add},
    {"Sub", cuda_sub},   {"Mul", cuda_mul},         {"Div", cuda_div},
    {"Relu", cuda_relu}, {"Sigmoid", cuda_sigmoid}, {"Softmax", cuda_softmax},
};

static op_run_fn find(const Onnx__NodeProto *node)
{
    return backend_kernel_find(kernels, sizeof kernels / sizeof kernels[0], node);
}

static int claims(const struct backend_node *info)
{
    return find(info->node) && backend_inputs_float(info);
}

int backend_cuda_built(void)
{
    return built();
}

const struct engine_backend backend_cuda = {.name = "cuda", .usable = usable, .claims = claims, .kernel = find};
