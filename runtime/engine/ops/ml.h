/* Helpers shared by the ONNX-ML kernels (domain "ai.onnx.ml", the operators
 * converted scikit-learn models use): attribute readers, class labels, the
 * [N, C] view of a feature input, and the post_transform every classifier and
 * regressor applies to its scores.
 *
 * The engine has no string tensors: operators given string labels or string
 * categories report ERR_UNSUPPORTED naming the attribute. */
#ifndef AMLSERVE_OPS_ML_H
#define AMLSERVE_OPS_ML_H

#include "ops.h"

enum ml_post { ML_POST_NONE, ML_POST_SOFTMAX, ML_POST_LOGISTIC, ML_POST_SOFTMAX_ZERO, ML_POST_PROBIT };

/* Whether string attribute name equals value (absent: NULL value matches). */
int ml_attr_is(const struct op_call *call, const char *name, const char *value);
/* The string attribute name copied into the arena, def when absent. */
const char *ml_attr_string(const struct op_call *call, const char *name, const char *def);
/* post_transform; ERR_INVALID for a value the spec does not define. */
int ml_post_transform(const struct op_call *call, enum ml_post *out);
/* Applies post to one row of n scores in place. */
void ml_apply_post(enum ml_post post, double *scores, int64_t n);
double ml_logistic(double x);
/* The inverse of the standard normal CDF (PROBIT). */
double ml_probit(double p);
/* A float list attribute as doubles in the arena, or its "<name>_as_tensor"
 * twin (ai.onnx.ml opset 3, float or double) when present; *n = 0 when both
 * are absent. */
int ml_attr_doubles(const struct op_call *call, const char *name, double **out, int64_t *n);
/* int64 class labels from ints_name; ERR_UNSUPPORTED when the node has string
 * labels instead (strings_name); *n = 0 when neither is given. */
int ml_int64_labels(const struct op_call *call, const char *ints_name, const char *strings_name, const int64_t **labels,
                    int64_t *n);
/* Features input x as rows: [N, C] or [C] (one row). Numeric types only. */
int ml_rows(const struct op_call *call, const struct tensor *x, int64_t *n, int64_t *c);
/* Index of the first largest of n values. */
int64_t ml_argmax(const double *v, int64_t n);

#endif
