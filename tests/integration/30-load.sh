#!/usr/bin/env bash
# amlserve under load on loopback: 256 connections for 30 s (wrk) give zero
# errors and flat memory; 1,000 idle connections do not stop service to others.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples/onnx-ridge"
command -v wrk >/dev/null || { skip "load test: wrk is not installed (make deps installs it)"; exit 0; }
ulimit -n 8192 2>/dev/null || true
port=$(free_port)
AZUREML_MODEL_DIR="$EX" "$AMLSERVE" --host 127.0.0.1 --port "$port" --quiet > "$WORK/server.log" 2>&1 &
pid=$!
on_exit "kill $pid; wait $pid"
check "amlserve starts" wait_http "http://127.0.0.1:$port/"
rss() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }

cat > "$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"data": [[1,2,3,4,5,6,7,8,9,10],[10,9,8,7,6,5,4,3,2,1]]}'
wrk.headers["Content-Type"] = "application/json"
done = function(s, latency, requests)
  io.write(string.format("RESULT %d %d %d\n", s.requests,
    s.errors.connect + s.errors.read + s.errors.write + s.errors.timeout, s.errors.status))
end
LUA
# A warm-up fills caches and arenas; memory after it is the baseline.
wrk -t2 -c256 -d3s -s "$WORK/post.lua" "http://127.0.0.1:$port/score" >/dev/null 2>&1
rss_start=$(rss)
read -r _ requests sock_errors status_errors < <(wrk -t2 -c256 -d"${LOAD_SECONDS:-30}s" -s "$WORK/post.lua" "http://127.0.0.1:$port/score" | grep '^RESULT')
rss_end=$(rss)
echo "    $requests requests, RSS ${rss_start} kB -> ${rss_end} kB"
check "256 connections for ${LOAD_SECONDS:-30} s: requests were answered" test "${requests:-0}" -gt 1000
check "... with no socket errors and no non-2xx answers" test "${sock_errors:-1}" -eq 0 -a "${status_errors:-1}" -eq 0
check "... and memory stays flat (RSS grew by under 2 MiB)" test $((rss_end - rss_start)) -lt 2048

# 1,000 idle connections, held open by one Python process.
"$PY" - "$port" > "$WORK/idle.log" 2>&1 <<'PY' &
import socket, sys, time
socks = []
for _ in range(1000):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    socks.append(s)
print("open", len(socks), flush=True)
time.sleep(20)
PY
idle=$!
on_exit "kill $idle"
for _ in $(seq 100); do grep -q '^open 1000' "$WORK/idle.log" && break; sleep 0.1; done
check "1,000 idle connections are accepted" grep -q '^open 1000' "$WORK/idle.log"
code=$(curl -sS -o "$WORK/out" -w '%{http_code}' --max-time 5 --data @"$EX/sample-request.json" "http://127.0.0.1:$port/score")
check "a new client is still scored while they are open" test "$code" = 200
kill $idle 2>/dev/null; wait $idle 2>/dev/null
check "the server is healthy afterwards" test "$(curl -s "http://127.0.0.1:$port/")" = Healthy

# The same load over TLS: every connection does a handshake in the event loop,
# then keep-alive requests; no errors and flat memory there too.
if ! command -v openssl >/dev/null; then
  skip "TLS load: the openssl CLI is not installed"
  exit 0
fi
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/tls.key" -out "$WORK/tls.pem" \
  -days 2 -subj /CN=localhost 2>/dev/null
tport=$(free_port)
AZUREML_MODEL_DIR="$EX" "$AMLSERVE" --host 127.0.0.1 --port "$tport" --quiet --tls-cert "$WORK/tls.pem" \
  --tls-key "$WORK/tls.key" > "$WORK/tls-server.log" 2>&1 &
tpid=$!
on_exit "kill $tpid; wait $tpid"
for _ in $(seq 100); do curl -sfk -o /dev/null "https://127.0.0.1:$tport/" && break; sleep 0.1; done
pid=$tpid # rss() reads the TLS server now
wrk -t2 -c256 -d3s -s "$WORK/post.lua" "https://127.0.0.1:$tport/score" >/dev/null 2>&1
rss_start=$(rss)
read -r _ requests sock_errors status_errors < <(wrk -t2 -c256 -d"${TLS_LOAD_SECONDS:-10}s" -s "$WORK/post.lua" "https://127.0.0.1:$tport/score" | grep '^RESULT')
rss_end=$(rss)
echo "    TLS: $requests requests, RSS ${rss_start} kB -> ${rss_end} kB"
check "TLS: 256 connections for ${TLS_LOAD_SECONDS:-10} s: requests were answered" test "${requests:-0}" -gt 1000
check "TLS: ... with no socket errors and no non-2xx answers" test "${sock_errors:-1}" -eq 0 -a "${status_errors:-1}" -eq 0
check "TLS: ... and memory stays flat (RSS grew by under 2 MiB)" test $((rss_end - rss_start)) -lt 2048
# A new connection per request: a full handshake each time.
cat > "$WORK/close.lua" <<'LUA'
wrk.headers["Connection"] = "close"
done = function(s, latency, requests)
  io.write(string.format("RESULT %d %d %d\n", s.requests,
    s.errors.connect + s.errors.read + s.errors.write + s.errors.timeout, s.errors.status))
end
LUA
read -r _ requests sock_errors status_errors < <(wrk -t2 -c32 -d5s -s "$WORK/close.lua" "https://127.0.0.1:$tport/" | grep '^RESULT')
echo "    TLS: $requests handshakes in 5 s"
check "TLS: a handshake per request (32 clients, 5 s): answered with no non-2xx answers" \
  test "${requests:-0}" -gt 100 -a "${status_errors:-1}" -eq 0
check "TLS: the server is healthy afterwards" test "$(curl -sk "https://127.0.0.1:$tport/")" = Healthy
