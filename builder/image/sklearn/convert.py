"""Which converter handles which estimator, and Pipelines of them.

Each family module lists the scikit-learn class names it converts; a
transformer returns (value, width), a final estimator {output: (value, rank)}.
Anything else is refused by name, with the alternative."""
import compose
import hist_boosting
import linear
import naive_bayes
import neighbors
import preprocessing
import svm
import trees
from graph import Unsupported

FAMILIES = {}
for _mod in (linear, trees, hist_boosting, svm, naive_bayes, neighbors):
    for _name in getattr(_mod, "REGRESSORS", ()):
        FAMILIES[_name] = ("predict", _mod.regressor)
    for _name in getattr(_mod, "CLASSIFIERS", ()):
        FAMILIES[_name] = ("predict", _mod.classifier)
for _name in preprocessing.TRANSFORMERS:
    FAMILIES[_name] = ("transform", preprocessing.transform)


def qualified(est):
    return f"{type(est).__module__}.{type(est).__name__}"


def describe(est):
    if type(est).__name__ == "Pipeline":
        return "Pipeline(" + ", ".join(describe(s) for _, s in est.steps if s not in (None, "passthrough")) + ")"
    return type(est).__name__


def refuse(est, where):
    return Unsupported(f"{where}{qualified(est)} cannot be converted to ONNX-ML by amlpkg; score it with an entry "
                       "script (inference.entry_script) on a Python base image instead")


def _module_ok(est):
    return type(est).__module__.split(".")[0] == "sklearn"


def convert(g, est, x, width, where=""):
    """Returns (kind, result): ('transform', (value, width)) or ('predict', {output: (value, rank)})."""
    name = type(est).__name__
    if name == "Pipeline" and _module_ok(est):
        steps = [(n, s) for n, s in est.steps if s is not None and not (isinstance(s, str) and s == "passthrough")]
        if not steps:
            raise Unsupported(f"{where}Pipeline has no steps")
        for i, (step_name, step) in enumerate(steps):
            kind, result = convert(g, step, x, width, f"{where}Pipeline step '{step_name}': ")
            if kind == "predict":
                if i != len(steps) - 1:
                    raise Unsupported(f"{where}Pipeline step '{step_name}' predicts but is not the last step")
                return kind, result
            x, width = result
        return "transform", (x, width)
    if name == "ColumnTransformer" and _module_ok(est):
        n_in = getattr(est, "n_features_in_", width)
        if n_in != width:
            raise Unsupported(f"{where}ColumnTransformer expects {n_in} features, its input has {width}")
        return "transform", compose.transform(g, est, x, width, convert, where)
    family = FAMILIES.get(name) if _module_ok(est) else None
    if family is None:
        raise refuse(est, where)
    n_in = getattr(est, "n_features_in_", None)
    if n_in is not None and n_in != width:
        raise Unsupported(f"{where}{name} expects {n_in} features, its input has {width}")
    kind, fn = family
    try:
        return kind, fn(g, est, x, width)
    except Unsupported as e:
        raise Unsupported(f"{where}{e}") from None
