#!/usr/bin/env bash
# amlpkg serve and profile: the package's service on this host, without an image,
# with the spec's service settings; the local profiler's measurements and sizing.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples"

# start_serve NAME SPEC [options...]: runs `amlpkg serve` in the background on a free
# port and waits for its banner; sets $port, $key and NAME_pid.
start_serve() {
  local name=$1 spec=$2; shift 2
  "$AMLPKG" serve "$spec" --port 0 --python /usr/bin/python3 "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" &
  local pid=$!
  on_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
  eval "${name}_pid=$pid"
  local deadline=$((SECONDS + 30))
  while [ $SECONDS -lt $deadline ] && ! grep -q 'Press Ctrl-C' "$WORK/$name.out"; do
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  port=$(grep -o 'Scoring URI: http://127.0.0.1:[0-9]*' "$WORK/$name.out" | grep -o '[0-9]*$')
  key=$(awk '/Primary key:/ {print $3}' "$WORK/$name.out")
  [ -n "$port" ]
}
score() { # score BODY_FILE [curl options...]: sets $code, $WORK/out
  local body=$1; shift
  code=$(curl -sS -o "$WORK/out" -w '%{http_code}' -H 'Content-Type: application/json' "$@" \
    --data-binary @"$body" "http://127.0.0.1:$port/score")
}
# stop_serve NAME SIGNAL: sends SIGNAL and waits; passes when serve exits 0.
stop_serve() {
  local pid; pid=$(eval echo "\$${1}_pid")
  kill -"$2" "$pid" && wait "$pid"
}

# --- serve, no-code ONNX
check "serve starts the no-code example and prints its URIs" start_serve onnx "$EX/onnx-ridge/spec.yaml"
check "the banner names the swagger URI" grep -q "Swagger URI: http://127.0.0.1:$port/swagger.json" "$WORK/onnx.out"
model_dir=$(awk '/AZUREML_MODEL_DIR:/ {print $2}' "$WORK/onnx.out")
check "AZUREML_MODEL_DIR is laid out as in the image, the model linked not copied" \
  bash -c "[ '${model_dir##*/azureml-models/}' = ridge/1 ] && [ -L '$model_dir/model.onnx' ] && [ \"\$(readlink '$model_dir/model.onnx')\" = '$EX/onnx-ridge/model.onnx' ]"
score "$EX/onnx-ridge/sample-request.json"
check "POST /score answers numpy's predictions" bash -c "[ $code = 200 ] && '$PY' '$ROOT/tests/expected_scores.py' '$EX/onnx-ridge/model.onnx' '$EX/onnx-ridge/sample-request.json' '$WORK/out'"
check "GET /swagger.json answers" curl -fsS -o /dev/null "http://127.0.0.1:$port/swagger.json"
check "the access log reaches serve's output" grep -q '"path":"/score","status":200' "$WORK/onnx.out"
check "Ctrl-C (SIGINT) stops serve with exit 0" stop_serve onnx INT
check "... and removes the layout but never the model it linked to" \
  bash -c "[ ! -e '${model_dir%/azureml-models/*}' ] && [ -f '$EX/onnx-ridge/model.onnx' ]"
check "... and amlserve is gone" bash -c "! pgrep -f '[a]mlserve .*--model-dir ${model_dir}' >/dev/null"

# --- serve, a Python entry script with the spec's service settings (auth, CORS, workers)
cp -r "$EX/python-ridge" "$WORK/py"
check "serve starts the score.py example" start_serve py "$WORK/py/spec.yaml"
check "auth is on: the generated primary and secondary keys are printed" \
  bash -c "[ ${#key} -eq 64 ] && grep -q 'Secondary key: [0-9a-f]\{64\}' '$WORK/py.out'"
