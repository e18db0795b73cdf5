#!/usr/bin/env bash
# The engine's optimized CPU backend: sgemm GFLOP/s against OpenBLAS (same
# shapes, same thread count; ratio = ours / OpenBLAS, goals >= 50% at 1024^3
# and >= 80% at the serving shapes), then ms per image of two CNNs built with
# onnx.helper, optimized backend vs reference kernels (ratio = speed-up), and
# amlserve's stripped size (must stay <= 8 MB).
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
BENCH="$BUILD/tests/bench/engine_bench"
if [ ! -x "$BENCH" ]; then
  echo "SKIP gemm bench: $BENCH is not built (make bench; needs libopenblas-dev)"
  exit 0
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
threads=$(nproc)
"$BENCH" gemm 1 || exit 1
[ "$threads" -gt 1 ] && { "$BENCH" gemm "$threads" || exit 1; }

"$PY" - "$WORK" <<'PYEOF' || exit 1
import sys
import numpy as np
from onnx import TensorProto, helper, numpy_helper, save
rng = np.random.default_rng(1)
def w(name, *shape):
    return numpy_helper.from_array((rng.standard_normal(shape) * 0.1).astype(np.float32), name)
def model(name, nodes, inits, x_shape, y_shape):
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)], inits)
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), f"{sys.argv[1]}/{name}.onnx")
# MNIST-shaped CNN: two 3x3 conv + pool stages, two dense layers.
model("mnist_cnn", [
    helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
    helper.make_node("Relu", ["c1"], ["r1"]),
    helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
    helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
    helper.make_node("Relu", ["c2"], ["r2"]),
    helper.make_node("MaxPool", ["r2"], ["p2"], kernel_shape=[2, 2], strides=[2, 2]),
    helper.make_node("Flatten", ["p2"], ["f"]),
    helper.make_node("Gemm", ["f", "w3", "b3"], ["d1"], transB=1),
    helper.make_node("Relu", ["d1"], ["r3"]),
    helper.make_node("Gemm", ["r3", "w4", "b4"], ["d2"], transB=1),
    helper.make_node("Softmax", ["d2"], ["y"], axis=1),
], [w("w1", 32, 1, 3, 3), w("b1", 32), w("w2", 64, 32, 3, 3), w("b2", 64), w("w3", 128, 64 * 7 * 7), w("b3", 128),
    w("w4", 10, 128), w("b4", 10)], [None, 1, 28, 28], [None, 10])
# ResNet basic block at stage-1 size (batch norm folded into the convolutions, as exporters do).
model("resnet_block", [
    helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
    helper.make_node("Relu", ["c1"], ["r1"]),
    helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
    helper.make_node("Add", ["c2", "x"], ["s"]),
    helper.make_node("Relu", ["s"], ["y"]),
], [w("w1", 64, 64, 3, 3), w("b1", 64), w("w2", 64, 64, 3, 3), w("b2", 64)], [None, 64, 56, 56], [None, 64, 56, 56])
PYEOF
for m in mnist_cnn resnet_block; do
  for batch in 1 8; do
    "$BENCH" model "$WORK/$m.onnx" "$batch" 1 || exit 1
  done
  [ "$threads" -gt 1 ] && { "$BENCH" model "$WORK/$m.onnx" 8 "$threads" || exit 1; }
done
strip -o "$WORK/amlserve" "$AMLSERVE"
size=$(stat -c %s "$WORK/amlserve")
printf 'amlserve stripped: %.2f MB (limit 8 MB)\n' "$(echo "scale=2; $size / 1048576" | bc)"
[ "$size" -le $((8 * 1048576)) ]
