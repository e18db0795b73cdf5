"""Decision trees, random forests, extra trees and gradient boosting as
ai.onnx.ml TreeEnsemble operators, with double thresholds and leaf weights
(opset 3 *_as_tensor attributes) so nothing is rounded. scikit-learn's trees
read float32 features, so the input is cast to float32 first, as they do."""
import numpy as np

from graph import FLOAT, INT64, ML, Unsupported, label_ints

REGRESSORS = ("DecisionTreeRegressor", "ExtraTreeRegressor", "RandomForestRegressor", "ExtraTreesRegressor",
              "GradientBoostingRegressor")
CLASSIFIERS = ("DecisionTreeClassifier", "ExtraTreeClassifier", "RandomForestClassifier", "ExtraTreesClassifier",
               "GradientBoostingClassifier")


def tree_attrs(trees, prefix, leaf_weights):
    """trees: [(tree_id, sklearn Tree)]; leaf_weights(index, tree, node) -> [(target or class, weight)]."""
    a = {k: [] for k in ("nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values", "nodes_modes",
                         "nodes_truenodeids", "nodes_falsenodeids", prefix + "_treeids", prefix + "_nodeids",
                         prefix + "_ids", prefix + "_weights")}
    for ti, (tid, t) in enumerate(trees):
        for i in range(t.node_count):
            leaf = t.children_left[i] == -1
            a["nodes_treeids"].append(tid)
            a["nodes_nodeids"].append(i)
            a["nodes_featureids"].append(0 if leaf else int(t.feature[i]))
            a["nodes_values"].append(0.0 if leaf else float(t.threshold[i]))
            a["nodes_modes"].append("LEAF" if leaf else "BRANCH_LEQ")
            a["nodes_truenodeids"].append(0 if leaf else int(t.children_left[i]))
            a["nodes_falsenodeids"].append(0 if leaf else int(t.children_right[i]))
            if leaf:
                for cid, weight in leaf_weights(ti, t, i):
                    a[prefix + "_treeids"].append(tid)
                    a[prefix + "_nodeids"].append(i)
                    a[prefix + "_ids"].append(int(cid))
                    a[prefix + "_weights"].append(float(weight))
    for key in ("nodes_values", prefix + "_weights"):
        a[key + "_as_tensor"] = np.array(a.pop(key), dtype=np.float64)
    return a


def _members(est):
    name = type(est).__name__
    if name.startswith(("DecisionTree", "ExtraTree")) and not hasattr(est, "estimators_"):
        return [est]
    return list(est.estimators_)


def _check_outputs(est):
    if getattr(est, "n_outputs_", 1) != 1:
        raise Unsupported(f"{type(est).__name__} with {est.n_outputs_} outputs (multi-output trees)")


def _gb_base(est, width):
    from sklearn.dummy import DummyClassifier, DummyRegressor
    if isinstance(est.init_, str) and est.init_ == "zero":
        return np.zeros(est.estimators_.shape[1])
    if not isinstance(est.init_, (DummyClassifier, DummyRegressor)):
        raise Unsupported(f"{type(est).__name__} with init={type(est.init_).__name__}: only the default "
                          "(constant) initial prediction converts")
    return np.asarray(est._raw_predict_init(np.zeros((1, width), dtype=np.float32))[0], dtype=np.float64)


def regressor(g, est, x, width):
    name = type(est).__name__
    x = g.cast(x, FLOAT)
    if name == "GradientBoostingRegressor":
        lr = est.learning_rate
        trees = [(i, stage[0].tree_) for i, stage in enumerate(est.estimators_)]
        attrs = tree_attrs(trees, "target", lambda ti, t, i: [(0, lr * t.value[i][0][0])])
        attrs["base_values_as_tensor"] = _gb_base(est, width)[:1]
        aggregate, n_targets = "SUM", 1
    else:
        _check_outputs(est)
        members = _members(est)
        trees = [(i, m.tree_) for i, m in enumerate(members)]
        attrs = tree_attrs(trees, "target", lambda ti, t, i: [(0, t.value[i][0][0])])
        aggregate, n_targets = ("AVERAGE" if len(members) > 1 else "SUM"), 1
    y = g.op("TreeEnsembleRegressor", [x], FLOAT, domain=ML, n_targets=n_targets, aggregate_function=aggregate,
             **attrs)
    return {"predict": (g.flatten(y), 1)}


def classifier(g, est, x, width):
    name = type(est).__name__
    x = g.cast(x, FLOAT)
    classes = est.classes_
    k = len(classes)
    extra = {}
    if name == "GradientBoostingClassifier":
        lr = est.learning_rate
        loss = getattr(est, "loss", "log_loss")
        scale = 2.0 if loss == "exponential" else 1.0  # exponential loss: p = expit(2 * raw)
        trees = []
        for stage in est.estimators_:
            for c, member in enumerate(stage):
                trees.append((len(trees), member.tree_, c))
        attrs = tree_attrs([(tid, t) for tid, t, _ in trees], "class",
                           lambda ti, t, i: [(trees[ti][2], scale * lr * t.value[i][0][0])])
        extra["base_values_as_tensor"] = scale * _gb_base(est, width)
        extra["post_transform"] = "LOGISTIC" if k == 2 else "SOFTMAX"
    else:
        _check_outputs(est)
        members = _members(est)

        def weights(ti, t, i):
            v = t.value[i][0]
            return [(c, v[c] / v.sum() / len(members)) for c in range(k)]
        attrs = tree_attrs([(j, m.tree_) for j, m in enumerate(members)], "class", weights)
    label, proba = g.op("TreeEnsembleClassifier", [x], [INT64, FLOAT], domain=ML, classlabels_int64s=label_ints(classes),
                        **attrs, **extra)
    return {"predict": (label, 1), "predict_proba": (proba, 2)}
