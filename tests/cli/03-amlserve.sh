#!/usr/bin/env bash
# amlserve on the host: the scoring contract on the ridge example, checked
# against numpy, and start-up failures.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples/onnx-ridge"
port=$(free_port)
AZUREML_MODEL_DIR="$EX" "$AMLSERVE" --port "$port" --host 127.0.0.1 > "$WORK/server.log" 2>&1 &
pid=$!
on_exit "kill $pid; wait $pid"

check "amlserve starts and answers GET /" wait_http "http://127.0.0.1:$port/"
check "GET / says Healthy" test "$(curl -sS "http://127.0.0.1:$port/")" = "Healthy"
curl -sS -D "$WORK/headers" -o "$WORK/response.json" -H 'Content-Type: application/json' \
  --data @"$EX/sample-request.json" "http://127.0.0.1:$port/score"
check "POST /score matches numpy within 1e-5" "$PY" "$ROOT/tests/expected_scores.py" "$EX/model.onnx" "$EX/sample-request.json" "$WORK/response.json"
check "responses carry the Azure ML headers" bash -c "grep -qi '^x-ms-run-function-failed: False' '$WORK/headers' && grep -qi '^x-ms-request-id:' '$WORK/headers' && grep -qi '^x-ms-run-fn-exec-ms:' '$WORK/headers'"
code=$(curl -sS -o "$WORK/bad.json" -w '%{http_code}' --data '{"data": [[1,2,3]]}' "http://127.0.0.1:$port/score")
check "a wrong feature count is a 400 naming the shape" bash -c "[ $code = 400 ] && grep -q 'expected shape \[?,10\], got \[1,3\]' '$WORK/bad.json'"
code=$(curl -sS -o "$WORK/bad.json" -w '%{http_code}' --data '{"data": [[1,2' "http://127.0.0.1:$port/score")
check "malformed JSON is a 400 with a message" bash -c "[ $code = 400 ] && jq -e .message '$WORK/bad.json'"
check "the server is still healthy after bad requests" test "$(curl -sS "http://127.0.0.1:$port/")" = "Healthy"
code=$(curl -sS -o "$WORK/named.json" -w '%{http_code}' --data '{"inputs": {"x": [[1,2,3,4,5,6,7,8,9,10]]}}' "http://127.0.0.1:$port/score")
check "{\"inputs\": {\"x\": ...}} names the input explicitly" bash -c "[ $code = 200 ] && jq -e 'length == 1' '$WORK/named.json'"
kill -TERM $pid; wait $pid; rc=$?
check "SIGTERM stops the server cleanly" test "$rc" -eq 0

# A model with two named inputs: {"inputs": {...}} or the names at the top level.
mkdir -p "$WORK/two"
"$PY" - "$WORK/two/model.onnx" <<'PYEOF'
import sys
from onnx import TensorProto, helper, save
g = helper.make_graph(
    [helper.make_node("Mul", ["a", "b"], ["ab"]), helper.make_node("Add", ["ab", "a"], ["y"])], "two",
    [helper.make_tensor_value_info("a", TensorProto.FLOAT, [None, 3]), helper.make_tensor_value_info("b", TensorProto.FLOAT, [None, 3])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 3])])
save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), sys.argv[1])
PYEOF
port2=$(free_port)
AZUREML_MODEL_DIR="$WORK/two" "$AMLSERVE" --port "$port2" --host 127.0.0.1 --quiet > "$WORK/two.log" 2>&1 &
pid2=$!
on_exit "kill $pid2; wait $pid2"
wait_http "http://127.0.0.1:$port2/"
check "two inputs by {\"inputs\": {\"a\": ..., \"b\": ...}}: a*b+a" bash -c "
  curl -sf --data '{\"inputs\": {\"a\": [[1,2,3]], \"b\": [[2,2,2]]}}' http://127.0.0.1:$port2/score | jq -ce . | grep -qx '\[\[3,6,9\]\]'"
