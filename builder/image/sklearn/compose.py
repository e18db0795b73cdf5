"""ColumnTransformer: each transformer reads its columns (by position; a model
fitted on a DataFrame maps its column names to positions through
feature_names_in_, since requests send rows of numbers), and the outputs are
concatenated in scikit-learn's order, passthrough and remainder included."""
from graph import DOUBLE, Unsupported

TRANSFORMERS = ("ColumnTransformer",)


def _is(value, text):
    return isinstance(value, str) and value == text


def transform(g, est, x, width, convert, where):
    """convert: the dispatcher (convert.convert), for the transformers inside."""
    indices = getattr(est, "_transformer_to_input_indices", None)
    if indices is None:
        raise Unsupported("ColumnTransformer without _transformer_to_input_indices (scikit-learn before 1.0)")
    parts, total = [], 0
    for name, trans, _ in est.transformers_:
        cols = [int(i) for i in indices.get(name, [])]
        if _is(trans, "drop") or not cols:
            continue
        sub = g.columns(g.double(x), cols)
        if _is(trans, "passthrough"):
            parts.append(sub)
            total += len(cols)
            continue
        kind, result = convert(g, trans, sub, len(cols), f"{where}ColumnTransformer '{name}': ")
        if kind != "transform":
            raise Unsupported(f"{where}ColumnTransformer '{name}' predicts instead of transforming")
        y, w = result
        parts.append(g.double(y))
        total += w
    if not parts:
        raise Unsupported(f"{where}ColumnTransformer outputs no columns")
    return (parts[0] if len(parts) == 1 else g.op("Concat", parts, DOUBLE, axis=1)), total
