#!/usr/bin/env bash
# Scoring throughput, latency and cold start: amlserve on the ridge example vs
# the Azure ML-style peer (Flask under gunicorn, 2 sync workers, numpy), both
# driven by wrk -t2 -c16 on loopback in the same run. Ratios: higher is better.
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
# time_to_healthy URL: seconds until GET URL first answers 200 (polled every 2 ms).
time_to_healthy() {
  local t0=$1 url=$2 tries=0
  until curl -fs -o /dev/null "$url"; do
    sleep 0.002
    ((++tries < 10000)) || { echo "bench: $url never became healthy" >&2; return 1; }
  done
  echo "scale=3; ($(date +%s%N) - $t0) / 1000000000" | bc
}
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

# Servers start in this shell (not in $(...)) so the EXIT trap can stop them.
p1=$(free_port); t0=$(date +%s%N)
AZUREML_MODEL_DIR="$EX" "$AMLSERVE" --port "$p1" --host 127.0.0.1 --quiet >/dev/null 2>&1 &
pids+=($!)
cold_ours=$(time_to_healthy "$t0" "http://127.0.0.1:$p1/") || exit 1
p2=$(free_port); t0=$(date +%s%N)
(cd "$ROOT/tests/bench/peer" && RIDGE_MODEL="$EX/model.onnx" exec /usr/bin/gunicorn -w 2 -k sync \
   -b "127.0.0.1:$p2" --log-level warning flask_score:app) >/dev/null 2>&1 &
pids+=($!)
cold_peer=$(time_to_healthy "$t0" "http://127.0.0.1:$p2/") || exit 1
load() { wrk -t2 -c16 -d"${DURATION}s" -s "$WORK/post.lua" "http://127.0.0.1:$1/score" | grep '^RESULT'; }

# Both answer the same numbers before we time them.
a=$(curl -s --data '{"data": [[1,2,3,4,5,6,7,8,9,10]]}' "http://127.0.0.1:$p1/score")
b=$(curl -s --data '{"data": [[1,2,3,4,5,6,7,8,9,10]]}' "http://127.0.0.1:$p2/score")
echo "check: amlserve $a   peer $b"
read -r _ rps_o p50_o p99_o err_o < <(load "$p1")
read -r _ rps_p p50_p p99_p err_p < <(load "$p2")
report "cold start (exec to first 200 on /)" "$cold_ours" "$cold_peer"
printf '%-44s amlserve %9.0f req/s   peer %9.0f req/s   ratio %6.1fx\n' "throughput (wrk -t2 -c16, ${DURATION}s)" "$rps_o" "$rps_p" "$(echo "scale=2; $rps_o / $rps_p" | bc)"
printf '%-44s amlserve %6.3f ms   peer %6.3f ms   ratio %6.1fx\n' "latency p50" "$p50_o" "$p50_p" "$(echo "scale=2; $p50_p / $p50_o" | bc)"
printf '%-44s amlserve %6.3f ms   peer %6.3f ms   ratio %6.1fx\n' "latency p99" "$p99_o" "$p99_p" "$(echo "scale=2; $p99_p / $p99_o" | bc)"
echo "errors: amlserve $err_o, peer $err_p"
