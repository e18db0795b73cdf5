#!/usr/bin/env bash
# Entry scripts written the way Azure ML's samples write them, served by `amlpkg serve`
# and amlserve with the real /usr/bin/python3: inference-schema decorators (NumPy, pandas,
# standard Python; run(**body) with Azure's optional-parameter rules; swagger from the
# decorators), Model.get_model_path in single- and multi-model layouts, ModelDataCollector,
# and a real `azureml` namespace package installed beside the stand-ins.
source "$(dirname "$0")/../lib.sh"
FX="$ROOT/tests/cli/azureml"
"$PY" -c 'import numpy' 2>/dev/null || { skip "python3-numpy is not installed (make deps installs it)"; exit 0; }

# start_serve NAME SPEC: `amlpkg serve` in the background on a free port; sets $port and NAME_pid.
start_serve() {
  local name=$1 spec=$2; shift 2
  "$AMLPKG" serve "$spec" --port 0 --python /usr/bin/python3 "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" &
  local pid=$!
  on_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
  eval "${name}_pid=$pid"
  local deadline=$((SECONDS + 30))
  while [ $SECONDS -lt $deadline ] && ! grep -q 'Press Ctrl-C' "$WORK/$name.out"; do
    kill -0 "$pid" 2>/dev/null || { cat "$WORK/$name.err" >&2; return 1; }
    sleep 0.1
  done
  port=$(grep -o 'Scoring URI: http://127.0.0.1:[0-9]*' "$WORK/$name.out" | grep -o '[0-9]*$')
  [ -n "$port" ]
}
stop_serve() { local pid; pid=$(eval echo "\$${1}_pid"); kill -INT "$pid" && wait "$pid"; }
# post JSON [curl options...]: POST /score as JSON; sets $code and $WORK/out.
post() {
  local body=$1; shift
  code=$(curl -sS -o "$WORK/out" -w '%{http_code}' -H 'Content-Type: application/json' -H 'X-Client: tests' "$@" \
    --data-binary "$body" "http://127.0.0.1:$port/score")
}
get() { code=$(curl -sS -o "$WORK/out" -w '%{http_code}' "http://127.0.0.1:$port$1"); }
jq_ok() { jq -e "$1" "$WORK/out" > /dev/null; }
spec() { # spec DIR SCRIPT MODEL... (each MODEL is name:version:path)
  local dir=$1 script=$2; shift 2
  mkdir -p "$dir" && cp "$FX/$script" "$dir/" && {
    echo "models:"
    for m in "$@"; do IFS=: read -r n v p <<< "$m"; echo "  - {name: $n, version: $v, path: $p}"; done
    echo "inference: {entry_script: $script}"
    echo "output: {name: t, tag: '1'}"; } > "$dir/spec.yaml"
}

# --- the stand-ins' rules one by one, in the real Python (tests/cli/azureml/check_stand_ins.py)
mkdir -p "$WORK/si"
/usr/bin/python3 "$FX/check_stand_ins.py" "$ROOT/templates/amlserve_compat.py" "$WORK/si" > "$WORK/si.out" 2>&1
while read -r tag name; do [ "$tag" = ok ] && pass "stand-ins: $name"; done < "$WORK/si.out"
check "the stand-in checks all ran" grep -q '"done": true' "$WORK/si.out" || sed 's/^/    /' "$WORK/si.out" | tail -5

# --- examples/python-schema as the README runs it
check "serve starts examples/python-schema" start_serve ex "$ROOT/examples/python-schema/spec.yaml"
post "@$ROOT/examples/python-schema/sample-request.json"
check "... its decorated run() answers like numpy" \
  "$PY" "$ROOT/tests/expected_scores.py" "$ROOT/examples/onnx-ridge/model.onnx" "$ROOT/examples/python-schema/sample-request.json" "$WORK/out"
get /swagger.json
check "... and its swagger has the decorators' float32 input" \
  bash -c "jq -e '.definitions.ServiceInput.properties.data.items.items.format == \"float\"' '$WORK/out' >/dev/null"
check "serve stops" stop_serve ex

