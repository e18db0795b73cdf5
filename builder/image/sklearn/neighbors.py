"""k-nearest neighbours (KNeighborsClassifier / Regressor, brute force):
distances to every training row in double, TopK, then scikit-learn's vote or
mean (uniform or distance weights). The training rows travel in the model, and
each request computes an [N, M, F] difference: fine for the thousands of rows
a kNN model usually holds, heavy for very large ones."""
import numpy as np

from graph import BOOL, DOUBLE, INT64, Unsupported

REGRESSORS = ("KNeighborsRegressor",)
CLASSIFIERS = ("KNeighborsClassifier",)


def _neighbours(g, est, x):
    """(indices [N, k] int64, distances [N, k] double) of the k nearest training rows."""
    metric = est.effective_metric_
    if metric not in ("euclidean", "manhattan"):
        raise Unsupported(f"{type(est).__name__} with metric {metric!r} (euclidean and manhattan convert)")
    if callable(est.weights) or est.weights not in ("uniform", "distance"):
        raise Unsupported(f"{type(est).__name__} with weights={est.weights!r}")
    fit_x = np.asarray(est._fit_X, dtype=np.float64)
    xi = g.op("Unsqueeze", [g.double(x), g.ints([1], "axis1")], DOUBLE)  # [N, 1, F] against [M, F]
    diff = g.op("Sub", [xi, g.const(fit_x, "fit_x")], DOUBLE)
    if metric == "euclidean":
        d = g.op("ReduceSum", [g.op("Mul", [diff, diff], DOUBLE), g.ints([2], "axis2")], DOUBLE, keepdims=0)
    else:
        d = g.op("ReduceSum", [g.op("Abs", [diff], DOUBLE), g.ints([2], "axis2")], DOUBLE, keepdims=0)
    k = int(est.n_neighbors)
    if k > fit_x.shape[0]:
        raise Unsupported(f"{type(est).__name__} with n_neighbors={k} above its {fit_x.shape[0]} training rows")
    dist, idx = g.op("TopK", [d, g.ints([k], "k")], [DOUBLE, INT64], axis=1, largest=0, sorted=1)
    if metric == "euclidean":
        dist = g.op("Sqrt", [dist], DOUBLE)
    return idx, dist


def _weights(g, est, dist):
    """scikit-learn's _get_weights: 1/d, and in a row with a zero distance, 1 for those neighbours only."""
    if est.weights == "uniform":
        return None
    zero = g.op("Equal", [dist, g.const([[0.0]], "zero")], BOOL)
    any_zero = g.op("ReduceMax", [g.cast(zero, DOUBLE)], DOUBLE, axes=[1], keepdims=1)
    safe = g.op("Where", [zero, g.const([[1.0]], "one"), dist], DOUBLE)
    inv = g.op("Div", [g.const([[1.0]], "one"), safe], DOUBLE)
    has_zero = g.op("Greater", [any_zero, g.const([[0.0]], "zero")], BOOL)
    return g.op("Where", [has_zero, g.cast(zero, DOUBLE), inv], DOUBLE)


def classifier(g, est, x, width):
    if np.ndim(est._y) != 1:
        raise Unsupported(f"{type(est).__name__} with several outputs")
    idx, dist = _neighbours(g, est, x)
    k_classes = len(est.classes_)
    cls = g.op("Gather", [g.ints(np.asarray(est._y, dtype=np.int64), "fit_y"), idx], INT64, axis=0)  # [N, k]
    votes = g.op("OneHot", [cls, g.ints([k_classes], "depth"), g.const([0.0, 1.0], "onoff")], DOUBLE, axis=-1)
    w = _weights(g, est, dist)
    if w is not None:
        votes = g.op("Mul", [votes, g.op("Unsqueeze", [w, g.ints([2], "axis2")], DOUBLE)], DOUBLE)
    counts = g.op("ReduceSum", [votes, g.ints([1], "axis1")], DOUBLE, keepdims=0)  # [N, classes]
    proba = g.op("Div", [counts, g.rows_sum(counts)], DOUBLE)
    return {"predict": (g.argmax_labels(est.classes_, counts), 1), "predict_proba": (proba, 2)}


def regressor(g, est, x, width):
    if np.ndim(est._y) != 1:
        raise Unsupported(f"{type(est).__name__} with several targets")
    idx, dist = _neighbours(g, est, x)
    y = g.op("Gather", [g.const(np.asarray(est._y, dtype=np.float64), "fit_y"), idx], DOUBLE, axis=0)  # [N, k]
    w = _weights(g, est, dist)
    if w is None:
        pred = g.op("ReduceMean", [y], DOUBLE, axes=[1], keepdims=0)
    else:
        num = g.op("ReduceSum", [g.op("Mul", [y, w], DOUBLE), g.ints([1], "axis1")], DOUBLE, keepdims=0)
        den = g.op("ReduceSum", [w, g.ints([1], "axis1")], DOUBLE, keepdims=0)
        pred = g.op("Div", [num, den], DOUBLE)
    return {"predict": (pred, 1)}
