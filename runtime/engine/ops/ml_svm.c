/* SVMRegressor and SVMClassifier (ai.onnx.ml): libsvm's models (support
 * vectors, one-vs-one decision values, Platt probabilities with pairwise
 * coupling) and liblinear's (no support vectors: one weight row per class). */
#include "ml.h"

#include "common/err.h"

#include <math.h>
#include <string.h>

enum svm_kernel { K_LINEAR, K_POLY, K_RBF, K_SIGMOID };

struct svm_params {
    enum svm_kernel kernel;
    double gamma, coef0, degree; /* degree: an integer, kept as a double (a float attribute may be anything) */
};

static int svm_kernel_params(const struct op_call *call, struct svm_params *p)
{
    static const char *const names[] = {"LINEAR", "POLY", "RBF", "SIGMOID"};
    p->kernel = K_LINEAR;
    int known = ml_attr_is(call, "kernel_type", NULL);
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !known; i++)
        if (ml_attr_is(call, "kernel_type", names[i])) {
            p->kernel = (enum svm_kernel)i;
            known = 1;
        }
    if (!known)
        return ops_fail(call, "kernel_type '%s' is not one of LINEAR, POLY, RBF, SIGMOID",
                        ml_attr_string(call, "kernel_type", "?"));
    const Onnx__AttributeProto *kp = ops_attr(call, "kernel_params");
    size_t n = kp ? kp->n_floats : 0;
    p->gamma = n > 0 ? kp->floats[0] : 0;
    p->coef0 = n > 1 ? kp->floats[1] : 0;
    p->degree = n > 2 ? trunc(kp->floats[2]) : 0;
    return 0;
}

/* kernel(x row, v) for a vector of c doubles. */
static double svm_kernel(const struct svm_params *p, const struct tensor *x, int64_t off, const double *v, int64_t c)
{
    double s = 0;
    if (p->kernel == K_RBF) {
        for (int64_t k = 0; k < c; k++) {
            double d = tensor_load(x->type, x->data, off + k) - v[k];
            s += d * d;
        }
        return exp(-p->gamma * s);
    }
    for (int64_t k = 0; k < c; k++)
        s += tensor_load(x->type, x->data, off + k) * v[k];
    switch (p->kernel) {
    case K_POLY: return pow(p->gamma * s + p->coef0, p->degree);
    case K_SIGMOID: return tanh(p->gamma * s + p->coef0);
    default: return s;
    }
}

/* What both SVM operators read beside their own attributes: post_transform,
 * the kernel, and the coefficients, support vectors and rho of the model. */
struct svm_model {
    enum ml_post post;
    struct svm_params kp;
    double *coef, *sv, *rho;
    int64_t n_coef, n_sv_values, n_rho;
};

static int svm_read_model(const struct op_call *call, struct svm_model *m)
{
    int rc = ml_post_transform(call, &m->post);
    if (!rc)
        rc = svm_kernel_params(call, &m->kp);
    if (!rc)
        rc = ml_attr_doubles(call, "coefficients", &m->coef, &m->n_coef);
    if (!rc)
        rc = ml_attr_doubles(call, "support_vectors", &m->sv, &m->n_sv_values);
    if (!rc)
        rc = ml_attr_doubles(call, "rho", &m->rho, &m->n_rho);
    return rc;
}

int op_svm_regressor(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    struct svm_model m;
    int64_t n, c;
    int rc = ml_rows(call, x, &n, &c);
    if (!rc)
        rc = svm_read_model(call, &m);
    if (rc)
        return rc;
    int64_t n_sv = ops_attr_int(call, "n_supports", 0);
    int one_class = ops_attr_int(call, "one_class", 0) != 0;
    if (n_sv > 0 && (n_sv > (1 << 30) || m.n_sv_values != n_sv * c || m.n_coef != n_sv))
        return ops_fail(call, "%lld support vectors of %lld features need %lld values and %lld coefficients",
                        (long long)n_sv, (long long)c, (long long)(n_sv * c), (long long)n_sv);
    if (n_sv <= 0 && m.n_coef != c)
        return ops_fail(call, "a linear model needs %lld coefficients, has %lld", (long long)c, (long long)m.n_coef);
    int64_t dims[2] = {n, 1};
    if ((rc = ops_alloc_output(call, 0, TENSOR_FLOAT, 2, dims)))
        return rc;
    struct svm_params linear = {.kernel = K_LINEAR};
    for (int64_t r = 0; r < n; r++) {
        double s = m.n_rho ? m.rho[0] : 0;
        if (n_sv > 0)
            for (int64_t j = 0; j < n_sv; j++)
                s += m.coef[j] * svm_kernel(&m.kp, x, r * c, m.sv + j * c, c);
        else
            s += svm_kernel(&linear, x, r * c, m.coef, c);
        if (one_class)
            s = s > 0 ? 1 : -1;
        ml_apply_post(m.post, &s, 1);
        ((float *)call->outputs[0].data)[r] = (float)s;
    }
    return 0;
}

