#!/usr/bin/env bash
# ONNX conformance: every test case of Debian's libonnx-testdata groups node,
# pytorch-converted, pytorch-operator and simple through the engine
# ($BUILD/tests/conformance/onnx_node_runner), then a table of passed / failed /
# unsupported / out-of-scope cases per group, the cases that do not pass, and a
# check against the committed baseline (tests/conformance/baseline.txt):
#   - a group's passed count must not drop, its failed or unsupported count not rise;
#   - a case that passes in the baseline (is not listed there as not-passing) must pass.
# Prints PASS/FAIL/SKIP lines for tests/run.sh; exits 1 when a check fails.
#
#   tests/conformance/run.sh            run and check (what `make conformance` does)
#   tests/conformance/run.sh --update   run and rewrite the baseline's counts and
#                                       not-passing list (out-of-scope lines are kept)
# Environment: BUILD (build), ONNX_TESTDATA_ROOT (/usr/share/libonnx-testdata/data),
# CONFORMANCE_BASELINE (tests/conformance/baseline.txt).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
DATA=${ONNX_TESTDATA_ROOT:-/usr/share/libonnx-testdata/data}
BASELINE=${CONFORMANCE_BASELINE:-$ROOT/tests/conformance/baseline.txt}
RUNNER="$BUILD/tests/conformance/onnx_node_runner"
GROUPS_RUN="node pytorch-converted pytorch-operator simple"
NAME=conformance
update=0
case "${1:-}" in
  --update) update=1 ;;
  "") ;;
  *) echo "usage: $0 [--update]" >&2; exit 2 ;;
esac

if [ ! -x "$RUNNER" ]; then
  echo "FAIL $NAME: runner $RUNNER is not built (make build)"; exit 1
fi
if [ ! -f "$BASELINE" ]; then
  echo "FAIL $NAME: baseline $BASELINE is missing"; exit 1
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/amlpkg-conformance.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

: >"$WORK/results"
for group in $GROUPS_RUN; do
  if [ ! -d "$DATA/$group" ]; then
    echo "SKIP $NAME: $DATA/$group not found (install the libonnx-testdata package)"
    continue
  fi
  cases=("$DATA/$group"/test_*)
  "$RUNNER" "${cases[@]}" >"$WORK/$group.out" 2>"$WORK/$group.err"
  rc=$?
  if [ $rc -ne 0 ]; then
    echo "FAIL $NAME: runner exited with status $rc on group $group"; sed 's/^/    /' "$WORK/$group.err" | tail -20
    exit 1
  fi
  # One line per case the runner printed; a case without one (a crash) counts as failed.
  printf '%s\n' "${cases[@]##*/}" | awk -v group="$group" -v out="$WORK/$group.out" '
    BEGIN { while ((getline line < out) > 0) { c = line; sub(/^[A-Z]+ /, "", c); sub(/:.*/, "", c); if (!(c in seen)) seen[c] = line } }
    { print group "\t" ($0 in seen ? seen[$0] : "FAIL " $0 ": the runner printed nothing for it") }' >>"$WORK/results"
done

