"""An Azure ML entry script, unchanged from what runs in Azure ML: init()
loads the ridge weights from AZUREML_MODEL_DIR, run() scores a JSON body."""
import json
import os

import numpy as np
import onnx
from onnx import numpy_helper

w = b = None


def init():
    global w, b
    model_dir = os.environ["AZUREML_MODEL_DIR"]
    model = onnx.load(os.path.join(model_dir, "model.onnx"))
    weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    w, b = weights["w"], weights["b"]
    print("ridge weights loaded")


def run(raw_data):
    x = np.array(json.loads(raw_data)["data"], dtype=np.float32)
    return (x @ w + b).tolist()
