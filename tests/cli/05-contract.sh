#!/usr/bin/env bash
# The rest of the Azure ML contract on amlserve: key auth (with rotation on
# SIGHUP), CORS, /swagger.json versions and user files, /metrics, /ready,
# and the scoring queue limit.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples/onnx-ridge"
FX="$ROOT/tests/cli/python"
BODY="$(cat "$EX/sample-request.json")"

start() { # start NAME ARGS...: amlserve in the background on $port; sets NAME_pid
  local name=$1; shift
  port=$(free_port)
  "$AMLSERVE" --host 127.0.0.1 --port "$port" "$@" > "$WORK/$name.log" 2>&1 &
  eval "${name}_pid=$!"
  on_exit "kill $! 2>/dev/null; wait $! 2>/dev/null"
  wait_http "http://127.0.0.1:$port/"
}
status() { curl -s -o "$WORK/out" -D "$WORK/headers" -w '%{http_code}' "$@"; }

printf 'primary-key-1\nsecondary-key-1\n' > "$WORK/keys"
check "amlserve starts with a key file" start auth --model-dir "$EX" --auth-key-file "$WORK/keys"
check "no Authorization header is a 401" test "$(status --data "$BODY" "http://127.0.0.1:$port/score")" = 401
check "... with WWW-Authenticate: Bearer and a JSON message" bash -c "grep -qi '^WWW-Authenticate: Bearer' '$WORK/headers' && jq -e .message '$WORK/out'"
check "a wrong key is a 401" test "$(status -H 'Authorization: Bearer nope' --data "$BODY" "http://127.0.0.1:$port/score")" = 401
check "the primary key scores" test "$(status -H 'Authorization: Bearer primary-key-1' --data "$BODY" "http://127.0.0.1:$port/score")" = 200
check "the secondary key scores" test "$(status -H 'Authorization: Bearer secondary-key-1' --data "$BODY" "http://127.0.0.1:$port/score")" = 200
check "health needs no key" test "$(status "http://127.0.0.1:$port/")" = 200
printf 'primary-key-2\nsecondary-key-1\n' > "$WORK/keys"
kill -HUP "$auth_pid"; sleep 0.3
check "after SIGHUP the rotated primary key scores" test "$(status -H 'Authorization: Bearer primary-key-2' --data "$BODY" "http://127.0.0.1:$port/score")" = 200
check "... and the old primary key is refused" test "$(status -H 'Authorization: Bearer primary-key-1' --data "$BODY" "http://127.0.0.1:$port/score")" = 401
: > "$WORK/keys"
kill -HUP "$auth_pid"; sleep 0.3
check "an empty key file on SIGHUP keeps the old keys" test "$(status -H 'Authorization: Bearer primary-key-2' --data "$BODY" "http://127.0.0.1:$port/score")" = 200
check "... and says so in the log" grep -q 'keeping the old keys' "$WORK/auth.log"

check "amlserve starts with CORS origins" start cors --model-dir "$EX" --cors-origins "https://a.example, https://b.example"
code=$(status -X OPTIONS -H 'Origin: https://b.example' -H 'Access-Control-Request-Method: POST' \
  -H 'Access-Control-Request-Headers: content-type' "http://127.0.0.1:$port/score")
check "a preflight from an allowed origin is answered" bash -c "[ $code = 200 ] && grep -qi '^Access-Control-Allow-Origin: https://b.example' '$WORK/headers' && grep -qi '^Access-Control-Allow-Methods: GET, POST, OPTIONS' '$WORK/headers' && grep -qi '^Access-Control-Allow-Headers: content-type' '$WORK/headers'"
status -H 'Origin: https://a.example' --data "$BODY" "http://127.0.0.1:$port/score" >/dev/null
check "scoring from an allowed origin carries Access-Control-Allow-Origin" grep -qi '^Access-Control-Allow-Origin: https://a.example' "$WORK/headers"
status -H 'Origin: https://evil.example' --data "$BODY" "http://127.0.0.1:$port/score" >/dev/null
check "another origin gets no CORS headers" bash -c "! grep -qi '^Access-Control' '$WORK/headers'"

