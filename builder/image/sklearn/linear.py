"""Linear models: X @ coef_.T + intercept_ in double, as scikit-learn computes
them, then the model's link (identity, exp, logistic, softmax)."""
import numpy as np

from graph import BOOL, DOUBLE, INT64, Unsupported

REGRESSORS = ("LinearRegression", "Ridge", "RidgeCV", "Lasso", "LassoCV", "ElasticNet", "ElasticNetCV", "Lars",
              "LarsCV", "LassoLars", "LassoLarsCV", "LassoLarsIC", "OrthogonalMatchingPursuit",
              "OrthogonalMatchingPursuitCV", "BayesianRidge", "ARDRegression", "SGDRegressor", "HuberRegressor",
              "TheilSenRegressor", "QuantileRegressor", "LinearSVR", "PassiveAggressiveRegressor",
              "PoissonRegressor", "GammaRegressor", "TweedieRegressor")
CLASSIFIERS = ("LogisticRegression", "LogisticRegressionCV", "SGDClassifier", "RidgeClassifier",
               "RidgeClassifierCV", "LinearSVC", "Perceptron", "PassiveAggressiveClassifier")


def _scores(g, est, x):
    coef = np.atleast_2d(np.asarray(est.coef_, dtype=np.float64))
    icpt = np.broadcast_to(np.asarray(est.intercept_, dtype=np.float64), (coef.shape[0],))
    x = g.double(x)
    s = g.dot(x, coef, "coef")
    return g.op("Add", [s, g.const(icpt.reshape(1, -1), "intercept")], DOUBLE)


def regressor(g, est, x, width):
    s = _scores(g, est, x)
    name = type(est).__name__
    link = "identity"
    if name in ("PoissonRegressor", "GammaRegressor", "TweedieRegressor"):
        link = type(est._base_loss.link).__name__ if hasattr(est, "_base_loss") else "LogLink"
        if link == "LogLink":
            s = g.op("Exp", [s], DOUBLE)
        elif link != "IdentityLink":
            raise Unsupported(f"{name} with the {link} link")
    multi = np.ndim(est.coef_) == 2 and np.shape(est.coef_)[0] > 1
    return {"predict": (s, 2) if multi else (g.flatten(s), 1)}


def _ovr(est):
    """LogisticRegression's one-vs-rest rule (scikit-learn 1.0-1.4)."""
    mc = getattr(est, "multi_class", "auto")
    if len(est.classes_) <= 2:
        return True
    if mc in ("ovr", "warn"):
        return True
    return mc == "auto" and getattr(est, "solver", "") == "liblinear"


def classifier(g, est, x, width):
    name = type(est).__name__
    s = _scores(g, est, x)
    classes = est.classes_
    out = {}
    if len(classes) == 2:
        # binary: one score column; class 1 where it is > 0
        idx = g.cast(g.op("Greater", [s, g.const([[0.0]], "zero")], BOOL), INT64)
        out["predict"] = (g.labels(classes, g.flatten(idx)), 1)
    else:
        out["predict"] = (g.argmax_labels(classes, s), 1)
    proba = None
    if name in ("LogisticRegression", "LogisticRegressionCV"):
        if _ovr(est):
            p = g.op("Sigmoid", [s], DOUBLE)
            proba = g.binary_proba(p) if len(classes) == 2 else g.op("Div", [p, g.rows_sum(p)], DOUBLE)
        else:
            proba = g.softmax(s)
    elif name == "SGDClassifier" and est.loss in ("log_loss", "log"):
        p = g.op("Sigmoid", [s], DOUBLE)
        proba = g.binary_proba(p) if len(classes) == 2 else g.op("Div", [p, g.rows_sum(p)], DOUBLE)
    if proba is not None:
        out["predict_proba"] = (proba, 2)
    return out
