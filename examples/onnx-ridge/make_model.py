#!/usr/bin/python3
"""Writes model.onnx for the onnx-ridge example: y = x·w + b over 10 features.

The weights come from a ridge regression fitted in closed form with numpy on a
fixed synthetic data set, so the file is the same on every run. Run with
/usr/bin/python3 (Debian's python3-onnx and python3-numpy):
    /usr/bin/python3 examples/onnx-ridge/make_model.py examples/onnx-ridge
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FEATURES = 10


def ridge_weights(alpha=0.5):
    rng = np.random.default_rng(20261124)
    x = rng.normal(size=(442, FEATURES))
    true_w = np.linspace(-2.0, 3.0, FEATURES)
    y = x @ true_w + 1.5 + rng.normal(scale=0.1, size=442)
    # Centre, solve (XᵀX + αI)w = Xᵀy, recover the intercept.
    xm, ym = x.mean(axis=0), y.mean()
    xc, yc = x - xm, y - ym
    w = np.linalg.solve(xc.T @ xc + alpha * np.eye(FEATURES), xc.T @ yc)
    b = ym - xm @ w
    return w.astype(np.float32), np.array([b], dtype=np.float32)


def build(out_dir):
    w, b = ridge_weights()
    graph = helper.make_graph(
        nodes=[
            helper.make_node("MatMul", ["x", "w"], ["xw"], name="matmul"),
            helper.make_node("Add", ["xw", "b"], ["y"], name="add_bias"),
        ],
        name="ridge",
        inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", FEATURES])],
        outputs=[helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch"])],
        initializer=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    model = helper.make_model(graph, producer_name="amlpkg-examples",
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = os.path.join(out_dir, "model.onnx")
    onnx.save(model, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    build(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
