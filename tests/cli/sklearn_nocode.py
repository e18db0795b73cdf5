#!/usr/bin/python3
"""Trains scikit-learn models of every family the no-code converter handles
and writes what tests/cli/22-sklearn-nocode.sh packages and scores.

  sklearn_nocode.py train DIR    DIR/NAME/{model.pkl, spec.yaml, request.json, expected.json}; prints NAMEs
  sklearn_nocode.py more DIR     more estimators, checked by the build itself (its exactness check against
                                 scikit-learn): DIR/NAME/{model.pkl, spec.yaml}; prints NAMEs
  sklearn_nocode.py refused DIR  models the build must refuse: DIR/NAME/{model.pkl, spec.yaml}; prints
                                 NAME<TAB>the message the build must give
  sklearn_nocode.py compare EXPECTED RESPONSE
                                 an amlserve /score answer against scikit-learn's own outputs, in
                                 Azure's response shapes: labels exactly, floats within rtol 1e-5
                                 (relative to the output's largest magnitude)

The request rows are not the training rows, and every expected answer is
scikit-learn's predict / predict_proba on them."""
import json
import os
import pickle
import sys
import types

import joblib
import numpy as np


def data():
    from sklearn.datasets import make_classification, make_regression
    rs = np.random.RandomState(0)
    xr, yr = make_regression(n_samples=160, n_features=5, noise=5.0, random_state=0)
    xc, yc = make_classification(n_samples=200, n_features=6, n_informative=4, n_classes=3, random_state=1)
    yc = np.array([3, 7, 11])[yc]  # labels that are not 0..k-1
    xb, yb = make_classification(n_samples=200, n_features=4, n_informative=3, n_redundant=0, random_state=2)
    counts = rs.poisson(3.0, size=(200, 8)).astype(float)
    ycount = (counts[:, 0] + counts[:, 1] > counts[:, 2] + 3).astype(int)
    return (xr, yr), (xc, yc), (xb, yb), (counts, ycount), rs


