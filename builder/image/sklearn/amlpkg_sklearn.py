"""amlpkg's scikit-learn converter, run by `amlpkg build` / `serve` in a
subprocess of the build machine's Python (unpickling runs the pickle's code:
it happens here, never inside amlpkg or amlserve).

  amlpkg_sklearn.py --model FILE --out DIR [--method predict|predict_proba|both]
                    [--sample FILE] [--check-rows N]

Writes DIR/model.onnx (input 'data' [N, F] double), DIR/check.json (rows and
scikit-learn's own outputs for them, which amlpkg compares with its engine),
DIR/input_sample.json and DIR/output_sample.json (for swagger), and prints a
one-line JSON summary. Errors: one line 'error: ...' on stderr, exit 1."""
import argparse
import bz2
import gzip
import json
import lzma
import os
import pickletools
import sys
import warnings
import zlib

PRODUCER = ("amlpkg-sklearn", "1")


class Failure(Exception):
    pass


def pickled_version(path):
    """The scikit-learn version a pickle was made with, read from its opcodes without running them."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise Failure(f"cannot read '{path}': {e.strerror}")
    for magic, unpack in ((b"\x1f\x8b", gzip.decompress), (b"BZh", bz2.decompress), (b"\xfd7zXZ", lzma.decompress),
                          (b"\x5d\x00\x00", lzma.decompress), (b"\x78", zlib.decompress)):
        if data.startswith(magic):
            try:
                data = unpack(data)
            except Exception:
                try:
                    data = zlib.decompressobj().decompress(data)
                except Exception:
                    pass
            break
    want = False
    try:
        for op, arg, _ in pickletools.genops(data):
            if isinstance(arg, str):
                if want:
                    return arg
                want = arg == "_sklearn_version"
    except Exception:
        pass  # joblib writes array bytes inside the pickle stream, which genops cannot step over
    return _version_after_key(data)


def _version_after_key(data):
    """The string pickled right after the first '_sklearn_version' key, read from the bytes around it."""
    at = data.find(b"_sklearn_version")
    if at < 0:
        return None
    i = at + len(b"_sklearn_version")
    while i < len(data):
        op = data[i]
        if op == 0x94:  # MEMOIZE
            i += 1
        elif op == ord("q"):  # BINPUT
            i += 2
        elif op == ord("r"):  # LONG_BINPUT
            i += 5
        elif op == 0x8C and i + 1 < len(data):  # SHORT_BINUNICODE
            n = data[i + 1]
            return data[i + 2:i + 2 + n].decode("utf-8", "replace")
        elif op == ord("X") and i + 4 < len(data):  # BINUNICODE
            n = int.from_bytes(data[i + 1:i + 5], "little")
            return data[i + 5:i + 5 + min(n, 64)].decode("utf-8", "replace")
        else:
            return None
    return None


def load(path, python):
    made_with = pickled_version(path)
    try:
        import sklearn
    except ImportError:
        raise Failure(f"{python} cannot import scikit-learn; install it for that Python (Debian: python3-sklearn) "
                      "or give --python with one that has it" + (f" (the pickle needs {made_with})" if made_with else ""))
    found = sklearn.__version__
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            try:
                import joblib
                est = joblib.load(path)
            except ImportError:
                import pickle
                with open(path, "rb") as f:
                    est = pickle.load(f)
        except Exception as e:
            detail = f"{type(e).__name__}: {e}".splitlines()[0][:300]
            if made_with and made_with != found:
                raise Failure(f"'{path}' was pickled with scikit-learn {made_with}; {python} has scikit-learn {found}, "
                              f"which cannot load it ({detail}); install scikit-learn {made_with} for a Python and "
                              "give it with --python")
            raise Failure(f"cannot unpickle '{path}' with scikit-learn {found}: {detail}")
    if made_with and made_with != found:
        print(f"warning: '{os.path.basename(path)}' was pickled with scikit-learn {made_with}, loaded with {found}; "
              "the exactness check below decides", file=sys.stderr)
    del caught
    return est, made_with, found


def read_sample(path, width):
    import numpy as np
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise Failure(f"input sample '{path}': {e}")
    rows = doc.get("data", doc.get("input_data")) if isinstance(doc, dict) else doc
    if isinstance(rows, dict) and "data" in rows:
        rows = rows["data"]
    try:
        x = np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError):
        raise Failure(f"input sample '{path}': 'data' is not a table of numbers")
    if x.ndim == 1:
        x = x.reshape(1, -1)
    if x.ndim != 2 or x.shape[1] != width or x.shape[0] == 0:
        raise Failure(f"input sample '{path}': expected rows of {width} numbers, got shape {list(x.shape)}")
    return x


def first_step(est):
    while type(est).__name__ == "Pipeline":
        steps = [s for _, s in est.steps if s is not None and not (isinstance(s, str) and s == "passthrough")]
        if not steps:
            return est
        est = steps[0]
    return est


def _shaping_step(est):
    """The first step that says what its input looks like, looking through Pipelines and past imputers."""
    while True:
        name = type(est).__name__
        if name == "Pipeline":
            steps = [s for _, s in est.steps if s is not None and not (isinstance(s, str) and s == "passthrough")]
            rest = [s for s in steps if type(s).__name__ != "SimpleImputer"]
            if not steps:
                return None
            est = rest[0] if rest and type(steps[0]).__name__ == "SimpleImputer" else steps[0]
            continue
        return est


def _fill(est, x, rng):
    """Shapes the columns of x (in place) as est's training data looked, where est says how."""
    import numpy as np
    n, width = x.shape
    step = _shaping_step(est)
    name = type(step).__name__
    if name == "ColumnTransformer":
        for tname, trans, _ in step.transformers_:
            cols = list(getattr(step, "_transformer_to_input_indices", {}).get(tname, []))
            if cols and not isinstance(trans, str):
                sub = x[:, cols]
                _fill(trans, sub, rng)
                x[:, cols] = sub
    elif name == "StandardScaler" and getattr(step, "mean_", None) is not None:
        scale = step.scale_ if step.scale_ is not None else np.ones(width)
        x[:] = step.mean_ + x * scale
    elif name == "MinMaxScaler":
        x[:] = step.data_min_ + rng.uniform(-0.1, 1.1, (n, width)) * step.data_range_
    elif name in ("MaxAbsScaler", "RobustScaler") and getattr(step, "scale_", None) is not None:
        center = getattr(step, "center_", None)
        x[:] = x * step.scale_ + (center if center is not None else 0)
    elif name == "OneHotEncoder":
        for j, cats in enumerate(step.categories_):
            cats = np.asarray(cats)
            if cats.dtype.kind in "fiub":
                x[:, j] = cats.astype(np.float64)[rng.randint(0, len(cats), n)]
    elif name in ("MultinomialNB", "ComplementNB", "BernoulliNB"):
        x[:] = rng.poisson(2.0, (n, width)).astype(np.float64)
    elif hasattr(step, "estimators_") or hasattr(step, "tree_"):
        lo, hi = np.full(width, -1.0), np.full(width, 1.0)
        trees = [step] if hasattr(step, "tree_") else np.ravel(step.estimators_)
        seen = [[] for _ in range(width)]
        for t in trees:
            t = getattr(t, "tree_", None)
            if t is None:
                continue
            for f, thr in zip(t.feature, t.threshold):
                if 0 <= f < width:
                    seen[f].append(thr)
        for f in range(width):
            if seen[f]:
                a, b = min(seen[f]), max(seen[f])
                pad = max(b - a, 1.0) * 0.2
                lo[f], hi[f] = a - pad, b + pad
        x[:] = lo + rng.uniform(0, 1, (n, width)) * (hi - lo)


