#!/usr/bin/env bash
# amlserve speaks the Open Inference Protocol (KServe v2) beside /score: the protocol document's example
# bodies sent as written, every response validated against its OpenAPI schemas (python3-jsonschema),
# numbers equal to /score's, every datatype the engine has, the binary tensor data extension both ways,
# bad input, auth, limits, CORS, metrics, the access log, and entry-script packages.
source "$(dirname "$0")/../lib.sh"
TOOL="$PY $ROOT/tests/cli/python/oip_tool.py"
EX="$ROOT/examples/onnx-ridge"
M="$WORK/models"
$TOOL models "$M" || { fail "test models could not be made"; exit 0; }
$TOOL examples "$ROOT/tests/cli/oip" "$WORK/ex"

port=$(free_port)
URL="http://127.0.0.1:$port"
"$AMLSERVE" --model-dir "$M" --port "$port" --host 127.0.0.1 --cors-origins http://app.example > "$WORK/server.log" 2>&1 &
pid=$!
on_exit "kill $pid; wait $pid"
check "amlserve serves the multi-model folder" wait_http "$URL/v2/health/live"

# call NAME [curl args...]: body in $WORK/NAME.out, headers in $WORK/NAME.hdr, status in $code.
call() {
  local name=$1; shift
  code=$(curl -sS -o "$WORK/$name.out" -D "$WORK/$name.hdr" -w '%{http_code}' "$@")
}
valid() { $TOOL validate "$@"; }
has() { grep -q -- "$2" "$WORK/$1.out"; }
jqe() { jq -e "$2" "$WORK/$1.out" > /dev/null; }

# ---- health and metadata ----
call live "$URL/v2/health/live"
check "GET /v2/health/live: 200, empty body" test "$code" = 200 -a ! -s "$WORK/live.out"
call ready "$URL/v2/health/ready"
check "GET /v2/health/ready: 200, empty body" test "$code" = 200 -a ! -s "$WORK/ready.out"
call server "$URL/v2"
check "GET /v2: server metadata valid against metadata_server_response" bash -c "[ $code = 200 ] && $TOOL validate metadata_server_response '$WORK/server.out'"
check "... name amlserve, the binary tensor data extension listed" jqe server '.name == "amlserve" and (.extensions | index("binary_tensor_data"))'
for path in ridge ridge/versions/1 mymodel dtypes matrix sum; do
  call meta "$URL/v2/models/$path"
  check "GET /v2/models/$path: valid against metadata_model_response" bash -c "[ $code = 200 ] && $TOOL validate metadata_model_response '$WORK/meta.out'"
done
call meta "$URL/v2/models/ridge"
check "ridge's metadata: versions 1 and 2, platform onnx_onnxv1, FP32 [-1,10] in, -1 for the dynamic batch" \
  jqe meta '.versions == ["1","2"] and .platform == "onnx_onnxv1" and .inputs == [{"name":"x","datatype":"FP32","shape":[-1,10]}]'
call meta "$URL/v2/models/mymodel"
check "mymodel's metadata: UINT32 [2,2] and BOOL [3] in, FP32 [3,2] and INT64 [3] out" \
  jqe meta '[.inputs[] | .datatype, .shape] == ["UINT32",[2,2],"BOOL",[3]] and [.outputs[] | .datatype, .shape] == ["FP32",[3,2],"INT64",[3]]'
call mready "$URL/v2/models/ridge/versions/2/ready"
check "GET /v2/models/ridge/versions/2/ready: 200" test "$code" = 200
call mready "$URL/v2/models/ridge/versions/3/ready"
check "an unknown version is not ready: 404 listing the versions" bash -c "[ $code = 404 ] && grep -q \"no version '3'; its versions: '1' '2'\" '$WORK/mready.out'"
call mready "$URL/v2/models/nosuch/ready"
check "an unknown model is not ready: 404 listing the models" bash -c "[ $code = 404 ] && grep -q \"no model 'nosuch' in this service; its models: 'dtypes', 'matrix', 'mymodel', 'ridge', 'sum'\" '$WORK/mready.out'"

