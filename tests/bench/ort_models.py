"""The models tests/bench/ort.sh runs through amlserve's engine and ONNX Runtime.

usage: ort_models.py DIR   writes DIR/<name>.onnx for every shape below.
Weights are random (seeded); shapes follow the classic serving cases."""
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper, save

rng = np.random.default_rng(1)
OUT = sys.argv[1]


def w(name, *shape, scale=None):
    s = scale if scale is not None else 1.0 / np.sqrt(np.prod(shape[1:]) if len(shape) > 1 else shape[0])
    return numpy_helper.from_array((rng.standard_normal(shape) * s).astype(np.float32), name)


def const(name, values, dtype):
    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def save_model(name, nodes, inits, inputs, outputs, opset=13, ml=False):
    g = helper.make_graph(nodes, name, inputs, outputs, inits)
    ops = [helper.make_opsetid("", opset)] + ([helper.make_opsetid("ai.onnx.ml", 1)] if ml else [])
    m = helper.make_model(g, opset_imports=ops)
    m.ir_version = 8
    save(m, os.path.join(OUT, name + ".onnx"))


def f(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def gelu(x, y, p):
    """Gelu as exporters write it: x * 0.5 * (1 + erf(x / sqrt(2)))."""
    return [helper.make_node("Div", [x, p + "sqrt2"], [p + "d"]), helper.make_node("Erf", [p + "d"], [p + "e"]),
            helper.make_node("Add", [p + "e", p + "one"], [p + "a"]), helper.make_node("Mul", [x, p + "a"], [p + "m"]),
            helper.make_node("Mul", [p + "m", p + "half"], [y])], \
        [const(p + "sqrt2", np.sqrt(2.0), np.float32), const(p + "one", 1.0, np.float32),
         const(p + "half", 0.5, np.float32)]


# ResNet-style: two basic blocks, four 3x3 convolutions, 64 channels at 56x56 (batch norm folded).
nodes, inits, x = [], [], "x"
for b in range(2):
    p = f"b{b}"
    nodes += [helper.make_node("Conv", [x, p + "w1", p + "b1"], [p + "c1"], pads=[1, 1, 1, 1]),
              helper.make_node("Relu", [p + "c1"], [p + "r1"]),
              helper.make_node("Conv", [p + "r1", p + "w2", p + "b2"], [p + "c2"], pads=[1, 1, 1, 1]),
              helper.make_node("Add", [p + "c2", x], [p + "s"]),
              helper.make_node("Relu", [p + "s"], ["y" if b == 1 else p + "y"])]
    inits += [w(p + "w1", 64, 64, 3, 3), w(p + "b1", 64, scale=0.1), w(p + "w2", 64, 64, 3, 3),
              w(p + "b2", 64, scale=0.1)]
    x = p + "y"
save_model("resnet_block", nodes, inits, [f("x", [None, 64, 56, 56])], [f("y", [None, 64, 56, 56])])

# MLP 784-2048-2048-10 (Gemm with transposed weights, as PyTorch exports Linear).
save_model("mlp", [
    helper.make_node("Gemm", ["x", "w1", "b1"], ["h1"], transB=1), helper.make_node("Relu", ["h1"], ["r1"]),
    helper.make_node("Gemm", ["r1", "w2", "b2"], ["h2"], transB=1), helper.make_node("Relu", ["h2"], ["r2"]),
    helper.make_node("Gemm", ["r2", "w3", "b3"], ["y"], transB=1),
], [w("w1", 2048, 784), w("b1", 2048, scale=0.1), w("w2", 2048, 2048), w("b2", 2048, scale=0.1), w("w3", 10, 2048),
    w("b3", 10, scale=0.1)], [f("x", [None, 784])], [f("y", [None, 10])])

# Transformer feed-forward block: 128 tokens, 768 -> 3072 (Gelu) -> 768.
g_nodes, g_inits = gelu("h", "g", "gelu_")
save_model("ffn", [helper.make_node("MatMul", ["x", "w1"], ["m1"]), helper.make_node("Add", ["m1", "b1"], ["h"])]
           + g_nodes + [helper.make_node("MatMul", ["g", "w2"], ["m2"]), helper.make_node("Add", ["m2", "b2"], ["y"])],
           [w("w1", 768, 3072), w("b1", 3072, scale=0.1), w("w2", 3072, 768), w("b2", 768, scale=0.1)] + g_inits,
           [f("x", [128, 768])], [f("y", [128, 768])])

# BERT-base encoder layer at sequence 128: attention (12 heads) + FFN, LayerNormalization (opset 17).
H, S, D = 12, 128, 768
nodes, inits = [], []
for n in "qkv":
    nodes += [helper.make_node("MatMul", ["x", "w" + n], [n + "m"]), helper.make_node("Add", [n + "m", "b" + n], [n + "a"]),
              helper.make_node("Reshape", [n + "a", "heads"], [n + "r"]),
              helper.make_node("Transpose", [n + "r"], [n + "t"], perm=[0, 2, 3, 1] if n == "k" else [0, 2, 1, 3])]
    inits += [w("w" + n, D, D), w("b" + n, D, scale=0.1)]
g_nodes, g_inits = gelu("f1", "fg", "gelu_")
nodes += [helper.make_node("MatMul", ["qt", "kt"], ["sc"]), helper.make_node("Div", ["sc", "sqrt_dk"], ["scs"]),
          helper.make_node("Softmax", ["scs"], ["p"], axis=-1), helper.make_node("MatMul", ["p", "vt"], ["ctx"]),
          helper.make_node("Transpose", ["ctx"], ["ctxt"], perm=[0, 2, 1, 3]),
          helper.make_node("Reshape", ["ctxt", "merged"], ["ctxr"]),
          helper.make_node("MatMul", ["ctxr", "wo"], ["om"]), helper.make_node("Add", ["om", "bo"], ["oa"]),
          helper.make_node("Add", ["oa", "x"], ["res1"]),
          helper.make_node("LayerNormalization", ["res1", "ln1g", "ln1b"], ["ln1"], axis=-1, epsilon=1e-12),
          helper.make_node("MatMul", ["ln1", "wf1"], ["f1m"]), helper.make_node("Add", ["f1m", "bf1"], ["f1"])] \
    + g_nodes + [helper.make_node("MatMul", ["fg", "wf2"], ["f2m"]), helper.make_node("Add", ["f2m", "bf2"], ["f2"]),
                 helper.make_node("Add", ["f2", "ln1"], ["res2"]),
                 helper.make_node("LayerNormalization", ["res2", "ln2g", "ln2b"], ["y"], axis=-1, epsilon=1e-12)]
inits += [const("heads", [1, S, H, D // H], np.int64), const("merged", [1, S, D], np.int64),
          const("sqrt_dk", np.sqrt(D // H), np.float32), w("wo", D, D), w("bo", D, scale=0.1),
          const("ln1g", rng.uniform(0.5, 1.5, D), np.float32), const("ln1b", rng.uniform(-0.1, 0.1, D), np.float32),
          w("wf1", D, 4 * D), w("bf1", 4 * D, scale=0.1), w("wf2", 4 * D, D), w("bf2", D, scale=0.1),
          const("ln2g", rng.uniform(0.5, 1.5, D), np.float32), const("ln2b", rng.uniform(-0.1, 0.1, D), np.float32)] \
    + g_inits
save_model("bert_layer", nodes, inits, [f("x", [1, S, D])], [f("y", [1, S, D])], opset=17)

# MobileNet-style depthwise-separable block: 3x3 depthwise (32 groups) + Relu, 1x1 to 64 + Relu, at 112x112.
save_model("depthwise_separable", [
    helper.make_node("Conv", ["x", "dw", "db"], ["d"], pads=[1, 1, 1, 1], group=32),
    helper.make_node("Relu", ["d"], ["dr"]),
    helper.make_node("Conv", ["dr", "pw", "pb"], ["p"]),
    helper.make_node("Relu", ["p"], ["y"]),
], [w("dw", 32, 1, 3, 3), w("db", 32, scale=0.1), w("pw", 64, 32, 1, 1), w("pb", 64, scale=0.1)],
    [f("x", [None, 32, 112, 112])], [f("y", [None, 64, 112, 112])])

# int8: MatMulInteger (uint8 activations x int8 weights -> int32) and QLinearMatMul (uint8 -> uint8), 128x768x768.
save_model("matmul_integer", [helper.make_node("MatMulInteger", ["x", "w", "xz", "wz"], ["y"])], [
    numpy_helper.from_array(rng.integers(-127, 128, (768, 768)).astype(np.int8), "w"),
    const("xz", 0, np.uint8), const("wz", 0, np.int8)],
    [helper.make_tensor_value_info("x", TensorProto.UINT8, [128, 768])],
    [helper.make_tensor_value_info("y", TensorProto.INT32, [128, 768])])
save_model("qlinear_matmul", [helper.make_node("QLinearMatMul", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["y"])], [
    const("xs", 0.02, np.float32), const("xz", 100, np.uint8),
    numpy_helper.from_array(rng.integers(0, 256, (768, 768)).astype(np.uint8), "w"),
    const("ws", 0.01, np.float32), const("wz", 128, np.uint8), const("ys", 0.5, np.float32), const("yz", 128, np.uint8)],
    [helper.make_tensor_value_info("x", TensorProto.UINT8, [128, 768])],
    [helper.make_tensor_value_info("y", TensorProto.UINT8, [128, 768])])

# A scikit-learn random forest (100 trees, depth 8, 20 features) as an ai.onnx.ml TreeEnsembleRegressor.
try:
    from sklearn.ensemble import RandomForestRegressor
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
    import sklearn_onnxml
    X = rng.standard_normal((2000, 20)).astype(np.float32)
    yv = X[:, 0] * 2 + np.sin(X[:, 1] * 3) + X[:, 2] * X[:, 3] + rng.standard_normal(2000) * 0.1
    est = RandomForestRegressor(n_estimators=100, max_depth=8, random_state=0).fit(X, yv)
    m = sklearn_onnxml.tree_regressor([(j, e.tree_) for j, e in enumerate(est.estimators_)], 20, "AVERAGE",
                                      as_tensor=False)
    save(m, os.path.join(OUT, "sklearn_forest.onnx"))
except ImportError as e:
    print(f"ort_models.py: no scikit-learn ({e}): the tree ensemble is left out", file=sys.stderr)

# MobileNetV2's first downsampling inverted residual: 1x1 16 -> 96 + Relu6 at 112x112, 3x3 depthwise
# stride 2 + Relu6, 1x1 96 -> 24 (a linear bottleneck). Last: its weights leave the others' unchanged.
save_model("mobilenet_down", [
    helper.make_node("Conv", ["x", "ew", "eb"], ["e"]),
    helper.make_node("Clip", ["e", "lo", "hi"], ["er"]),
    helper.make_node("Conv", ["er", "dw", "db"], ["d"], pads=[1, 1, 1, 1], strides=[2, 2], group=96),
    helper.make_node("Clip", ["d", "lo", "hi"], ["dr"]),
    helper.make_node("Conv", ["dr", "pw", "pb"], ["y"]),
], [w("ew", 96, 16, 1, 1), w("eb", 96, scale=0.1), w("dw", 96, 1, 3, 3), w("db", 96, scale=0.1),
    w("pw", 24, 96, 1, 1), w("pb", 24, scale=0.1), const("lo", 0, np.float32), const("hi", 6, np.float32)],
    [f("x", [None, 16, 112, 112])], [f("y", [None, 24, 56, 56])])
