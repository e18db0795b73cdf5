#!/usr/bin/env bash
# No-code scikit-learn: pickles of every converted family (linear, logistic,
# trees, forests, boosting, SVMs, naive Bayes, preprocessing Pipelines) become
# FROM-scratch images with no Python; each image's own amlserve answers /score
# as scikit-learn predicts (Azure's shapes), on rows the model never saw.
# Unconvertible models, string labels, pickles from another scikit-learn and
# converted models that disagree with scikit-learn are refused by name.
source "$(dirname "$0")/../lib.sh"
HELPER="$ROOT/tests/cli/sklearn_nocode.py"
if ! "$PY" -c 'import sklearn, joblib' 2>/dev/null; then
  skip "python3-sklearn is not installed (bash .ci/install-deps)"
  exit 0
fi
# amlpkg's conversion directories go here, so the test can see that none is left behind.
export TMPDIR="$WORK/tmp"
mkdir -p "$TMPDIR"
if ! "$PY" "$HELPER" train "$WORK/m" > "$WORK/names" 2> "$WORK/train.err"; then
  fail "training the scikit-learn models"; sed 's/^/    /' "$WORK/train.err" | tail -20
  exit 1
fi

# unpack TAR DIR: the image's layers, in order, into DIR; prints the config path.
unpack() {
  local tar=$1 dir=$2
  mkdir -p "$dir/x" "$dir/root" && tar xf "$tar" -C "$dir/x"
  local manifest config
  manifest="$dir/x/blobs/sha256/$(jq -r '.manifests[0].digest' "$dir/x/index.json" | cut -d: -f2)"
  config="$dir/x/blobs/sha256/$(jq -r '.config.digest' "$manifest" | cut -d: -f2)"
  for l in $(jq -r '.layers[].digest' "$manifest" | cut -d: -f2); do tar xzf "$dir/x/blobs/sha256/$l" -C "$dir/root"; done
  echo "$config"
}
# serve_image DIR CONFIG: the unpacked image's amlserve with the image's environment; sets $port and $pid.
serve_image() {
  local dir=$1 config=$2 envs=()
  mapfile -t envs < <(jq -r '.config.Env[]' "$config" | sed "s#=/var/azureml-app#=$dir/root/var/azureml-app#")
  port=$(free_port)
  env "${envs[@]}" "$dir/root/usr/local/bin/amlserve" --host 127.0.0.1 --port "$port" > "$dir/serve.log" 2>&1 &
  pid=$!
  on_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
  wait_http "http://127.0.0.1:$port/"
}