score "$WORK/py/sample-request.json"
check "no key: 401" test "$code" = 401
score "$WORK/py/sample-request.json" -H "Authorization: Bearer $key"
check "the primary key: run()'s predictions" bash -c "[ $code = 200 ] && '$PY' '$ROOT/tests/expected_scores.py' '$EX/onnx-ridge/model.onnx' '$WORK/py/sample-request.json' '$WORK/out'"
cors=$(curl -sS -o /dev/null -D - -X OPTIONS -H 'Origin: http://localhost:3000' -H 'Access-Control-Request-Method: POST' \
  "http://127.0.0.1:$port/score" | tr -d '\r' | grep -i '^access-control-allow-origin:')
check "the spec's CORS origin is allowed" test "$cors" = "Access-Control-Allow-Origin: http://localhost:3000"
check "service.workers: 2 Python workers run" bash -c "[ \$(grep -c 'ridge weights loaded' '$WORK/py.err') -eq 2 ]"
check "stopping with SIGTERM exits 0" stop_serve py TERM

# --- serve --watch: an edit to score.py is live without restarting the listener
check "serve --watch starts" start_serve watch "$WORK/py/spec.yaml" --watch
score "$WORK/py/sample-request.json" -H "Authorization: Bearer $key"
first=$(cat "$WORK/out")
sed -i 's/return (x @ w + b).tolist()/return {"edited": True}/' "$WORK/py/score.py"
# Requests keep coming during the reload; every one must succeed (old code or new).
reload_failures=0
edited() {
  local deadline=$((SECONDS + 15))
  while [ $SECONDS -lt $deadline ]; do
    score "$WORK/py/sample-request.json" -H "Authorization: Bearer $key"
    [ "$code" = 200 ] || reload_failures=$((reload_failures + 1))
    [ "$code" = 200 ] && grep -q '"edited": true' "$WORK/out" && return 0
    sleep 0.05
  done
  return 1
}
check "an edit to the entry script is served on the same port" edited
check "... and no request failed during the reload" test "$reload_failures" = 0
check "... after the old answer was served first" test -n "$first"
check "... and serve says what changed" grep -q "changed: .*score.py" "$WORK/watch.err"
check "... and init() ran again in the reloaded workers" bash -c "[ \$(grep -c 'ridge weights loaded' '$WORK/watch.err') -ge 3 ]"
stop_serve watch INT >/dev/null 2>&1

cp -r "$EX/onnx-ridge" "$WORK/nocode"
check "serve --watch starts the no-code example" start_serve nowatch "$WORK/nocode/spec.yaml" --watch
score "$WORK/nocode/sample-request.json"
before=$(cat "$WORK/out")
# New weights: every prediction changes (b + 100).
"$PY" - "$WORK/nocode/model.onnx" <<'PYEOF'
import sys, onnx
from onnx import numpy_helper
m = onnx.load(sys.argv[1])
for i, t in enumerate(m.graph.initializer):
    if t.name == "b":
        m.graph.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t) + 100, "b"))
onnx.save(m, sys.argv[1] + ".new")
PYEOF
mv "$WORK/nocode/model.onnx.new" "$WORK/nocode/model.onnx"
reloaded() {
  local deadline=$((SECONDS + 15))
  while [ $SECONDS -lt $deadline ]; do
    score "$WORK/nocode/sample-request.json"
    [ "$code" = 200 ] && [ "$(cat "$WORK/out")" != "$before" ] && return 0
    sleep 0.2
  done
  return 1
}
check "a changed no-code model is reloaded in place: new predictions on the same port" reloaded
check "... by the same amlserve process (no restart)" bash -c "[ \$(grep -c 'Press Ctrl-C' '$WORK/nowatch.out') = 1 ] && grep -q 'model reloaded' '$WORK/nowatch.err'"
check "... and the new answer is b + 100" "$PY" -c "
import json, sys
a, b = json.loads(sys.argv[1]), json.load(open(sys.argv[2]))
assert all(abs((y - x) - 100) < 1e-3 for x, y in zip(a, b)), (a, b)" "$before" "$WORK/out"
stop_serve nowatch INT >/dev/null 2>&1

