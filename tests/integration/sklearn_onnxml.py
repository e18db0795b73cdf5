#!/usr/bin/python3
"""Trains scikit-learn estimators and converts them to ONNX-ML models by hand.

  sklearn_onnxml.py build DIR     writes DIR/models/NAME/1/model.onnx (amlserve's
                                  <name>/<version>/<file> layout), DIR/NAME.request.json
                                  and DIR/NAME.expected.json, and lists the NAMEs
  sklearn_onnxml.py compare EXPECTED RESPONSE
                                  compares an amlserve /score response with
                                  scikit-learn's outputs (floats: rtol 1e-4, atol 1e-5;
                                  labels exactly)
  sklearn_onnxml.py bad DIR       writes models with wrong attributes under DIR/models and
                                  lists NAME<TAB>the error message scoring must give
  sklearn_onnxml.py string-labels PATH
                                  writes a classifier whose labels are strings

skl2onnx is not packaged in Debian: each converter below builds the graph with
onnx.helper from the fitted estimator's own attributes (coef_, tree_, dual_coef_
...). Inputs are float32 values so both sides see the same numbers."""
import json
import os
import sys

import numpy as np
from onnx import TensorProto, TypeProto, helper, numpy_helper

ML = "ai.onnx.ml"


def f32(x):
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def model(nodes, n_features, outputs, ml_opset=1, in_type=TensorProto.FLOAT, initializers=()):
    """outputs: (name, elem_type, dims) or (name, 'zipmap') for a sequence of maps."""
    outs = []
    for out in outputs:
        if out[1] == "zipmap":
            seq = TypeProto()  # onnx 1.12's helper has no make_map_type_proto
            seq.sequence_type.elem_type.map_type.key_type = TensorProto.INT64
            seq.sequence_type.elem_type.map_type.value_type.CopyFrom(
                helper.make_tensor_type_proto(TensorProto.FLOAT, []))
            outs.append(helper.make_value_info(out[0], seq))
        else:
            outs.append(helper.make_tensor_value_info(out[0], out[1], out[2]))
    graph = helper.make_graph(nodes, "sklearn", [helper.make_tensor_value_info("X", in_type, [None, n_features])],
                              outs, initializer=list(initializers))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(ML, ml_opset)])
    m.ir_version = 8
    return m


def classifier_outputs(k, zipmap=False):
    if zipmap:
        return [("label", TensorProto.INT64, [None]), ("probabilities", "zipmap")]
    return [("label", TensorProto.INT64, [None]), ("probabilities", TensorProto.FLOAT, [None, k])]


def zipmap_node(classes, src="probs"):
    return helper.make_node("ZipMap", [src], ["probabilities"], domain=ML,
                            classlabels_int64s=[int(c) for c in classes])


# --- converters -------------------------------------------------------------

def linear_regressor(est, n):
    coef = np.atleast_2d(est.coef_)
    icpt = np.atleast_1d(est.intercept_)
    node = helper.make_node("LinearRegressor", ["X"], ["variable"], domain=ML, coefficients=coef.ravel().tolist(),
                            intercepts=icpt.tolist(), targets=coef.shape[0])
    return model([node], n, [("variable", TensorProto.FLOAT, [None, coef.shape[0]])])


def logistic_regression(est, n, zipmap=False, pre=()):
    k = len(est.classes_)
    binary = k == 2
    src = pre[-1].output[0] if pre else "X"
    node = helper.make_node("LinearClassifier", [src], ["label", "probs" if zipmap else "probabilities"], domain=ML,
                            coefficients=est.coef_.ravel().tolist(), intercepts=est.intercept_.tolist(),
                            classlabels_ints=[int(c) for c in est.classes_],
                            post_transform="LOGISTIC" if binary else "SOFTMAX")
    nodes = list(pre) + [node] + ([zipmap_node(est.classes_)] if zipmap else [])
    return model(nodes, n, classifier_outputs(k, zipmap))


