"""The score.py a scikit-learn model needs without no-code: Azure ML's pattern
(joblib.load in init(), predict in run()), for the sklearn benchmark."""
import json
import os

import joblib
import numpy as np

model = None


def init():
    global model
    model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.pkl"))


def run(raw_data):
    return model.predict(np.array(json.loads(raw_data)["data"], dtype=np.float64)).tolist()
