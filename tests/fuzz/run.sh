#!/usr/bin/env bash
# Builds every tests/fuzz/fuzz_*.c as a libFuzzer binary (clang, ASan+UBSan)
# and runs each for FUZZ_SECONDS on a copy of its seed corpus. A crash fails
# the run and leaves the reproducer in $BUILD/fuzz/<target>/. FUZZ_TARGETS="spec deploy" runs only those.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-60}
export FUZZ_ROOT="$ROOT"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
make --no-print-directory BUILD="$BUILD" CC=clang OPT="-O1 -g" SANITIZE="$SAN -fsanitize=fuzzer-no-link" \
  "$BUILD"/lib/libaml{pkg,cache,serve,engine,common}.a >/dev/null
libs="$(echo "$BUILD"/lib/libaml{pkg,cache,serve,engine,common}.a) $(pkg-config --libs yaml-0.1 libarchive openssl libdeflate libcurl libgit2 sqlite3) -lprotobuf-c -l:libhttp_parser.a -lm -lpthread"
passed=0 failed=0
for src in tests/fuzz/fuzz_*.c; do
  name=$(basename "$src" .c)
  target=${name#fuzz_}
  if [ -n "${FUZZ_TARGETS:-}" ] && [[ " $FUZZ_TARGETS " != *" $target "* ]]; then continue; fi
  out="$BUILD/fuzz/$target"
  mkdir -p "$out/corpus"
  # shellcheck disable=SC2086
  clang -std=c17 -D_GNU_SOURCE -O1 -g $SAN -fsanitize=fuzzer -I. -I"$BUILD/gen" "$src" $libs -o "$out/$name"
  [ -d "tests/fuzz/corpus/$target" ] && cp -n tests/fuzz/corpus/"$target"/* "$out/corpus/" 2>/dev/null || true
  # The ONNX node tests (libonnx-testdata) seed the model fuzzer with every operator's models.
  if { [ "$target" = onnx ] || [ "$target" = onnx_strip ]; } && [ -d "${ONNX_TESTDATA:-/usr/share/libonnx-testdata/data/node}" ]; then
    for m in "${ONNX_TESTDATA:-/usr/share/libonnx-testdata/data/node}"/test_*/model.onnx; do
      t=${m%/model.onnx}
      cp -n "$m" "$out/corpus/node-${t##*/}.onnx" 2>/dev/null || true
    done
  fi
  echo "== $name: ${SECONDS_EACH}s"
  if (cd "$out" && "./$name" -max_total_time="$SECONDS_EACH" -max_len=65536 -rss_limit_mb=2048 \
        -print_final_stats=1 corpus > run.log 2>&1); then
    echo "PASS fuzz $target: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$out/run.log" | grep -o '[0-9]*$') runs, no crash"
    passed=$((passed + 1))
  else
    echo "FAIL fuzz $target: see $out/run.log"; tail -30 "$out/run.log"
    failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
