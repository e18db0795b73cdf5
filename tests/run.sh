#!/usr/bin/env bash
# Runs every test suite and prints "N passed, N failed[, N skipped]".
# Unit tests are C binaries under $BUILD/tests/unit; layers/, cli/ and
# integration/ are numbered shell scripts. Each prints PASS/FAIL/SKIP lines; a program that exits
# non-zero without reporting a failure counts as one failure.
#
# A test leaves nothing behind: each runs with its own TMPDIR (every temporary
# folder amlpkg, amlserve, Python and mktemp make goes there) and a tag in its
# environment. Whatever is left in that TMPDIR, or any process still running
# with the tag, once the test has exited is one failure naming the test and
# what it left; the runner then removes it (by pid) so the next test starts clean.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export BUILD=${BUILD:-build}
SUITES=${TEST_SUITES:-layers unit cli integration}
passed=0 failed=0 skipped=0
RUN_TMP=$(mktemp -d "${TMPDIR:-/tmp}/amlpkg-run.XXXXXX")
trap 'rm -rf "$RUN_TMP"' EXIT
trap 'exit 143' TERM INT HUP # a runner stopped from outside (timeout, Ctrl-C) still removes its folder
n_run=0

# leftover_pids TAG: processes whose environment carries the tag.
leftover_pids() {
  grep -lzx "AMLPKG_TEST_TAG=$1" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3
}

# leftovers LABEL TAG DIR: "" when the test left nothing; else a line naming
# it, after the processes are stopped and DIR emptied.
leftovers() {
  local label=$1 tag=$2 dir=$3 pids="" i p names=""
  for i in $(seq 30); do # a process told to stop may need a moment to go
    pids=$(leftover_pids "$tag")
    [ -z "$pids" ] && break
    sleep 0.1
  done
  for p in $pids; do names+=" $(cat "/proc/$p/comm" 2>/dev/null)[$p]"; done
  local files
  files=$(find "$dir" -mindepth 1 -maxdepth 1 -printf ' %f' 2>/dev/null)
  if [ -n "$pids" ]; then
    kill $pids 2>/dev/null
    sleep 0.5
    pids=$(leftover_pids "$tag")
    [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
  fi
  chmod -R u+rwX "$dir" 2>/dev/null
  rm -rf "$dir"
  [ -n "$names$files" ] || return 0
  echo "FAIL $label: left behind:${names:+ processes$names}${names:+${files:+;}}${files:+ in TMPDIR$files}"
}

run_one() {
  local label=$1; shift
  local out rc
  n_run=$((n_run + 1))
  local tag="amlpkg-test-$$-$n_run" tmp="$RUN_TMP/$n_run"
  mkdir -p "$tmp"
  out=$(AMLPKG_TEST_TAG=$tag TMPDIR=$tmp timeout "${TEST_TIMEOUT:-1500}" "$@" 2>&1); rc=$?
  local p f s
  p=$(grep -c '^PASS ' <<<"$out"); f=$(grep -c '^FAIL ' <<<"$out"); s=$(grep -c '^SKIP ' <<<"$out")
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    out+=$'\n'"FAIL $label: exited with status $rc"
    f=1
  fi
  local left
  left=$(leftovers "$label" "$tag" "$tmp")
  if [ -n "$left" ]; then
    out+=$'\n'"$left"
    f=$((f + 1))
  fi
  if [ "$f" -gt 0 ]; then
    printf '%s\n' "$out"
  else
    grep -E '^(PASS|SKIP) ' <<<"$out"
  fi
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
}

for suite in $SUITES; do
  echo "== $suite"
  case $suite in
    unit)
      while IFS= read -r bin; do run_one "${bin#"$BUILD"/tests/unit/}" "$bin"; done \
        < <(find "$BUILD/tests/unit" -type f -perm -u+x -name 'test_*' 2>/dev/null | sort)
      ;;
    *)
      for script in tests/"$suite"/[0-9]*.sh; do
        [ -e "$script" ] || continue
        run_one "$script" bash "$script"
      done
      ;;
  esac
done

summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary+=", $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ]
