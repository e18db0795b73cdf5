"""Support vector machines (libsvm: SVC, NuSVC, SVR, NuSVR) as ai.onnx.ml SVM
operators. The label comes from a vote-only SVMClassifier, as scikit-learn's
predict uses the votes even when the model has probabilities."""
from graph import FLOAT, INT64, ML, Unsupported, label_ints

REGRESSORS = ("SVR", "NuSVR")
CLASSIFIERS = ("SVC", "NuSVC")


def _kernel(est):
    if not isinstance(est.kernel, str) or est.kernel not in ("linear", "poly", "rbf", "sigmoid"):
        raise Unsupported(f"{type(est).__name__} with kernel={est.kernel!r}")
    return dict(kernel_type=est.kernel.upper(), kernel_params=[float(est._gamma), float(est.coef0), float(est.degree)],
                support_vectors=est.support_vectors_.ravel().tolist())


def regressor(g, est, x, width):
    y = g.op("SVMRegressor", [g.double(x)], FLOAT, domain=ML, n_supports=len(est.support_),
             coefficients=est._dual_coef_.ravel().tolist(), rho=est._intercept_.tolist(), **_kernel(est))
    return {"predict": (g.flatten(y), 1)}


def classifier(g, est, x, width):
    if getattr(est, "break_ties", False):
        raise Unsupported(f"{type(est).__name__} with break_ties=True")
    if getattr(est, "decision_function_shape", "ovr") not in ("ovr", "ovo"):
        raise Unsupported(f"{type(est).__name__} with decision_function_shape={est.decision_function_shape!r}")
    x = g.double(x)
    # libsvm's own signs (_dual_coef_, _intercept_): scikit-learn flips the public ones for two classes
    attrs = dict(classlabels_ints=label_ints(est.classes_), vectors_per_class=est.n_support_.tolist(),
                 coefficients=est._dual_coef_.ravel().tolist(), rho=est._intercept_.tolist(), **_kernel(est))
    label, _ = g.op("SVMClassifier", [x], [INT64, FLOAT], domain=ML, **attrs)
    out = {"predict": (label, 1)}
    if est.probability:
        attrs.update(prob_a=est.probA_.tolist(), prob_b=est.probB_.tolist())
        _, proba = g.op("SVMClassifier", [x], [INT64, FLOAT], domain=ML, **attrs)
        out["predict_proba"] = (proba, 2)
    return out

