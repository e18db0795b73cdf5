#!/usr/bin/env bash
# Packaging speed against the peer: podman build (FROM scratch + the static
# runtime + a random model) then podman save as oci-archive, versus
# amlpkg build of the same content. Sizes: 100 MiB, plus 1 GiB with BENCH_LARGE=1.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
command -v podman >/dev/null || { echo "SKIP package bench: podman is not installed"; exit 0; }
WORK=$(mktemp -d /var/tmp/amlpkg-bench.XXXXXX)
trap 'podman rmi -f amlpkg-bench/peer:1 >/dev/null 2>&1; rm -rf "$WORK"' EXIT

declare -A cold_time
# Each run, ours and the peer's, starts with nothing left to write back (see lib.sh).
export BENCH_SYNC_EACH=1
sizes=(100)
[ "${BENCH_LARGE:-0}" = 1 ] && sizes+=(1024)
for mib in "${sizes[@]}"; do
  d="$WORK/$mib"
  mkdir -p "$d/model"
  head -c $((mib * 1024 * 1024)) /dev/urandom > "$d/model/weights.bin"
  cp "$ROOT/examples/onnx-ridge/model.onnx" "$d/model/"
  cp "$AMLSERVE" "$d/amlserve"
  printf 'models:\n  - name: bench\n    version: 1\n    path: model\n' > "$d/spec.yaml"
  cat > "$d/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY amlserve /usr/local/bin/amlserve
COPY model /var/azureml-app/azureml-models/bench/1/model
ENV AZUREML_MODEL_DIR=/var/azureml-app/azureml-models/bench/1
EXPOSE 5001
ENTRYPOINT ["/usr/local/bin/amlserve"]
DOCKERFILE
  # Cold: an empty cache or image store each time (nothing kept from an earlier run); warm: the
  # one cache or store. What a run leaves behind (its output, podman's image, amlpkg's cache) is
  # removed before the next one, untimed, for both tools alike: freeing a gigabyte costs each the
  # same and is not packaging.
  peer_cold() { podman build -q --no-cache -t amlpkg-bench/peer:1 "$d" && podman save --format oci-archive -o "$d/peer.tar" amlpkg-bench/peer:1; }
  peer_warm() { podman build -q -t amlpkg-bench/peer:1 "$d" && podman save --format oci-archive -o "$d/peer.tar" amlpkg-bench/peer:1; }
  ours_cold() { AMLPKG_CACHE_DIR="$WORK/cold-cache" "$AMLPKG" build "$d/spec.yaml" -o "$d/ours.tar"; }
  ours() { AMLPKG_CACHE_DIR="$WORK/cache" "$AMLPKG" build "$d/spec.yaml" -o "$d/ours.tar"; }
  sync
  ours_cold=$(BENCH_PREP='rm -rf "$WORK/cold-cache" "$d/ours.tar"' median_of "$RUNS" ours_cold)
  ours >/dev/null 2>&1
  peer_c=$(BENCH_PREP='podman rmi -f amlpkg-bench/peer:1; rm -f "$d/peer.tar"' median_of "$RUNS" peer_cold)
  peer_warm >/dev/null 2>&1
  ours_again=$(BENCH_PREP='rm -f "$d/ours.tar"' median_of "$RUNS" ours)
  peer_w=$(BENCH_PREP='rm -f "$d/peer.tar"' median_of "$RUNS" peer_warm)
  report "cold package, ${mib} MiB model" "$ours_cold" "$peer_c"
  report "rebuild, nothing changed, ${mib} MiB" "$ours_again" "$peer_w"
  # Streaming: peak memory must not grow with the model (goal: the same at 100 MiB and 1 GiB).
  if [ -x /usr/bin/time ]; then
    rss=$(rm -rf "$WORK/cold-cache"; AMLPKG_CACHE_DIR="$WORK/cold-cache" /usr/bin/time -f %M "$AMLPKG" build "$d/spec.yaml" -o "$d/ours.tar" 2>&1 >/dev/null | tail -1)
    printf '%-44s amlpkg peak RSS %6.1f MB\n' "memory, cold package, ${mib} MiB model" "$(echo "scale=1; $rss / 1024" | bc)"
  fi
  cold_time[$mib]=$ours_cold
  rm -rf "$d"
done
# The model layer's own rate: the extra model bytes over the extra time from 100 MiB to 1 GiB
# (what the fixed costs, runtime layer and start-up, do not hide). Goal: >= 1 GB/s.
if [ -n "${cold_time[1024]:-}" ]; then
  printf '%-44s %.2f GB/s\n' "incompressible model layer, cold (marginal)" \
    "$(echo "scale=3; 924 * 1048576 / (${cold_time[1024]} - ${cold_time[100]}) / 1000000000" | bc)"
fi
