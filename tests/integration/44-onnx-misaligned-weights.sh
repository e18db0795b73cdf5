#!/usr/bin/env bash
# Misaligned weights read where they lie (issue 22): protobuf does not align
# raw_data, so most float weights inside an ONNX file sit at addresses that
# are not multiples of 4. amlserve maps the file and its MatMul and Gemm read
# such a weight as bytes (a slice at a time), so a model whose 64 MiB of
# weights are all misaligned adds almost nothing to the server's anonymous
# memory (RssAnon) after load and after requests. Other readers get an aligned
# copy: another operator reading the same weight (at load), the reference
# kernels (--backend cpu-ref, at load), a call the optimized MatMul declines
# (on first need). Every answer is checked against numpy's float64 one.
# Memory is asserted, never time.
. "$(dirname "$0")/../lib.sh"
HELPER="$ROOT/tests/integration/misaligned_model.py"
if ! "$PY" -c 'import onnx, numpy' 2>/dev/null; then
  skip "python3-onnx or python3-numpy is not installed (bash .ci/install-deps)"
  exit 0
fi
if [ ! -x "$AMLSERVE" ]; then
  fail "amlserve $AMLSERVE is not built (make build)"
  exit 1
fi

kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }

# serve DIR [ARGS...]: starts amlserve on DIR; sets pid and port.
serve() {
  local dir=$1; shift
  port=$(free_port)
  "$AMLSERVE" --model-dir "$dir" --port "$port" "$@" > "$WORK/serve.$port.out" 2>&1 &
  pid=$!
  on_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
  if ! wait_http "http://127.0.0.1:$port/" 120; then
    fail "amlserve did not start on $dir"; sed 's/^/    /' "$WORK/serve.$port.out" | tail -20
    return 1
  fi
}

stop() { kill "$pid"; wait "$pid" 2>/dev/null; }

# answers NAME DIR: POSTs DIR/request.json twice and checks both answers against DIR/want.json.
answers() {
  local name=$1 dir=$2 i code why
  for i in 1 2; do
    code=$(curl -sS -o "$WORK/out.json" -w '%{http_code}' -H 'Content-Type: application/json' \
      --data-binary @"$dir/request.json" "http://127.0.0.1:$port/score")
    why=$("$PY" "$HELPER" check "$WORK/out.json" "$dir/want.json" 2>&1)
    check "$name: request $i answers 200 like numpy (rtol 1e-4)${why:+: $why}" test "$code" = 200 -a -z "$why"
  done
}

# make_model KIND: generates the model into $WORK/KIND.
make_model() {
  mkdir -p "$WORK/$1"
  "$PY" "$HELPER" model "$1" "$WORK/$1" > /dev/null || { fail "$1: generating the model"; return 1; }
}

# 64 MiB of misaligned weights, each past the packing budget: streamed from the mapping.
make_model chain || exit 1
serve "$WORK/chain" || exit 1
anon=$(kib "$pid" RssAnon)
check "chain (64 MiB of misaligned weights): RssAnon after load $((anon / 1024)) MiB <= 32 MiB" \
  test "$anon" -le $((32 * 1024))
answers chain "$WORK/chain"
anon=$(kib "$pid" RssAnon) file=$(kib "$pid" RssFile)
check "chain: RssAnon after requests $((anon / 1024)) MiB <= 32 MiB (RssFile $((file / 1024)) MiB, shared)" \
  test "$anon" -le $((32 * 1024))
stop

# The reference kernels read weights as floats: the same model answers the same from aligned copies.
serve "$WORK/chain" --backend cpu-ref || exit 1
answers "chain on --backend cpu-ref" "$WORK/chain"
stop
rm -rf "${WORK:?}/chain"

# A small weight packed at load from misaligned bytes, with a bias, Relu and residual folded in.
make_model gemm || exit 1
serve "$WORK/gemm" || exit 1
answers "gemm (transB, fused bias, Relu, residual)" "$WORK/gemm"
stop

# A weight a Gather reads too: copied at load, one copy for both readers.
make_model shared || exit 1
serve "$WORK/shared" || exit 1
answers "shared (MatMul and Gather read one weight)" "$WORK/shared"
stop

# A call the optimized MatMul declines: the reference reads an aligned copy made then.
make_model batched || exit 1
serve "$WORK/batched" || exit 1
answers "batched (B of rank 3, declined by the optimized MatMul)" "$WORK/batched"
stop