def cases():
    from sklearn.ensemble import (ExtraTreesClassifier, ExtraTreesRegressor, GradientBoostingClassifier,
                                  GradientBoostingRegressor, HistGradientBoostingClassifier,
                                  HistGradientBoostingRegressor, RandomForestClassifier, RandomForestRegressor)
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import (ElasticNet, Lasso, LinearRegression, LogisticRegression, Ridge,
                                      SGDClassifier)
    from sklearn.naive_bayes import BernoulliNB, ComplementNB, GaussianNB, MultinomialNB
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
    from sklearn.pipeline import make_pipeline
    import pandas as pd
    from sklearn.preprocessing import MinMaxScaler, Normalizer, OneHotEncoder, RobustScaler, StandardScaler
    from sklearn.svm import SVC, SVR, LinearSVC
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    (xr, yr), (xc, yc), (xb, yb), (xn, yn), rs = data()
    xi = rs.randint(0, 4, size=(200, 3)) * np.array([1, 10, 100]).astype(float)
    yi = (xi[:, 0] + xi[:, 1] / 10 > 3).astype(int)
    # mixed tables: two categorical columns (small integers) and three numeric ones
    xm = np.hstack([rs.randint(0, 4, size=(200, 2)).astype(float), rs.standard_normal((200, 3))])
    ym = ((xm[:, 0] == 2) ^ (xm[:, 2] + xm[:, 3] > 0)).astype(int)
    xm_nan = np.hstack([with_nan(xm[:, :4], rs), xm[:, 4:]])  # missing values where imputers stand
    dfm = pd.DataFrame(xm_nan, columns=["colour", "size", "age", "income", "score"])
    ct = ColumnTransformer([("onehot", OneHotEncoder(), [0, 1]), ("scale", StandardScaler(), [2, 3, 4])])
    return [
        # name, estimator, (x, y), method
        ("linear_regression", LinearRegression(), (xr, yr), "predict"),
        ("ridge", Ridge(alpha=0.5), (xr, yr), "predict"),
        ("lasso", Lasso(alpha=0.1), (xr, yr), "predict"),
        ("elastic_net", ElasticNet(alpha=0.1, l1_ratio=0.3), (xr, yr), "predict"),
        ("logistic_binary", LogisticRegression(), (xb, yb), "both"),
        ("logistic_multiclass", LogisticRegression(max_iter=500), (xc, yc), "predict_proba"),
        ("logistic_ovr", LogisticRegression(multi_class="ovr", max_iter=500), (xc, yc), "both"),
        ("sgd_log", SGDClassifier(loss="log_loss", random_state=0), (xc, yc), "both"),
        ("linear_svc", LinearSVC(random_state=0, max_iter=5000), (xc, yc), "predict"),
        ("decision_tree_regressor", DecisionTreeRegressor(max_depth=6, random_state=0), (xr, yr), "predict"),
        ("decision_tree_classifier", DecisionTreeClassifier(max_depth=5, random_state=0), (xc, yc), "both"),
        ("random_forest_classifier", RandomForestClassifier(n_estimators=20, max_depth=6, random_state=0), (xc, yc),
         "both"),
        ("random_forest_regressor", RandomForestRegressor(n_estimators=15, max_depth=6, random_state=0), (xr, yr),
         "predict"),
        ("extra_trees_classifier", ExtraTreesClassifier(n_estimators=15, random_state=0), (xb, yb), "both"),
        ("extra_trees_regressor", ExtraTreesRegressor(n_estimators=10, max_depth=8, random_state=0), (xr, yr),
         "predict"),
        ("gradient_boosting_binary", GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0),
         (xb, yb), "both"),
        ("gradient_boosting_multiclass", GradientBoostingClassifier(n_estimators=15, max_depth=2, random_state=0),
         (xc, yc), "both"),
        ("gradient_boosting_regressor", GradientBoostingRegressor(n_estimators=40, max_depth=3, random_state=0),
         (xr, yr), "predict"),
        ("hist_gradient_boosting_regressor", HistGradientBoostingRegressor(max_iter=40, random_state=0), (xr, yr),
         "predict"),
        ("hist_gradient_boosting_poisson", HistGradientBoostingRegressor(loss="poisson", max_iter=30, random_state=0),
         (xn, xn[:, 0] + xn[:, 3]), "predict"),
        ("hist_gradient_boosting_binary", HistGradientBoostingClassifier(max_iter=30, random_state=0), (xb, yb),
         "both"),
        ("hist_gradient_boosting_multiclass", HistGradientBoostingClassifier(max_iter=20, random_state=0), (xc, yc),
         "both"),
        ("hist_gradient_boosting_missing", HistGradientBoostingClassifier(max_iter=20, random_state=0),
         (with_nan(xc, rs), yc), "both"),
        ("svc_rbf_probability", SVC(probability=True, random_state=0), (xc, yc), "both"),
        ("svc_linear_binary", SVC(kernel="linear", C=0.5), (xb, yb), "predict"),
        ("svr_rbf", SVR(C=10.0, epsilon=0.5), (xr, yr), "predict"),
        ("gaussian_nb", GaussianNB(), (xc, yc), "both"),
        ("multinomial_nb", MultinomialNB(), (xn, yn), "both"),
        ("bernoulli_nb", BernoulliNB(binarize=2.5), (xn, yn), "both"),
        ("complement_nb", ComplementNB(), (xn, yn), "both"),
        ("knn_classifier", KNeighborsClassifier(n_neighbors=5), (xc, yc), "both"),
        ("knn_classifier_distance", KNeighborsClassifier(n_neighbors=7, weights="distance"), (xb, yb), "both"),
        ("knn_regressor_manhattan", KNeighborsRegressor(n_neighbors=4, metric="manhattan"), (xr, yr), "predict"),
        ("column_transformer_logistic", make_pipeline(ct, LogisticRegression(max_iter=500)), (xm, ym), "both"),
        ("column_transformer_dataframe_forest", make_pipeline(ColumnTransformer(
            [("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")),
              ["colour", "size"]),
             ("num", SimpleImputer(strategy="mean"), ["age", "income"])], remainder="passthrough"),
            GradientBoostingClassifier(n_estimators=20, random_state=0)), (dfm, ym), "both"),
        ("pipeline_scaled_logistic", make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)), (xc, yc),
         "both"),
        ("pipeline_minmax_svc", make_pipeline(MinMaxScaler(), SVC(probability=True, random_state=0)), (xb, yb),
         "both"),
        ("pipeline_robust_normalizer_ridge", make_pipeline(RobustScaler(), Normalizer(), Ridge()), (xr, yr),
         "predict"),
        ("pipeline_imputer_forest", make_pipeline(SimpleImputer(strategy="median"),
                                                  RandomForestClassifier(n_estimators=8, random_state=0)),
         (with_nan(xc, rs), yc),
         "both"),
        ("pipeline_one_hot_logistic", make_pipeline(OneHotEncoder(handle_unknown="ignore"), LogisticRegression()),
         (xi, yi), "both"),
    ]


def with_nan(x, rs):
    """x with a tenth of its values missing (NaN), which HistGradientBoosting trains and predicts with."""
    x = x.copy()
    x[rs.uniform(size=x.shape) < 0.1] = np.nan
    return x