# --- bad input
cat > "$WORK/bad-field.yaml" <<YAML
models: [{name: ridge, version: 1, path: $EX/onnx-ridge/model.onnx}]
service:
  wokers: 2
YAML
check_fails "an unknown service field names the line and suggests the right one" \
  "bad-field.yaml:3: service.wokers: unknown field \(did you mean 'workers'\?\)" "$AMLPKG" serve "$WORK/bad-field.yaml"
cat > "$WORK/bad-script.yaml" <<YAML
models: [{name: ridge, version: 1, path: $EX/onnx-ridge/model.onnx}]
inference:
  entry_script: missing.py
YAML
check_fails "a missing entry script is named with its line" "bad-script.yaml:3: inference.entry_script: no such file" \
  "$AMLPKG" serve "$WORK/bad-script.yaml"
check_fails "an entry script that fails init() stops serve with amlserve's status" "exited with status 3" \
  bash -c "cd '$WORK/py' && sed -i 's/^    model_dir = .*/    raise RuntimeError(\"no model\")/' score.py && '$AMLPKG' serve spec.yaml --port 0 --python /usr/bin/python3"
printf 'models: [{name: ridge, version: 1, path: model.onnx}]\ninference: {entry_script: score.py}\nenvironment: {base_image: scratch}\n' > "$WORK/py/scratch.yaml"
check_fails "build refuses a Python entry script on an explicit scratch base (no interpreter) and points to serve" \
  "inference.entry_script: .*amlpkg serve" "$AMLPKG" build "$WORK/py/scratch.yaml" -o "$WORK/never.tar"
check "... and writes nothing" test ! -e "$WORK/never.tar"

# --- profile
for i in 1 2 3; do tr -d '\n' < "$EX/onnx-ridge/sample-request.json"; echo; done > "$WORK/requests.jsonl"
check "profile runs the no-code example for 300 requests" \
  bash -c "'$AMLPKG' profile '$EX/onnx-ridge/spec.yaml' --input '$WORK/requests.jsonl' --requests 300 --concurrency 2 --json > '$WORK/profile.json'"
check "profile --json: Azure's keys, every request answered, figures in order" jq -e '
  .totalQueries == 300 and .errorQueries == 0 and .successQueries == 300 and .state == "Succeeded"
  and .requestedCpu >= 0.1 and .requestedMemoryInGb >= 0.1 and .recommendedReplicas >= 1
  and .latencyPercentile50InMs > 0 and .latencyPercentile50InMs <= .latencyPercentile90InMs
  and .latencyPercentile90InMs <= .latencyPercentile99InMs and .latencyPercentile99InMs <= .maxLatencyInMs
  and .maxUtilizedMemoryInGb > 0 and .modelLoadMs > 0 and .measuredQueriesPerSecond > 0' "$WORK/profile.json"
check "profile's sizing follows the stated rules" "$PY" -c '
import json, math, sys
r = json.load(open(sys.argv[1]))
up = lambda v: max(0.1, math.ceil(v * 10 - 1e-9) / 10)
assert abs(r["requestedCpu"] - up(r["maxUtilizedCpu"] * 1.25)) < 0.051, r
assert abs(r["requestedMemoryInGb"] - up(r["maxUtilizedMemoryInGb"] * 1.5)) < 0.051, r
' "$WORK/profile.json"
check "profile --target-rps sizes replicas with ceil(rps x p90 / utilization / max concurrent)" bash -c "
  '$AMLPKG' profile '$EX/onnx-ridge/spec.yaml' --input '$WORK/requests.jsonl' --requests 200 --json \
    --target-rps 50000 --max-concurrent 2 --target-utilization 0.5 > '$WORK/sized.json' &&
  '$PY' -c '
