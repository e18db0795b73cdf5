#!/usr/bin/env bash
# No-code scikit-learn vs score.py: a random forest (100 trees, 20 features) as
# (a) the no-code image's amlserve (converted ONNX-ML, native engine), (b) the
# pickle behind a score.py in amlserve's Python workers, (c) the same score.py
# in Flask under gunicorn (2 sync workers). Throughput and latency by wrk -t1
# -c16 on loopback; cold start from exec to the first 200; image size.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
DURATION=${BENCH_SCORE_SECONDS:-10}
for tool in wrk gunicorn curl; do
  command -v $tool >/dev/null || { echo "SKIP sklearn bench: $tool is not installed"; exit 0; }
done
$PY -c 'import sklearn, flask' 2>/dev/null || { echo "SKIP sklearn bench: python3-sklearn or python3-flask missing"; exit 0; }
WORK=$(mktemp -d)
pids=()
source "$ROOT/tests/bench/serving_lib.sh"
trap stop_servers EXIT

mkdir -p "$WORK/model"
$PY "$ROOT/tests/bench/sklearn/train.py" "$WORK/model"
"$AMLPKG" build "$WORK/model/spec.yaml" -o "$WORK/forest.tar" --no-cache 2>&1 | grep '^converted'
mkdir -p "$WORK/x" "$WORK/root" && tar xf "$WORK/forest.tar" -C "$WORK/x"
for l in $(jq -r '.layers[].digest' "$WORK/x/blobs/sha256/$(jq -r '.manifests[0].digest' "$WORK/x/index.json" | cut -d: -f2)" | cut -d: -f2); do
  tar xzf "$WORK/x/blobs/sha256/$l" -C "$WORK/root"
done
body=$($PY -c 'import json, numpy as np; print(json.dumps({"data": np.random.RandomState(1).standard_normal((2, 20)).round(4).tolist()}))')
write_post_lua "$body"

model_dir=$(dirname "$(find "$WORK/root/var/azureml-app/azureml-models" -name model.onnx)")
port=$(free_port); p_native=$port
start_server cold_native env AZUREML_MODEL_DIR="$model_dir" "$WORK/root/usr/local/bin/amlserve" --port "$port" --host 127.0.0.1 --quiet
port=$(free_port); p_py=$port
start_server cold_py env AZUREML_MODEL_DIR="$WORK/model" "$AMLSERVE" --port "$port" --host 127.0.0.1 \
  --quiet --threads 2 --python /usr/bin/python3 --entry-script "$ROOT/tests/bench/sklearn/score.py"
port=$(free_port); p_peer=$port
start_server cold_peer env ENTRY_SCRIPT="$ROOT/tests/bench/sklearn/score.py" AZUREML_MODEL_DIR="$WORK/model" \
  /usr/bin/gunicorn --chdir "$ROOT/tests/bench/peer" -w 2 -k sync -b "127.0.0.1:$port" --log-level warning flask_score:app
# All three answer the same labels before they are timed.
for p in $p_native $p_py $p_peer; do
  echo "check :$p $(curl -s -H 'Content-Type: application/json' --data "$body" "http://127.0.0.1:$p/score")"
done
# The Python side's size: what a Python base needs to unpickle the model (Debian's installed sizes).
py_kb=$(dpkg-query -W -f='${Installed-Size}\n' python3.11-minimal libpython3.11-minimal libpython3.11-stdlib \
  python3-numpy python3-scipy python3-sklearn python3-sklearn-lib python3-joblib python3-threadpoolctl \
  libopenblas0-pthread libgfortran5 2>/dev/null | awk '{s += $1} END {print s}')
printf '%-48s ours %6.1f MB   python + scikit-learn packages alone %6.0f MB\n' "image size (no-code image, whole)" \
  "$(echo "scale=1; $(stat -c %s "$WORK/forest.tar") / 1000000" | bc)" "$(echo "scale=0; $py_kb / 1000" | bc)"
report "cold start, no-code (exec to first 200)" "$cold_native" "$cold_peer"
report "cold start, score.py in amlserve's workers" "$cold_py" "$cold_peer"
compare_serving "(a) no-code vs score.py under gunicorn" "$p_native" "$p_peer"
compare_serving "(b) score.py: amlserve workers vs gunicorn" "$p_py" "$p_peer"
