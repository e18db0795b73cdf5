#!/usr/bin/env bash
# What TLS termination costs amlserve: the ridge example scored over HTTPS vs
# plain HTTP by the same binary in the same run (wrk -t2 -c16, keep-alive),
# and new connections per second (a full handshake each, Connection: close).
# Ratios are TLS / plain: 1.0x would be free.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
EX="$ROOT/examples/onnx-ridge"
DURATION=${BENCH_TLS_SECONDS:-10}
for tool in wrk openssl curl; do
  command -v $tool >/dev/null || { echo "SKIP tls bench: $tool is not installed"; exit 0; }
done
WORK=$(mktemp -d)
pids=()
source "$ROOT/tests/bench/serving_lib.sh"
trap stop_servers EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/tls.key" -out "$WORK/tls.pem" \
  -days 2 -subj /CN=localhost 2>/dev/null
cat > "$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"data": [[1,2,3,4,5,6,7,8,9,10],[10,9,8,7,6,5,4,3,2,1]]}'
wrk.headers["Content-Type"] = "application/json"
done = function(s, latency, requests)
  io.write(string.format("RESULT %.1f %d\n", s.requests / (s.duration / 1e6),
    s.errors.status + s.errors.connect + s.errors.read + s.errors.write + s.errors.timeout))
end
LUA
sed -e '/^wrk.method/d' -e '/^wrk.body/d' -e 's/^wrk.headers.*/wrk.headers["Connection"] = "close"/' "$WORK/post.lua" > "$WORK/close.lua"

plain=$(free_port) tls=$(free_port)
AZUREML_MODEL_DIR="$EX" "$AMLSERVE" --host 127.0.0.1 --port "$plain" --quiet >/dev/null & pids+=($!)
AZUREML_MODEL_DIR="$EX" "$AMLSERVE" --host 127.0.0.1 --port "$tls" --quiet --tls-cert "$WORK/tls.pem" \
  --tls-key "$WORK/tls.key" >/dev/null & pids+=($!)
for u in "http://127.0.0.1:$plain/" "https://127.0.0.1:$tls/"; do
  for _ in $(seq 100); do curl -sfk -o /dev/null "$u" && break; sleep 0.1; done
done
# rate CONNS SCRIPT URL: the better of two runs, so a burst of load elsewhere on the host weighs less.
rate() {
  local i
  for i in 1 2; do wrk -t2 -c"$1" -d"${DURATION}s" -s "$WORK/$2.lua" "$3" | awk '/^RESULT/ {print $2, $3}'; done |
    sort -rn | head -1
}
line() { # line TITLE PLAIN_RESULT TLS_RESULT
  local rp ep rt et
  read -r rp ep <<<"$2"; read -r rt et <<<"$3"
  printf '%-44s plain %9.0f /s   TLS %9.0f /s   ratio %5.2fx   (errors %d / %d)\n' "$1" "$rp" "$rt" \
    "$(echo "scale=2; $rt / $rp" | bc)" "$ep" "$et"
}
line "POST /score, 16 keep-alive connections" "$(rate 16 post "http://127.0.0.1:$plain/score")" \
  "$(rate 16 post "https://127.0.0.1:$tls/score")"
line "GET /, a new connection per request" "$(rate 16 close "http://127.0.0.1:$plain/")" \
  "$(rate 16 close "https://127.0.0.1:$tls/")"
