/* Activations (float32/float64) and the softmax family. */
#include "ops.h"

#include <math.h>
#include <string.h>

enum act {
    A_RELU,
    A_SIGMOID,
    A_TANH,
    A_LEAKY,
    A_ELU,
    A_SELU,
    A_HSIGMOID,
    A_SOFTPLUS,
    A_SOFTSIGN,
    A_CELU,
    A_THRESH,
    A_HSWISH,
    A_SHRINK
};

struct act_params {
    float alpha, beta, gamma;
};

static float act_f(enum act a, float x, const struct act_params *p)
{
    switch (a) {
    case A_RELU: return x > 0 ? x : 0;
    case A_SIGMOID: return x >= 0 ? 1 / (1 + expf(-x)) : expf(x) / (1 + expf(x));
    case A_TANH: return tanhf(x);
    case A_LEAKY: return x < 0 ? p->alpha * x : x;
    case A_ELU: return x < 0 ? p->alpha * (expf(x) - 1) : x;
    case A_SELU: return x > 0 ? p->gamma * x : p->gamma * (p->alpha * expf(x) - p->alpha);
    case A_HSIGMOID: return fmaxf(0, fminf(1, p->alpha * x + p->beta));
    case A_SOFTPLUS: return x > 20 ? x : log1pf(expf(x));
    case A_SOFTSIGN: return x / (1 + fabsf(x));
    case A_CELU: return fmaxf(0, x) + fminf(0, p->alpha * (expf(x / p->alpha) - 1));
    case A_THRESH: return x > p->alpha ? x : 0;
    case A_HSWISH: return x * fmaxf(0, fminf(1, x / 6 + 0.5f));
    case A_SHRINK: return x < -p->gamma ? x + p->beta : x > p->gamma ? x - p->beta : 0;
    }
    return x;
}

static int activation(const struct op_call *call, enum act a, struct act_params p)
{
    const struct tensor *x = call->inputs[0];
    if (x->type != TENSOR_FLOAT && x->type != TENSOR_DOUBLE)
        return ops_unsupported(call, "input of type %s is not supported", tensor_type_name(x->type));
    int rc = ops_alloc_output(call, 0, x->type, x->rank, x->dims);
    if (rc)
        return rc;
    int64_t n = tensor_element_count(x);
    if (x->type == TENSOR_DOUBLE) {
        for (int64_t i = 0; i < n; i++)
            ((double *)call->outputs[0].data)[i] = act_f(a, (float)((const double *)x->data)[i], &p);
        return 0;
    }
    const float *in = x->data;
    float *out = call->outputs[0].data;
    if (a == A_RELU) { /* hot in MLPs: keep it a plain loop the compiler vectorizes */
        for (int64_t i = 0; i < n; i++)
            out[i] = in[i] > 0 ? in[i] : 0;
        return 0;
    }
    for (int64_t i = 0; i < n; i++)
        out[i] = act_f(a, in[i], &p);
    return 0;
}

