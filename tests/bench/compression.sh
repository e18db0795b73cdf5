#!/usr/bin/env bash
# Layer compression on incompressible weights: --compression auto (stores the
# model layer as plain tar) against gzip (the "peer" column), and a bare
# SHA-256 of the weights as the floor. 100 MiB, plus 1 GiB with BENCH_LARGE=1.
# BENCH_DIR picks the file system (default /var/tmp; try /dev/shm to leave the disk out).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
WORK=$(mktemp -d "${BENCH_DIR:-/var/tmp}/amlpkg-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

sizes=(100)
[ "${BENCH_LARGE:-0}" = 1 ] && sizes+=(1024)
for mib in "${sizes[@]}"; do
  d="$WORK/$mib"
  mkdir -p "$d/model"
  head -c $((mib * 1024 * 1024)) /dev/urandom > "$d/model/weights.bin"
  cp "$ROOT/examples/onnx-ridge/model.onnx" "$d/model/"
  printf 'models:\n  - name: bench\n    version: 1\n    path: model\n' > "$d/spec.yaml"
  # An empty cache each run (cleared untimed, with the last output): a kept gzip layer would
  # otherwise skip the very compression measured here.
  build() { AMLPKG_CACHE_DIR="$d/cache" "$AMLPKG" build "$d/spec.yaml" -o "$d/out.tar" --compression "$1"; }
  export BENCH_SYNC_EACH=1
  sync
  auto=$(BENCH_PREP='rm -rf "$d/cache" "$d/out.tar"' median_of "$RUNS" build auto)
  gzip=$(BENCH_PREP='rm -rf "$d/cache" "$d/out.tar"' median_of "$RUNS" build gzip)
  sha=$(median_of "$RUNS" openssl dgst -sha256 "$d/model/weights.bin")
  report "package ${mib} MiB random model: auto vs gzip" "$auto" "$gzip"
  report "... auto vs SHA-256 of the weights alone" "$auto" "$sha"
  rm -rf "$d"
done
