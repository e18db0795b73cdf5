/* LinearRegressor and LinearClassifier (ai.onnx.ml): scores = X · coefficientsᵀ + intercepts. */
#include "ml.h"

#include "common/err.h"

/* Scores of every row of x against the E rows of coef (E·C values) into s[N·E]. */
static void linear_scores(const struct tensor *x, int64_t n, int64_t c, const double *coef, const double *icpt,
                          int64_t n_icpt, int64_t e, double *s)
{
    for (int64_t r = 0; r < n; r++)
        for (int64_t t = 0; t < e; t++) {
            double v = n_icpt ? icpt[n_icpt == 1 ? 0 : t] : 0;
            for (int64_t k = 0; k < c; k++)
                v += coef[t * c + k] * tensor_load(x->type, x->data, r * c + k);
            s[r * e + t] = v;
        }
}

/* Reads coefficients/intercepts and checks them against C features; sets *e, the number of targets. */
static int linear_params(const struct op_call *call, int64_t c, double **coef, double **icpt, int64_t *n_icpt,
                         int64_t *e)
{
    int64_t n_coef;
    int rc = ml_attr_doubles(call, "coefficients", coef, &n_coef);
    if (!rc)
        rc = ml_attr_doubles(call, "intercepts", icpt, n_icpt);
    if (rc)
        return rc;
    if (c <= 0 || n_coef == 0 || n_coef % c)
        return ops_fail(call, "%lld coefficients do not divide into rows of %lld features", (long long)n_coef,
                        (long long)c);
    *e = n_coef / c;
    if (*n_icpt > 1 && *n_icpt != *e)
        return ops_fail(call, "%lld intercepts for %lld coefficient rows", (long long)*n_icpt, (long long)*e);
    return 0;
}

int op_linear_regressor(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    int64_t n, c, n_icpt, e;
    double *coef, *icpt;
    enum ml_post post;
    int rc = ml_rows(call, x, &n, &c);
    if (!rc)
        rc = ml_post_transform(call, &post);
    if (!rc)
        rc = linear_params(call, c, &coef, &icpt, &n_icpt, &e);
    if (rc)
        return rc;
    int64_t targets = ops_attr_int(call, "targets", 1);
    if (targets != e)
        return ops_fail(call, "targets is %lld but the coefficients hold %lld rows of %lld features",
                        (long long)targets, (long long)e, (long long)c);
    double *s = arena_alloc(call->arena, (size_t)(n * e) * sizeof *s + 1);
    int64_t dims[2] = {n, e};
    if (!s)
        return err_set(ERR_LIMIT, "request memory limit reached");
    if ((rc = ops_alloc_output(call, 0, TENSOR_FLOAT, 2, dims)))
        return rc;
    linear_scores(x, n, c, coef, icpt, n_icpt, e, s);
    for (int64_t r = 0; r < n; r++) {
        ml_apply_post(post, s + r * e, e);
        for (int64_t t = 0; t < e; t++)
            ((float *)call->outputs[0].data)[r * e + t] = (float)s[r * e + t];
    }
    return 0;
}

/* One score per class, or a single score for a binary model, whose classes
 * then score [-s, s] (the label is the class with the larger). */
int op_linear_classifier(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    int64_t n, c, n_icpt, e, n_labels;
    const int64_t *labels;
    double *coef, *icpt;
    enum ml_post post;
    int rc = ml_rows(call, x, &n, &c);
    if (!rc)
        rc = ml_post_transform(call, &post);
    if (!rc)
        rc = ml_int64_labels(call, "classlabels_ints", "classlabels_strings", &labels, &n_labels);
    if (!rc)
        rc = linear_params(call, c, &coef, &icpt, &n_icpt, &e);
    if (rc)
        return rc;
    int binary = e == 1 && n_labels == 2;
    if (!binary && n_labels && n_labels != e)
        return ops_fail(call, "%lld class labels for %lld coefficient rows", (long long)n_labels, (long long)e);
    int64_t cols = binary ? 2 : e;
    double *s = arena_alloc(call->arena, (size_t)(n * e + cols) * sizeof *s + 1);
    int64_t dims[2] = {n, cols};
    if (!s)
        return err_set(ERR_LIMIT, "request memory limit reached");
    if ((rc = ops_alloc_output(call, 0, TENSOR_INT64, 1, dims)))
        return rc;
    if (call->n_outputs > 1 && (rc = ops_alloc_output(call, 1, TENSOR_FLOAT, 2, dims)))
        return rc;
    linear_scores(x, n, c, coef, icpt, n_icpt, e, s);
    double *row = s + n * e;
    for (int64_t r = 0; r < n; r++) {
        if (binary) {
            row[0] = -s[r];
            row[1] = s[r];
        } else
            for (int64_t t = 0; t < e; t++)
                row[t] = s[r * e + t];
        ml_apply_post(post, row, cols);
        int64_t label;
        if (cols > 1)
            label = ml_argmax(row, cols);
        else /* one score, no pair of labels: positive or not */
            label = row[0] > (post == ML_POST_NONE ? 0 : 0.5);
        ((int64_t *)call->outputs[0].data)[r] = n_labels && label < n_labels ? labels[label] : label;
        for (int64_t t = 0; call->n_outputs > 1 && t < cols; t++)
            ((float *)call->outputs[1].data)[r * cols + t] = (float)row[t];
    }
    return 0;
}
