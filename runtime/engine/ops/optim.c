/* Optimizer steps from the ai.onnx.preview.training domain: Adagrad, Momentum,
 * Adam. Inputs are R (learning rate), T (step count) and then n tensors each
 * of X, G and the optimizer's state; outputs the new X and state, in order. */
#include "ops.h"

#include <math.h>
#include <string.h>

enum optim { O_ADAGRAD, O_MOMENTUM, O_ADAM };

static int optimizer(const struct op_call *call, enum optim kind)
{
    int groups = kind == O_ADAM ? 4 : 3; /* X, G, state... */
    int n = (call->n_inputs - 2) / groups;
    if (n < 1 || call->n_inputs != 2 + groups * n || call->n_outputs != (groups - 1) * n)
        return ops_fail(call, "needs R, T and %d tensors per parameter, with %d outputs each", groups, groups - 1);
    const struct tensor *r_t = call->inputs[0], *t_t = call->inputs[1];
    if (!r_t || !t_t || r_t->type != TENSOR_FLOAT || tensor_element_count(r_t) != 1 || t_t->type != TENSOR_INT64 ||
        tensor_element_count(t_t) != 1)
        return ops_fail(call, "R must be a float scalar and T an int64 scalar");
    double lr = *(const float *)r_t->data, t = (double)*(const int64_t *)t_t->data;
    float eps = ops_attr_float(call, "epsilon", 0.0f);
    float norm = ops_attr_float(call, "norm_coefficient", 0), decay = ops_attr_float(call, "decay_factor", 0);
    float alpha = ops_attr_float(call, "alpha", 0.9f), beta = ops_attr_float(call, "beta", kind == O_ADAM ? 0.999f : 0);
    float norm_post = ops_attr_float(call, "norm_coefficient_post", 0);
    const Onnx__AttributeProto *mode = ops_attr(call, "mode");
    int nesterov = mode && mode->has_s && mode->s.len == 8 && memcmp(mode->s.data, "nesterov", 8) == 0;
    for (int p = 0; p < n; p++) {
        const struct tensor *x = call->inputs[2 + p], *g = call->inputs[2 + n + p], *s1 = call->inputs[2 + 2 * n + p];
        const struct tensor *s2 = kind == O_ADAM ? call->inputs[2 + 3 * n + p] : NULL;
        if (!x || !g || !s1 || (kind == O_ADAM && !s2))
            return ops_fail(call, "parameter %d: X, G and the state are required inputs", p);
        int64_t count = tensor_element_count(x);
        if (x->type != TENSOR_FLOAT || g->type != TENSOR_FLOAT || s1->type != TENSOR_FLOAT ||
            tensor_element_count(g) != count || tensor_element_count(s1) != count ||
            (s2 && (s2->type != TENSOR_FLOAT || tensor_element_count(s2) != count)))
            return ops_fail(call, "parameter %d: X, G and the state must be float32 of one shape", p);
        int rc = ops_alloc_output(call, p, TENSOR_FLOAT, x->rank, x->dims);
        if (!rc)
            rc = ops_alloc_output(call, n + p, TENSOR_FLOAT, x->rank, x->dims);
        if (!rc && s2)
            rc = ops_alloc_output(call, 2 * n + p, TENSOR_FLOAT, x->rank, x->dims);
        if (rc)
            return rc;
        const float *xv = x->data, *gv = g->data, *a = s1->data, *h = s2 ? s2->data : NULL;
        float *xo = call->outputs[p].data, *ao = call->outputs[n + p].data,
              *ho = s2 ? call->outputs[2 * n + p].data : NULL;
        for (int64_t i = 0; i < count; i++) {
            double gr = norm * xv[i] + gv[i];
            switch (kind) {
            case O_ADAGRAD: {
                double r = lr / (1 + t * decay), hn = a[i] + gr * gr;
                ao[i] = (float)hn;
                xo[i] = (float)(xv[i] - r * gr / (sqrt(hn) + eps));
                break;
            }
            case O_MOMENTUM: {
                double vn = alpha * a[i] + (t > 0 ? beta : 1) * gr;
                ao[i] = (float)vn;
                xo[i] = (float)(xv[i] - lr * (nesterov ? gr + alpha * vn : vn));
                break;
            }
            case O_ADAM: {
                double vn = alpha * a[i] + (1 - alpha) * gr, hn = beta * h[i] + (1 - beta) * gr * gr;
                double ra = t > 0 ? lr * sqrt(1 - pow(beta, t)) / (1 - pow(alpha, t)) : lr;
                double xn = xv[i] - ra * vn / (sqrt(hn) + eps);
                ao[i] = (float)vn;
                ho[i] = (float)hn;
                xo[i] = (float)((1 - norm_post) * xn);
                break;
            }
            }
        }
    }
    return 0;
}

int op_adagrad(const struct op_call *call)
{
    return optimizer(call, O_ADAGRAD);
}
int op_momentum(const struct op_call *call)
{
    return optimizer(call, O_MOMENTUM);
}
int op_adam(const struct op_call *call)
{
    return optimizer(call, O_ADAM);
}