# --- NumPy, single model: Model.get_model_path('ridge') in AZUREML_MODEL_DIR=<models>/ridge/1
mkdir -p "$WORK/np"
echo '{"weights": [1.0, 10.0, 100.0]}' > "$WORK/np/ridge.json"
spec "$WORK/np" numpy_score.py ridge:1:ridge.json
check "serve starts a decorated NumPy score.py (Model.get_model_path, single model)" start_serve np "$WORK/np/spec.yaml"
post '{"data": [[1, 2, 3], [0, 0, 1]]}'
check "run(**body): data becomes a float64 ndarray, the omitted optional 'scale' takes its default" \
  bash -c "[ $code = 200 ] && jq -e '.result == [642, 200] and .scale == 2.0 and .shape == [2, 3]' '$WORK/out' >/dev/null"
post '{"data": [[1, 2, 3]], "scale": 0.5, "ignored": true}'
check "a given optional parameter is passed; keys run() does not name are ignored" \
  bash -c "[ $code = 200 ] && jq -e '.result == [160.5] and .scale == 0.5' '$WORK/out' >/dev/null"
post '{"scale": 1}'
check "a required parameter missing is a 400 naming it (Azure's message)" \
  bash -c "[ $code = 400 ] && jq -e '.message == \"A value is not provided for the '\"'\"'data'\"'\"' parameter.\"' '$WORK/out' >/dev/null"
post '[1, 2]'
check "a body that is not a JSON object is a 400" bash -c "[ $code = 400 ] && jq -e '.message == \"POST body should be a JSON dictionary.\"' '$WORK/out' >/dev/null"
code=$(curl -sS -o "$WORK/out" -w '%{http_code}' --data '{"data": [[1, 2, 3]]}' "http://127.0.0.1:$port/score")
check "a decorated run() without Content-Type: application/json is a 415, as Azure answers" test "$code" = 415
post '{"data": [[1, 2]]}'
check "the wrong shape (enforce_shape) fails in run(): a 500 with Azure's message" \
  bash -c "[ $code = 500 ] && jq -e '.message | startswith(\"An unexpected error occurred in scoring script\")' '$WORK/out' >/dev/null"
check "... and serve's terminal shows the traceback as Python prints it, not as one JSON string" \
  bash -c "grep -q '^Traceback (most recent call last):' '$WORK/np.err' && grep -q '^ValueError: Invalid input array' '$WORK/np.err' && grep -q '\"event\": \"run_failed\"' '$WORK/np.err'"
get '/score?data=%5B%5B1,2,3%5D%5D&scale=1'
check "GET /score: query values are parsed as JSON and passed by name" \
  bash -c "[ $code = 200 ] && jq -e '.result == [321] and .scale == 1' '$WORK/out' >/dev/null"
get /swagger.json
check "swagger 2 from the decorators: ServiceInput has data (array of arrays of double) and scale, with the example" \
  bash -c "[ $code = 200 ] && jq -e '.swagger == \"2.0\" and .definitions.ServiceInput.properties.data.items.items == {\"type\": \"number\", \"format\": \"double\"} and .definitions.ServiceInput.properties.scale.type == \"number\" and .definitions.ServiceInput.example == {\"data\": [[1.0, 2.0, 3.0]], \"scale\": 1.0}' '$WORK/out' >/dev/null"
get '/swagger.json?version=3'
check "swagger 3 too: ServiceOutput from @output_schema" \
  bash -c "[ $code = 200 ] && jq -e '.openapi == \"3.0.1\" and .components.schemas.ServiceOutput.type == \"array\" and .components.schemas.ServiceOutput.example == [6.0]' '$WORK/out' >/dev/null"
wpid=$(pgrep -P "$(pgrep -P "$np_pid" | head -1)" | head -1)
check "the worker's command line in ps is short" \
  bash -c "args=\$(ps -o args= -p $wpid); echo \"\$args\" | grep -q amlserve_worker.py && [ \${#args} -lt 120 ]"
check "serve stops" stop_serve np

