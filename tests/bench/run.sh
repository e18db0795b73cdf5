#!/usr/bin/env bash
# make bench: every tests/bench/*.sh except helpers, each printing
# "what  amlpkg X s  peer Y s  ratio Rx" lines measured side by side in one run
# (package.sh: podman build+save; registry.sh: skopeo push/re-push/pull; score.sh;
# gemm.sh: the engine's sgemm vs OpenBLAS in GFLOP/s and CNN ms/image vs the reference kernels;
# ort.sh: whole ONNX models, the engine vs ONNX Runtime (ms, ratio = ONNX Runtime time / ours);
# sha256.sh: our SHA-256 vs OpenSSL's in GB/s; conda.sh: a 40-package conda environment installed
# without an engine vs podman build copying in the same packages, unpacked, on the same base).
# sha256.sh: our SHA-256 vs OpenSSL's in GB/s; bigmodel.sh: a 1 GiB ONNX model, amlserve ready time and RSS vs
# ONNX Runtime's load, amlpkg build vs sha256sum).
set -u
cd "$(dirname "$0")"
echo "amlpkg benchmarks on $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ); ratio = peer time / amlpkg time"
status=0
for b in *.sh; do
  case $b in lib.sh|run.sh) continue ;; esac
  echo "== ${b%.sh}"
  bash "$b" || status=1
done
exit $status