def synth_rows(est, width, n):
    """Rows shaped like the training data where the model says how (scaler statistics, categories, tree
    thresholds, inside Pipelines and ColumnTransformers); standard normal otherwise. Fixed seed: the same
    pickle always gives the same rows."""
    import numpy as np
    rng = np.random.RandomState(20240)
    x = rng.standard_normal((n, width))
    _fill(est, x, rng)
    first = first_step(est)
    name = type(first).__name__
    # Models that take missing values are checked with some: a tenth of the values, never a whole row.
    takes_nan = name.startswith("HistGradientBoosting") or (
        name == "SimpleImputer" and isinstance(first.missing_values, float) and np.isnan(first.missing_values))
    if takes_nan and n > 1:
        holes = rng.uniform(size=x.shape) < 0.1
        holes[:, 0] &= ~holes[:, 1:].all(axis=1) if width > 1 else False
        x = np.where(holes, np.nan, x)
    return x


def expected(est, x, methods):
    import numpy as np
    out = {}
    names = getattr(est, "feature_names_in_", None)
    if names is not None:  # fitted on a DataFrame: give it one, columns in the fitted order
        try:
            import pandas as pd
            x = pd.DataFrame(x, columns=list(names))
        except ImportError:
            pass
    for m in methods:
        fn = getattr(est, m, None)
        if fn is None:
            raise Failure(f"{type(est).__name__} has no {m}")
        try:
            out[m] = np.asarray(fn(x))
        except Exception as e:
            raise Failure(f"scikit-learn's own {m} fails on the check rows: {type(e).__name__}: {e}")
    return out


