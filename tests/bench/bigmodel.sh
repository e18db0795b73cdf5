#!/usr/bin/env bash
# A 1 GiB ONNX model (tests/bench/bigmodel_gen.py: MatMul weights of random
# values, once as raw_data inside the protobuf, once as external data), made in
# $TMPDIR and removed after:
#  - amlserve's time to ready (exec to the first 200 on GET /), its VmRSS once
#    ready and after a first /score, and its peak (VmHWM); against ONNX
#    Runtime loading the same file (tests/bench/ort_bench.c, load only).
#    Targets: ready <= 200 ms, RSS <= model size + 64 MB, no higher peak.
#  - amlpkg build of the model: time and peak RSS against sha256sum of the
#    file. Targets: <= 1.3x sha256sum's time, peak <= 64 MB.
# BIGMODEL_MIB sets the size (default 1024). BIGMODEL_BASE_AMLSERVE=PATH also measures
# another amlserve (say, one built from main) to ready, alternating with this one.
# Every line ends with the load average it was measured at.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
MIB=${BIGMODEL_MIB:-1024}
LIB="$ROOT/tests/bench/ort/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1"
ORT_BENCH="$BUILD/tests/bench/ort_bench"
"$PY" -c 'import numpy, onnx' 2>/dev/null || { echo "SKIP bigmodel bench: numpy and onnx are needed"; exit 0; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/amlpkg-bigmodel.XXXXXX")
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
"$PY" "$(dirname "$0")/bigmodel_gen.py" "$WORK" "$MIB" || exit 1
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mib_of() { echo "scale=1; $1 / 1024" | bc; }
status_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
body=$("$PY" -c 'import json; print(json.dumps({"data": [[0.5] * 4096]}))')

for layout in raw external; do
  model="$WORK/$layout/model.onnx"
  size=$(du -cb "$WORK/$layout" | tail -1 | cut -f1)
  cat "$WORK/$layout"/* > /dev/null # page cache warm for every reader alike
  echo "-- $layout: $(mib_of $((size / 1024))) MiB"

  for server in ${BIGMODEL_BASE_AMLSERVE:+"$BIGMODEL_BASE_AMLSERVE"} "$AMLSERVE"; do
    label=amlserve
    [ "$server" != "$AMLSERVE" ] && label="base amlserve"
    port=$(free_port)
    t=$("$PY" "$ROOT/tests/bench/cold_start.py" "$port" "$server" --port "$port" --model-dir "$WORK/$layout" \
        2> "$WORK/pid") || { cat "$WORK/pid" >&2; exit 1; }
    pid=$(awk '/^pid/ {print $2}' "$WORK/pid")
    rss_ready=$(status_kib "$pid" VmRSS) anon_ready=$(status_kib "$pid" RssAnon)
    code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d "$body" \
           "http://127.0.0.1:$port/score")
    rss_scored=$(status_kib "$pid" VmRSS) hwm=$(status_kib "$pid" VmHWM)
    kill "$pid"; wait "$pid" 2>/dev/null; pid=
    ms=$(echo "$t * 1000" | bc)
    printf '%-44s %s %8.1f ms   RSS ready %7.1f MiB (anon %.1f), after /score (%s) %7.1f MiB, peak %7.1f MiB   load %s\n' \
      "$layout: time to ready" "$label" "$ms" "$(mib_of "$rss_ready")" "$(mib_of "$anon_ready")" "$code" \
      "$(mib_of "$rss_scored")" "$(mib_of "$hwm")" "$(cut -d' ' -f1 /proc/loadavg)"
  done
  if [ -x "$ORT_BENCH" ] && [ -f "$LIB" ]; then
    read -r _ _ ort_ms _ _ rss _ _ peak _ < <("$ORT_BENCH" "$LIB" "$model" load)
    printf '%-44s onnxruntime %8.1f ms   RSS %7.1f MiB, peak %7.1f MiB   ratio %5.1fx\n' "$layout: session load" \
      "$ort_ms" "$(mib_of "$rss")" "$(mib_of "$peak")" "$(echo "scale=2; $ort_ms / $ms" | bc)"
  else
    echo "SKIP $layout: onnxruntime (run tests/bench/ort.sh once to install it)"
  fi

  printf 'models:\n  - name: big\n    version: 1\n    path: %s\n' "$WORK/$layout" > "$WORK/spec.yaml"
  sha=$(median_of "$RUNS" sha256sum "$WORK/$layout"/*)
  ours=$(BENCH_PREP='rm -rf "$WORK/cache" "$WORK/out.tar"' median_of "$RUNS" \
         env AMLPKG_CACHE_DIR="$WORK/cache" "$AMLPKG" build "$WORK/spec.yaml" -o "$WORK/out.tar")
  rm -rf "$WORK/cache" "$WORK/out.tar"
  peak=$(AMLPKG_CACHE_DIR="$WORK/cache" /usr/bin/time -f %M "$AMLPKG" build "$WORK/spec.yaml" -o "$WORK/out.tar" \
         2>&1 >/dev/null | tail -1)
  rm -rf "$WORK/cache" "$WORK/out.tar"
  printf '%-44s amlpkg %8.3f s   sha256sum %8.3f s   ratio %5.2fx   amlpkg peak RSS %6.1f MiB   load %s\n' \
    "$layout: amlpkg build" "$ours" "$sha" "$(echo "scale=2; $sha / $ours" | bc)" "$(mib_of "$peak")" \
    "$(cut -d' ' -f1 /proc/loadavg)"
done
