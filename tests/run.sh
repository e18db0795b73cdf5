#!/usr/bin/env bash
# Runs every test suite and prints "N passed, N failed[, N skipped]".
# Unit tests are C binaries under $BUILD/tests/unit; layers/, cli/ and
# integration/ are numbered shell scripts. Each prints PASS/FAIL/SKIP lines; a program that exits
# non-zero without reporting a failure counts as one failure.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export BUILD=${BUILD:-build}
SUITES=${TEST_SUITES:-layers unit cli integration}
passed=0 failed=0 skipped=0

run_one() {
  local label=$1; shift
  local out rc
  out=$(timeout "${TEST_TIMEOUT:-1500}" "$@" 2>&1); rc=$?
  local p f s
  p=$(grep -c '^PASS ' <<<"$out"); f=$(grep -c '^FAIL ' <<<"$out"); s=$(grep -c '^SKIP ' <<<"$out")
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    out+=$'\n'"FAIL $label: exited with status $rc"
    f=1
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
