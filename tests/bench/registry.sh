#!/usr/bin/env bash
# Registry transfer speed against the peer (skopeo), side by side in one run:
# the same image (amlpkg build of a random-bytes model, unpacked to an OCI
# layout so neither tool pays for untarring its input) and the same kind of
# local CNCF registry (docker-registry on loopback). Each run gives each tool
# a fresh registry, so no blob is known anywhere and skopeo's blob-info cache
# cannot turn an upload into a mount, then times:
#   push      every blob is uploaded
#   re-push   the registry already has every blob and the tag
#   pull      to an oci-archive
# Sizes: BENCH_SIZES (MiB, default "100 1024"). BENCH_BASELINE=/path/to/an/older/amlpkg
# also times that binary in the same runs and prints its lines ("before"), so a
# change is measured side by side against the peer and against itself.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
for tool in docker-registry skopeo; do
  command -v $tool >/dev/null || { echo "SKIP registry bench: $tool is not installed"; exit 0; }
done
WORK=$(mktemp -d /var/tmp/amlpkg-bench.XXXXXX)
REG_PID=""
stop_registry() {
  if [ -n "$REG_PID" ]; then kill "$REG_PID" 2>/dev/null || true; wait "$REG_PID" 2>/dev/null || true; fi
  REG_PID=""
  rm -rf "$WORK/registry"
}
trap 'stop_registry; rm -rf "$WORK"' EXIT

# start_registry: a fresh, empty registry on a free loopback port; sets REG.
start_registry() {
  stop_registry
  local port
  port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$WORK/registry/data"
  printf 'version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: 127.0.0.1:%s}\n' \
    "$WORK/registry/data" "$port" > "$WORK/registry/config.yml"
  docker-registry serve "$WORK/registry/config.yml" > "$WORK/registry/log" 2>&1 &
  REG_PID=$!
  REG="127.0.0.1:$port"
  local i
  for ((i = 0; i < 200; i++)); do curl -s -o /dev/null "http://$REG/v2/" && return 0; sleep 0.05; done
  echo "bench: the registry did not start" >&2
  return 1
}

BASELINE=${BENCH_BASELINE:-}
ours_push() { "$AMLPKG" push "$IMG" "$REG/bench/model:1"; }
before_push() { "$BASELINE" push "$IMG" "$REG/bench/model:1"; }
before_pull() { rm -f "$WORK/pulled.tar"; "$BASELINE" pull "$REG/bench/model:1" -o "$WORK/pulled.tar"; }
peer_push() { skopeo copy -q --dest-tls-verify=false "oci:$IMG" "docker://$REG/bench/model:1"; }
ours_pull() { rm -f "$WORK/pulled.tar"; "$AMLPKG" pull "$REG/bench/model:1" -o "$WORK/pulled.tar"; }
peer_pull() { rm -f "$WORK/pulled.tar"; skopeo copy -q --src-tls-verify=false "docker://$REG/bench/model:1" "oci-archive:$WORK/pulled.tar"; }

median() { sort -n | sed -n "$(((RUNS + 1) / 2))p"; }

sizes=(${BENCH_SIZES:-100 1024})
for mib in "${sizes[@]}"; do
  d="$WORK/$mib"
  mkdir -p "$d/model"
  head -c $((mib * 1024 * 1024)) /dev/urandom > "$d/model/weights.bin"
  cp "$ROOT/examples/onnx-ridge/model.onnx" "$d/model/"
  printf 'models:\n  - name: bench\n    version: 1\n    path: model\n' > "$d/spec.yaml"
  "$AMLPKG" build "$d/spec.yaml" -o "$d/image.tar" >/dev/null 2>&1
  mkdir -p "$d/layout" && tar xf "$d/image.tar" -C "$d/layout" && rm -f "$d/image.tar" "$d/model/weights.bin"
  IMG="$d/layout"
  sync
  : > "$d/times"
  for ((run = 0; run < RUNS; run++)); do
    for who in ours peer ${BASELINE:+before}; do
      start_registry
      echo "$who push $(seconds ${who}_push)" >> "$d/times"
      echo "$who repush $(seconds ${who}_push)" >> "$d/times"
      echo "$who pull $(seconds ${who}_pull)" >> "$d/times"
      rm -f "$WORK/pulled.tar"
    done
  done
  stop_registry
  for op in push repush pull; do
    ours=$(awk -v o="$op" '$1 == "ours" && $2 == o {print $3}' "$d/times" | median)
    peer=$(awk -v o="$op" '$1 == "peer" && $2 == o {print $3}' "$d/times" | median)
    case $op in
      push) what="push, ${mib} MiB image (skopeo)" ;;
      repush) what="re-push, all blobs there, ${mib} MiB (skopeo)" ;;
      pull) what="pull to oci-archive, ${mib} MiB (skopeo)" ;;
    esac
    report "$what" "$ours" "$peer"
    if [ -n "$BASELINE" ]; then
      before=$(awk -v o="$op" '$1 == "before" && $2 == o {print $3}' "$d/times" | median)
      report "$what, before" "$before" "$peer"
    fi
  done
  rm -rf "$d"
done
