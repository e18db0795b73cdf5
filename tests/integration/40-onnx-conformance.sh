#!/usr/bin/env bash
# ONNX conformance: every test case of libonnx-testdata's node, pytorch-converted,
# pytorch-operator and simple groups through the engine, checked against the
# committed baseline (tests/conformance/run.sh, the same as `make conformance`).
# One PASS/FAIL line per group, a FAIL line per case that passed in the baseline
# and no longer does; the table of counts and the cases that do not pass go along.
. "$(dirname "$0")/../lib.sh"
if [ ! -d "${ONNX_TESTDATA_ROOT:-/usr/share/libonnx-testdata/data}" ]; then
  skip "ONNX test data not found (install the libonnx-testdata package)"
  exit 0
fi
BUILD="$BUILD" bash "$ROOT/tests/conformance/run.sh"