# ---- the protocol document's examples, sent as written ----
infer() { call "$1" -H 'Content-Type: application/json' --data-binary "@$2" "$URL/v2/models/$3/infer"; }
infer doc "$WORK/ex/doc-request.json" mymodel
check "required_api.md's request example as written: 400, input1's shape [3] has one value in data" \
  bash -c "[ $code = 400 ] && grep -q \"input 'input1': shape \[3\] needs 3 values, .*data.* has 1\" '$WORK/doc.out' && $TOOL validate inference_error_response '$WORK/doc.out'"
sed 's/"data" : \[ true \]/"data" : [ true, false, true ]/' "$WORK/ex/doc-request.json" > "$WORK/doc-fixed.json"
infer docfixed "$WORK/doc-fixed.json" mymodel
check "... with input1's three values: 200, valid against inference_response" bash -c "[ $code = 200 ] && $TOOL validate inference_response '$WORK/docfixed.out'"
check "... id 42 echoed, only the requested output0, FP32 [3,2], row-major" \
  jqe docfixed '.id == "42" and .model_name == "mymodel" and .model_version == "1" and (.outputs | length) == 1 and .outputs[0] == {"name":"output0","datatype":"FP32","shape":[3,2],"data":[1,2,3,4,1,0]}'
infer y1 "$WORK/ex/yaml-example-1.json" mymodel
check "rest_predict_v2.yaml's Example 1: 400 like the document's (same body)" bash -c "[ $code = 400 ] && grep -q \"input 'input1'\" '$WORK/y1.out'"
infer y2 "$WORK/ex/yaml-example-2.json" mymodel
check "rest_predict_v2.yaml's Example 2 (no inputs): 400 saying inputs are required" \
  bash -c "[ $code = 400 ] && grep -q 'inputs.* is required' '$WORK/y2.out' && $TOOL validate inference_error_response '$WORK/y2.out'"
infer nested "$WORK/ex/tensor-data-nested.json" matrix
infer flat "$WORK/ex/tensor-data-flat.json" matrix
check "the Tensor Data section's nested data [[1,2],[4,5]]: 200, transposed" bash -c "[ $code = 200 ] && jq -e '.outputs[0].data == [1,4,2,5]' '$WORK/nested.out' && $TOOL validate inference_response '$WORK/nested.out'"
check "... and its flat form [1,2,4,5] gives the same answer" test "$(jq -c .outputs "$WORK/flat.out")" = "$(jq -c .outputs "$WORK/nested.out")"

# ---- requested outputs, parameters ----
cat > "$WORK/sub.json" <<'EOF'
{"id": "sub", "parameters": {"priority": 1, "note": "x", "flag": true},
 "inputs": [{"name": "input0", "shape": [2,2], "datatype": "UINT32", "data": [[5,6],[7,8]], "parameters": {"a": "b"}},
            {"name": "input1", "shape": [3], "datatype": "BOOL", "data": [false, true, true]}],
 "outputs": [{"name": "output1", "parameters": {"binary_data": false}}]}
EOF
infer sub "$WORK/sub.json" mymodel
check "requested outputs: only output1 (INT64), with request and input parameters accepted" \
  bash -c "[ $code = 200 ] && jq -e '.id == \"sub\" and .outputs == [{\"name\":\"output1\",\"datatype\":\"INT64\",\"shape\":[3],\"data\":[0,1,1]}]' '$WORK/sub.out'"
jq '.outputs = []' "$WORK/sub.json" > "$WORK/all.json"
infer all "$WORK/all.json" mymodel
check "no outputs requested: every output, in the model's order" jqe all '[.outputs[].name] == ["output0","output1"]'

