#!/usr/bin/env bash
# Rebuilding an unchanged spec: examples/onnx-ridge with an empty cache (cold)
# versus the same cache again (warm: kept layers, remembered file digests).
# Goal: warm under 50 ms. Also shown: the bare start-up of the amlpkg binary.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
WORK=$(mktemp -d /var/tmp/amlpkg-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
SPEC="$ROOT/examples/onnx-ridge/spec.yaml"
N=${BENCH_CACHE_RUNS:-11}
cold() { local c; c=$(mktemp -d "$WORK/cache.XXXXXX"); AMLPKG_CACHE_DIR="$c" "$AMLPKG" build "$SPEC" -o "$WORK/out.tar"; rm -rf "$c"; }
warm() { AMLPKG_CACHE_DIR="$WORK/cache" "$AMLPKG" build "$SPEC" -o "$WORK/out.tar"; }
startup() { "$AMLPKG" version; }
warm >/dev/null 2>&1
sleep 2.1 # files hashed within 2 s of a change are not remembered yet: let the example settle
warm >/dev/null 2>&1
c=$(median_of "$N" cold)
w=$(median_of "$N" warm)
s=$(median_of "$N" startup)
printf '%-44s cold %8.3f s   warm %8.3f s   ratio %6.1fx   (amlpkg start-up alone %.3f s)\n' \
  "onnx-ridge rebuild, nothing changed" "$c" "$w" "$(echo "scale=2; $c / $w" | bc)" "$s"