# --- the documented Inputs/GlobalParameters shape, nested types, request_headers
mkdir -p "$WORK/designer"
spec "$WORK/designer" designer_score.py
sed -i 's/^models:$/models: []/' "$WORK/designer/spec.yaml"
"$AMLSERVE" --host 127.0.0.1 --port "$(free_port)" --entry-script "$WORK/designer/designer_score.py" \
  --python /usr/bin/python3 > "$WORK/designer.log" 2>&1 &
dpid=$!; on_exit "kill $dpid 2>/dev/null; wait $dpid 2>/dev/null"
port=$(until grep -o '"port":[0-9]*' "$WORK/designer.log" 2>/dev/null | grep -o '[0-9]*'; do kill -0 $dpid || break; sleep 0.1; done)
post '{"Inputs": {"input1": [[1, 2], [3, 4]], "note": "hi"}}'
check "nested NumpyParameterType inside StandardPythonParameterType is converted; GlobalParameters defaults" \
  bash -c "[ $code = 200 ] && jq -e '.Results == [3, 7] and .method == \"predict\" and .note == \"hi\" and .client == \"tests\"' '$WORK/out' >/dev/null"
post '{"Inputs": {"input1": [[1, 2]], "note": "x"}, "GlobalParameters": {"method": "predict_proba"}}'
check "... and a given GlobalParameters is passed" bash -c "[ $code = 200 ] && jq -e '.method == \"predict_proba\"' '$WORK/out' >/dev/null"
get /swagger.json
check "its swagger lists Inputs (required keys, nested example) and GlobalParameters, not request_headers' value" \
  bash -c "jq -e '.definitions.ServiceInput.properties.Inputs.required == [\"input1\", \"note\"] and .definitions.ServiceInput.example.Inputs.input1 == [[0.5, 1.5]] and .definitions.ServiceInput.example.GlobalParameters == {\"method\": \"predict\"}' '$WORK/out' >/dev/null"
kill $dpid; wait $dpid 2>/dev/null

# --- standard-Python parameters: conversion of dates and bytes, convert_to_provided_type=False
mkdir -p "$WORK/std"; cp "$FX/standard_score.py" "$WORK/std/"
"$AMLSERVE" --host 127.0.0.1 --port "$(free_port)" --entry-script "$WORK/std/standard_score.py" \
  --python /usr/bin/python3 > "$WORK/std.log" 2>&1 &
spid=$!; on_exit "kill $spid 2>/dev/null; wait $spid 2>/dev/null"
port=$(until grep -o '"port":[0-9]*' "$WORK/std.log" 2>/dev/null | grep -o '[0-9]*'; do kill -0 $spid || break; sleep 0.1; done)
post '{"input_param": "abc", "when": "2024-02-29", "blob": "aGk="}'
check "standard types: a date string becomes a date, base64 becomes bytes, beam_size keeps its default" \
  bash -c "[ $code = 200 ] && jq -e '.input_param == \"ABC\" and .when == \"2024-02-29\" and .blob == \"hi\" and .beam_size == 5' '$WORK/out' >/dev/null"
post '{"input_param": "abc", "beam_size": "7"}'
check "convert_to_provided_type=False passes the JSON value as is" bash -c "[ $code = 200 ] && jq -e '.beam_size == \"7\"' '$WORK/out' >/dev/null"
post '{"input_param": 42}'
check "a value of the wrong type fails in the decorator: 500" test "$code" = 500
get '/swagger.json?version=3'
check "swagger 3: date and byte formats, the output's nested mixed array (which makes it OpenAPI 3 only)" \
  bash -c "jq -e '.components.schemas.ServiceInput.properties.when == {\"type\": \"string\", \"format\": \"date\"} and .components.schemas.ServiceInput.properties.blob.format == \"byte\" and .components.schemas.ServiceInput.example.blob == \"YWJj\" and .components.schemas.ServiceOutput.example == [[98.3, \"Output sequence.\"]]' '$WORK/out' >/dev/null"
kill $spid; wait $spid 2>/dev/null

# --- a mixed-type list: swagger 3 only, version 2 refused with Azure's message
mkdir -p "$WORK/mixed"; cp "$FX/mixed_score.py" "$WORK/mixed/"
"$AMLSERVE" --host 127.0.0.1 --port "$(free_port)" --entry-script "$WORK/mixed/mixed_score.py" \
  --python /usr/bin/python3 > "$WORK/mixed.log" 2>&1 &
