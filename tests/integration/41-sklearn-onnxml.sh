#!/usr/bin/env bash
# ONNX-ML operators against scikit-learn: tests/integration/sklearn_onnxml.py trains
# real estimators (linear, trees, forests, boosting, SVMs, preprocessing) and
# converts each by hand to an ai.onnx.ml model; one amlserve serves them all
# (no-code, ?model=NAME) and every /score answer must match scikit-learn's
# predict / predict_proba / transform. String class labels must be refused at
# load time with a clear message.
. "$(dirname "$0")/../lib.sh"
HELPER="$ROOT/tests/integration/sklearn_onnxml.py"
if ! "$PY" -c 'import sklearn, onnx' 2>/dev/null; then
  skip "python3-sklearn or python3-onnx is not installed (bash .ci/install-deps)"
  exit 0
fi
if [ ! -x "$AMLSERVE" ]; then
  fail "amlserve $AMLSERVE is not built (make build)"
  exit 1
fi
if ! "$PY" "$HELPER" build "$WORK/cases" > "$WORK/names" 2> "$WORK/build.err"; then
  fail "training and converting the scikit-learn models"; sed 's/^/    /' "$WORK/build.err" | tail -20
  exit 1
fi
pass "trained and converted $(wc -l < "$WORK/names") scikit-learn models"

port=$(free_port)
AZUREML_MODEL_DIR="$WORK/cases/models" "$AMLSERVE" --port "$port" > "$WORK/serve.out" 2>&1 &
pid=$!
on_exit "kill $pid; wait $pid"
if ! wait_http "http://127.0.0.1:$port/" 30; then
  fail "amlserve did not start with the ONNX-ML models"; sed 's/^/    /' "$WORK/serve.out" | tail -20
  exit 1
fi
pass "amlserve loads every ONNX-ML model"

while read -r name; do
  code=$(curl -sS -o "$WORK/$name.out" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary @"$WORK/cases/$name.request.json" "http://127.0.0.1:$port/score?model=$name")
  if [ "$code" != 200 ]; then
    fail "$name: /score answered $code: $(head -c 300 "$WORK/$name.out")"
    continue
  fi
  check "$name: amlserve matches scikit-learn" "$PY" "$HELPER" compare "$WORK/cases/$name.expected.json" "$WORK/$name.out"
done < "$WORK/names"

check "a ZipMap output is a list of {label: probability} objects" bash -c \
  "grep -q '^\[{\"3\":[0-9.e-]*,\"7\":[0-9.e-]*,\"11\":' <(\"$PY\" -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))[\"probabilities\"], separators=(\",\", \":\")))' '$WORK/logistic_zipmap.out')"
# The Open Inference Protocol on the same models: a ZipMap output is an FP32 [N, C] tensor, columns in label order.
curl -sS -o "$WORK/zip.meta" "http://127.0.0.1:$port/v2/models/logistic_zipmap"
check "/v2 metadata: the ZipMap output is FP32 [-1, C]" \
  jq -e '.outputs[] | select(.name == "probabilities") | .datatype == "FP32" and .shape[0] == -1 and .shape[1] > 1' "$WORK/zip.meta"
"$PY" - "$WORK/zip.meta" "$WORK/cases/logistic_zipmap.request.json" > "$WORK/zip.v2.json" <<'PYEOF'
import json, sys
meta, req = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
i, x = meta["inputs"][0], req["data"]
print(json.dumps({"inputs": [{"name": i["name"], "datatype": i["datatype"], "shape": [len(x), len(x[0])], "data": x}]}))
PYEOF
curl -sS -o "$WORK/zip.v2.out" --data-binary @"$WORK/zip.v2.json" "http://127.0.0.1:$port/v2/models/logistic_zipmap/infer"
check "/v2 infer of the ZipMap model: labels and probabilities equal /score's" "$PY" - "$WORK/zip.v2.out" "$WORK/logistic_zipmap.out" <<'PYEOF'
import json, sys
v2, score = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
out = {o["name"]: o for o in v2["outputs"]}
rows = [list(d.values()) for d in score["probabilities"]]
assert out["label"]["data"] == score["label"], (out["label"], score["label"])
assert out["probabilities"]["shape"] == [len(rows), len(rows[0])], out["probabilities"]["shape"]
assert out["probabilities"]["data"] == [p for r in rows for p in r], "probabilities differ"
PYEOF
# swagger.json describes the service's first model: serve the ZipMap model alone.
port3=$(free_port)
AZUREML_MODEL_DIR="$WORK/cases/models/logistic_zipmap" "$AMLSERVE" --port "$port3" > "$WORK/zip.out" 2>&1 &
pid3=$!
on_exit "kill $pid3; wait $pid3"
wait_http "http://127.0.0.1:$port3/" 30
check "swagger.json describes a ZipMap output as a list of objects of numbers" bash -c \
  "curl -fsS 'http://127.0.0.1:$port3/swagger.json' | grep -q '\"items\": {\"type\": \"object\", \"additionalProperties\": {\"type\": \"number\"'"

# String labels: the engine has no string tensors, so the model is refused when it loads.
"$PY" "$HELPER" string-labels "$WORK/strings/model.onnx"
check_fails "a classifier with string labels is refused at load time, naming the attribute" \
  "LinearClassifier with classlabels_strings is not supported: the engine has no string tensors" \
  env AZUREML_MODEL_DIR="$WORK/strings" "$AMLSERVE" --port "$(free_port)"

# Wrong attributes: the models load (kernels check attributes when they run), and
# every /score answers 400 with the node and the problem named, never a crash.
"$PY" "$HELPER" bad "$WORK/bad" > "$WORK/bad.list"
port2=$(free_port)
AZUREML_MODEL_DIR="$WORK/bad/models" "$AMLSERVE" --port "$port2" > "$WORK/bad.out" 2>&1 &
pid2=$!
on_exit "kill $pid2; wait $pid2"
if wait_http "http://127.0.0.1:$port2/" 30; then
  while IFS=$'\t' read -r name message; do
    code=$(curl -sS -o "$WORK/bad-$name.out" -w '%{http_code}' -H 'Content-Type: application/json' \
      --data-binary '{"data": [[0.0, 1.0], [2.0, 3.0]]}' "http://127.0.0.1:$port2/score?model=$name")
    if [ "$code" = 400 ] && grep -qF "$message" "$WORK/bad-$name.out"; then
      pass "$name: 400 naming the problem"
    else
      fail "$name: expected 400 with '$message', got $code: $(head -c 300 "$WORK/bad-$name.out")"
    fi
  done < "$WORK/bad.list"
  check "amlserve is still up after the bad models" curl -fsS -o /dev/null "http://127.0.0.1:$port2/"
else
  fail "amlserve did not start with the bad models"; sed 's/^/    /' "$WORK/bad.out" | tail -20
fi