def encode_output(v):
    import numpy as np
    v = np.asarray(v)
    if v.dtype.kind not in "iubf":
        raise Failure(f"scikit-learn's output has dtype {v.dtype}, not numbers")
    return {"shape": list(v.shape), "values": v.astype(np.float64).ravel().tolist()}


def main():
    ap = argparse.ArgumentParser(prog="amlpkg_sklearn.py")
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--method", default="predict", choices=["predict", "predict_proba", "both"])
    ap.add_argument("--sample")
    ap.add_argument("--check-rows", type=int, default=100)
    ap.add_argument("--python", default=sys.executable)
    a = ap.parse_args()
    import numpy as np

    import convert
    from graph import Graph, Unsupported

    est, made_with, found = load(a.model, a.python)
    width = getattr(est, "n_features_in_", None)
    if width is None:
        first = first_step(est)
        width = getattr(first, "n_features_in_", None)
    if not isinstance(width, (int, np.integer)) or width < 1:
        raise Failure(f"'{a.model}' holds {convert.qualified(est)}, which has no n_features_in_ (is it fitted? "
                      "is it a scikit-learn estimator?)")
    width = int(width)
    methods = ["predict", "predict_proba"] if a.method == "both" else [a.method]
    g = Graph(width)
    try:
        kind, result = convert.convert(g, est, "data", width)
        if kind != "predict":
            raise Unsupported(f"{convert.describe(est)} only transforms; no-code scoring needs a model that predicts "
                              "(end the Pipeline with an estimator)")
        missing = [m for m in methods if m not in result]
        if missing:
            raise Unsupported(f"{convert.describe(est)} has no {missing[0]} that converts"
                              + (" (scikit-learn has none either)" if not hasattr(est, missing[0]) else "")
                              + "; use method: predict")
        model = g.finish([(m, *result[m]) for m in methods], PRODUCER,
                         f"converted by amlpkg from {os.path.basename(a.model)}: {convert.describe(est)}, "
                         f"scikit-learn {found}")
    except Unsupported as e:
        raise Failure(str(e))
    x = read_sample(a.sample, width) if a.sample else synth_rows(est, width, max(1, a.check_rows))
    want = expected(est, x, methods)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "model.onnx"), "wb") as f:
        f.write(model)
    with open(os.path.join(a.out, "check.json"), "w") as f:
        json.dump({"input": x.tolist(), "outputs": {m: encode_output(v) for m, v in want.items()}}, f)
    sample_rows = x[:2]
    with open(os.path.join(a.out, "input_sample.json"), "w") as f:
        json.dump({"data": sample_rows.tolist()}, f)
    sample_out = {m: np.asarray(v)[:2].tolist() for m, v in want.items()}
    with open(os.path.join(a.out, "output_sample.json"), "w") as f:
        json.dump(sample_out[methods[0]] if len(methods) == 1 else sample_out, f)
    print(json.dumps({"estimator": convert.describe(est), "n_features": width, "outputs": methods,
                      "rows": int(x.shape[0]), "scikit_learn": found, "pickled_with": made_with}))


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    try:
        main()
    except Failure as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    except Exception as e:  # a converter bug: say so, with where it happened
        import traceback
        traceback.print_exc()
        print(f"error: internal converter error: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