mpid=$!; on_exit "kill $mpid 2>/dev/null; wait $mpid 2>/dev/null"
port=$(until grep -o '"port":[0-9]*' "$WORK/mixed.log" 2>/dev/null | grep -o '[0-9]*'; do kill -0 $mpid || break; sleep 0.1; done)
post '{"row": ["x", 2, 3.5]}'
check "a mixed-type list parameter is passed through" bash -c "[ $code = 200 ] && jq -e '. == [3.5, 2, \"x\"]' '$WORK/out' >/dev/null"
get /swagger.json
check "GET /swagger.json (version 2) is a 404: the script's schema is OpenAPI 3 only, as Azure answers" \
  bash -c "[ $code = 404 ] && jq -e '.message == \"Swagger version [2] is not supported for the scoring script. Supported swagger versions: [3, 3.1].\"' '$WORK/out' >/dev/null"
get '/swagger.json?version=3.0'
check "... version 3 (or its alias 3.0) describes the items with oneOf" \
  bash -c "[ $code = 200 ] && jq -e '.components.schemas.ServiceInput.properties.row.items.oneOf | length == 3' '$WORK/out' >/dev/null"
kill $mpid; wait $mpid 2>/dev/null

# --- pandas and ModelDataCollector
if "$PY" -c 'import pandas' 2>/dev/null; then
  mkdir -p "$WORK/pd"; echo 'pickled model' > "$WORK/pd/model.pkl"
  spec "$WORK/pd" pandas_score.py sklearn_regression_model.pkl:3:model.pkl
  check "serve starts the data-drift style pandas score.py" start_serve pd "$WORK/pd/spec.yaml"
  post '{"data": [{"age": 30, "income": 10, "name": "a"}, {"name": "b", "income": 0.5, "age": 1}]}'
  check "records become a DataFrame with the sample's column order and dtypes (int ages, float income)" \
    bash -c "[ $code = 200 ] && jq -e '.predictions == [70.0, 2.5] and .columns == [\"age\", \"income\", \"name\"]' '$WORK/out' >/dev/null"
  post '{"data": [{"age": 30, "income": 10}]}'
  check "a missing column (enforce_shape) is a 500" test "$code" = 500
  check "ModelDataCollector logs once that collection is off" \
    bash -c "[ \$(grep -c '\"event\": \"model_data_collection\"' '$WORK/pd.err') = 1 ] && grep -q 'collects only on AKS' '$WORK/pd.err'"
  get /swagger.json
  check "pandas swagger: an array of row objects with each column's type, the records as example" \
    bash -c "jq -e '.definitions.ServiceInput.properties.data.items.properties == {\"age\": {\"type\": \"integer\", \"format\": \"int64\"}, \"income\": {\"type\": \"number\", \"format\": \"double\"}, \"name\": {\"type\": \"string\"}} and .definitions.ServiceInput.example.data[1] == {\"age\": 32, \"income\": 2000.0, \"name\": \"John\"}' '$WORK/out' >/dev/null"
  check "serve stops" stop_serve pd
else
  skip "python3-pandas is not installed (.ci/install-deps installs it): the pandas checks"
fi

# --- several models: AZUREML_MODEL_DIR is the root; names and versions resolve as azureml-core does
mkdir -p "$WORK/multi"
echo first-1 > "$WORK/multi/first.txt"; echo second-1 > "$WORK/multi/second1.txt"; echo second-2 > "$WORK/multi/second2.txt"
spec "$WORK/multi" multi_score.py first:1:first.txt second:1:second1.txt second:2:second2.txt
check "serve starts a multi-model score.py" start_serve multi "$WORK/multi/spec.yaml"
post '{}'
check "Model.get_model_path: the one file of <name>/<latest>, or of the version asked; an unknown name raises" \
  bash -c "[ $code = 200 ] && jq -e '. == {\"first\": \"first-1\", \"second_latest\": \"second-2\", \"second_v1\": \"second-1\", \"absent\": \"ModelNotFoundException\", \"model_dir_is_root\": true}' '$WORK/out' >/dev/null"