# ---- every datatype the engine has, as JSON ----
cat > "$WORK/dtypes.json" <<'EOF'
{"inputs": [
 {"name": "in_BOOL", "shape": [3], "datatype": "BOOL", "data": [true, false, true]},
 {"name": "in_UINT8", "shape": [3], "datatype": "UINT8", "data": [0, 7, 255]},
 {"name": "in_UINT16", "shape": [3], "datatype": "UINT16", "data": [0, 7, 65535]},
 {"name": "in_UINT32", "shape": [3], "datatype": "UINT32", "data": [0, 7, 4294967295]},
 {"name": "in_UINT64", "shape": [3], "datatype": "UINT64", "data": [0, 7, 9007199254740992]},
 {"name": "in_INT8", "shape": [3], "datatype": "INT8", "data": [-128, 0, 127]},
 {"name": "in_INT16", "shape": [3], "datatype": "INT16", "data": [-32768, 0, 32767]},
 {"name": "in_INT32", "shape": [3], "datatype": "INT32", "data": [-2147483648, 0, 2147483647]},
 {"name": "in_INT64", "shape": [3], "datatype": "INT64", "data": [-9007199254740992, 0, 9007199254740992]},
 {"name": "in_FP16", "shape": [3], "datatype": "FP16", "data": [0.5, -2, 65504]},
 {"name": "in_FP32", "shape": [3], "datatype": "FP32", "data": [0.1, -2.5, 3.4028234663852886e38]},
 {"name": "in_FP64", "shape": [3], "datatype": "FP64", "data": [0.1, -2.5, 1e300]},
 {"name": "in_BF16", "shape": [3], "datatype": "BF16", "data": [1.5, -2, 256]}]}
EOF
infer dt "$WORK/dtypes.json" dtypes
check "all 13 datatypes as JSON: 200, valid against inference_response" bash -c "[ $code = 200 ] && $TOOL validate inference_response '$WORK/dt.out'"
check "... each output has its input's datatype, shape and values (compared in the datatype)" $TOOL roundtrip "$WORK/dtypes.json" "$WORK/dt.out"

# ---- the same numbers as /score ----
call score -H 'Content-Type: application/json' --data-binary @"$EX/sample-request.json" "$URL/score?model=ridge:1"
jq '{inputs: [{name: "x", shape: [(.data | length), (.data[0] | length)], datatype: "FP32", data: .data}]}' \
  "$EX/sample-request.json" > "$WORK/ridge.json"
infer ridge1 "$WORK/ridge.json" ridge/versions/1
check "ridge version 1 on /v2: exactly /score's numbers for the sample request" \
  bash -c "[ $code = 200 ] && $TOOL same '$WORK/score.out' '$WORK/ridge1.out' 0"
check "... the answer names model ridge, version 1, output y FP32 [rows]" \
  jqe ridge1 '.model_name == "ridge" and .model_version == "1" and .outputs[0].name == "y" and .outputs[0].datatype == "FP32" and .outputs[0].shape == [(.outputs[0].data | length)]'
infer ridge "$WORK/ridge.json" ridge
check "without a version the highest answers (2)" jqe ridge '.model_version == "2"'
check "/score matches numpy within 1e-5 too (the oracle)" "$PY" "$ROOT/tests/expected_scores.py" "$EX/model.onnx" "$EX/sample-request.json" "$WORK/score.out"