check "... or by name at the top level" bash -c "
  curl -sf --data '{\"a\": [[1,2,3]], \"b\": [[0,0,1]]}' http://127.0.0.1:$port2/score | jq -ce . | grep -qx '\[\[1,2,6\]\]'"
code=$(curl -sS -o "$WORK/two.json" -w '%{http_code}' --data '{"inputs": {"a": [[1,2,3]]}}' "http://127.0.0.1:$port2/score")
check "a missing input is a 400 naming it and the form to use" bash -c "[ $code = 400 ] && grep -q \"missing input 'b' (send {.*inputs\" '$WORK/two.json'"

head -c 64 /dev/urandom > "$WORK/corrupt.onnx"
AZUREML_MODEL_DIR="$WORK" "$AMLSERVE" --port "$(free_port)" > "$WORK/corrupt.log" 2>&1
rc=$?
check "a corrupt model makes amlserve exit 3 with the reason" bash -c "[ $rc = 3 ] && grep -q 'corrupt.onnx: not a valid ONNX model' '$WORK/corrupt.log'"

# Sequences inside a graph are fine; as a graph output they cannot travel as JSON.
mkdir -p "$WORK/seq" "$WORK/seqout"
"$PY" - "$WORK/seq/model.onnx" "$WORK/seqout/model.onnx" <<'PYEOF'
import sys
from onnx import TensorProto, helper, save
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4])
split = helper.make_node("SplitToSequence", ["x"], ["parts"], axis=1, keepdims=0)
g = helper.make_graph([split, helper.make_node("ConcatFromSequence", ["parts"], ["y"], axis=0, new_axis=1)], "seq", [x],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), sys.argv[1])
g = helper.make_graph([split], "seqout", [x],
                      [helper.make_tensor_sequence_value_info("parts", TensorProto.FLOAT, None)])
save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), sys.argv[2])
PYEOF
port4=$(free_port)
AZUREML_MODEL_DIR="$WORK/seq" "$AMLSERVE" --port "$port4" --host 127.0.0.1 --quiet > "$WORK/seq.log" 2>&1 &
pid4=$!
on_exit "kill $pid4; wait $pid4"
wait_http "http://127.0.0.1:$port4/"
check "a model with sequences inside scores (SplitToSequence, ConcatFromSequence transpose)" bash -c "
  curl -sf --data '{\"data\": [[1,2,3,4],[5,6,7,8]]}' http://127.0.0.1:$port4/score | jq -ce . | grep -qx '\[\[1,5\],\[2,6\],\[3,7\],\[4,8\]\]'"
AZUREML_MODEL_DIR="$WORK/seqout" "$AMLSERVE" --port "$(free_port)" > "$WORK/seqout.log" 2>&1
rc=$?
check "a model whose output is a sequence makes amlserve exit 3 naming it" bash -c "[ $rc = 3 ] && grep -q \"output 'parts' is a sequence; only numeric and bool tensors can be served\" '$WORK/seqout.log'"

# Static glibc still links dlopen for iconv and NSS; make sure nothing ever calls it:
# a dlopen or a name lookup would show up as an open of a .so, gconv or nsswitch file.
if [ -n "${AMLPKG_SANITIZED:-}" ]; then
  skip "run-time dlopen check: sanitizer builds link amlserve dynamically"
elif command -v strace >/dev/null; then
  port=$(free_port)
  AZUREML_MODEL_DIR="$EX" strace -f -qq -e trace=openat,open -o "$WORK/strace.log" "$AMLSERVE" --port "$port" --host 127.0.0.1 >/dev/null 2>&1 &
  spid=$!
  wait_http "http://127.0.0.1:$port/" && curl -sS -o /dev/null --data @"$EX/sample-request.json" "http://127.0.0.1:$port/score"
  curl -sS -o /dev/null --data 'bad json' "http://127.0.0.1:$port/score"
  # Signal amlserve itself (strace's child): strace does not forward SIGTERM.
  pkill -TERM -P $spid; wait $spid
  check "amlserve opens no shared library, gconv or NSS file at run time" \
    bash -c "grep -q model.onnx '$WORK/strace.log' && ! grep -E '\\.so|gconv|nsswitch|/etc/hosts|resolv.conf|passwd' '$WORK/strace.log'"
