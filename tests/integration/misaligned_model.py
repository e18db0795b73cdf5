"""Models whose float weights all lie misaligned inside the protobuf (raw_data
at a byte offset that is not a multiple of 4), for
tests/integration/44-onnx-misaligned-weights.sh. Each initializer's name is
padded until its bytes land misaligned (names come before raw_data in a
serialized TensorProto, so a longer name shifts the tensor's own bytes).

  misaligned_model.py model KIND DIR   writes DIR/model.onnx and DIR/request.json
                                        (x of ROWS rows) and DIR/want.json
                                        (the float64 answer)
  misaligned_model.py check OUT.json WANT.json   exits 1 (saying why) unless
                                        they agree to rtol 1e-4 (of max |want|)

KIND:
  chain    y = x · W1 · W2, W1 [2048, 4096], W2 [4096, 2048]: 64 MiB of weights,
           each past the load-time packing budget (streamed from the mapping)
  gemm     y = Relu(Gemm(x, W, C, transB=1)) + R: a small weight packed at load
           from misaligned bytes, a bias and a residual folded into the GEMM
  shared   y = x · W + W[0]: W read by a MatMul and by a Gather (which needs it
           aligned: copied at load)
  batched  y = x · W with W [3, K, N]: the optimized MatMul declines (A has
           another rank), the reference reads an aligned copy made on first need
"""
import json
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

ROWS = 8


def weights(shape, seed):
    w = np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)
    return w / np.float32(np.sqrt(shape[-2] if len(shape) > 1 else shape[0]))


def place_misaligned(model, names):
    """Pads each named initializer's name until its raw_data starts at an odd offset."""
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    for name in names:
        t, current = inits[name], name
        marker = t.raw_data[:64]
        for pad in range(8):
            new = name + "_" * pad
            for node in graph.node:
                node.input[:] = [new if i == current else i for i in node.input]
            t.name = current = new
            if model.SerializeToString().find(marker) % 4:
                break
        else:
            sys.exit(f"could not misalign {name}")
    data = model.SerializeToString()
    for t in graph.initializer:
        if t.data_type == TensorProto.FLOAT and data.find(t.raw_data[:64]) % 4 == 0:
            sys.exit(f"{t.name} ended up aligned")
    return data


def build(kind):
    if kind == "chain":
        k, mid, n = 2048, 4096, 2048
        w1, w2 = weights((k, mid), 1), weights((mid, n), 2)
        nodes = [helper.make_node("MatMul", ["x", "W1"], ["h"]), helper.make_node("MatMul", ["h", "W2"], ["y"])]
        inits = [numpy_helper.from_array(w1, "W1"), numpy_helper.from_array(w2, "W2")]
        ref = lambda x: x @ w1.astype(np.float64) @ w2.astype(np.float64)  # noqa: E731
        out_shape = [ROWS, n]
    elif kind == "gemm":
        k, n = 300, 260
        w, c, r = weights((n, k), 3), weights((n,), 4), weights((ROWS, n), 5)
        nodes = [helper.make_node("Gemm", ["x", "W", "C"], ["g"], transB=1), helper.make_node("Relu", ["g"], ["a"]),
                 helper.make_node("Add", ["a", "R"], ["y"])]
        inits = [numpy_helper.from_array(w, "W"), numpy_helper.from_array(c, "C"), numpy_helper.from_array(r, "R")]
        ref = lambda x: np.maximum(x @ w.T.astype(np.float64) + c, 0) + r  # noqa: E731
        out_shape = [ROWS, n]
    elif kind == "shared":
        k, n = 1024, 2048
        w = weights((k, n), 6)
        nodes = [helper.make_node("MatMul", ["x", "W"], ["p"]), helper.make_node("Gather", ["W", "zero"], ["w0"]),
                 helper.make_node("Add", ["p", "w0"], ["y"])]
        inits = [numpy_helper.from_array(w, "W"), numpy_helper.from_array(np.array(0, dtype=np.int64), "zero")]
        ref = lambda x: x @ w.astype(np.float64) + w[0]  # noqa: E731
        out_shape = [ROWS, n]
    elif kind == "batched":
        k, n = 512, 384
        w = weights((3, k, n), 7)
        nodes = [helper.make_node("MatMul", ["x", "W"], ["y"])]
        inits = [numpy_helper.from_array(w, "W")]
        ref = lambda x: np.matmul(x, w.astype(np.float64))  # noqa: E731
        out_shape = [3, ROWS, n]
    else:
        sys.exit(f"unknown kind {kind}")
    graph = helper.make_graph(nodes, kind, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [ROWS, k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    names = [t.name for t in inits if t.data_type == TensorProto.FLOAT]
    x = np.random.default_rng(99).standard_normal((ROWS, k)).astype(np.float32)
    return place_misaligned(model, names), x, ref(x.astype(np.float64))


def main():
    if sys.argv[1] == "model":
        kind, out = sys.argv[2], sys.argv[3]
        data, x, want = build(kind)
        with open(os.path.join(out, "model.onnx"), "wb") as f:
            f.write(data)
        with open(os.path.join(out, "request.json"), "w") as f:
            json.dump({"data": x.tolist()}, f)
        with open(os.path.join(out, "want.json"), "w") as f:
            json.dump(want.tolist(), f)
        print(len(data))
    elif sys.argv[1] == "check":
        got = np.array(json.load(open(sys.argv[2])), dtype=np.float64)
        want = np.array(json.load(open(sys.argv[3])), dtype=np.float64)
        if got.shape != want.shape:
            sys.exit(f"shape {got.shape}, expected {want.shape}")
        err = float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-6))
        if err > 1e-4:
            sys.exit(f"largest difference {err:.3g} of max |y|, above 1e-4")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
