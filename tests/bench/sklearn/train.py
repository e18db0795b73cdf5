"""A typical tabular model for the sklearn benchmark: 20 features, a random
forest of 100 trees (depth 8), pickled as DIR/model.pkl with a spec beside it."""
import os
import sys

import joblib
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier

d = sys.argv[1]
x, y = make_classification(n_samples=2000, n_features=20, n_informative=10, random_state=0)
joblib.dump(RandomForestClassifier(n_estimators=100, max_depth=8, random_state=0).fit(x, y), os.path.join(d, "model.pkl"))
with open(os.path.join(d, "spec.yaml"), "w") as f:
    f.write("models: [{name: forest, version: 1, path: model.pkl, framework: scikit-learn}]\n")
