"""HistGradientBoosting (regression and classification) as ai.onnx.ml
TreeEnsemble operators. These trees read float64 features and send missing
values (NaN) down the side training chose; the operator's
nodes_missing_value_tracks_true says the same. Categorical splits (bitsets)
do not convert."""
import numpy as np

from graph import DOUBLE, FLOAT, INT64, ML, Unsupported, label_ints

REGRESSORS = ("HistGradientBoostingRegressor",)
CLASSIFIERS = ("HistGradientBoostingClassifier",)


def _attrs(est, prefix):
    if getattr(est, "is_categorical_", None) is not None and np.any(est.is_categorical_):
        raise Unsupported(f"{type(est).__name__} with categorical features (categorical_features=...)")
    a = {k: [] for k in ("nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values", "nodes_modes",
                         "nodes_truenodeids", "nodes_falsenodeids", "nodes_missing_value_tracks_true",
                         prefix + "_treeids", prefix + "_nodeids", prefix + "_ids", prefix + "_weights")}
    tid = 0
    for iteration in est._predictors:
        for k, predictor in enumerate(iteration):
            for i, n in enumerate(predictor.nodes):
                leaf = bool(n["is_leaf"])
                a["nodes_treeids"].append(tid)
                a["nodes_nodeids"].append(i)
                a["nodes_featureids"].append(0 if leaf else int(n["feature_idx"]))
                a["nodes_values"].append(0.0 if leaf else float(n["num_threshold"]))
                a["nodes_modes"].append("LEAF" if leaf else "BRANCH_LEQ")
                a["nodes_truenodeids"].append(0 if leaf else int(n["left"]))
                a["nodes_falsenodeids"].append(0 if leaf else int(n["right"]))
                a["nodes_missing_value_tracks_true"].append(0 if leaf else int(n["missing_go_to_left"]))
                if leaf:
                    a[prefix + "_treeids"].append(tid)
                    a[prefix + "_nodeids"].append(i)
                    a[prefix + "_ids"].append(k)
                    a[prefix + "_weights"].append(float(n["value"]))
            tid += 1
    for key in ("nodes_values", prefix + "_weights"):
        a[key + "_as_tensor"] = np.array(a.pop(key), dtype=np.float64)
    a["base_values_as_tensor"] = np.asarray(est._baseline_prediction, dtype=np.float64).ravel()
    return a


def regressor(g, est, x, width):
    link = type(est._loss.link).__name__ if hasattr(est._loss, "link") else "IdentityLink"
    y = g.op("TreeEnsembleRegressor", [g.double(x)], FLOAT, domain=ML, n_targets=1, aggregate_function="SUM",
             **_attrs(est, "target"))
    if link == "LogLink":
        y = g.op("Exp", [g.double(y)], DOUBLE)
    elif link != "IdentityLink":
        raise Unsupported(f"{type(est).__name__} with the {link} link")
    return {"predict": (g.flatten(y), 1)}


def classifier(g, est, x, width):
    k = len(est.classes_)
    label, proba = g.op("TreeEnsembleClassifier", [g.double(x)], [INT64, FLOAT], domain=ML,
                        classlabels_int64s=label_ints(est.classes_),
                        post_transform="LOGISTIC" if k == 2 else "SOFTMAX", **_attrs(est, "class"))
    return {"predict": (label, 1), "predict_proba": (proba, 2)}
