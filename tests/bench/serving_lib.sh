# Helpers for the serving benchmarks (score.sh, sklearn.sh, tls.sh), sourced after lib.sh. The caller sets
# WORK (a temporary folder), PY, DURATION, the array pids (servers to stop on exit) and `port` before
# start_server.

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# stop_servers: the EXIT trap's work: every server started, stopped and waited for; WORK removed.
stop_servers() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$WORK"
}

# write_post_lua BODY: $WORK/post.lua, a wrk script POSTing BODY as JSON that prints
# `RESULT req/s p50_ms p99_ms errors`.
write_post_lua() {
  cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$1'
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.1f %.3f %.3f %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA
}

# start_server VAR CMD...: starts CMD on $port; VAR gets exec-to-first-200 seconds, measured by a
# poller that is already running (tests/bench/cold_start.py), so no client start-up is counted.
start_server() {
  local var=$1; shift
  local t
  t=$("$PY" "$ROOT/tests/bench/cold_start.py" "$port" "$@" 2> "$WORK/pid.$var") || { cat "$WORK/pid.$var" >&2; exit 1; }
  pids+=("$(awk '/^pid/ {print $2}' "$WORK/pid.$var")")
  printf -v "$var" '%s' "$t"
}

# wrk_load PORT: one RESULT line for POST /score on PORT (one wrk thread unless WRK_THREADS says).
wrk_load() { wrk -t"${WRK_THREADS:-1}" -c16 -d"${DURATION}s" -s "$WORK/post.lua" "http://127.0.0.1:$1/score" | grep '^RESULT'; }

# compare_serving TITLE OUR_PORT PEER_PORT: throughput and latency lines, ours first, ratios higher-is-better.
compare_serving() {
  local rps_o p50_o p99_o err_o rps_p p50_p p99_p err_p
  read -r _ rps_o p50_o p99_o err_o < <(wrk_load "$2")
  read -r _ rps_p p50_p p99_p err_p < <(wrk_load "$3")
  printf '%-48s ours %9.0f req/s   peer %9.0f req/s   ratio %6.1fx\n' "$1: throughput" "$rps_o" "$rps_p" "$(echo "scale=2; $rps_o / $rps_p" | bc)"
  printf '%-48s ours %6.3f ms   peer %6.3f ms   ratio %6.1fx\n' "$1: latency p50" "$p50_o" "$p50_p" "$(echo "scale=2; $p50_p / $p50_o" | bc)"
  printf '%-48s ours %6.3f ms   peer %6.3f ms   ratio %6.1fx\n' "$1: latency p99" "$p99_o" "$p99_p" "$(echo "scale=2; $p99_p / $p99_o" | bc)"
  echo "errors: ours $err_o, peer $err_p"
}