/* libsvm's pairwise coupling (Wu, Lin and Weng's second method): class
 * probabilities p from pairwise ones r[i][j] ≈ P(i | i or j), minimizing
 * Σ (r[j][i] p[i] - r[i][j] p[j])² by coordinate steps. q and qp are k·k and k scratch. */
static void pairwise_coupling(int64_t k, const double *r, double *p, double *q, double *qp)
{
    for (int64_t t = 0; t < k; t++) {
        p[t] = 1.0 / (double)k;
        q[t * k + t] = 0;
        for (int64_t j = 0; j < k; j++)
            if (j != t) {
                q[t * k + t] += r[j * k + t] * r[j * k + t];
                q[t * k + j] = -r[j * k + t] * r[t * k + j];
            }
    }
    int64_t max_iter = k > 100 ? k : 100;
    double eps = 0.005 / (double)k;
    for (int64_t it = 0; it < max_iter; it++) {
        double pqp = 0, max_error = 0;
        for (int64_t t = 0; t < k; t++) {
            qp[t] = 0;
            for (int64_t j = 0; j < k; j++)
                qp[t] += q[t * k + j] * p[j];
            pqp += p[t] * qp[t];
        }
        for (int64_t t = 0; t < k; t++)
            max_error = fmax(max_error, fabs(qp[t] - pqp));
        if (max_error < eps)
            break;
        for (int64_t t = 0; t < k; t++) {
            double diff = (pqp - qp[t]) / q[t * k + t];
            p[t] += diff;
            pqp = (pqp + diff * (diff * q[t * k + t] + 2 * qp[t])) / (1 + diff) / (1 + diff);
            for (int64_t j = 0; j < k; j++) {
                qp[j] = (qp[j] + diff * q[t * k + j]) / (1 + diff);
                p[j] /= 1 + diff;
            }
        }
    }
}

/* Outputs: the label by one-vs-one votes (libsvm) or the best class score
 * (liblinear), and the scores: class probabilities when prob_a is given, else
 * the k·(k-1)/2 decision values ([-s, s] for two classes) or the k class scores. */