#define ATTR(name, def) ops_attr_float(call, name, def)
int op_relu(const struct op_call *call)
{
    return activation(call, A_RELU, (struct act_params){0});
}
int op_sigmoid(const struct op_call *call)
{
    return activation(call, A_SIGMOID, (struct act_params){0});
}
int op_tanh(const struct op_call *call)
{
    return activation(call, A_TANH, (struct act_params){0});
}
int op_softsign(const struct op_call *call)
{
    return activation(call, A_SOFTSIGN, (struct act_params){0});
}
int op_softplus(const struct op_call *call)
{
    return activation(call, A_SOFTPLUS, (struct act_params){0});
}
int op_hard_swish(const struct op_call *call)
{
    return activation(call, A_HSWISH, (struct act_params){0});
}
int op_leaky_relu(const struct op_call *call)
{
    return activation(call, A_LEAKY, (struct act_params){.alpha = ATTR("alpha", 0.01f)});
}
int op_elu(const struct op_call *call)
{
    return activation(call, A_ELU, (struct act_params){.alpha = ATTR("alpha", 1.0f)});
}
int op_selu(const struct op_call *call)
{
    return activation(call, A_SELU,
                      (struct act_params){.alpha = ATTR("alpha", 1.67326319217681884765625f),
                                          .gamma = ATTR("gamma", 1.05070102214813232421875f)});
}
int op_hard_sigmoid(const struct op_call *call)
{
    return activation(call, A_HSIGMOID, (struct act_params){.alpha = ATTR("alpha", 0.2f), .beta = ATTR("beta", 0.5f)});
}
int op_celu(const struct op_call *call)
{
    float alpha = ATTR("alpha", 1.0f);
    if (alpha == 0)
        return ops_fail(call, "alpha must not be 0");
    return activation(call, A_CELU, (struct act_params){.alpha = alpha});
}
int op_thresholded_relu(const struct op_call *call)
{
    return activation(call, A_THRESH, (struct act_params){.alpha = ATTR("alpha", 1.0f)});
}
int op_shrink(const struct op_call *call)
{
    return activation(call, A_SHRINK, (struct act_params){.beta = ATTR("bias", 0.0f), .gamma = ATTR("lambd", 0.5f)});
}
#undef ATTR

enum soft { S_SOFTMAX, S_LOG_SOFTMAX, S_HARDMAX };

/* Opset 13 normalizes along one axis (default -1). Before, the input is seen as
 * a 2-D [prod(dims[:axis]), prod(dims[axis:])] matrix (axis default 1) and each
 * row normalized. Both are "outer × n × inner" with a stride. */
static int softmax_family(const struct op_call *call, enum soft kind)
{
    const struct tensor *x = call->inputs[0];
    if (x->type != TENSOR_FLOAT)
        return ops_unsupported(call, "input of type %s is not supported", tensor_type_name(x->type));
    int legacy = call->opset && call->opset < 13;
    int axis, rc = ops_axis(call, ops_attr_int(call, "axis", legacy ? 1 : -1), x->rank ? x->rank : 1, &axis);
    if (rc)
        return rc;
    rc = ops_alloc_output(call, 0, x->type, x->rank, x->dims);
    if (rc)
        return rc;
    int64_t outer = 1, n = 1, inner = 1;
    for (int i = 0; i < x->rank; i++) {
        if (i < axis)
            outer *= x->dims[i];
        else if (i == axis || legacy)
            n *= x->dims[i];
        else
            inner *= x->dims[i];
    }
    const float *in = x->data;
    float *out = call->outputs[0].data;
    if (n == 0)
        return 0;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t j = 0; j < inner; j++) {
            const float *a = in + o * n * inner + j;
            float *z = out + o * n * inner + j;
            float mx = a[0];
            int64_t arg = 0;
            for (int64_t k = 1; k < n; k++)
                if (a[k * inner] > mx) {
                    mx = a[k * inner];
                    arg = k;
                }
            if (kind == S_HARDMAX) {
                for (int64_t k = 0; k < n; k++)
                    z[k * inner] = k == arg;
                continue;
            }
            double sum = 0;
            for (int64_t k = 0; k < n; k++)
                sum += exp((double)a[k * inner] - mx);
            if (kind == S_LOG_SOFTMAX) {
                float lse = (float)log(sum);
                for (int64_t k = 0; k < n; k++)
                    z[k * inner] = a[k * inner] - mx - lse;
            } else {
                for (int64_t k = 0; k < n; k++)
                    z[k * inner] = (float)(exp((double)a[k * inner] - mx) / sum);
            }
        }
    }
    return 0;
}

int op_softmax(const struct op_call *call)
{
    return softmax_family(call, S_SOFTMAX);
}
int op_log_softmax(const struct op_call *call)
{
    return softmax_family(call, S_LOG_SOFTMAX);
}
int op_hardmax(const struct op_call *call)
{
    return softmax_family(call, S_HARDMAX);
}
