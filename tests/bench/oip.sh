#!/usr/bin/env bash
# The Open Inference Protocol's cost against /score (wrk on loopback, one amlserve):
#  (a) the ridge example, 2 rows: POST /score, POST /v2/.../infer as JSON, and with the binary tensor data
#      extension (input and output binary);
#  (b) a 1 MiB FP32 input tensor (262144 values, model y = sum(x)) as JSON vs binary: the binary extension
#      should be at least 5x faster.
# One wrk thread, 16 connections for (a) and 1 for (b) (a 1 MiB request per connection is the point, not
# concurrency). The forms take turns for BENCH_OIP_ROUNDS rounds (default 3) of BENCH_OIP_SECONDS each
# (default 5), and each line is the median round: on a loaded 2-core machine a single run moves by ±20%.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
TOOL="$PY $ROOT/tests/cli/python/oip_tool.py"
DURATION=${BENCH_OIP_SECONDS:-5}
ROUNDS=${BENCH_OIP_ROUNDS:-3}
command -v wrk >/dev/null || { echo "SKIP oip bench: wrk is not installed (apt-get install wrk)"; exit 0; }
WORK=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null && wait $pid 2>/dev/null; rm -rf "$WORK"' EXIT
$TOOL models "$WORK/models" >/dev/null
port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$AMLSERVE" --model-dir "$WORK/models" --port "$port" --host 127.0.0.1 --quiet > "$WORK/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/v2/health/ready" && break; sleep 0.1; done
URL="http://127.0.0.1:$port"

# lua BODYFILE [HEADER_LENGTH]: a wrk script POSTing the file's bytes.
lua() {
  cat <<LUA
wrk.method = "POST"
local f = io.open("$1", "rb"); wrk.body = f:read("*all"); f:close()
wrk.headers["Content-Type"] = "application/json"
if "$2" ~= "" then
  wrk.headers["Content-Type"] = "application/octet-stream"
  wrk.headers["Inference-Header-Content-Length"] = "$2"
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.1f %.3f %.3f %d %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.bytes / math.max(summary.requests, 1)))
end
LUA
}
# once KEY CONNECTIONS PATH BODYFILE [HEADER_LENGTH]: one wrk run, its RESULT line appended to $WORK/KEY.
once() {
  lua "$4" "${5:-}" > "$WORK/run.lua"
  wrk -t1 -c"$2" -d"${DURATION}s" -s "$WORK/run.lua" "$URL$3" | grep '^RESULT' >> "$WORK/$1"
}
# show KEY TITLE: the median round (by throughput) of KEY; sets $rps and $p50.
show() {
  read -r _ rps p50 p99 errors _ < <(sort -k2 -n "$WORK/$1" | sed -n "$(( ($(wc -l < "$WORK/$1") + 1) / 2 ))p")
  printf '%-46s %9.0f req/s   p50 %8.3f ms   p99 %8.3f ms   errors %d\n' "$2" "$rps" "$p50" "$p99" "$errors"
}

# (a) ridge, the same two rows three ways; every form must answer before it is timed.
printf '{"data": [[1,2,3,4,5,6,7,8,9,10],[10,9,8,7,6,5,4,3,2,1]]}' > "$WORK/score.json"
jq '{inputs: [{name: "x", shape: [2, 10], datatype: "FP32", data: .data}]}' "$WORK/score.json" > "$WORK/v2.json"
jq '.outputs = [{name: "y", parameters: {binary_data: true}}]' "$WORK/v2.json" > "$WORK/v2b.json"
hl=$($TOOL binreq "$WORK/v2b.json" "$WORK/v2.bin")
echo "check /score: $(curl -s --data-binary @"$WORK/score.json" "$URL/score?model=ridge")"
echo "check /v2 JSON: $(curl -s --data-binary @"$WORK/v2.json" "$URL/v2/models/ridge/infer" | jq -c .outputs[0].data)"
curl -s -D "$WORK/h" -o "$WORK/b.out" -H "Inference-Header-Content-Length: $hl" --data-binary @"$WORK/v2.bin" "$URL/v2/models/ridge/infer"
echo "check /v2 binary: $($TOOL binresp "$WORK/b.out" "$(grep -i '^Inference-Header-Content-Length' "$WORK/h" | tr -dc 0-9)" | jq -c .outputs[0].data)"
for ((r = 0; r < ROUNDS; r++)); do
  once score 16 "/score?model=ridge" "$WORK/score.json"
  once json 16 /v2/models/ridge/infer "$WORK/v2.json"
  once bin 16 /v2/models/ridge/infer "$WORK/v2.bin" "$hl"
done
show score "(a) ridge 2 rows: POST /score"; s_rps=$rps
show json "(a) ridge 2 rows: /v2 infer, JSON"; j_rps=$rps
show bin "(a) ridge 2 rows: /v2 infer, binary in and out"; b_rps=$rps
printf '%-46s JSON %.2fx, binary %.2fx of /score\n' "(a) /v2 throughput relative to /score" \
  "$(echo "scale=3; $j_rps / $s_rps" | bc)" "$(echo "scale=3; $b_rps / $s_rps" | bc)"

# (b) one 1 MiB FP32 tensor.
hl=$($TOOL bigreq 262144 "$WORK/big.json" "$WORK/big.bin")
a=$(curl -s --data-binary @"$WORK/big.json" "$URL/v2/models/sum/infer" | jq -c .outputs[0].data)
b=$(curl -s -H "Inference-Header-Content-Length: $hl" --data-binary @"$WORK/big.bin" "$URL/v2/models/sum/infer" | jq -c .outputs[0].data)
echo "check 1 MiB tensor: JSON $a, binary $b (bodies: JSON $(stat -c %s "$WORK/big.json") bytes, binary $(stat -c %s "$WORK/big.bin") bytes)"
for ((r = 0; r < ROUNDS; r++)); do
  once bigjson 1 /v2/models/sum/infer "$WORK/big.json"
  once bigbin 1 /v2/models/sum/infer "$WORK/big.bin" "$hl"
done
show bigjson "(b) 1 MiB FP32 tensor: /v2 infer, JSON"; j_p50=$p50; j_rps=$rps
show bigbin "(b) 1 MiB FP32 tensor: /v2 infer, binary"; b_p50=$p50; b_rps=$rps
printf '%-46s %.1fx faster (p50), %.1fx the throughput\n' "(b) binary vs JSON for the 1 MiB tensor" \
  "$(echo "scale=3; $j_p50 / $b_p50" | bc)" "$(echo "scale=3; $b_rps / $j_rps" | bc)"