int op_svm_classifier(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    struct svm_model m;
    int64_t n, c, k, n_pa, n_pb;
    const int64_t *labels;
    double *prob_a, *prob_b;
    int rc = ml_rows(call, x, &n, &c);
    if (!rc)
        rc = svm_read_model(call, &m);
    if (!rc)
        rc = ml_int64_labels(call, "classlabels_ints", "classlabels_strings", &labels, &k);
    if (!rc)
        rc = ml_attr_doubles(call, "prob_a", &prob_a, &n_pa);
    if (!rc)
        rc = ml_attr_doubles(call, "prob_b", &prob_b, &n_pb);
    if (rc)
        return rc;
    if (k < 2)
        return ops_fail(call, "classlabels_ints must name at least two classes");
    if (k > 65536) /* pairwise coupling needs k·k scratch */
        return ops_unsupported(call, "%lld classes is above 65536", (long long)k);
    size_t n_vpc;
    const int64_t *per_class = ops_attr_ints(call, "vectors_per_class", &n_vpc);
    int64_t n_sv = 0, pairs = k * (k - 1) / 2;
    for (size_t i = 0; i < n_vpc; i++) {
        if (per_class[i] < 0 || per_class[i] > (1 << 30))
            return ops_fail(call, "vectors_per_class[%zu] is out of range", i);
        n_sv += per_class[i];
        if (n_sv > (1 << 30))
            return ops_fail(call, "vectors_per_class adds up to more than 2^30 support vectors");
    }
    int libsvm = n_sv > 0;
    if (libsvm && ((int64_t)n_vpc != k || m.n_sv_values != n_sv * c || m.n_coef != (k - 1) * n_sv || m.n_rho != pairs))
        return ops_fail(call,
                        "%lld classes with %lld support vectors of %lld features need vectors_per_class for "
                        "each class, %lld support vector values, %lld coefficients and %lld rho",
                        (long long)k, (long long)n_sv, (long long)c, (long long)(n_sv * c), (long long)((k - 1) * n_sv),
                        (long long)pairs);
    if (!libsvm && (m.n_coef != k * c || (m.n_rho != 1 && m.n_rho != k)))
        return ops_fail(call,
                        "a linear model of %lld classes and %lld features needs %lld coefficients and 1 or "
                        "%lld rho",
                        (long long)k, (long long)c, (long long)(k * c), (long long)k);
    int proba = libsvm && n_pa > 0;
    if (proba && (n_pa != pairs || n_pb != pairs))
        return ops_fail(call, "prob_a and prob_b need %lld values each", (long long)pairs);
    int64_t cols = proba || !libsvm ? k : pairs == 1 ? 2 : pairs;
    int64_t dims[2] = {n, cols};
    double *kern = arena_alloc(call->arena, (size_t)(n_sv + 1) * sizeof(double));
    double *dec = arena_alloc(call->arena, (size_t)(pairs + k + 2) * sizeof(double));
    double *votes = arena_alloc(call->arena, (size_t)k * sizeof(double));
    double *r = arena_alloc(call->arena, (size_t)(2 * k * k + 2 * k) * sizeof(double));
    int64_t *start = arena_alloc(call->arena, (size_t)k * sizeof(int64_t));
    if (!kern || !dec || !votes || !r || !start)
        return err_set(ERR_LIMIT, "request memory limit reached");
    if ((rc = ops_alloc_output(call, 0, TENSOR_INT64, 1, dims)))
        return rc;
    if (call->n_outputs > 1 && (rc = ops_alloc_output(call, 1, TENSOR_FLOAT, 2, dims)))
        return rc;
    for (int64_t i = 0, at = 0; libsvm && i < k; i++) {
        start[i] = at;
        at += per_class[i];
    }
    struct svm_params linear = {.kernel = K_LINEAR};
    for (int64_t row = 0; row < n; row++) {
        double *out = dec;
        int64_t best;
        if (!libsvm) {
            for (int64_t j = 0; j < k; j++)
                out[j] = svm_kernel(&linear, x, row * c, m.coef + j * c, c) + m.rho[m.n_rho == k ? j : 0];
            ml_apply_post(m.post, out, k);
            best = ml_argmax(out, k);
        } else {
            for (int64_t j = 0; j < n_sv; j++)
                kern[j] = svm_kernel(&m.kp, x, row * c, m.sv + j * c, c);
            memset(votes, 0, (size_t)k * sizeof *votes);
            /* Pair (i, j): class i's vectors carry coefficient row j-1, class j's row i. */
            for (int64_t i = 0, e = 0; i < k; i++)
                for (int64_t j = i + 1; j < k; j++, e++) {
                    double s = m.rho[e];
                    for (int64_t v = start[i]; v < start[i] + per_class[i]; v++)
                        s += m.coef[(j - 1) * n_sv + v] * kern[v];
                    for (int64_t v = start[j]; v < start[j] + per_class[j]; v++)
                        s += m.coef[i * n_sv + v] * kern[v];
                    dec[e] = s;
                    votes[s > 0 ? i : j] += 1;
                }
            best = ml_argmax(votes, k);
            if (proba) {
                double *pr = r, *p = r + k * k, *q = r + k * k + k, *qp = dec + pairs;
                for (int64_t i = 0, e = 0; i < k; i++)
                    for (int64_t j = i + 1; j < k; j++, e++) {
                        double v = 1 - ml_logistic(dec[e] * prob_a[e] + prob_b[e]);
                        v = fmin(fmax(v, 1e-7), 1 - 1e-7);
                        pr[i * k + j] = v;
                        pr[j * k + i] = 1 - v;
                    }
                pairwise_coupling(k, pr, p, q, qp); /* for two classes too, as libsvm (and scikit-learn) do */
                memcpy(dec, p, (size_t)k * sizeof *p);
                ml_apply_post(m.post, dec, k);
            } else if (pairs == 1) {
                dec[1] = dec[0];
                dec[0] = -dec[1];
                ml_apply_post(m.post, dec, 2);
            } else
                ml_apply_post(m.post, dec, pairs);
        }
        ((int64_t *)call->outputs[0].data)[row] = labels[best];
        for (int64_t j = 0; call->n_outputs > 1 && j < cols; j++)
            ((float *)call->outputs[1].data)[row * cols + j] = (float)out[j];
    }
    return 0;
}