# Swagger from the ONNX graph, every version, and the exact error for others.
check "GET /swagger.json is Swagger 2.0 with the model's input schema" bash -c "[ $(status "http://127.0.0.1:$port/swagger.json") = 200 ] && jq -e '.swagger == \"2.0\" and .definitions.ServiceInput.properties.data.items.items.type == \"number\" and .paths[\"/score\"].post.operationId == \"RunMLService\"' '$WORK/out'"
check "version=3 is OpenAPI 3.0" bash -c "[ $(status "http://127.0.0.1:$port/swagger.json?version=3") = 200 ] && jq -e '.openapi == \"3.0.1\" and .components.schemas.ServiceOutput.type == \"array\"' '$WORK/out'"
check "version=3.1 is OpenAPI 3.1" bash -c "[ $(status "http://127.0.0.1:$port/swagger.json?version=3.1") = 200 ] && jq -e '.openapi == \"3.1.0\"' '$WORK/out'"
check "an unknown version is Azure ML's 404" bash -c "[ $(status "http://127.0.0.1:$port/swagger.json?version=9") = 404 ] && jq -e '.message == \"Swagger version [9] is not valid. Supported versions: [2, 3, 3.1].\"' '$WORK/out'"

check "GET /ready answers once serving" test "$(curl -s "http://127.0.0.1:$port/ready")" = Ready
curl -s "http://127.0.0.1:$port/metrics" > "$WORK/metrics"
check "/metrics counts requests by status" bash -c "grep -q '^amlserve_requests_total{code=\"200\"} [1-9]' '$WORK/metrics' && grep -q '^amlserve_requests_total{code=\"404\"} 1' '$WORK/metrics'"
check "/metrics has the latency histogram, in-flight and model load time" bash -c "grep -q '^amlserve_request_duration_seconds_bucket{le=\"+Inf\"}' '$WORK/metrics' && grep -q '^amlserve_requests_in_flight 1' '$WORK/metrics' && grep -q '^amlserve_model_load_seconds 0\\.' '$WORK/metrics'"

# Python: samples drive swagger, a user swagger file overrides, the queue limit gives 503.
mkdir -p "$WORK/app" && cp "$FX/behave.py" "$WORK/app/score.py"
echo '{"data": [[1, 2]]}' > "$WORK/in.json"; echo '[3.5]' > "$WORK/out.json"
check "amlserve starts a Python service with samples" start py --entry-script "$WORK/app/score.py" \
  --python /usr/bin/python3 --input-sample "$WORK/in.json" --output-sample "$WORK/out.json" --max-queue 1
check "swagger is derived from the input and output samples" bash -c "[ $(status "http://127.0.0.1:$port/swagger.json") = 200 ] && jq -e '.definitions.ServiceInput.example.data == [[1,2]] and .definitions.ServiceInput.properties.data.type == \"array\" and .definitions.ServiceOutput.items.type == \"number\"' '$WORK/out'"
# One worker busy for 1.5 s, one request queued; the third is refused at once.
curl -s -o /dev/null --data '{"sleep": 1.5}' "http://127.0.0.1:$port/score" & c1=$!
sleep 0.3
curl -s -o /dev/null --data '{"sleep": 0}' "http://127.0.0.1:$port/score" & c2=$!
sleep 0.3
check "a full scoring queue answers 503 at once" bash -c "[ $(status --max-time 1 --data '{\"x\": 1}' "http://127.0.0.1:$port/score") = 503 ] && jq -e '.message | contains(\"queue\")' '$WORK/out'"
wait $c1 $c2
check "metrics count Python worker restarts" bash -c "curl -s http://127.0.0.1:$port/metrics | grep -q '^amlserve_worker_restarts_total 0'"
echo '{"swagger": "2.0", "info": {"title": "mine"}}' > "$WORK/app/swagger.json"
check "amlserve restarts with a user swagger.json beside the script" start py2 --entry-script "$WORK/app/score.py" --python /usr/bin/python3
check "the user's swagger.json is served as is" bash -c "[ $(status "http://127.0.0.1:$port/swagger.json") = 200 ] && jq -e '.info.title == \"mine\"' '$WORK/out'"