check "serve stops" stop_serve multi

# --- a real `azureml` namespace package beside the stand-ins (PYTHONPATH)
site="$WORK/site"
mkdir -p "$site/azureml/telemetry" "$site/azureml/core"
echo 'WHERE = "real azureml.telemetry"' > "$site/azureml/telemetry/__init__.py"
: > "$site/azureml/core/__init__.py"
printf 'class Model:\n    @staticmethod\n    def get_model_path(model_name, version=None):\n        return "real:" + model_name\n' \
  > "$site/azureml/core/model.py"
mkdir -p "$WORK/ns"; cp "$FX/namespace_score.py" "$WORK/ns/"
PYTHONPATH="$site" "$AMLSERVE" --host 127.0.0.1 --port "$(free_port)" --entry-script "$WORK/ns/namespace_score.py" \
  --python /usr/bin/python3 > "$WORK/ns.log" 2>&1 &
npid=$!; on_exit "kill $npid 2>/dev/null; wait $npid 2>/dev/null"
port=$(until grep -o '"port":[0-9]*' "$WORK/ns.log" 2>/dev/null | grep -o '[0-9]*'; do kill -0 $npid || break; sleep 0.1; done)
post '{"text": "hi"}'
check "a real azureml namespace package keeps working: its azureml.core and azureml.telemetry are used" \
  bash -c "[ $code = 200 ] && jq -e '.telemetry == \"real azureml.telemetry\" and .model_path == \"real:anything\" and .core_is_real == true' '$WORK/out' >/dev/null"
check "... while azureml.contrib.services, azureml.monitoring and inference_schema come from the stand-ins" \
  bash -c "jq -e '.contrib_is_stand_in == true and .collector == null and .text == \"hi\"' '$WORK/out' >/dev/null"
kill $npid; wait $npid 2>/dev/null
rm -rf "$site"

# --- build and serve check the entry script first: ast only, never imported
mkdir -p "$WORK/chk" && cd "$WORK/chk" || exit 1
echo '{}' > model.json
printf 'models: [{name: m, version: 1, path: model.json}]\ninference: {entry_script: score.py}\nenvironment: {base_image: "python:3.11-slim"}\noutput: {name: chk, tag: "1"}\n' > spec.yaml
build_ctx() { rm -rf ctx; "$AMLPKG" build spec.yaml --dockerfile ctx; }
printf 'import not_installed_anywhere\nopen("imported-marker", "w")\n\ndef init():\n    pass\n\n@some.decorator\ndef run(data, request_headers=None):\n    return data\n' > score.py
check "a script whose imports are missing here passes: it is parsed, not imported" build_ctx
check "... nothing of it ran" test ! -e imported-marker
printf 'def init():\n    pass\n\ndef run(data):\n    return [data\n' > score.py
check_fails "a syntax error is refused with the script's file and line" "score.py:5: syntax error" build_ctx
check "... and nothing is written" test ! -e ctx
printf 'def init():\n    pass\n\ndef predict(data):\n    return data\n' > score.py
check_fails "no run() is refused" "score.py: no top-level run\(\)" build_ctx
printf 'def init():\n    pass\n\n\ndef run(*args, **kwargs):\n    return 1\n' > score.py
check_fails "run(*args, **kwargs) is refused at its line, as Azure's server refuses it" \
  "score.py:5: run\(\) cannot accept positional-only arguments, \*args, or \*\*kwargs" build_ctx
printf 'def init(model_path):\n    pass\n\ndef run(data):\n    return data\n' > score.py
check_fails "init() with a required argument is refused" "score.py:1: init\(\) must work without arguments" build_ctx
printf 'def init():\n    pass\n\nrun = 42\n' > score.py
check_fails "run bound to a number is refused" "score.py:4: run is not a function" build_ctx
printf 'def init():\n    pass\n\ndef run(data):\n    return [data\n' > score.py
check_fails "serve refuses it the same way, before starting anything" "score.py:5: syntax error" \
  "$AMLPKG" serve spec.yaml --port 0 --python /usr/bin/python3
cd "$ROOT" || exit 1
