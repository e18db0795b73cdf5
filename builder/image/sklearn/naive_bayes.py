"""Naive Bayes (Gaussian, multinomial, Bernoulli, complement): the joint log
likelihood as matrix products in double, then scikit-learn's argmax and
normalisation (softmax of the log likelihoods)."""
import numpy as np

from graph import BOOL, DOUBLE

CLASSIFIERS = ("GaussianNB", "MultinomialNB", "BernoulliNB", "ComplementNB")


def _jll(g, est, x):
    name = type(est).__name__
    x = g.double(x)
    if name == "GaussianNB":
        var = np.asarray(est.var_, dtype=np.float64)
        theta = np.asarray(est.theta_, dtype=np.float64)
        # per class, as scikit-learn: log prior - 0.5 sum(log(2 pi var)) - 0.5 sum((x - theta)^2 / var)
        xi = g.op("Unsqueeze", [x, g.ints([1], "axis1")], DOUBLE)  # [N, 1, F] against [K, F]
        d = g.op("Sub", [xi, g.const(theta, "theta")], DOUBLE)
        d = g.op("Div", [g.op("Mul", [d, d], DOUBLE), g.const(var, "var")], DOUBLE)
        n_ij = g.op("ReduceSum", [d, g.ints([2], "axis2")], DOUBLE, keepdims=0)
        n_ij = g.op("Mul", [n_ij, g.const([[-0.5]], "half")], DOUBLE)
        const = -0.5 * np.sum(np.log(2.0 * np.pi * var), axis=1)
        n_ij = g.op("Add", [g.const(const.reshape(1, -1), "norm"), n_ij], DOUBLE)
        return g.op("Add", [g.const(np.log(est.class_prior_).reshape(1, -1), "prior"), n_ij], DOUBLE)
    flp = np.asarray(est.feature_log_prob_, dtype=np.float64)
    if name == "BernoulliNB":
        if est.binarize is not None:
            x = g.cast(g.op("Greater", [x, g.const([[float(est.binarize)]], "binarize")], BOOL), DOUBLE)
        neg = np.log(1 - np.exp(flp))
        const = est.class_log_prior_ + neg.sum(axis=1)
        s = g.dot(x, flp - neg, "flp")
        return g.op("Add", [s, g.const(const.reshape(1, -1), "const")], DOUBLE)
    s = g.dot(x, flp, "flp")
    if name == "MultinomialNB" or len(est.classes_) == 1:
        s = g.op("Add", [s, g.const(np.asarray(est.class_log_prior_).reshape(1, -1), "prior")], DOUBLE)
    return s


def classifier(g, est, x, width):
    jll = _jll(g, est, x)
    return {"predict": (g.argmax_labels(est.classes_, jll), 1),
            "predict_proba": (g.softmax(jll), 2)}