# ---- binary tensor data extension ----
n=$($TOOL binreq "$WORK/ridge.json" "$WORK/ridge.bin")
call rbin -H 'Content-Type: application/octet-stream' -H "Inference-Header-Content-Length: $n" --data-binary @"$WORK/ridge.bin" "$URL/v2/models/ridge/versions/1/infer"
check "binary input (written by numpy): the JSON answer equals /score's" bash -c "[ $code = 200 ] && $TOOL same '$WORK/score.out' '$WORK/rbin.out' 0"
jq '.parameters = {binary_data_output: true}' "$WORK/ridge.json" > "$WORK/ridge-bo.json"
n=$($TOOL binreq "$WORK/ridge-bo.json" "$WORK/ridge-bo.bin")
call rbo -H "Inference-Header-Content-Length: $n" --data-binary @"$WORK/ridge-bo.bin" "$URL/v2/models/ridge/versions/1/infer"
hl=$(grep -i '^Inference-Header-Content-Length:' "$WORK/rbo.hdr" | tr -dc 0-9)
check "binary_data_output: octet-stream with Inference-Header-Content-Length" bash -c "[ $code = 200 ] && [ -n '$hl' ] && grep -qi '^Content-Type: application/octet-stream' '$WORK/rbo.hdr'"
check "... its JSON header valid against inference_response (data left out for binary_data_size)" $TOOL validate inference_response "$WORK/rbo.out" "${hl:-0}"
$TOOL binresp "$WORK/rbo.out" "${hl:-0}" > "$WORK/rbo.json" 2> "$WORK/rbo.err"
check "... its raw little-endian FP32 outputs equal /score's numbers" $TOOL same "$WORK/score.out" "$WORK/rbo.json" f32
jq '.outputs = [.inputs[] | {name: ("out_" + (.name | ltrimstr("in_"))), parameters: {binary_data: true}}]' "$WORK/dtypes.json" > "$WORK/dt-b.json"
n=$($TOOL binreq "$WORK/dt-b.json" "$WORK/dt-b.bin")
call dtb -H "Inference-Header-Content-Length: $n" --data-binary @"$WORK/dt-b.bin" "$URL/v2/models/dtypes/infer"
hl=$(grep -i '^Inference-Header-Content-Length:' "$WORK/dtb.hdr" | tr -dc 0-9)
$TOOL binresp "$WORK/dtb.out" "${hl:-0}" > "$WORK/dtb.json" 2> "$WORK/dtb.err"
check "all 13 datatypes binary both ways: the raw bytes come back as sent" bash -c "[ $code = 200 ] && $TOOL roundtrip '$WORK/dtypes.json' '$WORK/dtb.json'"
n=$($TOOL binreq "$WORK/all.json" "$WORK/mixed.bin" input1)
call mixed -H "Inference-Header-Content-Length: $n" --data-binary @"$WORK/mixed.bin" "$URL/v2/models/mymodel/infer"
check "one input binary, the other JSON, in one request" bash -c "[ $code = 200 ] && jq -e '.outputs[1].data == [0,1,1]' '$WORK/mixed.out'"

# ---- bad input: the right status, a clear message, the server stays up ----
bad() { # bad NAME STATUS PATTERN BODY [curl args]: POSTs BODY to mymodel (or $model)
  local name=$1 want=$2 pattern=$3 body=$4; shift 4
  call "$name" --data-binary "$body" "$@" "$URL/v2/models/${model:-mymodel}/infer"
  check "$name: $want, $pattern" bash -c "[ $code = $want ] && grep -Eq \"$pattern\" '$WORK/$name.out' && $TOOL validate inference_error_response '$WORK/$name.out'"
}
I1='{"name":"input1","shape":[3],"datatype":"BOOL","data":[true,true,false]}'
bad wrong-datatype 400 "input 'input0': datatype INT32 does not match the model's UINT32" \
  "{\"inputs\":[{\"name\":\"input0\",\"shape\":[2,2],\"datatype\":\"INT32\",\"data\":[1,2,3,4]},$I1]}"
bad shape-data-mismatch 400 "input 'input0': shape \[2,2\] needs 4 values, .+data.+ has more than 4" \
  "{\"inputs\":[{\"name\":\"input0\",\"shape\":[2,2],\"datatype\":\"UINT32\",\"data\":[1,2,3,4,5]},$I1]}"
bad wrong-shape 400 "input 'input0': shape \[4\] does not match the model's \[2,2\]" \
  "{\"inputs\":[{\"name\":\"input0\",\"shape\":[4],\"datatype\":\"UINT32\",\"data\":[1,2,3,4]},$I1]}"