def tree_attrs(trees, prefix, leaf_weights, as_tensor):
    """trees: list of (tree_id, sklearn Tree); leaf_weights(tree_index, tree, node) → [(id, weight)]."""
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
                for cid, w in leaf_weights(ti, t, i):
                    a[prefix + "_treeids"].append(tid)
                    a[prefix + "_nodeids"].append(i)
                    a[prefix + "_ids"].append(cid)
                    a[prefix + "_weights"].append(float(w))
    if as_tensor:  # ai.onnx.ml opset 3: double thresholds and weights keep sklearn's precision
        for key in ("nodes_values", prefix + "_weights"):
            a[key + "_as_tensor"] = numpy_helper.from_array(np.array(a.pop(key), dtype=np.float64), key)
    return a


def tree_regressor(trees, n, aggregate, scale=1.0, base=None, as_tensor=True):
    attrs = tree_attrs(trees, "target", lambda ti, t, i: [(0, scale * t.value[i][0][0])], as_tensor)
    if base is not None:
        attrs["base_values"] = [float(base)]
    node = helper.make_node("TreeEnsembleRegressor", ["X"], ["variable"], domain=ML, n_targets=1,
                            aggregate_function=aggregate, **attrs)
    return model([node], n, [("variable", TensorProto.FLOAT, [None, 1])], ml_opset=3 if as_tensor else 1)


def forest_classifier(est, n, estimators, zipmap=False):
    k = len(est.classes_)

    def weights(ti, t, i):
        v = t.value[i][0]
        return [(c, v[c] / v.sum() / len(estimators)) for c in range(k)]
    attrs = tree_attrs([(j, e.tree_) for j, e in enumerate(estimators)], "class", weights, True)
    node = helper.make_node("TreeEnsembleClassifier", ["X"], ["label", "probs" if zipmap else "probabilities"],
                            domain=ML, classlabels_int64s=[int(c) for c in est.classes_], **attrs)
    nodes = [node] + ([zipmap_node(est.classes_)] if zipmap else [])
    return model(nodes, n, classifier_outputs(k, zipmap), ml_opset=3)


def gradient_boosting_classifier(est, x, n):
    k = len(est.classes_)
    lr = est.learning_rate
    trees = []
    for stage in est.estimators_:
        for c, e in enumerate(stage):
            trees.append((len(trees), e.tree_, c))
    attrs = tree_attrs([(tid, t) for tid, t, _ in trees], "class",
                       lambda ti, t, i: [(trees[ti][2], lr * t.value[i][0][0])], True)
    base = est._raw_predict_init(x[:1])[0]
    node = helper.make_node("TreeEnsembleClassifier", ["X"], ["label", "probabilities"], domain=ML,
                            classlabels_int64s=[int(c) for c in est.classes_], base_values=base.tolist(),
                            post_transform="LOGISTIC" if k == 2 else "SOFTMAX", **attrs)
    return model([node], n, classifier_outputs(k), ml_opset=3)


def svm_kernel_attrs(est):
    return dict(kernel_type=est.kernel.upper(), kernel_params=[float(est._gamma), float(est.coef0), float(est.degree)],
                support_vectors=est.support_vectors_.ravel().tolist())


def svr(est, n):
    node = helper.make_node("SVMRegressor", ["X"], ["variable"], domain=ML, n_supports=len(est.support_),
                            coefficients=est.dual_coef_.ravel().tolist(), rho=est.intercept_.tolist(),
                            **svm_kernel_attrs(est))
    return model([node], n, [("variable", TensorProto.FLOAT, [None, 1])])


