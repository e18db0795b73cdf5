#!/usr/bin/python3
"""Checks a /score response against numpy: expected_scores.py MODEL.onnx REQUEST.json RESPONSE.json

Computes the graph's MatMul + Add with numpy from the model's own initializers
and compares every prediction within 1e-5 (relative to magnitude)."""
import json
import sys

import numpy as np
import onnx
from onnx import numpy_helper

model_path, request_path, response_path = sys.argv[1:4]
model = onnx.load(model_path)
weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
x = np.array(json.load(open(request_path))["data"], dtype=np.float32)
expected = x @ weights["w"] + weights["b"]
got = np.array(json.load(open(response_path)), dtype=np.float64)
if got.shape != expected.shape:
    sys.exit(f"shape {got.shape} != expected {expected.shape}: {got.tolist()}")
if not np.allclose(got, expected, rtol=1e-5, atol=1e-5):
    sys.exit(f"got {got.tolist()}, numpy says {expected.tolist()}")
print(f"matches numpy: {got.tolist()}")
