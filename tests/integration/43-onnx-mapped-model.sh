#!/usr/bin/env bash
# Zero-copy model loading (issue 22): amlserve maps its ONNX model files and
# uses the weights where they lie, so a 256 MiB model adds almost nothing to
# the server's anonymous memory (RssAnon; the mapped pages are file-backed and
# shared with the page cache). protobuf does not align raw_data: a misaligned
# MatMul weight is read where it lies too (44 covers the other readers).
# External data is mapped too. A model file replaced by
# rename keeps serving the old model until SIGHUP; one truncated or rewritten
# in place makes requests fail with a 500 (never a crash; the log names the
# file and the change) until a reload.
# Memory is asserted, never time.
. "$(dirname "$0")/../lib.sh"
HELPER="$ROOT/tests/integration/mapped_model.py"
if ! "$PY" -c 'import onnx, numpy' 2>/dev/null; then
  skip "python3-onnx or python3-numpy is not installed (bash .ci/install-deps)"
  exit 0
fi
if [ ! -x "$AMLSERVE" ]; then
  fail "amlserve $AMLSERVE is not built (make build)"
  exit 1
fi
"$PY" "$HELPER" request 1024 > "$WORK/request.json"

kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }

# serve DIR: starts amlserve on DIR; sets pid and port.
serve() {
  port=$(free_port)
  "$AMLSERVE" --model-dir "$1" --port "$port" > "$WORK/serve.$port.out" 2>&1 &
  pid=$!
  on_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
  if ! wait_http "http://127.0.0.1:$port/" 120; then
    fail "amlserve did not start on $1"; sed 's/^/    /' "$WORK/serve.$port.out" | tail -20
    return 1
  fi
}

# score: POSTs the request; sets code and leaves the body in $WORK/out.json.
score() {
  code=$(curl -sS -o "$WORK/out.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary @"$WORK/request.json" "http://127.0.0.1:$port/score")
}

# first_y: the answer's y[0], rounded to 2 decimals.
first_y() { "$PY" -c 'import json,sys; print("%.2f" % json.load(open(sys.argv[1]))[0][0])' "$WORK/out.json"; }

# memory_case NAME MIB LAYOUT MAX_ANON_MIB: serves the model, checks RssAnon after load and after a request.
memory_case() {
  local name=$1 mib=$2 layout=$3 max=$4
  mkdir -p "$WORK/$name"
  want=$("$PY" "$HELPER" matmul "$WORK/$name/model.onnx" "$mib" 0.5 "$layout") || { fail "$name: generating the model"; return; }
  local size_kib=$(( $(du -k --apparent-size -c "$WORK/$name"/* | tail -1 | cut -f1) ))
  serve "$WORK/$name" || return
  local anon_load=$(kib "$pid" RssAnon)
  check "$name ($((size_kib / 1024)) MiB, $layout): RssAnon after load $((anon_load / 1024)) MiB <= $max MiB" \
    test "$anon_load" -le $((max * 1024))
  score
  check "$name: answers 200 with y[0] = $(printf '%.2f' "$want")" \
    test "$code" = 200 -a "$(first_y 2>/dev/null)" = "$(printf '%.2f' "$want")"
  local anon_run=$(kib "$pid" RssAnon) file_run=$(kib "$pid" RssFile)
  check "$name: RssAnon after a request $((anon_run / 1024)) MiB <= $max MiB (RssFile $((file_run / 1024)) MiB, shared)" \
    test "$anon_run" -le $((max * 1024))
  kill "$pid"; wait "$pid" 2>/dev/null
  rm -rf "${WORK:?}/$name"
}

memory_case aligned 256 aligned 32
memory_case external 64 external 32
# Misaligned weights a MatMul reads are not copied either: the kernel reads them as bytes.
memory_case misaligned 64 misaligned 32

# A small model for the file-change cases: c = 1, then c = 2 (y[0] = sum of W[:, 0]).
mkdir -p "$WORK/small"
want1=$(printf '%.2f' "$("$PY" "$HELPER" matmul "$WORK/small/model.onnx" 1 1 aligned)")
want2=$(printf '%.2f' "$("$PY" "$HELPER" matmul "$WORK/next.onnx" 1 2 aligned)")
cp "$WORK/next.onnx" "$WORK/next.copy"
serve "$WORK/small" || exit 1
score
check "small model answers y[0] = $want1" test "$code" = 200 -a "$(first_y)" = "$want1"

mv "$WORK/next.onnx" "$WORK/small/model.onnx"
score
check "after a rename over the file, the old model still answers (y[0] = $want1)" \
  test "$code" = 200 -a "$(first_y)" = "$want1"
kill -HUP "$pid"
for _ in $(seq 100); do score; [ "$code" = 200 ] && [ "$(first_y)" = "$want2" ] && break; sleep 0.1; done
check "after SIGHUP, the new model answers (y[0] = $want2)" test "$code" = 200 -a "$(first_y)" = "$want2"

truncate -s 100 "$WORK/small/model.onnx"
score
check "truncated in place: the request fails with 500" test "$code" = 500
# The answer carries the contract's generic run-failed message; the log says why.
check "truncated in place: the log says the model file changed size and asks for a reload" \
  grep -q "scoring failed: .*model.onnx: the model file changed size on disk.*reload the model" "$WORK/serve.$port.out"
check "truncated in place: amlserve is still up" curl -fsS -o /dev/null "http://127.0.0.1:$port/"
kill -HUP "$pid"
sleep 0.5
score
check "a reload of a truncated file keeps the old model, which still refuses to answer (500)" test "$code" = 500
check "amlserve says it keeps the old models" grep -q "keeping the old models" "$WORK/serve.$port.out"

# Rewritten in place, same inode (cp writes into the existing file): refused until reloaded.
cp "$WORK/next.copy" "$WORK/small/model.onnx"
kill -HUP "$pid"
for _ in $(seq 100); do score; [ "$code" = 200 ] && break; sleep 0.1; done
check "after a good file and SIGHUP, the model answers again (y[0] = $want2)" \
  test "$code" = 200 -a "$(first_y)" = "$want2"
sleep 0.05 # past the file system's timestamp granularity, so the rewrite shows in mtime
cp "$WORK/small/model.onnx" "$WORK/same.onnx"
"$PY" "$HELPER" matmul "$WORK/other.onnx" 1 3 aligned > /dev/null
cat "$WORK/other.onnx" > "$WORK/small/model.onnx"
score
check "rewritten in place (same size, other weights): 500, not an answer from the other weights" test "$code" = 500
check "rewritten in place: the log names the rewrite" grep -q "scoring failed: .*rewritten on disk" "$WORK/serve.$port.out"
check "amlserve is still up" curl -fsS -o /dev/null "http://127.0.0.1:$port/"
