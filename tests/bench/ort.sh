#!/usr/bin/env bash
# amlserve's engine against ONNX Runtime (CPU) on the classic serving shapes
# (tests/bench/ort_models.py): same model file, same inputs, same thread
# count, answers compared (rtol 1e-4) before timing, alternating rounds, best
# round of each; ratio = ONNX Runtime's time / ours (above 1: we are faster).
# ONNX Runtime is the CPU library inside npm's onnxruntime-node, installed here
# (tests/bench/ort/node_modules, not committed) with install scripts disabled:
# its install script fetches GPU parts this machine does not need.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
BENCH="$BUILD/tests/bench/ort_bench"
ORT_DIR="$ROOT/tests/bench/ort"
LIB="$ORT_DIR/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1"
# Built (or brought up to date) here: a binary left from an older engine must never be timed.
rel=${BUILD#"$ROOT"/}
(cd "$ROOT" && make -s BUILD="$rel" "$rel/tests/bench/ort_bench" >/dev/null) ||
  { echo "SKIP ort bench: $BENCH could not be built (make bench)"; exit 0; }
if [ ! -f "$LIB" ]; then
  (cd "$ORT_DIR" && npm install --ignore-scripts --no-audit --no-fund >/dev/null 2>&1) ||
    { echo "SKIP ort bench: npm install of onnxruntime-node failed"; exit 0; }
fi
if [ ! -f "$LIB" ]; then
  echo "SKIP ort bench: onnxruntime-node has no linux/x64 CPU library at $LIB"
  exit 0
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$PY" "$(dirname "$0")/ort_models.py" "$WORK" || exit 1
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
for threads in 1 2; do
  for case in resnet_block:1 mlp:1 mlp:32 ffn:1 bert_layer:1 depthwise_separable:1 mobilenet_down:1 \
              sklearn_forest:1 sklearn_forest:100 \
              matmul_integer:1 qlinear_matmul:1; do
    name=${case%%:*} batch=${case##*:}
    [ -f "$WORK/$name.onnx" ] || continue
    "$BENCH" "$LIB" "$WORK/$name.onnx" "$batch" "$threads" "$name" || status=1
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $status
