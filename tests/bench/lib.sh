# Shared helpers for benchmarks: timing, median, ratio lines.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
AMLPKG="$BUILD/bin/amlpkg"
AMLSERVE="$BUILD/bin/amlserve"
RUNS=${BENCH_RUNS:-3}
export CONTAINERS_CONF="$ROOT/templates/podman-containers.conf"

# seconds COMMAND...: wall time of one run, in seconds with microsecond precision. The clock is
# bash's own $EPOCHREALTIME, read without forking, so short runs are not padded by the timer.
# With BENCH_SYNC_EACH=1 the page cache is flushed (untimed) before each run, so a run does not pay
# for writing back what the run before it wrote: gigabytes of dirty pages throttle the next writer.
# BENCH_PREP, when set, is run (untimed, with eval) before each run: clearing what the run before left.
seconds() {
  local t0 t1
  if [ -n "${BENCH_PREP:-}" ]; then eval "$BENCH_PREP" >/dev/null 2>&1 || true; fi
  [ "${BENCH_SYNC_EACH:-0}" = 1 ] && sync
  t0=$EPOCHREALTIME
  "$@" >/dev/null 2>&1 || { echo "bench: command failed: $*" >&2; return 1; }
  t1=$EPOCHREALTIME
  echo "scale=6; ${t1/[.,]/} / 1000000 - ${t0/[.,]/} / 1000000" | bc
}
# median_of N COMMAND...: median wall time over N runs.
median_of() {
  local n=$1; shift
  local i
  for ((i = 0; i < n; i++)); do seconds "$@" || return 1; done | sort -n | sed -n "$(((n + 1) / 2))p"
}
# report WHAT OURS PEER: one result line, ratio = peer / ours (higher is better for us).
report() {
  printf '%-44s amlpkg %8.3f s   peer %8.3f s   ratio %6.1fx\n' "$1" "$2" "$3" "$(echo "scale=2; $3 / $2" | bc)"
}