n=0
while read -r name; do
  d="$WORK/m/$name"
  if ! "$AMLPKG" build "$d/spec.yaml" -o "$d/image.tar" --no-cache > "$d/build.out" 2> "$d/build.err"; then
    fail "$name: amlpkg build refused it: $(tail -1 "$d/build.err")"
    continue
  fi
  config=$(unpack "$d/image.tar" "$d")
  if ! serve_image "$d" "$config"; then
    fail "$name: the image's amlserve did not start: $(tail -3 "$d/serve.log")"
    continue
  fi
  code=$(curl -sS -o "$d/response.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary @"$d/request.json" "http://127.0.0.1:$port/score")
  if [ "$code" = 200 ]; then
    check "$name: the image answers as scikit-learn predicts" "$PY" "$HELPER" compare "$d/expected.json" "$d/response.json"
  else
    fail "$name: /score answered $code: $(head -c 300 "$d/response.json")"
  fi
  kill "$pid"; wait "$pid" 2>/dev/null
  n=$((n + 1))
done < "$WORK/names"
check "all $(wc -l < "$WORK/names") families were built and scored" test "$n" -eq "$(wc -l < "$WORK/names")"

# More estimators, checked by the build's own comparison with scikit-learn (100 synthesised rows).
"$PY" "$HELPER" more "$WORK/more" > "$WORK/more.names"
while read -r name; do
  check "$name converts and matches scikit-learn at build time" bash -c \
    "'$AMLPKG' build '$WORK/more/$name/spec.yaml' -o '$WORK/more/$name.tar' --no-cache --no-sbom 2>&1 | grep -q 'it matches scikit-learn on 100 rows'"
done < "$WORK/more.names"

# What the image holds: the ONNX model named after the pickle, amlserve, samples; no pickle, no Python.
d="$WORK/m/pipeline_scaled_logistic"
check "the build says what it converted and that it matches scikit-learn" \
  grep -q 'converted pipeline-scaled-logistic:1 (Pipeline(StandardScaler, LogisticRegression), 6 features) to ONNX-ML; it matches scikit-learn on 100 rows' "$d/build.err"
check "the model layer holds model.onnx where the pickle was" \
  test -f "$d/root/var/azureml-app/azureml-models/pipeline-scaled-logistic/1/model.onnx"
check "... and no pickle" bash -c "! find '$d/root' -name '*.pkl' | grep -q ."
check "the image has no Python" bash -c "! find '$d/root' -name 'python*' | grep -q ."
if [ -n "${AMLPKG_SANITIZED:-}" ]; then
  skip "the image is a few MB: sanitizer builds put an instrumented amlserve three times the size in it"
else
  check "the image is a few MB" test "$(stat -c %s "$d/image.tar")" -lt 5000000
fi
check "the SBOM says the model was converted from the pickle" \
  jq -e '[.packages[] | select(.comment == "scikit-learn, converted to ONNX-ML by amlpkg from '"'model.pkl'"'")] | length == 1' \
  "$d/image.tar.spdx.json"
check "classifier with method both answers {predict, predict_proba}" \
  jq -e 'keys == ["predict", "predict_proba"] and (.predict_proba[0] | length) == 3' "$d/response.json"
check "method predict answers a bare list of labels (Azure's shape)" \
  jq -e 'type == "array" and (.[0] | type) == "number"' "$WORK/m/svc_linear_binary/response.json"
check "method predict_proba answers a bare list of rows" \
  jq -e 'type == "array" and (.[0] | length) == 3' "$WORK/m/logistic_multiclass/response.json"
check "regressors answer one number per row" jq -e 'type == "array" and (.[0] | type) == "number"' \
  "$WORK/m/ridge/response.json"
config=$(unpack "$d/image.tar" "$d/again")
serve_image "$d/again" "$config"
check "swagger's example carries the model's 6 features" bash -c \
  "curl -fsS 'http://127.0.0.1:$port/swagger.json' | jq -e '[.. | objects | select(has(\"example\")) | .example.data[0] | length] | index(6)'"
kill "$pid"; wait "$pid" 2>/dev/null

(cd "$WORK/m/ridge" && "$AMLPKG" build spec.yaml -o again.tar --no-cache >/dev/null 2>&1)
check "a second build of the same pickle is byte-for-byte identical" cmp "$WORK/m/ridge/image.tar" "$WORK/m/ridge/again.tar"

# The spec's input sample is what the build checks with; --check-rows sets the synthesised rows.
mkdir -p "$WORK/s" && cp "$WORK/m/gaussian_nb/model.pkl" "$WORK/s/" && cp "$WORK/m/gaussian_nb/request.json" "$WORK/s/sample.json"
cat > "$WORK/s/spec.yaml" <<'YAML'
models: [{name: nb, version: 2, path: model.pkl, framework: ScikitLearn}]
service: {input_sample: sample.json}
YAML
check "the spec's input sample checks the conversion" bash -c \
  "'$AMLPKG' build '$WORK/s/spec.yaml' -o '$WORK/s/a.tar' --no-cache 2>&1 | grep -q 'matches scikit-learn on 50 rows'"
check "--check-rows synthesises that many rows" bash -c \
  "'$AMLPKG' build '$WORK/m/ridge/spec.yaml' -o '$WORK/s/b.tar' --no-cache --check-rows 7 2>&1 | grep -q 'matches scikit-learn on 7 rows'"

# Azure's no-code form: --model with --model-framework and no inference config.
check "--model NAME:VERSION=PATH --model-framework ScikitLearn builds a no-code image" \
  "$AMLPKG" build --model "churn:3=$WORK/m/gradient_boosting_binary/model.pkl" --model-framework ScikitLearn \
  -o "$WORK/s/azure.tar" --no-cache
config=$(unpack "$WORK/s/azure.tar" "$WORK/s/azure")
check "... serving the model as churn/3/model.onnx" test -f "$WORK/s/azure/root/var/azureml-app/azureml-models/churn/3/model.onnx"
check_fails "--model-framework must be one of Azure's" "is not one of ScikitLearn, Onnx" \
  "$AMLPKG" build --model "x:1=$WORK/m/ridge/model.pkl" --model-framework Caffe -o "$WORK/s/no.tar"
check_fails "a model's method needs framework scikit-learn" "only a scikit-learn model" bash -c \
  "printf 'models: [{name: a, version: 1, path: model.pkl, method: predict}]\n' > '$WORK/s/m.yaml' && cp '$WORK/m/ridge/model.pkl' '$WORK/s/' && '$AMLPKG' build '$WORK/s/m.yaml' -o '$WORK/s/no.tar'"

mkdir -p "$WORK/done" && cp "$ROOT/examples/onnx-ridge/model.onnx" "$WORK/done/"
printf 'models: [{name: done, version: 1, path: model.onnx, framework: scikit-learn}]\n' > "$WORK/done/spec.yaml"
check "a scikit-learn model given as .onnx (converted already) is packaged as it is" bash -c \
  "'$AMLPKG' build '$WORK/done/spec.yaml' -o '$WORK/done/i.tar' > '$WORK/done/out' 2>&1 && ! grep -q converted '$WORK/done/out'"

# amlpkg serve converts the same way and answers on the host.
"$AMLPKG" serve "$WORK/m/random_forest_classifier/spec.yaml" --port 0 > "$WORK/serve.out" 2> "$WORK/serve.err" &
spid=$!
on_exit "kill $spid 2>/dev/null; wait $spid 2>/dev/null"
for _ in $(seq 300); do grep -q 'Press Ctrl-C' "$WORK/serve.out" && break; kill -0 $spid 2>/dev/null || break; sleep 0.1; done
sport=$(grep -o 'Scoring URI: http://127.0.0.1:[0-9]*' "$WORK/serve.out" | grep -o '[0-9]*$')
if [ -n "$sport" ] && curl -fsS -o "$WORK/serve.json" --data-binary @"$WORK/m/random_forest_classifier/request.json" \
     -H 'Content-Type: application/json' "http://127.0.0.1:$sport/score"; then
  check "amlpkg serve answers a scikit-learn model as scikit-learn predicts" \
    "$PY" "$HELPER" compare "$WORK/m/random_forest_classifier/expected.json" "$WORK/serve.json"
else
  fail "amlpkg serve did not answer: $(tail -3 "$WORK/serve.err")"
fi
kill -INT $spid; wait $spid 2>/dev/null

# Refusals name the estimator (or the problem) and the alternative.
"$PY" "$HELPER" refused "$WORK/r" > "$WORK/refused"
while IFS=$'\t' read -r name message; do
  check_fails "$name is refused at build time" "$message" "$AMLPKG" build "$WORK/r/$name/spec.yaml" -o "$WORK/r/$name.tar"
  check "... and nothing is written" test ! -e "$WORK/r/$name.tar"
done < "$WORK/refused"

# A converted model that disagrees with scikit-learn is not packaged: a --python that runs the
# real converter, then changes one of scikit-learn's expected numbers.
cat > "$WORK/tamper.sh" <<EOF
#!/bin/sh
/usr/bin/python3 "\$@" || exit \$?
out=\$(echo "\$@" | sed 's/.*--out \([^ ]*\).*/\1/')
/usr/bin/python3 -c 'import json,sys; p=sys.argv[1]; d=json.load(open(p)); o=d["outputs"]["predict"]; o["values"][3] += 0.5; json.dump(d, open(p,"w"))' "\$out/check.json"
EOF
chmod +x "$WORK/tamper.sh"
check_fails "a conversion that differs from scikit-learn is refused, naming the output and row" \
  "does not match scikit-learn, so it is not packaged: output 'predict' row 3" \
  "$AMLPKG" build "$WORK/m/lasso/spec.yaml" -o "$WORK/r/tampered.tar" --python "$WORK/tamper.sh"
check_fails "a --python that does not exist is named" "'/nonexistent/python3' cannot be run" \
  "$AMLPKG" build "$WORK/m/lasso/spec.yaml" -o "$WORK/r/nopy.tar" --python /nonexistent/python3
check_fails "a folder with two pickles must name one" "holds several pickles" bash -c \
  "mkdir -p '$WORK/two' && cp '$WORK/m/ridge/model.pkl' '$WORK/two/a.pkl' && cp '$WORK/m/ridge/model.pkl' '$WORK/two/b.joblib' &&
   printf 'models: [{name: t, version: 1, path: ., framework: sklearn}]\n' > '$WORK/two/spec.yaml' && '$AMLPKG' build '$WORK/two/spec.yaml' -o '$WORK/two.tar'"
check "no conversion directory is left behind" bash -c "! ls -A '$TMPDIR' | grep -q ."

# The example: train, pickle, package; its image answers the sample request.
mkdir -p "$WORK/ex" && cp "$ROOT/examples/sklearn-nocode/"{train.py,spec.yaml,sample-request.json} "$WORK/ex/"
check "examples/sklearn-nocode trains and pickles its model" "$PY" "$WORK/ex/train.py"
check "... and packages it, checked on its sample request" bash -c \
  "'$AMLPKG' build '$WORK/ex/spec.yaml' -o '$WORK/ex/iris.tar' 2>&1 | grep -q 'converted iris:1 (Pipeline(StandardScaler, LogisticRegression), 4 features) to ONNX-ML; it matches scikit-learn on 3 rows'"
config=$(unpack "$WORK/ex/iris.tar" "$WORK/ex")
serve_image "$WORK/ex" "$config"
check "... and the image answers labels 0, 1, 2 with their probabilities" bash -c \
  "curl -fsS -H 'Content-Type: application/json' --data-binary @'$WORK/ex/sample-request.json' http://127.0.0.1:$port/score |
   jq -e '.predict == [0, 1, 2] and (.predict_proba | length) == 3 and (.predict_proba[0][0] > 0.9)'"
kill "$pid"; wait "$pid" 2>/dev/null
