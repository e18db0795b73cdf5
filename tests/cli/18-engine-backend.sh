#!/usr/bin/env bash
# amlserve --backend / --engine-threads: a small CNN scored by the optimized
# CPU backend and by the reference kernels gives the same answer (rtol 1e-4),
# /metrics says which backend ran the nodes (activations and the bias Add fused
# into the Conv/Gemm before them), and bad choices are refused.
source "$(dirname "$0")/../lib.sh"
mkdir -p "$WORK/cnn"
"$PY" - "$WORK/cnn/model.onnx" "$WORK/request.json" <<'PYEOF'
import json, sys
import numpy as np
from onnx import TensorProto, helper, numpy_helper, save
rng = np.random.default_rng(7)
def init(name, *shape):
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32) * 0.3, name)
nodes = [
    helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
    helper.make_node("Relu", ["c1"], ["r1"]),
    helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], strides=[2, 2], group=2),
    helper.make_node("Sigmoid", ["c2"], ["s2"]),
    helper.make_node("Flatten", ["s2"], ["f"]),
    helper.make_node("Gemm", ["f", "w3", "b3"], ["g"], transB=1),
    helper.make_node("Add", ["g", "bias"], ["y"]),
]
inits = [init("w1", 4, 1, 3, 3), init("b1", 4), init("w2", 6, 2, 3, 3), init("b2", 6),
         init("w3", 5, 6 * 4 * 4), init("b3", 5), init("bias", 1, 5)]
g = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 1, 10, 10])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 5])], inits)
save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), sys.argv[1])
json.dump({"data": rng.standard_normal((3, 1, 10, 10)).round(3).tolist()}, open(sys.argv[2], "w"))
PYEOF

serve() { # BACKEND OUT_PREFIX: scores the request and saves /metrics
  local port; port=$(free_port)
  AZUREML_MODEL_DIR="$WORK/cnn" "$AMLSERVE" --port "$port" --host 127.0.0.1 --quiet --backend "$1" --engine-threads 2 \
    > "$WORK/$2.log" 2>&1 &
  local pid=$!
  wait_http "http://127.0.0.1:$port/" && curl -sS --data @"$WORK/request.json" "http://127.0.0.1:$port/score" > "$WORK/$2.json"
  curl -sS "http://127.0.0.1:$port/metrics" > "$WORK/$2.metrics"
  kill -TERM $pid; wait $pid
}
serve cpu opt
serve cpu-ref ref
runs() { sed -n "s/^amlserve_engine_node_runs_total{backend=\"$2\"} //p" "$WORK/$1.metrics"; }
check "--backend cpu answers like --backend cpu-ref (rtol 1e-4)" "$PY" -c '
import json, sys, numpy as np
a, b = (np.array(json.load(open(f)), dtype=np.float64) for f in sys.argv[1:])
assert a.shape == (3, 5), a.shape
np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)' "$WORK/opt.json" "$WORK/ref.json"
# Relu, Sigmoid and the bias Add are folded into the Conv or Gemm before them: 3 runs for 6 nodes.
check "/metrics: the optimized backend ran Conv+Relu, Conv+Sigmoid and Gemm+Add, fused" test "$(runs opt cpu)" = 3
check "/metrics: the reference ran the rest (Flatten)" test "$(runs opt cpu-ref)" = 1
check "/metrics: nodes by backend and the choice in effect" bash -c "
  grep -qx 'amlserve_engine_nodes{backend=\"cpu\"} 6' '$WORK/opt.metrics' &&
  grep -qx 'amlserve_engine_backend_info{backend=\"cpu\",threads=\"2\"} 1' '$WORK/opt.metrics'"
check "--backend cpu-ref runs every node on the reference" bash -c "[ '$(runs ref cpu)' = 0 ] && [ '$(runs ref cpu-ref)' = 7 ]"
# Built where nvcc exists; this machine has no GPU either way.
if [ -e /dev/nvidiactl ]; then
  skip "--backend cuda refusal: this machine has a GPU"
else
  check_fails "--backend cuda is refused: not built, or no GPU" "backend 'cuda': (not built|no GPU)" \
    "$AMLSERVE" --backend cuda --model-dir "$WORK/cnn"
fi
check_fails "an unknown backend is a usage error naming the choices" "expected auto, cpu, cpu-ref or cuda" \
  env AMLSERVE_BACKEND=tpu "$AMLSERVE" --model-dir "$WORK/cnn"
check_exit "--engine-threads 0 is a usage error" 2 "$AMLSERVE" --engine-threads 0 --model-dir "$WORK/cnn"
