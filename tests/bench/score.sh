#!/usr/bin/env bash
# Scoring throughput, latency and cold start: amlserve on the ridge example vs
# the Azure ML-style peer (Flask under gunicorn, 2 sync workers, numpy), both
# driven by wrk -t1 -c16 on loopback in the same run. Ratios: higher is better.
# One wrk thread: on a 2-core machine a second one takes the core the server
# runs on, and p99 then measures the scheduler (about 4 ms either way), not the
# server. Set WRK_THREADS to change it.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
EX="$ROOT/examples/onnx-ridge"
DURATION=${BENCH_SCORE_SECONDS:-10}
for tool in wrk gunicorn curl; do
  command -v $tool >/dev/null || { echo "SKIP score bench: $tool is not installed (apt-get install wrk gunicorn python3-flask)"; exit 0; }
done
WORK=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill $p 2>/dev/null; wait $p 2>/dev/null; done; rm -rf "$WORK"' EXIT

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"data": [[1,2,3,4,5,6,7,8,9,10],[10,9,8,7,6,5,4,3,2,1]]}'
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.1f %.3f %.3f %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA

# start_server VAR CMD...: starts CMD on $port; VAR gets exec-to-first-200 seconds, measured by a
# poller that is already running (tests/bench/cold_start.py), so no client start-up is counted.
start_server() {
  local var=$1; shift
  local t
  t=$("$PY" "$ROOT/tests/bench/cold_start.py" "$port" "$@" 2> "$WORK/pid.$var") || { cat "$WORK/pid.$var" >&2; exit 1; }
  pids+=("$(awk '/^pid/ {print $2}' "$WORK/pid.$var")")
  printf -v "$var" '%s' "$t"
}
load() { wrk -t"${WRK_THREADS:-1}" -c16 -d"${DURATION}s" -s "$WORK/post.lua" "http://127.0.0.1:$1/score" | grep '^RESULT'; }
# compare TITLE OUR_PORT PEER_PORT: throughput and latency lines.
compare() {
  local rps_o p50_o p99_o err_o rps_p p50_p p99_p err_p
  read -r _ rps_o p50_o p99_o err_o < <(load "$2")
  read -r _ rps_p p50_p p99_p err_p < <(load "$3")
  printf '%-44s amlserve %9.0f req/s   peer %9.0f req/s   ratio %6.1fx\n' "$1: throughput" "$rps_o" "$rps_p" "$(echo "scale=2; $rps_o / $rps_p" | bc)"
  printf '%-44s amlserve %6.3f ms   peer %6.3f ms   ratio %6.1fx\n' "$1: latency p50" "$p50_o" "$p50_p" "$(echo "scale=2; $p50_p / $p50_o" | bc)"
  printf '%-44s amlserve %6.3f ms   peer %6.3f ms   ratio %6.1fx\n' "$1: latency p99" "$p99_o" "$p99_p" "$(echo "scale=2; $p99_p / $p99_o" | bc)"
  echo "errors: amlserve $err_o, peer $err_p"
}

port=$(free_port); p_onnx=$port
start_server cold_onnx env AZUREML_MODEL_DIR="$EX" "$AMLSERVE" --port "$port" --host 127.0.0.1 --quiet
port=$(free_port); p_py=$port
start_server cold_py env AZUREML_MODEL_DIR="$ROOT/examples/python-ridge" "$AMLSERVE" --port "$port" --host 127.0.0.1 \
  --quiet --threads 2 --python /usr/bin/python3 --entry-script "$ROOT/examples/python-ridge/score.py"
port=$(free_port); p_peer=$port
start_server cold_peer env ENTRY_SCRIPT="$ROOT/examples/python-ridge/score.py" AZUREML_MODEL_DIR="$ROOT/examples/python-ridge" \
  /usr/bin/gunicorn --chdir "$ROOT/tests/bench/peer" -w 2 -k sync -b "127.0.0.1:$port" --log-level warning flask_score:app
# All three answer the same numbers before they are timed.
for p in $p_onnx $p_py $p_peer; do
  echo "check :$p $(curl -s --data '{"data": [[1,2,3,4,5,6,7,8,9,10]]}' "http://127.0.0.1:$p/score")"
done
report "cold start, no-code ONNX (exec to first 200)" "$cold_onnx" "$cold_peer"
report "cold start, score.py in 2 workers" "$cold_py" "$cold_peer"
compare "(a) no-code ONNX vs score.py under gunicorn" "$p_onnx" "$p_peer"
compare "(b) score.py: amlserve workers vs gunicorn" "$p_py" "$p_peer"
