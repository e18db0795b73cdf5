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
source "$ROOT/tests/bench/serving_lib.sh"
trap stop_servers EXIT
write_post_lua '{"data": [[1,2,3,4,5,6,7,8,9,10],[10,9,8,7,6,5,4,3,2,1]]}'

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
compare_serving "(a) no-code ONNX vs score.py under gunicorn" "$p_onnx" "$p_peer"
compare_serving "(b) score.py: amlserve workers vs gunicorn" "$p_py" "$p_peer"