else
  skip "run-time dlopen check: strace is not installed (make deps installs it)"
fi

# Several models in Azure ML's layout: ?model=NAME[:VERSION] routes, the highest version by default.
for m in ridge/1 ridge/2 other/3 folder/4/saved/onnx; do mkdir -p "$WORK/models/$m" && cp "$EX/model.onnx" "$WORK/models/$m/"; done
mkdir -p "$WORK/models/pair/5" && cp "$EX/model.onnx" "$WORK/models/pair/5/encoder.onnx" && cp "$EX/model.onnx" "$WORK/models/pair/5/decoder.onnx"
port=$(free_port)
AZUREML_MODEL_DIR="$WORK/models" "$AMLSERVE" --port "$port" --host 127.0.0.1 > "$WORK/multi.log" 2>&1 &
mpid=$!
on_exit "kill $mpid; wait $mpid"
check "amlserve serves a folder of several models" wait_http "http://127.0.0.1:$port/"
score_code() { curl -sS -o "$WORK/multi.json" -w '%{http_code}' --data @"$EX/sample-request.json" "http://127.0.0.1:$port/score$1"; }
check "without ?model= it asks which model (400)" bash -c "[ $(score_code '') = 400 ] && grep -q 'model=NAME' '$WORK/multi.json'"
check "?model=ridge:1 scores that version" test "$(score_code '?model=ridge:1')" = 200
check "?model=other scores the only version of other" test "$(score_code '?model=other')" = 200
check "a model registered as a folder is named by its NAME/VERSION, at any depth" test "$(score_code '?model=folder:4')" = 200
check "several files in one NAME/VERSION are named by their stems" test "$(score_code '?model=decoder:5')" = 200
check "an unknown model is a 404 naming it" bash -c "[ $(score_code '?model=nope') = 404 ] && grep -q \"no model 'nope'\" '$WORK/multi.json'"

mkdir -p "$WORK/clash/m/1/a" "$WORK/clash/m/1/b"
cp "$EX/model.onnx" "$WORK/clash/m/1/a/" && cp "$EX/model.onnx" "$WORK/clash/m/1/b/"
check_fails "two files that would get one name are refused at start, naming both" "named 'model' version 1: .*/a/model.onnx' and .*/b/model.onnx'" \
  env AZUREML_MODEL_DIR="$WORK/clash" "$AMLSERVE" --port "$(free_port)" --host 127.0.0.1

# SIGHUP reloads the models; a broken replacement leaves the old ones serving.
mkdir -p "$WORK/hup" && cp "$EX/model.onnx" "$WORK/hup/"
port3=$(free_port)
AZUREML_MODEL_DIR="$WORK/hup" "$AMLSERVE" --port "$port3" --host 127.0.0.1 --quiet > "$WORK/hup.log" 2>&1 &
pid3=$!
on_exit "kill $pid3; wait $pid3"
wait_http "http://127.0.0.1:$port3/"
head -c 100 /dev/urandom > "$WORK/hup/model.onnx"
kill -HUP $pid3
hup_logged() { local d=$((SECONDS + 5)); while [ $SECONDS -lt $d ]; do grep -q "$1" "$WORK/hup.log" && return 0; sleep 0.1; done; return 1; }
check "SIGHUP with a corrupt model keeps the old models and says why" hup_logged 'SIGHUP: keeping the old models: .*model.onnx'
check "... and the old model still answers" bash -c "curl -sf --data @'$EX/sample-request.json' http://127.0.0.1:$port3/score | jq -e 'length == 2'"
cp "$EX/model.onnx" "$WORK/hup/model.onnx"
kill -HUP $pid3
check "SIGHUP with a good model reloads it" hup_logged 'SIGHUP: 1 model reloaded'
