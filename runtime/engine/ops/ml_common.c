/* Shared helpers of the ONNX-ML kernels (see ml.h). */
#include "ml.h"

#include "common/err.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int ml_attr_is(const struct op_call *call, const char *name, const char *value)
{
    const Onnx__AttributeProto *a = ops_attr(call, name);
    if (!a || !a->has_s)
        return value == NULL;
    return value && a->s.len == strlen(value) && memcmp(a->s.data, value, a->s.len) == 0;
}

const char *ml_attr_string(const struct op_call *call, const char *name, const char *def)
{
    const Onnx__AttributeProto *a = ops_attr(call, name);
    if (!a || !a->has_s)
        return def;
    char *s = arena_alloc(call->arena, a->s.len + 1);
    if (!s)
        return def;
    memcpy(s, a->s.data, a->s.len);
    s[a->s.len] = '\0';
    return s;
}

int ml_post_transform(const struct op_call *call, enum ml_post *out)
{
    static const char *const names[] = {"NONE", "SOFTMAX", "LOGISTIC", "SOFTMAX_ZERO", "PROBIT"};
    *out = ML_POST_NONE;
    if (ml_attr_is(call, "post_transform", NULL))
        return 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (ml_attr_is(call, "post_transform", names[i])) {
            *out = (enum ml_post)i;
            return 0;
        }
    return ops_fail(call, "post_transform '%s' is not one of NONE, SOFTMAX, LOGISTIC, SOFTMAX_ZERO, PROBIT",
                    ml_attr_string(call, "post_transform", "?"));
}

double ml_logistic(double x)
{
    return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
}

/* Acklam's rational approximation (relative error 1.2e-9), then one Halley
 * step against erfc to reach double precision. */
double ml_probit(double p)
{
    if (isnan(p) || p < 0 || p > 1)
        return NAN;
    if (p == 0)
        return -INFINITY;
    if (p == 1)
        return INFINITY;
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,  -2.759285104469687e+02,
                               1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                               6.680131188771972e+01, -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                               -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    const double low = 0.02425;
    double x;
    if (p < low || p > 1 - low) {
        double q = sqrt(-2 * log(p < low ? p : 1 - p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        if (p > 1 - low)
            x = -x;
    } else {
        double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }
    double e = 0.5 * erfc(-x / sqrt(2)) - p;
    double u = e * sqrt(2 * M_PI) * exp(x * x / 2);
    return x - u / (1 + x * u / 2);
}

void ml_apply_post(enum ml_post post, double *s, int64_t n)
{
    double max = -INFINITY, sum = 0;
    switch (post) {
    case ML_POST_NONE: return;
    case ML_POST_LOGISTIC:
        for (int64_t i = 0; i < n; i++)
            s[i] = ml_logistic(s[i]);
        return;
    case ML_POST_PROBIT:
        for (int64_t i = 0; i < n; i++)
            s[i] = ml_probit(s[i]);
        return;
    case ML_POST_SOFTMAX:
        for (int64_t i = 0; i < n; i++)
            max = s[i] > max ? s[i] : max;
        for (int64_t i = 0; i < n; i++)
            sum += s[i] = exp(s[i] - max);
        for (int64_t i = 0; i < n; i++)
            s[i] /= sum;
        return;
    case ML_POST_SOFTMAX_ZERO: /* a softmax over the non-zero scores; zeros stay zero */
        for (int64_t i = 0; i < n; i++)
            if (s[i] != 0 && s[i] > max)
                max = s[i];
        for (int64_t i = 0; i < n; i++)
            if (s[i] != 0)
                sum += s[i] = exp(s[i] - max);
        for (int64_t i = 0; i < n && sum > 0; i++)
            s[i] /= sum;
        return;
    }
}

int ml_attr_doubles(const struct op_call *call, const char *name, double **out, int64_t *n)
{
    char tensor_name[96];
    snprintf(tensor_name, sizeof tensor_name, "%s_as_tensor", name);
    const Onnx__AttributeProto *at = ops_attr(call, tensor_name), *a = ops_attr(call, name);
    *out = NULL;
    *n = 0;
    if (at && at->t) {
        struct tensor t;
        if (at->t->data_type != TENSOR_FLOAT && at->t->data_type != TENSOR_DOUBLE)
            return ops_fail(call, "attribute %s must hold float or double values", tensor_name);
        int rc = ops_tensor_from_proto(call, &t, at->t);
        if (rc)
            return rc;
        *n = tensor_element_count(&t);
        *out = arena_alloc(call->arena, (size_t)*n * sizeof **out + 1);
        if (!*out)
            return err_set(ERR_LIMIT, "request memory limit reached");
        for (int64_t i = 0; i < *n; i++)
            (*out)[i] = tensor_load(t.type, t.data, i);
        return 0;
    }
    if (!a || !a->n_floats)
        return 0;
    *n = (int64_t)a->n_floats;
    *out = arena_alloc(call->arena, (size_t)*n * sizeof **out + 1);
    if (!*out)
        return err_set(ERR_LIMIT, "request memory limit reached");
    for (int64_t i = 0; i < *n; i++)
        (*out)[i] = a->floats[i];
    return 0;
}

int ml_int64_labels(const struct op_call *call, const char *ints_name, const char *strings_name, const int64_t **labels,
                    int64_t *n)
{
    const Onnx__AttributeProto *s = ops_attr(call, strings_name);
    size_t count;
    *labels = ops_attr_ints(call, ints_name, &count);
    *n = (int64_t)count;
    if (!count && s && s->n_strings)
        return ops_unsupported(call,
                               "string class labels (%s) are not supported: the engine has no string "
                               "tensors; export the model with integer labels (%s)",
                               strings_name, ints_name);
    return 0;
}

int ml_rows(const struct op_call *call, const struct tensor *x, int64_t *n, int64_t *c)
{
    if (!ops_is_numeric(x->type))
        return ops_unsupported(call, "input of type %s is not supported", tensor_type_name(x->type));
    if (x->rank == 1) {
        *n = 1;
        *c = x->dims[0];
    } else if (x->rank == 2) {
        *n = x->dims[0];
        *c = x->dims[1];
    } else
        return ops_fail(call, "the input must be [N, C] or [C], got rank %d", x->rank);
    return 0;
}

int64_t ml_argmax(const double *v, int64_t n)
{
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

const char *ops_ml_string_attribute(const Onnx__NodeProto *node)
{
    /* ZipMap's string labels only name JSON members: it needs no string tensor. */
    if (!node->domain || strcmp(node->domain, "ai.onnx.ml") != 0 || !node->op_type ||
        strcmp(node->op_type, "ZipMap") == 0)
        return NULL;
    for (size_t i = 0; i < node->n_attribute; i++) {
        const Onnx__AttributeProto *a = node->attribute[i];
        if (a->name && a->n_strings &&
            (strcmp(a->name, "classlabels_strings") == 0 || strcmp(a->name, "cats_strings") == 0))
            return a->name;
    }
    return NULL;
}