def svc(est, n):
    # libsvm's own signs (_dual_coef_, _intercept_): sklearn flips the public ones for two classes
    k = len(est.classes_)
    attrs = dict(classlabels_ints=[int(c) for c in est.classes_], vectors_per_class=est.n_support_.tolist(),
                 coefficients=est._dual_coef_.ravel().tolist(), rho=est._intercept_.tolist(), **svm_kernel_attrs(est))
    if est.probability:
        attrs.update(prob_a=est.probA_.tolist(), prob_b=est.probB_.tolist())
    node = helper.make_node("SVMClassifier", ["X"], ["label", "probabilities"], domain=ML, **attrs)
    cols = k if est.probability else (2 if k == 2 else k * (k - 1) // 2)
    return model([node], n, [("label", TensorProto.INT64, [None]), ("probabilities", TensorProto.FLOAT, [None, cols])])


def one_hot(est, n):
    nodes, parts, inits = [], [], []
    for j, cats in enumerate(est.categories_):
        inits += [numpy_helper.from_array(np.array([j], dtype=np.int64), f"col{j}"),
                  numpy_helper.from_array(np.array([-1, len(cats)], dtype=np.int64), f"shape{j}")]
        nodes += [helper.make_node("ArrayFeatureExtractor", ["X", f"col{j}"], [f"x{j}"], domain=ML),
                  helper.make_node("OneHotEncoder", [f"x{j}"], [f"oh{j}"], domain=ML,
                                   cats_int64s=[int(c) for c in cats], zeros=1),
                  helper.make_node("Reshape", [f"oh{j}", f"shape{j}"], [f"flat{j}"])]
        parts.append(f"flat{j}")
    nodes.append(helper.make_node("Concat", parts, ["variable"], axis=1))
    width = sum(len(c) for c in est.categories_)
    return model(nodes, n, [("variable", TensorProto.FLOAT, [None, width])], in_type=TensorProto.INT64,
                 initializers=inits)


def scaler_node(est, src="X", dst="variable"):
    return helper.make_node("Scaler", [src], [dst], domain=ML, offset=est.mean_.tolist(),
                            scale=(1.0 / est.scale_).tolist())


# --- the cases ----------------------------------------------------------------

def cases():
    from sklearn.datasets import make_classification, make_regression
    from sklearn.ensemble import (GradientBoostingClassifier, GradientBoostingRegressor, RandomForestClassifier,
                                  RandomForestRegressor)
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
    from sklearn.preprocessing import Binarizer, Normalizer, OneHotEncoder, StandardScaler
    from sklearn.svm import SVC, SVR
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    rs = np.random.RandomState(0)
    xr, yr = make_regression(n_samples=120, n_features=5, noise=5.0, random_state=0)
    xr = f32(xr)
    xr_test = f32(rs.uniform(-2.5, 2.5, size=(25, 5)))  # continuous: never on a threshold
    xc, yc = make_classification(n_samples=150, n_features=6, n_informative=4, n_classes=3, random_state=1)
    xc = f32(xc)
    yc = np.array([3, 7, 11])[yc]  # labels that are not 0..k-1
    xb, yb = make_classification(n_samples=150, n_features=4, n_informative=3, n_redundant=0, random_state=2)
    xb = f32(xb)
    y2 = np.stack([yr, 0.5 * yr + xr[:, 0]], axis=1)

    def reg(name, est, conv, x=xr, y=yr, xt=xr):
        est.fit(x, y)
        return name, conv(est), xt, {"variable": est.predict(xt).reshape(len(xt), -1)}

    def clf(name, est, conv, x, y, xt=None, proba=True):
        est.fit(x, y)
        xt = x if xt is None else xt
        exp = {"label": est.predict(xt)}
        if proba:
            exp["probabilities"] = est.predict_proba(xt)
        return name, conv(est), xt, exp

    out = [
        reg("linear_regression", LinearRegression(), lambda e: linear_regressor(e, 5)),
        reg("ridge_two_targets", Ridge(alpha=0.5), lambda e: linear_regressor(e, 5), y=y2),
        clf("logistic_binary", LogisticRegression(), lambda e: logistic_regression(e, 4), xb, yb),
        clf("logistic_multiclass", LogisticRegression(max_iter=500), lambda e: logistic_regression(e, 6), xc, yc),
        clf("logistic_zipmap", LogisticRegression(max_iter=500), lambda e: logistic_regression(e, 6, zipmap=True),
            xc, yc),
        # float thresholds (opset 1) scored on points off the training set
        reg("decision_tree_regressor", DecisionTreeRegressor(max_depth=6, random_state=0),
            lambda e: tree_regressor([(0, e.tree_)], 5, "SUM", as_tensor=False), xt=xr_test),
        reg("random_forest_regressor", RandomForestRegressor(n_estimators=12, max_depth=5, random_state=0),
            lambda e: tree_regressor([(i, t.tree_) for i, t in enumerate(e.estimators_)], 5, "AVERAGE")),
        reg("gradient_boosting_regressor", GradientBoostingRegressor(n_estimators=30, max_depth=3, random_state=0),
            lambda e: tree_regressor([(i, s[0].tree_) for i, s in enumerate(e.estimators_)], 5, "SUM",
                                     scale=e.learning_rate, base=e.init_.constant_[0][0])),
        clf("decision_tree_classifier", DecisionTreeClassifier(max_depth=5, random_state=0),
            lambda e: forest_classifier(e, 6, [e]), xc, yc),
        clf("random_forest_binary", RandomForestClassifier(n_estimators=10, max_depth=5, random_state=0),
            lambda e: forest_classifier(e, 4, e.estimators_, zipmap=True), xb, yb),
        clf("random_forest_multiclass", RandomForestClassifier(n_estimators=10, max_depth=5, random_state=0),
            lambda e: forest_classifier(e, 6, e.estimators_), xc, yc),
        clf("gradient_boosting_binary", GradientBoostingClassifier(n_estimators=25, max_depth=3, random_state=0),
            lambda e: gradient_boosting_classifier(e, xb, 4), xb, yb),
        clf("gradient_boosting_multiclass", GradientBoostingClassifier(n_estimators=15, max_depth=2, random_state=0),
            lambda e: gradient_boosting_classifier(e, xc, 6), xc, yc),
        reg("svr_rbf", SVR(C=10.0, epsilon=0.5), lambda e: svr(e, 5)),
        reg("svr_poly", SVR(kernel="poly", degree=3, C=1.0, coef0=1.0), lambda e: svr(e, 5)),
        clf("svc_probability", SVC(probability=True, random_state=0), lambda e: svc(e, 6), xc, yc),
        clf("svc_binary_probability", SVC(probability=True, random_state=0), lambda e: svc(e, 4), xb, yb),
    ]
    # SVC without probabilities: the label and libsvm's decision values ([-s, s] for two classes)
    est = SVC(kernel="linear", C=0.5).fit(xb, yb)
    dec = est.decision_function(xb)
    out.append(("svc_binary_linear", svc(est, 4), xb,
                {"label": est.predict(xb), "probabilities": np.stack([dec, -dec], axis=1)}))

    sc = StandardScaler().fit(xr)
    out.append(("standard_scaler", model([scaler_node(sc)], 5, [("variable", TensorProto.FLOAT, [None, 5])]), xr,
                {"variable": sc.transform(xr)}))
    # a pipeline: Scaler → LinearClassifier → ZipMap
    sc = StandardScaler().fit(xc)
    lr = LogisticRegression(max_iter=500).fit(sc.transform(xc), yc)
    out.append(("scaled_logistic_pipeline", logistic_regression(lr, 6, zipmap=True, pre=[scaler_node(sc, "X", "xs")]),
                xc, {"label": lr.predict(sc.transform(xc)), "probabilities": lr.predict_proba(sc.transform(xc))}))
    for norm in ("l1", "l2", "max"):
        est = Normalizer(norm=norm).fit(xr)
        node = helper.make_node("Normalizer", ["X"], ["variable"], domain=ML, norm=norm.upper())
        out.append((f"normalizer_{norm}", model([node], 5, [("variable", TensorProto.FLOAT, [None, 5])]), xr,
                    {"variable": est.transform(xr)}))
    est = Binarizer(threshold=0.25).fit(xr)
    node = helper.make_node("Binarizer", ["X"], ["variable"], domain=ML, threshold=0.25)
    out.append(("binarizer", model([node], 5, [("variable", TensorProto.FLOAT, [None, 5])]), xr,
                {"variable": est.transform(xr)}))
    xi = rs.randint(0, 4, size=(40, 3)) * np.array([1, 10, 100])
    est = OneHotEncoder(handle_unknown="ignore").fit(xi)
    xi_test = np.vstack([xi, [[9, 10, 100], [0, 99, 300]]])  # unknown categories encode as zeros
    out.append(("one_hot_encoder", one_hot(est, 3), xi_test, {"variable": est.transform(xi_test).toarray()}))
    return out


def build(d):
    names = []
    for name, m, x, expected in cases():
        os.makedirs(f"{d}/models/{name}/1", exist_ok=True)
        with open(f"{d}/models/{name}/1/model.onnx", "wb") as f:
            f.write(m.SerializeToString())
        with open(f"{d}/{name}.request.json", "w") as f:
            json.dump({"data": np.asarray(x).tolist()}, f)
        zipmapped = [o.name for o in m.graph.output if o.type.HasField("sequence_type")]
        with open(f"{d}/{name}.expected.json", "w") as f:
            json.dump({"outputs": {k: np.asarray(v).tolist() for k, v in expected.items()},
                       "order": [o.name for o in m.graph.output], "zipmap": zipmapped}, f)
        names.append(name)
    print("\n".join(names))


def compare(expected_path, response_path):
    exp = json.load(open(expected_path))
    got = json.load(open(response_path))
    order = exp["order"]
    if len(order) == 1:
        got = {order[0]: got}
    for name in order:
        want = np.asarray(exp["outputs"][name])
        value = got.get(name) if isinstance(got, dict) else None
        if value is None:
            sys.exit(f"output '{name}' missing from {json.dumps(got)[:300]}")
        if name in exp["zipmap"]:  # a list of {label: probability} objects, labels in class order
            if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
                sys.exit(f"output '{name}' is not a list of objects: {json.dumps(value)[:300]}")
            value = [list(r.values()) for r in value]
        value = np.asarray(value)
        if value.shape != want.shape:
            sys.exit(f"output '{name}': shape {value.shape}, scikit-learn {want.shape}")
        if name == "label":
            if not np.array_equal(value, want):
                bad = np.nonzero(value != want)[0]
                sys.exit(f"labels differ at rows {bad.tolist()[:10]}: {value[bad][:10]} vs {want[bad][:10]}")
        elif not np.allclose(value, want, rtol=1e-4, atol=1e-5):
            i = np.unravel_index(np.argmax(np.abs(value - want)), want.shape)
            sys.exit(f"output '{name}': element {i} is {value[i]!r}, scikit-learn says {want[i]!r}")
    print(f"matches scikit-learn ({', '.join(order)}, {len(np.asarray(exp['outputs'][order[0]]))} rows)")


def bad(d):
    """Models whose ONNX-ML attributes are wrong: scoring must answer 400 naming the problem."""
    def tree(**change):
        a = dict(nodes_treeids=[0, 0, 0], nodes_nodeids=[0, 1, 2], nodes_featureids=[0, 0, 0],
                 nodes_values=[0.5, 0, 0], nodes_modes=["BRANCH_LEQ", "LEAF", "LEAF"], nodes_truenodeids=[1, 0, 0],
                 nodes_falsenodeids=[2, 0, 0], target_treeids=[0, 0], target_nodeids=[1, 2], target_ids=[0, 0],
                 target_weights=[1.0, 2.0], n_targets=1)
        a.update(change)
        return model([helper.make_node("TreeEnsembleRegressor", ["X"], ["y"], domain=ML, **a)], 2,
                     [("y", TensorProto.FLOAT, [None, 1])])
    cases = {
        "tree_cycle": (tree(nodes_modes=["BRANCH_LEQ", "BRANCH_LEQ", "LEAF"], nodes_truenodeids=[1, 0, 0],
                            nodes_falsenodeids=[2, 0, 0]), "form a cycle"),
        "tree_missing_child": (tree(nodes_falsenodeids=[7, 0, 0]), "branches to a node the tree does not have"),
        "tree_bad_feature": (tree(nodes_featureids=[5, 0, 0]), "reads feature 5, the input has 2"),
        "tree_bad_mode": (tree(nodes_modes=["BRANCH_SOMETIMES", "LEAF", "LEAF"]), "not a known mode"),
        "tree_bad_aggregate": (tree(aggregate_function="MEDIAN"), "aggregate_function 'MEDIAN' is not one of"),
        "linear_bad_coefficients": (model([helper.make_node("LinearClassifier", ["X"], ["label", "p"], domain=ML,
                                                            coefficients=[1.0, 2.0, 3.0], classlabels_ints=[0, 1])],
                                          2, classifier_outputs(2)[:1] + [("p", TensorProto.FLOAT, [None, 2])]),
                                    "3 coefficients do not divide into rows of 2 features"),
        "linear_bad_post_transform": (model([helper.make_node("LinearRegressor", ["X"], ["y"], domain=ML,
                                                              coefficients=[1.0, 2.0], post_transform="BOGUS")],
                                            2, [("y", TensorProto.FLOAT, [None, 1])]),
                                      "post_transform 'BOGUS' is not one of NONE, SOFTMAX, LOGISTIC"),
        "svm_bad_vectors": (model([helper.make_node("SVMClassifier", ["X"], ["label", "p"], domain=ML,
                                                    classlabels_ints=[0, 1], vectors_per_class=[1, 1],
                                                    support_vectors=[0.0, 1.0], coefficients=[1.0, -1.0],
                                                    rho=[0.0], kernel_type="RBF")],
                                  2, classifier_outputs(2)[:1] + [("p", TensorProto.FLOAT, [None, 2])]),
                            "need vectors_per_class for each class, 4 support vector values"),
        "one_hot_unknown": (model([helper.make_node("OneHotEncoder", ["X"], ["y"], domain=ML, cats_int64s=[1, 2],
                                                    zeros=0)], 2, [("y", TensorProto.FLOAT, [None, 2, 2])]),
                            "value 0 is in no category"),
        "feature_index_out_of_range": (model([helper.make_node("ArrayFeatureExtractor", ["X", "i"], ["y"], domain=ML)],
                                             2, [("y", TensorProto.FLOAT, [None, 1])],
                                             initializers=[numpy_helper.from_array(np.array([2], np.int64), "i")]),
                                       "index 2 is out of range for 2 features"),
    }
    for name, (m, message) in cases.items():
        os.makedirs(f"{d}/models/{name}/1", exist_ok=True)
        with open(f"{d}/models/{name}/1/model.onnx", "wb") as f:
            f.write(m.SerializeToString())
        print(f"{name}\t{message}")


def string_labels(path):
    from sklearn.linear_model import LogisticRegression
    est = LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), ["no", "no", "yes", "yes"])
    node = helper.make_node("LinearClassifier", ["X"], ["label", "probabilities"], domain=ML,
                            coefficients=est.coef_.ravel().tolist(), intercepts=est.intercept_.tolist(),
                            classlabels_strings=list(est.classes_), post_transform="LOGISTIC")
    m = model([node], 1, [("label", TensorProto.STRING, [None]), ("probabilities", TensorProto.FLOAT, [None, 2])])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(m.SerializeToString())


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "build" and len(sys.argv) == 3:
        build(sys.argv[2])
    elif cmd == "compare" and len(sys.argv) == 4:
        compare(sys.argv[2], sys.argv[3])
    elif cmd == "bad" and len(sys.argv) == 3:
        bad(sys.argv[2])
    elif cmd == "string-labels" and len(sys.argv) == 3:
        string_labels(sys.argv[2])
    else:
        sys.exit(__doc__)