bad out-of-range 400 "input 'input0': element 1 \(-2 at line 1 column [0-9]+\) is not a valid UINT32" \
  "{\"inputs\":[{\"name\":\"input0\",\"shape\":[2,2],\"datatype\":\"UINT32\",\"data\":[1,-2,3,4]},$I1]}"
bad bool-as-number 400 "input 'input1': element 0 is number .*BOOL data are true or false" \
  "{\"inputs\":[{\"name\":\"input0\",\"shape\":[2,2],\"datatype\":\"UINT32\",\"data\":[1,2,3,4]},{\"name\":\"input1\",\"shape\":[3],\"datatype\":\"BOOL\",\"data\":[1,0,1]}]}"
bad bytes-refused 400 "input 'input0': datatype BYTES is not supported: amlserve serves ONNX models with numeric and bool tensors only" \
  "{\"inputs\":[{\"name\":\"input0\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[\"abc\"]}]}"
bad unknown-datatype 400 "unknown datatype 'FLOAT32' \(the protocol's datatypes are BOOL" \
  "{\"inputs\":[{\"name\":\"input0\",\"shape\":[1],\"datatype\":\"FLOAT32\",\"data\":[1]}]}"
bad missing-input 400 "missing input 'input1' \(BOOL, shape \[3\]\)" \
  "{\"inputs\":[{\"name\":\"input0\",\"shape\":[2,2],\"datatype\":\"UINT32\",\"data\":[1,2,3,4]}]}"
bad unknown-input 400 "unknown input 'input9': the model's inputs are 'input0', 'input1'" \
  "{\"inputs\":[{\"name\":\"input9\",\"shape\":[1],\"datatype\":\"UINT32\",\"data\":[1]}]}"
bad unknown-output 400 "unknown output 'output7': the model's outputs are 'output0', 'output1'" \
  "{\"inputs\":[{\"name\":\"input0\",\"shape\":[2,2],\"datatype\":\"UINT32\",\"data\":[1,2,3,4]},$I1],\"outputs\":[{\"name\":\"output7\"}]}"
bad malformed-json 400 "inference request:1:[0-9]+: " '{"inputs": [{'
bad id-not-string 400 'id.+ must be a string, got number' '{"id": 42, "inputs": []}'
model=nosuch bad unknown-model 404 "no model 'nosuch' in this service" "{\"inputs\":[$I1]}"
model=ridge/versions/9 bad unknown-version 404 "model 'ridge' has no version '9'; its versions: '1' '2'" "{\"inputs\":[$I1]}"
B='{"inputs":[{"name":"input0","shape":[2,2],"datatype":"UINT32","parameters":{"binary_data_size":16}},'"$I1"']}'
bad binary-header-not-a-number 400 "Inference-Header-Content-Length 'abc' is not a byte count" "$B" -H 'Inference-Header-Content-Length: abc'
bad binary-header-past-body 400 "Inference-Header-Content-Length is 100000 but the body has only" "$B" -H 'Inference-Header-Content-Length: 100000'
bad binary-sizes-do-not-add-up 400 "binary_data_size 16 runs past the end of the body \(0 bytes" "$B" -H "Inference-Header-Content-Length: ${#B}"
printf '%s' "$B" > "$WORK/b12.bin"; head -c 12 /dev/zero >> "$WORK/b12.bin"
bad binary-too-short 400 "binary_data_size 16 runs past the end of the body \(12 bytes" "@$WORK/b12.bin" -H "Inference-Header-Content-Length: ${#B}"
printf '%s' "$B" > "$WORK/b20.bin"; head -c 20 /dev/zero >> "$WORK/b20.bin"
bad binary-trailing-bytes 400 "20 bytes follow the JSON header but the inputs' binary_data_size parameters add up to 16" "@$WORK/b20.bin" -H "Inference-Header-Content-Length: ${#B}"
B2='{"inputs":[{"name":"input0","shape":[2,2],"datatype":"UINT32","parameters":{"binary_data_size":8}},'"$I1"']}'
printf '%s' "$B2" > "$WORK/b8.bin"; head -c 8 /dev/zero >> "$WORK/b8.bin"
bad binary-size-wrong-for-shape 400 "input 'input0': binary_data_size is 8 bytes, shape \[2,2\] of UINT32 needs 16" "@$WORK/b8.bin" -H "Inference-Header-Content-Length: ${#B2}"
bad binary-without-header 400 "has a .+binary_data_size.+ parameter but the request has no Inference-Header-Content-Length" "$B"
call put -X PUT --data '{}' "$URL/v2/models/mymodel/infer"
check "PUT on infer: 405 {\"error\"} with Allow: POST" bash -c "[ $code = 405 ] && grep -qi '^Allow: POST' '$WORK/put.hdr' && jq -e .error '$WORK/put.out'"
call getinfer "$URL/v2/models/mymodel/infer"
check "GET on infer: 405" test "$code" = 405
call unknown "$URL/v2/repository/index"
check "an unknown /v2 route: 404 {\"error\"} listing the routes" bash -c "[ $code = 404 ] && grep -q 'Open Inference Protocol routes are' '$WORK/unknown.out'"
call live "$URL/v2/health/live"
check "the server is still live after all that" test "$code" = 200
infer again "$WORK/doc-fixed.json" mymodel
check "... and still infers" test "$code" = 200

