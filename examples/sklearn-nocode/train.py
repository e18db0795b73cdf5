#!/usr/bin/python3
"""Trains a scikit-learn Pipeline (scaler + logistic regression) on the iris
data that ships with scikit-learn and pickles it beside this file as
model.pkl, the file spec.yaml packages. The labels are 0, 1, 2 (setosa,
versicolor, virginica): no-code images answer integer labels."""
import os

import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

x, y = load_iris(return_X_y=True)
model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "model.pkl")
joblib.dump(model, out)
print(f"wrote {out}: {model} (training accuracy {model.score(x, y):.3f})")
