#!/usr/bin/env bash
# amlserve hosting Azure ML entry scripts in Python workers, with the real
# /usr/bin/python3: init/run, errors, timeouts, crashes, rawhttp, GET.
source "$(dirname "$0")/../lib.sh"
FX="$ROOT/tests/cli/python"

# serve NAME SCRIPT [amlserve options...]: starts amlserve in the background; sets $port.
serve() {
  local name=$1 script=$2; shift 2
  port=$(free_port)
  AZUREML_MODEL_DIR="$ROOT/examples/python-ridge" "$AMLSERVE" --host 127.0.0.1 --port "$port" \
    --entry-script "$script" --python /usr/bin/python3 "$@" > "$WORK/$name.log" 2>&1 &
  local pid=$!
  on_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
  eval "${name}_pid=$pid"
  wait_http "http://127.0.0.1:$port/"
}
# post PATH BODY: POST to the current server; sets $code and $WORK/out, $WORK/headers.
post() {
  code=$(curl -sS -D "$WORK/headers" -o "$WORK/out" -w '%{http_code}' -H 'X-Client: tests' --data "$2" "http://127.0.0.1:$port$1")
}

check "the python-ridge example serves numpy's predictions" serve ridge "$ROOT/examples/python-ridge/score.py"
post /score "$(cat "$ROOT/examples/python-ridge/sample-request.json")"
check "score.py's run() answers like numpy" "$PY" "$ROOT/tests/expected_scores.py" "$ROOT/examples/onnx-ridge/model.onnx" "$ROOT/examples/python-ridge/sample-request.json" "$WORK/out"
check "init() output reaches the log" grep -q '"message": "ridge weights loaded"' "$WORK/ridge.log"

serve main "$FX/behave.py" --threads 2 --scoring-timeout-ms 1500
post /score '{"x": 1}'
check "run() gets the body and request_headers; the result is JSON" \
  bash -c "[ $code = 200 ] && jq -e '.echo.x == 1 and .client == \"tests\" and .state.model_dir != null' '$WORK/out'"
check "a good answer says x-ms-run-function-failed: False" grep -qi '^x-ms-run-function-failed: False' "$WORK/headers"
post /score '{"raise": "boom"}'
check "run() raising is a 500 with Azure's message" \
  bash -c "[ $code = 500 ] && jq -e '.message | startswith(\"An unexpected error occurred in scoring script\")' '$WORK/out'"
check "... and x-ms-run-function-failed: True" grep -qi '^x-ms-run-function-failed: True' "$WORK/headers"
check "... and the traceback is logged with the request id" bash -c "grep -q '\"event\": \"run_failed\"' '$WORK/main.log' && grep -q 'ValueError: boom' '$WORK/main.log'"
post /score '{"print": "hello from run"}'
rid=$(grep -i '^x-request-id:' "$WORK/headers" | tr -d '\r' | cut -d' ' -f2)
check "print() in run() is logged with the request id" grep -q "\"request_id\": \"$rid\", \"message\": \"hello from run\"" "$WORK/main.log"

post /score '{"x": 2}'; pids_before=$(jq .pid "$WORK/out")
post /score '{"sleep": 5}'
check "run() over the scoring timeout is a 500 'Scoring timeout after 1500 ms'" \
  bash -c "[ $code = 500 ] && jq -e '.message == \"Scoring timeout after 1500 ms\"' '$WORK/out'"
post /score '{"x": 3}'
check "the server answers again after a timeout (worker replaced)" test "$code" = 200
post /score '{"exit": 7}'
check "a worker that dies mid-request is a 500" test "$code" = 500
post /score '{"x": 4}'
check "... and is replaced: the next request succeeds" test "$code" = 200

# Two workers score at the same time: two 1 s requests finish in well under 2 s.
start=$(date +%s%N)
curl -s -o /dev/null --data '{"sleep": 1}' "http://127.0.0.1:$port/score" & c1=$!
curl -s -o /dev/null --data '{"sleep": 1}' "http://127.0.0.1:$port/score" & c2=$!
healthy=$(curl -s "http://127.0.0.1:$port/")
wait $c1 $c2
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "two workers run requests in parallel (2 x 1 s took ${elapsed_ms} ms)" test "$elapsed_ms" -lt 1900
check "health stays answered while workers are busy" test "$healthy" = "Healthy"

code=$(curl -sS -o "$WORK/out" -w '%{http_code}' "http://127.0.0.1:$port/score?a=1&b=two&c=x&c=%5B2%5D")
check "GET /score passes the query parameters as JSON, values parsed and repeats listed as Azure does" \
  bash -c "[ $code = 200 ] && jq -e '.echo == {\"a\": 1, \"b\": \"two\", \"c\": [\"x\", [2]]}' '$WORK/out'"

workers=$(pgrep -P "$main_pid" | tr '\n' ' ')
check "two worker processes run under amlserve" test "$(echo $workers | wc -w)" -eq 2
kill -TERM "$main_pid"; wait "$main_pid"; rc=$?
check "SIGTERM stops the server and its workers (exit 0)" test "$rc" -eq 0
check "no worker process is left behind" bash -c "for p in $workers; do kill -0 \$p 2>/dev/null && exit 1; done; exit 0"

serve raw "$FX/raw.py"
post /score 'hello'
check "@rawhttp run() gets the request; AMLResponse sets status and headers" \
  bash -c "[ $code = 201 ] && [ \"\$(cat '$WORK/out')\" = 'got hello' ] && grep -qi '^X-Custom: yes' '$WORK/headers'"
code=$(curl -sS -o "$WORK/out" -w '%{http_code}' "http://127.0.0.1:$port/score?k=v")
check "@rawhttp sees GET args and full_path" bash -c "[ $code = 200 ] && jq -e '.args.k == \"v\" and .path == \"/score?k=v\"' '$WORK/out'"

serve plain "$FX/plain.py"
post /score '"just a string"'
check "a returned JSON string is encoded again, as Azure ML does" test "$(cat "$WORK/out")" = '"\"just a string\""'
code=$(curl -sS -o "$WORK/out" -w '%{http_code}' --data-binary $'\xff\xfe' "http://127.0.0.1:$port/score")
check "a body that is not UTF-8 is a 400" test "$code" = 400

"$AMLSERVE" --port "$(free_port)" --entry-script "$FX/broken_init.py" --python /usr/bin/python3 > "$WORK/broken.log" 2>&1
rc=$?
check "init() failing exits 3 with the traceback" bash -c "[ $rc = 3 ] && grep -q 'RuntimeError: model file missing' '$WORK/broken.log'"
"$AMLSERVE" --port "$(free_port)" --entry-script "$FX/missing.py" > "$WORK/missing.log" 2>&1
rc=$?
check "a missing entry script exits 3 naming it" bash -c "[ $rc = 3 ] && grep -q 'missing.py' '$WORK/missing.log'"