# ---- CORS, metrics, access log: the same as /score ----
call pre -X OPTIONS -H 'Origin: http://app.example' -H 'Access-Control-Request-Method: POST' "$URL/v2/models/ridge/infer"
check "CORS preflight on infer from an allowed origin" grep -qi '^Access-Control-Allow-Origin: http://app.example' "$WORK/pre.hdr"
call metrics "$URL/metrics"
check "/metrics counts /v2 requests by status (400s and 404s)" bash -c "grep -q '^amlserve_requests_total{code=\"400\"} [1-9]' '$WORK/metrics.out' && grep -q '^amlserve_requests_total{code=\"404\"} [1-9]' '$WORK/metrics.out'"
check "the access log has the /v2 requests" grep -q '"path":"/v2/models/ridge/versions/1/infer","status":200' "$WORK/server.log"
check "/v2 answers carry the Azure ML headers too" grep -qi '^x-ms-request-id:' "$WORK/ridge1.hdr"

# ---- auth and limits ----
port2=$(free_port)
AMLSERVE_AUTH_KEYS=k1,k2 "$AMLSERVE" --model-dir "$M" --port "$port2" --host 127.0.0.1 --max-body-mb 1 --quiet > "$WORK/auth.log" 2>&1 &
pid2=$!
on_exit "kill $pid2; wait $pid2"
wait_http "http://127.0.0.1:$port2/v2/health/ready"
A="http://127.0.0.1:$port2"
call a1 "$A/v2/health/ready"
check "auth on: health probes need no key" test "$code" = 200
call a2 "$A/v2"
check "auth on: server metadata needs no key" test "$code" = 200
call a3 --data-binary @"$WORK/ridge.json" "$A/v2/models/ridge/infer"
check "auth on: infer without a key is 401 {\"error\"} with WWW-Authenticate" bash -c "[ $code = 401 ] && jq -e '.error | startswith(\"Unauthorized\")' '$WORK/a3.out' && grep -qi '^WWW-Authenticate: Bearer' '$WORK/a3.hdr'"
call a4 "$A/v2/models/ridge"
check "auth on: model metadata without a key is 401" test "$code" = 401
call a5 -H 'Authorization: Bearer wrong' "$A/v2/models/ridge/ready"
check "auth on: model ready with a wrong key is 401" test "$code" = 401
call a6 -H 'Authorization: Bearer k2' --data-binary @"$WORK/ridge.json" "$A/v2/models/ridge/infer"
check "auth on: the secondary key infers" test "$code" = 200
$PY -c 'import json; print(json.dumps({"inputs":[{"name":"in_FP32","shape":[300000],"datatype":"FP32","data":[1.5]*300000}]}))' > "$WORK/big.json"
call a7 -H 'Authorization: Bearer k1' --data-binary @"$WORK/big.json" "$A/v2/models/dtypes/infer"
check "a body over --max-body-mb: 413 {\"error\"} under /v2" bash -c "[ $code = 413 ] && jq -e '.error | test(\"too large\")' '$WORK/a7.out'"
call a8 "$A/v2/health/live"
check "... and the server stays up" test "$code" = 200

