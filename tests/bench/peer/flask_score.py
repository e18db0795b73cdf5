"""The peer for the scoring benchmark: the Azure ML pattern, a Flask app under
gunicorn running a score.py-style run() with numpy, same ridge weights as
examples/onnx-ridge/model.onnx (read from the model so both compute alike)."""
import json
import os

import numpy as np
import onnx
from onnx import numpy_helper
from flask import Flask, request

app = Flask(__name__)
_model = onnx.load(os.environ["RIDGE_MODEL"])
_inits = {i.name: numpy_helper.to_array(i) for i in _model.graph.initializer}
_w, _b = _inits["w"], _inits["b"]


def run(raw):
    x = np.array(json.loads(raw)["data"], dtype=np.float32)
    return (x @ _w + _b).tolist()


@app.route("/", methods=["GET"])
def health():
    return "Healthy"


@app.route("/score", methods=["POST"])
def score():
    return app.response_class(json.dumps(run(request.get_data())), mimetype="application/json")
