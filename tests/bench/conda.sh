#!/usr/bin/env bash
# A conda environment of 40 packages (an interpreter made from Debian's Python 3.11 with its whole standard
# library, 45 MB, and 39 packages of 20 files each; .conda files made by cph, as conda-forge serves them) on
# the Debian Python base, two ways:
#   amlpkg   `amlpkg lock` + `amlpkg build` (installed without an engine, conda_install.h), from a warm package
#            cache (the packages, and the base's layers from an earlier environment on the same base, are cache
#            blobs; the environment entry is dropped before each run, so the environment is installed and its
#            layer written every time, and the whole image written), and cold (an empty cache: the packages
#            are downloaded from a loopback HTTP channel and the base unpacked from its archive too)
#   peer     the executor route on the same base, given the same packages already unpacked (by cph, untimed):
#            podman build (FROM the base, the unpacked tree copied into the same prefix, the runtime and the
#            model copied too, so both images hold the same files) + podman save as oci-archive. No solving,
#            downloading or unpacking is timed, so it is a lower bound for `conda create --file LOCK` in a
#            RUN step (conda is not packaged in Debian). --no-cache, with the base already in podman's store.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
command -v podman >/dev/null || { echo "SKIP conda bench: podman is not installed"; exit 0; }
command -v cph >/dev/null || { echo "SKIP conda bench: cph is not installed"; exit 0; }
PY=/usr/bin/python3
WORK=$(mktemp -d /var/tmp/amlpkg-bench.XXXXXX)
srv=
# The base goes by its archive's own name too (pybase:bookworm): removed by ID, with every name it has.
trap '[ -n "$srv" ] && kill $srv; podman rmi -f amlpkg-bench/conda-peer:1 >/dev/null 2>&1
  podman rmi -f "$(podman image inspect -f "{{.Id}}" amlpkg-bench/conda-base:1 2>/dev/null)" >/dev/null 2>&1; rm -rf "$WORK"' EXIT
source "$ROOT/tests/python_base_lib.sh"
why=$(python_base) || { echo "SKIP conda bench: $why"; exit 0; }
python_base >/dev/null
cd "$WORK"
pkgs=("linux-64:python=3.11.7=h_0;;;;python-full!conda")
for i in $(seq -w 1 39); do pkgs+=("linux-64:lib$i=1.0=h_0;python 3.11.*;;;bulk!conda"); done
"$PY" "$ROOT/tests/conda_channel.py" "$WORK/channels" main "${pkgs[@]}"
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$PY" "$ROOT/tests/range_server.py" "$WORK/channels" "$port" &
srv=$!
for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port/main/noarch/repodata.json" 2>/dev/null && break; sleep 0.1; done
{ echo "channels: [http://127.0.0.1:$port/main]"; echo "dependencies:"; echo "  - python 3.11.*"
  for i in $(seq -w 1 39); do echo "  - lib$i"; done; } > env.yml
cp "$ROOT/examples/onnx-ridge/model.onnx" "$AMLSERVE" .
printf 'models: [{name: m, version: 1, path: model.onnx}]\nenvironment:\n  base_image: oci-archive:%s\n  conda_file: env.yml\n  lock_file: env.lock\noutput: {name: condabench, tag: "1"}\n' "$BASE" > spec.yaml
"$AMLPKG" lock env.yml -o env.lock 2>/dev/null
KEY=$("$AMLPKG" hash spec.yaml)
PREFIX=/azureml-envs/azureml_$KEY

# The peer: the same packages unpacked (untimed) into the prefix, copied in by podman build.
mkdir -p peer/env
for f in channels/main/linux-64/*.conda; do n=$(basename "$f" .conda); cph x "$f" --dest "x/$n" >/dev/null 2>&1
  rm -rf "x/$n/info"; cp -a "x/$n/." peer/env/; rm -rf "x/$n"; done
cp model.onnx amlserve peer/
podman load -q -i "$BASE" | sed -E 's/^Loaded image\(?s?\)?: *//' | xargs -I{} podman tag {} amlpkg-bench/conda-base:1
cat > peer/Dockerfile <<DOCKERFILE
FROM amlpkg-bench/conda-base:1
COPY env $PREFIX
ENV PATH=$PREFIX/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin AZUREML_CONDA_ENVIRONMENT_PATH=$PREFIX
COPY amlserve /usr/local/bin/amlserve
COPY model.onnx /var/azureml-app/azureml-models/m/1/model.onnx
ENTRYPOINT ["/usr/local/bin/amlserve"]
DOCKERFILE
peer_cold() { podman build -q --no-cache -t amlpkg-bench/conda-peer:1 peer && podman save --format oci-archive -o peer.tar amlpkg-bench/conda-peer:1; }
ours_cold() { AMLPKG_CACHE_DIR="$WORK/cold" "$AMLPKG" lock env.yml -o env.lock && AMLPKG_CACHE_DIR="$WORK/cold" "$AMLPKG" build spec.yaml -o ours.tar; }
ours_warm() { "$AMLPKG" lock env.yml -o env.lock && "$AMLPKG" build spec.yaml -o ours.tar; }
export AMLPKG_CACHE_DIR="$WORK/warm"
ours_warm >/dev/null 2>&1 # the packages into the warm cache
sync
# Alternating rounds (cold, warm, peer), so a change in the machine's load hits all three alike; medians.
: > cold.t; : > warm.t; : > peer.t
load0=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 0; r < RUNS; r++)); do
  BENCH_PREP='rm -rf "$WORK/cold" ours.tar' seconds ours_cold >> cold.t
  BENCH_PREP='"$AMLPKG" cache rm $KEY; rm -f ours.tar' seconds ours_warm >> warm.t
  BENCH_PREP='podman rmi -f amlpkg-bench/conda-peer:1; rm -f peer.tar' seconds peer_cold >> peer.t
done
median() { sort -n "$1" | sed -n "$(((RUNS + 1) / 2))p"; }
report "conda env, 40 packages, warm package cache" "$(median warm.t)" "$(median peer.t)"
report "conda env, 40 packages, cold (downloads)" "$(median cold.t)" "$(median peer.t)"
printf '%-44s %s packages, %s of package files\n' "conda env: what was installed" "$(grep -vc '^[#@]' env.lock)" \
  "$(du -sh channels/main/linux-64 | cut -f1)"
# CPU time and amlpkg's own phases for one more warm run: under load, wall time is mostly waiting for a core.
"$AMLPKG" cache rm "$KEY" >/dev/null 2>&1; rm -f ours.tar
/usr/bin/time -f '%U %S' -o cpu.t "$AMLPKG" build spec.yaml -o ours.tar 2> phases.t >/dev/null
printf '%-44s user %s s, sys %s s; %s\n' "conda env, warm: amlpkg build CPU" $(cat cpu.t) \
  "$(grep -o 'fetch .*' phases.t | head -1)"
"$AMLPKG" cache rm "$KEY" >/dev/null 2>&1; rm -f ours.tar
AMLPKG_CONDA_STAGE=disk /usr/bin/time -f '%U %S' -o cpu.t "$AMLPKG" build spec.yaml -o ours.tar 2> phases.t >/dev/null
printf '%-44s user %s s, sys %s s; %s\n' "... the same with AMLPKG_CONDA_STAGE=disk" $(cat cpu.t) \
  "$(grep -o 'fetch .*' phases.t | head -1)"
printf '%-44s %s before, %s after\n' "load average (1/5/15 min)" "$load0" "$(cut -d' ' -f1-3 /proc/loadavg)"
