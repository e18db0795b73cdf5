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
check "the swagger document describes a ZipMap output as objects" bash -c \
  "curl -fsS 'http://127.0.0.1:$port/swagger.json' | grep -q additionalProperties || curl -fsS 'http://127.0.0.1:$port/swagger.json' | grep -q '\"type\": *\"object\"'"

# String labels: the engine has no string tensors, so the model is refused when it loads.
"$PY" "$HELPER" string-labels "$WORK/strings/model.onnx"
check_fails "a classifier with string labels is refused at load time, naming the output" \
  "graph output 'label' is a string tensor.*integer class labels" \
  env AZUREML_MODEL_DIR="$WORK/strings" "$AMLSERVE" --port "$(free_port)"