import json, math, sys
r = json.load(open(sys.argv[1]))
want = max(1, math.ceil(50000 * r[\"latencyPercentile90InMs\"] / 1000 / 0.5 / 2 - 1e-9))
assert r[\"requestedQueriesPerSecond\"] == 50000 and r[\"recommendedReplicas\"] == want, (r, want)
' '$WORK/sized.json'"
check "profile prints a readable report without --json" bash -c "
  '$AMLPKG' profile '$EX/onnx-ridge/spec.yaml' --input '$WORK/requests.jsonl' --requests 50 > '$WORK/report.txt' &&
  grep -q '^Recommendation (containerResourceRequirements):' '$WORK/report.txt' && grep -q 'memoryInGB: ' '$WORK/report.txt'"

cp "$WORK/requests.jsonl" "$WORK/mixed.jsonl"; echo '{"data": "oops"}' >> "$WORK/mixed.jsonl"
"$AMLPKG" profile "$EX/python-ridge/spec.yaml" --python /usr/bin/python3 --input "$WORK/mixed.jsonl" \
  --requests 80 --json > "$WORK/py-profile.json" 2> "$WORK/py-profile.err"
check "profile of score.py with auth on: a bad input line is counted as errors" \
  jq -e '.totalQueries == 80 and .errorQueries == 20 and .successQueries == 60 and .state == "CompletedWithErrors" and .warmupRejected == 1' "$WORK/py-profile.json"
check "... and the rejected request is named by file and line" grep -q "mixed.jsonl:4: the service answered HTTP 500" "$WORK/py-profile.err"
check "... and the worker processes count in memory" jq -e '.maxUtilizedMemoryInGb > 0.01' "$WORK/py-profile.json"
check "... and amlserve's own messages stay out of the report" bash -c "! grep -q run_failed '$WORK/py-profile.err'"

printf '{"data": [[1,2,3,4,5,6,7,8,9,10]]}\n\n{"data": [1, }\n' > "$WORK/broken.jsonl"
check_fails "an input line that is not JSON is refused with file:line:column before anything starts" \
  "broken.jsonl:3:1[0-9]: " "$AMLPKG" profile "$EX/onnx-ridge/spec.yaml" --input "$WORK/broken.jsonl"
: > "$WORK/empty.jsonl"
check_fails "an empty input file is refused" "empty.jsonl: no request bodies" \
  "$AMLPKG" profile "$EX/onnx-ridge/spec.yaml" --input "$WORK/empty.jsonl"
check_exit "--duration and --requests together is a usage error" 2 \
  "$AMLPKG" profile "$EX/onnx-ridge/spec.yaml" --input "$WORK/requests.jsonl" --duration 1 --requests 5
check_exit "profile without --input is a usage error" 2 "$AMLPKG" profile "$EX/onnx-ridge/spec.yaml"

# The environment's variables reach the entry script; its conda dependencies are named as not installed.
mkdir -p "$WORK/envspec" && cp "$EX/onnx-ridge/model.onnx" "$WORK/envspec/"
cat > "$WORK/envspec/score.py" <<'PYEOF'
import os
def init():
    pass
def run(raw):
    return {"greeting": os.environ.get("GREETING"), "threads": os.environ.get("OMP_NUM_THREADS")}
PYEOF
cat > "$WORK/envspec/spec.yaml" <<'YAML'
models: [{name: ridge, version: 1, path: model.onnx}]
inference: {entry_script: score.py}
environment:
  base_image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04
  conda: {dependencies: ["numpy>=1.24", {pip: ["onnx"]}]}
  env: {GREETING: "hello from the spec", OMP_NUM_THREADS: "1"}
YAML
check "serve runs a spec with an environment section" start_serve envs "$WORK/envspec/spec.yaml"
check "... says the conda dependencies are not installed by serve" grep -q "1 conda and 1 pip dependencies are not installed by serve" "$WORK/envs.err"
score "$WORK/envspec/spec.yaml"
check "... and the environment's variables reach run()" bash -c "[ $code = 200 ] && jq -e '.greeting == \"hello from the spec\" and .threads == \"1\"' '$WORK/out'"
stop_serve envs INT >/dev/null 2>&1