# ---- a single-model image: AZUREML_MODEL_DIR is .../azureml-models/NAME/VERSION itself ----
mkdir -p "$WORK/app/azureml-models/ridge/3"
cp "$EX/model.onnx" "$WORK/app/azureml-models/ridge/3/"
port4=$(free_port)
AZUREML_MODEL_DIR="$WORK/app/azureml-models/ridge/3" "$AMLSERVE" --port "$port4" --host 127.0.0.1 --quiet > "$WORK/single.log" 2>&1 &
pid4=$!
on_exit "kill $pid4; wait $pid4"
wait_http "http://127.0.0.1:$port4/v2/health/ready"
call s1 --data-binary @"$WORK/ridge.json" "http://127.0.0.1:$port4/v2/models/ridge/versions/3/infer"
check "single-model layout: the model is ridge, version 3, as Azure ML names it" bash -c "[ $code = 200 ] && jq -e '.model_name == \"ridge\" and .model_version == \"3\"' '$WORK/s1.out'"
call s2 --data-binary @"$EX/sample-request.json" "http://127.0.0.1:$port4/score"
check "... and /score still needs no ?model= (same numbers)" bash -c "[ $code = 200 ] && $TOOL same '$WORK/score.out' '$WORK/s2.out' 0"

# ---- an entry-script package: its run() answers /score; the model routes say so ----
port3=$(free_port)
AZUREML_MODEL_DIR="$EX" "$AMLSERVE" --host 127.0.0.1 --port "$port3" --entry-script "$ROOT/tests/cli/python/plain.py" \
  --python /usr/bin/python3 --quiet > "$WORK/py.log" 2>&1 &
pid3=$!
on_exit "kill $pid3; wait $pid3"
wait_http "http://127.0.0.1:$port3/v2/health/ready" 60
P="http://127.0.0.1:$port3"
call p1 "$P/v2/health/ready"
check "entry script: /v2/health/ready is 200 once init() ran" test "$code" = 200
call p2 "$P/v2"
check "entry script: /v2 lists no extensions" bash -c "[ $code = 200 ] && jq -e '.extensions == []' '$WORK/p2.out'"
call p3 --data-binary @"$WORK/ridge.json" "$P/v2/models/model/infer"
check "entry script: infer is 501 naming POST /score" bash -c "[ $code = 501 ] && grep -q 'entry script: its run() answers POST /score' '$WORK/p3.out'"
call p4 --data '{"a": 1}' "$P/score"
check "entry script: /score still answers" test "$code" = 200

# SIGHUP reloads the models: a new version appears on /v2 without a restart.
mkdir -p "$M/ridge/3" && cp "$EX/model.onnx" "$M/ridge/3/"
kill -HUP $pid
reloaded() { for _ in $(seq 50); do curl -s "$URL/v2/models/ridge" | jq -e '.versions == ["1","2","3"]' >/dev/null && return 0; sleep 0.1; done; return 1; }
check "SIGHUP: the new version 3 is listed and answers" bash -c "$(declare -f reloaded); URL=$URL reloaded && \
  curl -s --data-binary @'$WORK/ridge.json' $URL/v2/models/ridge/infer | jq -e '.model_version == \"3\"'"
kill -TERM $pid; wait $pid; rc=$?
check "SIGTERM stops the server cleanly" test "$rc" -eq 0