def azure_answer(est, x, method):
    """scikit-learn's answer (a model fitted on a DataFrame is given one, as its scoring script would)."""
    out = {m: np.asarray(getattr(est, m)(x)).tolist() for m in ("predict", "predict_proba") if method in (m, "both")}
    return out[method] if method != "both" else out


def train(d):
    names = []
    for name, est, (x, y), method in cases():
        est.fit(x[:150], y[:150])
        xt = x[150:]
        rows = np.asarray(xt, dtype=float)  # the request: rows of numbers, whatever the model was fitted on
        os.makedirs(f"{d}/{name}", exist_ok=True)
        joblib.dump(est, f"{d}/{name}/model.pkl") if len(names) % 2 else pickle.dump(est, open(f"{d}/{name}/model.pkl", "wb"))
        with open(f"{d}/{name}/spec.yaml", "w") as f:
            f.write(f"models:\n  - name: {name.replace('_', '-')}\n    version: 1\n    path: model.pkl\n"
                    f"    framework: scikit-learn\n    method: {method}\n")
        with open(f"{d}/{name}/request.json", "w") as f:
            json.dump({"data": rows.tolist()}, f)
        with open(f"{d}/{name}/expected.json", "w") as f:
            json.dump(azure_answer(est, xt, method), f)
        names.append(name)
    print("\n".join(names))


def more(d):
    from sklearn.linear_model import (ARDRegression, BayesianRidge, HuberRegressor, Lars, LogisticRegressionCV,
                                      PassiveAggressiveClassifier, Perceptron, PoissonRegressor, QuantileRegressor,
                                      RidgeClassifier, SGDRegressor, TheilSenRegressor, TweedieRegressor)
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Binarizer, MaxAbsScaler, MinMaxScaler
    from sklearn.svm import SVC, LinearSVR, NuSVC, NuSVR
    from sklearn.tree import ExtraTreeClassifier
    (xr, yr), (xc, yc), (xb, yb), _, _ = data()
    yp = np.abs(yr) / 50 + 0.1
    cases = {
        "ridge_classifier": (RidgeClassifier(), xc, yc, "predict"),
        "ridge_classifier_binary": (RidgeClassifier(), xb, yb, "predict"),
        "perceptron": (Perceptron(random_state=0), xc, yc, "predict"),
        "passive_aggressive": (PassiveAggressiveClassifier(random_state=0), xb, yb, "predict"),
        "logistic_cv": (LogisticRegressionCV(max_iter=500), xc, yc, "both"),
        "bayesian_ridge": (BayesianRidge(), xr, yr, "predict"),
        "ard": (ARDRegression(), xr, yr, "predict"),
        "huber": (HuberRegressor(max_iter=500), xr, yr, "predict"),
        "sgd_regressor": (SGDRegressor(random_state=0), xr, yr, "predict"),
        "lars": (Lars(), xr, yr, "predict"),
        "theil_sen": (TheilSenRegressor(random_state=0), xr, yr, "predict"),
        "quantile": (QuantileRegressor(alpha=0.0, solver="highs"), xr, yr, "predict"),
        "poisson": (PoissonRegressor(), xr, yp, "predict"),
        "tweedie": (TweedieRegressor(power=1.5), xr, yp, "predict"),
        "linear_svr": (LinearSVR(random_state=0, max_iter=5000), xr, yr, "predict"),
        "nu_svc": (NuSVC(probability=True, random_state=0), xc, yc, "both"),
        "nu_svr_poly": (NuSVR(kernel="poly", degree=2), xr, yr, "predict"),
        "svc_sigmoid": (SVC(kernel="sigmoid", gamma=0.05), xb, yb, "predict"),
        "maxabs_binarizer_tree": (make_pipeline(MaxAbsScaler(), Binarizer(threshold=0.1),
                                                ExtraTreeClassifier(random_state=0)), xc, yc, "both"),
        "minmax_clip_logistic": (make_pipeline(MinMaxScaler(clip=True), LogisticRegressionCV(max_iter=500)), xb, yb,
                                 "both"),
    }
    for name, (est, x, y, method) in cases.items():
        os.makedirs(f"{d}/{name}", exist_ok=True)
        joblib.dump(est.fit(x, y), f"{d}/{name}/model.pkl")
        with open(f"{d}/{name}/spec.yaml", "w") as f:
            f.write(f"models: [{{name: {name.replace('_', '-')}, version: 1, path: model.pkl, framework: sklearn, "
                    f"method: {method}}}]\n")
    print("\n".join(cases))