# Baseline lines: "counts GROUP PASSED FAILED UNSUPPORTED OUT_OF_SCOPE",
# "out-of-scope GROUP CASE REASON...", "not-passing GROUP CASE STATUS".
awk -F'\t' -v name="$NAME" -v baseline="$BASELINE" -v update="$update" -v out="$WORK/new-baseline" \
    -v groups="$GROUPS_RUN" -v runner="$RUNNER" -v data="$DATA" '
  FILENAME == baseline {
    split($0, f, " ")
    if (f[1] == "counts") { bp[f[2]] = f[3]; bf[f[2]] = f[4]; bu[f[2]] = f[5]; bo[f[2]] = f[6]; have[f[2]] = 1 }
    else if (f[1] == "out-of-scope") { r = $0; sub(/^out-of-scope +[^ ]+ +[^ ]+ */, "", r); scope[f[2] " " f[3]] = r }
    else if (f[1] == "not-passing") notpass[f[2] " " f[3]] = f[4]
    next
  }
  {
    g = $1; line = $2
    status = line; sub(/ .*/, "", status)
    c = line; sub(/^[A-Z]+ /, "", c); sub(/:.*/, "", c)
    detail = line; if (!sub(/^[^:]*: /, "", detail)) detail = ""
    key = g " " c
    total[g]++
    if (status == "PASS") {
      passed[g]++
      if (key in scope) notes = notes sprintf("  %s %s passes but is listed out of scope: remove its line from the baseline\n", g, c)
      next
    }
    kind = status == "FAIL" ? "failed" : "unsupported"
    if (key in scope) { oos[g]++; oos_list = oos_list sprintf("  %s %s: %s\n", g, c, scope[key]); now[key] = "out-of-scope"; next }
    now[key] = kind
    if (kind == "failed") { failed[g]++; fail_list = fail_list sprintf("  %s %s: %s\n", g, c, detail) }
    else {
      unsup[g]++; unsup_list = unsup_list sprintf("  %s %s: %s\n", g, c, detail)
      if (status == "UNSUPPORTED") { n = split(detail, ops, ","); for (i = 1; i <= n; i++) { if (!(ops[i] in opn)) oporder[++nops] = ops[i]; opn[ops[i]]++ } }
    }
    if (!(key in notpass)) regress = regress sprintf("FAIL %s: %s %s passed in the baseline, now %s: %s\n", name, g, c, kind, detail)
  }
  END {
    printf "ONNX conformance, %s (rtol 1e-3, atol 1e-5)\n", data
    printf "%-18s %6s %7s %7s %12s %13s %8s\n", "group", "cases", "passed", "failed", "unsupported", "out-of-scope", "passed%"
    ng = split(groups, gl, " ")
    for (i = 1; i <= ng; i++) {
      g = gl[i]; if (!(g in total)) continue
      printf "%-18s %6d %7d %7d %12d %13d %8.1f\n", g, total[g], passed[g], failed[g], unsup[g], oos[g], 100 * passed[g] / total[g]
    }
    if (fail_list != "") printf "failed cases:\n%s", fail_list
    if (unsup_list != "") printf "unsupported cases (operators, types or attribute values the engine lacks):\n%s", unsup_list
    if (nops) { s = ""; for (i = 1; i <= nops; i++) s = s sprintf("%s%s (%d)", i > 1 ? ", " : "", oporder[i], opn[oporder[i]]); printf "missing operators: %s\n", s }
    if (oos_list != "") printf "out-of-scope cases (reasons in the baseline):\n%s", oos_list
    if (notes != "") printf "%s", notes
    if (update) {
      print "# ONNX conformance baseline for tests/conformance/run.sh (make conformance)." > out
      print "# counts GROUP PASSED FAILED UNSUPPORTED OUT_OF_SCOPE: a run fails when PASSED drops or" > out
      print "# FAILED/UNSUPPORTED rise. Rewrite after an improvement with: make conformance-baseline" > out
      print "# out-of-scope GROUP CASE REASON: kept by hand; such a case is run and counted apart." > out
      print "# not-passing GROUP CASE STATUS: written by the update; any other case must pass." > out
      for (i = 1; i <= ng; i++) { g = gl[i]; if (g in total) printf "counts %s %d %d %d %d\n", g, passed[g], failed[g], unsup[g], oos[g] > out; else if (g in have) printf "counts %s %d %d %d %d\n", g, bp[g], bf[g], bu[g], bo[g] > out }
      n = 0; for (k in scope) sk[++n] = k
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (sk[j] < sk[i]) { t = sk[i]; sk[i] = sk[j]; sk[j] = t }
      for (i = 1; i <= n; i++) printf "out-of-scope %s %s\n", sk[i], scope[sk[i]] > out
      n = 0; for (k in now) nk[++n] = k
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (nk[j] < nk[i]) { t = nk[i]; nk[i] = nk[j]; nk[j] = t }
      for (i = 1; i <= n; i++) { split(nk[i], kk, " "); if (!(kk[1] in total) || now[nk[i]] == "out-of-scope") continue; printf "not-passing %s %s\n", nk[i], now[nk[i]] > out }
      for (k in notpass) { split(k, kk, " "); if (!(kk[1] in total)) printf "not-passing %s %s\n", k, notpass[k] > out }
      close(out)
      print "baseline rewritten: " baseline
      exit 0
    }
    bad = 0; better = 0
    for (i = 1; i <= ng; i++) {
      g = gl[i]; if (!(g in total)) continue
      if (!(g in have)) { printf "FAIL %s: group %s has no counts line in %s\n", name, g, baseline; bad = 1; continue }
      ok = passed[g] + 0 >= bp[g] && failed[g] + 0 <= bf[g] && unsup[g] + 0 <= bu[g]
      printf "%s %s: %s passed %d (baseline %d), failed %d (%d), unsupported %d (%d), out of scope %d (%d)\n", ok ? "PASS" : "FAIL", name, g, passed[g], bp[g], failed[g], bf[g], unsup[g], bu[g], oos[g], bo[g]
      if (!ok) bad = 1
      if (passed[g] + 0 > bp[g] || failed[g] + 0 < bf[g] || unsup[g] + 0 < bu[g]) better = 1
    }
    if (regress != "") { printf "%s", regress; bad = 1 }
    if (bad) print "  the engine got worse than the baseline: fix it (for the detail, run " runner " on the case directory)"
    if (better) printf "  counts improved on the baseline: record them with `make conformance-baseline` (tests/conformance/run.sh --update) and commit %s\n", baseline
    exit bad
  }' "$BASELINE" "$WORK/results"
rc=$?
if [ $update -eq 1 ] && [ $rc -eq 0 ]; then
  cp "$WORK/new-baseline" "$BASELINE"
fi
exit $rc
