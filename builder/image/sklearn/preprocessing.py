"""Scalers, normalizers, imputers, binarizer and one-hot encoding, with the
same float64 operations scikit-learn's transform applies (so the results are
the same numbers, not merely close ones)."""
import numpy as np

from graph import BOOL, DOUBLE, Unsupported

TRANSFORMERS = ("StandardScaler", "MinMaxScaler", "MaxAbsScaler", "RobustScaler", "Normalizer", "Binarizer",
                "SimpleImputer", "OneHotEncoder")


def _row(values):
    return np.asarray(values, dtype=np.float64).reshape(1, -1)


def transform(g, est, x, width):
    name = type(est).__name__
    x = g.double(x)
    if name == "StandardScaler":
        if est.with_mean and est.mean_ is not None:
            x = g.op("Sub", [x, g.const(_row(est.mean_), "mean")], DOUBLE)
        if est.with_std and est.scale_ is not None:
            x = g.op("Div", [x, g.const(_row(est.scale_), "scale")], DOUBLE)
        return x, width
    if name == "MinMaxScaler":
        x = g.op("Mul", [x, g.const(_row(est.scale_), "scale")], DOUBLE)
        x = g.op("Add", [x, g.const(_row(est.min_), "min")], DOUBLE)
        if getattr(est, "clip", False):
            lo, hi = est.feature_range
            x = g.op("Clip", [x, g.const(lo, "lo"), g.const(hi, "hi")], DOUBLE)
        return x, width
    if name == "MaxAbsScaler":
        return g.op("Div", [x, g.const(_row(est.scale_), "scale")], DOUBLE), width
    if name == "RobustScaler":
        if est.with_centering:
            x = g.op("Sub", [x, g.const(_row(est.center_), "center")], DOUBLE)
        if est.with_scaling:
            x = g.op("Div", [x, g.const(_row(est.scale_), "scale")], DOUBLE)
        return x, width
    if name == "Normalizer":
        if est.norm == "l2":
            norm = g.op("Sqrt", [g.rows_sum(g.op("Mul", [x, x], DOUBLE))], DOUBLE)
        elif est.norm == "l1":
            norm = g.rows_sum(g.op("Abs", [x], DOUBLE))
        elif est.norm == "max":
            norm = g.op("ReduceMax", [g.op("Abs", [x], DOUBLE)], DOUBLE, axes=[1], keepdims=1)
        else:
            raise Unsupported(f"Normalizer with norm='{est.norm}'")
        zero = g.op("Equal", [norm, g.const([[0.0]], "zero")], BOOL)
        norm = g.op("Where", [zero, g.const([[1.0]], "one"), norm], DOUBLE)  # all-zero rows stay zero
        return g.op("Div", [x, norm], DOUBLE), width
    if name == "Binarizer":
        above = g.op("Greater", [x, g.const([[float(est.threshold)]], "threshold")], BOOL)
        return g.cast(above, DOUBLE), width
    if name == "SimpleImputer":
        return _imputer(g, est, x, width)
    if name == "OneHotEncoder":
        return _one_hot(g, est, x, width)
    raise Unsupported(name)


def _imputer(g, est, x, width):
    if getattr(est, "add_indicator", False):
        raise Unsupported("SimpleImputer with add_indicator=True")
    stats = np.asarray(est.statistics_)
    if stats.dtype.kind not in "fiub":
        raise Unsupported("SimpleImputer with non-numeric fill values")
    stats = stats.astype(np.float64)
    mv = est.missing_values
    if mv is None or (isinstance(mv, float) and np.isnan(mv)):
        missing = g.op("IsNaN", [x], BOOL)
    elif isinstance(mv, (int, float, np.number)):
        missing = g.op("Equal", [x, g.const([[float(mv)]], "missing")], BOOL)
    else:
        raise Unsupported(f"SimpleImputer with missing_values={mv!r}")
    x = g.op("Where", [missing, g.const(_row(np.nan_to_num(stats)), "fill"), x], DOUBLE)
    keep = [j for j in range(width) if not np.isnan(stats[j])]
    if len(keep) != width and not getattr(est, "keep_empty_features", False):
        x = g.columns(x, keep)  # scikit-learn drops features that were all missing in training
        width = len(keep)
    return x, width


def _one_hot(g, est, x, width):
    if getattr(est, "_infrequent_enabled", False):
        raise Unsupported("OneHotEncoder with infrequent categories (min_frequency / max_categories)")
    parts, total = [], 0
    drop = getattr(est, "drop_idx_", None)
    for j, cats in enumerate(est.categories_):
        cats = np.asarray(cats)
        if cats.dtype.kind not in "fiub":
            raise Unsupported(f"OneHotEncoder with non-numeric categories in column {j} "
                              f"({', '.join(repr(c) for c in cats.tolist()[:3])}): the native engine has no "
                              "string tensors")
        cats = cats.astype(np.float64)
        if np.isnan(cats).any():
            raise Unsupported(f"OneHotEncoder with NaN as a category in column {j}")
        if drop is not None and drop[j] is not None:
            cats = np.delete(cats, int(drop[j]))
        if len(cats) == 0:
            continue
        col = g.columns(x, [j])
        hit = g.op("Equal", [col, g.const(_row(cats), f"cats{j}")], BOOL)  # unknown values: all zeros
        parts.append(g.cast(hit, DOUBLE))
        total += len(cats)
    if not parts:
        raise Unsupported("OneHotEncoder that outputs no columns")
    out = parts[0] if len(parts) == 1 else g.op("Concat", parts, DOUBLE, axis=1)
    return out, total