def refused(d):
    from sklearn.cluster import KMeans
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    import pandas as pd
    from sklearn.preprocessing import FunctionTransformer, StandardScaler
    x = np.random.RandomState(3).standard_normal((60, 3))
    y = (x[:, 0] > 0).astype(int)
    out = []

    def write(name, est, message, method="predict", spec_extra=""):
        os.makedirs(f"{d}/{name}", exist_ok=True)
        if isinstance(est, bytes):
            open(f"{d}/{name}/model.pkl", "wb").write(est)
        else:
            joblib.dump(est, f"{d}/{name}/model.pkl")
        with open(f"{d}/{name}/spec.yaml", "w") as f:
            f.write(f"models:\n  - name: {name.replace('_', '-')}\n    version: 1\n    path: model.pkl\n"
                    f"    framework: scikit-learn\n    method: {method}\n{spec_extra}")
        out.append(f"{name}\t{message}")

    write("kmeans", KMeans(n_clusters=2, n_init=3, random_state=0).fit(x),
          "sklearn.cluster._kmeans.KMeans cannot be converted to ONNX-ML by amlpkg; score it with an entry script")
    write("custom_step", make_pipeline(FunctionTransformer(np.log1p), Ridge()).fit(np.abs(x), y),
          "Pipeline step 'functiontransformer': sklearn.preprocessing._function_transformer.FunctionTransformer "
          "cannot be converted to ONNX-ML by amlpkg; score it with an entry script")
    write("string_labels", LogisticRegression().fit(x, np.where(y, "yes", "no")),
          "the class labels are not integers .* the native engine has no string tensors")
    write("no_proba", Ridge().fit(x, y), "Ridge has no predict_proba that converts", method="predict_proba")
    write("transform_only", make_pipeline(StandardScaler()).fit(x), "only transforms; no-code scoring needs a model "
          "that predicts")
    # A pickle from a scikit-learn that had another module layout: unloadable here, version named.
    mod = types.ModuleType("sklearn.linear_model._retired")
    cls = type("LinearRegression", (), {"__module__": mod.__name__,
                                        "__getstate__": lambda self: {"coef_": [1.0], "_sklearn_version": "0.21.3"}})
    mod.LinearRegression = cls
    sys.modules[mod.__name__] = mod
    write("old_version", pickle.dumps(cls()), "was pickled with scikit-learn 0.21.3; /usr/bin/python3 has "
          f"scikit-learn {__import__('sklearn').__version__}, which cannot load it")
    # The same from joblib, arrays before the version in the stream, compressed.
    cls2 = type("Ridge", (), {"__module__": mod.__name__, "__getstate__": lambda self: {
        "coef_": np.arange(50.0), "intercept_": np.zeros(3), "_sklearn_version": "0.22.2"}})
    mod.Ridge = cls2
    os.makedirs(f"{d}/old_joblib", exist_ok=True)
    joblib.dump(cls2(), f"{d}/old_joblib/m.joblib", compress=3)
    write("old_joblib", open(f"{d}/old_joblib/m.joblib", "rb").read(), "was pickled with scikit-learn 0.22.2; "
          "/usr/bin/python3 has scikit-learn")
    print("\n".join(out))


def compare(expected_path, response_path):
    want = json.load(open(expected_path))
    got = json.load(open(response_path))
    pairs = [("predict", want, got)] if not isinstance(want, dict) else \
        [(k, want[k], got.get(k) if isinstance(got, dict) else None) for k in want]
    for name, w, g in pairs:
        if g is None:
            sys.exit(f"'{name}' missing from {json.dumps(got)[:300]}")
        w, g = np.asarray(w, dtype=float), np.asarray(g, dtype=float)
        if w.shape != g.shape:
            sys.exit(f"{name}: shape {g.shape}, scikit-learn {w.shape}")
        is_labels = name == "predict" and np.all(w == np.round(w)) and w.ndim == 1 and \
            not os.path.basename(os.path.dirname(expected_path)).endswith(("regression", "regressor", "ridge", "lasso",
                                                                           "net", "svr_rbf"))
        if is_labels:
            if not np.array_equal(w, g):
                bad = np.nonzero(w != g)[0]
                sys.exit(f"{name}: labels differ at rows {bad.tolist()[:10]}")
        elif not np.all(np.abs(g - w) <= 1e-5 * np.maximum(np.abs(w), np.abs(w).max())):
            i = np.unravel_index(np.argmax(np.abs(g - w)), w.shape)
            sys.exit(f"{name}: element {i} is {g[i]!r}, scikit-learn says {w[i]!r}")
    print(f"matches scikit-learn ({', '.join(p[0] for p in pairs)}, {len(np.asarray(pairs[0][1]))} rows)")


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "train" and len(sys.argv) == 3:
        train(sys.argv[2])
    elif cmd == "more" and len(sys.argv) == 3:
        more(sys.argv[2])
    elif cmd == "refused" and len(sys.argv) == 3:
        refused(sys.argv[2])
    elif cmd == "compare" and len(sys.argv) == 4:
        compare(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
