# Helpers for shell tests. Source it; each check prints PASS/FAIL/SKIP lines
# that tests/run.sh counts. Paths: $AMLPKG, $AMLSERVE, $ROOT, $WORK (a fresh
# temporary directory removed on exit).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
AMLPKG="$BUILD/bin/amlpkg"
AMLSERVE="$BUILD/bin/amlserve"
PY=/usr/bin/python3
WORK=$(mktemp -d "${TMPDIR:-/tmp}/amlpkg-test.XXXXXX")
# Builds with a base image use the environment cache: never the one in $HOME.
export AMLPKG_CACHE_DIR="$WORK/cache"
TEST_NAME=$(basename "$0" .sh)
_cleanups=()
on_exit() { _cleanups+=("$1"); }
_run_cleanups() {
  local i
  for ((i=${#_cleanups[@]}-1; i>=0; i--)); do eval "${_cleanups[$i]}" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap _run_cleanups EXIT

pass() { echo "PASS $TEST_NAME: $1"; }
fail() { echo "FAIL $TEST_NAME: $1"; }
skip() { echo "SKIP $TEST_NAME: $1"; }

# check DESCRIPTION COMMAND...: passes when the command exits 0.
check() {
  local desc=$1; shift
  if "$@" >"$WORK/last.out" 2>&1; then pass "$desc"; else fail "$desc (exit $?)"; sed 's/^/    /' "$WORK/last.out" | head -20; fi
}
# check_fails DESCRIPTION PATTERN COMMAND...: passes when the command exits non-zero
# and its combined output matches the extended regex PATTERN.
check_fails() {
  local desc=$1 pattern=$2; shift 2
  if "$@" >"$WORK/last.out" 2>&1; then
    fail "$desc (expected failure, got exit 0)"
  elif grep -Eq -- "$pattern" "$WORK/last.out"; then
    pass "$desc"
  else
    fail "$desc (message does not match /$pattern/)"; sed 's/^/    /' "$WORK/last.out" | head -20
  fi
}
# free_port: a TCP port nobody listens on right now.
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# wait_http URL [SECONDS]: waits until URL answers.
wait_http() {
  local url=$1 deadline=$((SECONDS + ${2:-20}))
  while [ $SECONDS -lt $deadline ]; do curl -fsS -o /dev/null "$url" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
# within SECONDS COMMAND...: runs the command every 0.2 s until it succeeds (0) or time is up (1).
within() {
  local deadline=$((SECONDS + $1)); shift
  while [ $SECONDS -lt $deadline ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}
# check_exit DESCRIPTION CODE COMMAND...: passes when the command exits with CODE.
check_exit() {
  local desc=$1 want=$2; shift 2
  "$@" >"$WORK/last.out" 2>&1
  local got=$?
  if [ "$got" -eq "$want" ]; then pass "$desc"; else fail "$desc (exit $got, expected $want)"; sed 's/^/    /' "$WORK/last.out" | head -20; fi
}
