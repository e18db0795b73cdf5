#!/usr/bin/env bash
# ONNX conformance: every backend node test from Debian's libonnx-testdata run
# through the engine ($BUILD/tests/conformance/onnx_node_runner). A test whose
# operators the engine has must pass (PASS line) or it is a FAIL; tests using
# operators, types or attribute values the engine lacks are counted and listed
# in SKIP lines (run the runner on one test directory for the detail). The
# last line sums it up.
. "$(dirname "$0")/../lib.sh"
DATA=${ONNX_TESTDATA:-/usr/share/libonnx-testdata/data/node}
RUNNER="$BUILD/tests/conformance/onnx_node_runner"
if [ ! -d "$DATA" ]; then
  skip "ONNX node tests not found at $DATA (install the libonnx-testdata package)"
  exit 0
fi
if [ ! -x "$RUNNER" ]; then
  fail "runner $RUNNER is not built (make build)"
  exit 1
fi
tests=("$DATA"/test_*/)
tests=("${tests[@]%/}")
"$RUNNER" "${tests[@]}" >"$WORK/results" 2>"$WORK/stderr"
rc=$?
if [ $rc -ne 0 ]; then
  fail "runner exited with status $rc"; sed 's/^/    /' "$WORK/stderr" | tail -20
fi
awk -v name="$TEST_NAME" '
  $1 == "PASS" { pass++; print "PASS " name ": " $2; next }
  $1 == "FAIL" { nfail++; sub(/^FAIL /, ""); print "FAIL " name ": " $0; next }
  $1 == "UNSUPPORTED" {
    unsup++
    n = split($3, names, ",")
    for (i = 1; i <= n; i++) if (!(names[i] in seen)) { seen[names[i]] = 1; order[++nops] = names[i] }
    next
  }
  $1 == "KNOWN" {
    known++; t = $2; sub(/:$/, "", t); sub(/^KNOWN [^ ]+ /, "")
    klist = klist (known > 1 ? "; " : "") t " (" $0 ")"
    next
  }
  $1 == "NOTIMPL" {
    notimpl++; t = $2; sub(/:$/, "", t)
    list = list (notimpl > 1 ? " " : "") t
    next
  }
  END {
    oplist = ""
    for (i = 1; i <= nops; i++) oplist = oplist (i > 1 ? " " : "") order[i]
    if (unsup) print "SKIP " name ": " unsup " node tests use operators not implemented yet: " oplist
    if (notimpl) print "SKIP " name ": " notimpl " node tests use types or attribute values not implemented yet: " list
    if (known) print "SKIP " name ": " known " node tests knowingly differ from the suite: " klist
    printf "%s: %d of %d node tests pass, %d fail, %d use unsupported operators, %d unsupported types/attributes, %d known differences\n", \
      name, pass, pass + nfail + unsup + notimpl + known, nfail, unsup, notimpl, known
  }' "$WORK/results"
