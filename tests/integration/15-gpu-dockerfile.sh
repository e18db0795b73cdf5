#!/usr/bin/env bash
# The GPU/CUDA Dockerfile builds with podman and agrees with the daemonless
# image of the same spec: the same NVIDIA variables, CUDA's libraries in front
# of the base's LD_LIBRARY_PATH, the same labels and the same answers. No GPU
# or CUDA image is needed (or reachable) here: the base is a local busybox
# oci-archive that sets its own LD_LIBRARY_PATH as CUDA images do, and the
# NVIDIA variables only matter to a GPU host's container runtime.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples/onnx-ridge"
export CONTAINERS_CONF="$ROOT/templates/podman-containers.conf"
for tool in podman busybox; do
  command -v $tool >/dev/null || { skip "$tool is not installed (make deps installs it)"; exit 0; }
done
cd "$WORK" || exit 1
cp "$EX/model.onnx" "$EX/sample-request.json" .
mkdir -p rootfs/bin rootfs/tmp
cp "$(command -v busybox)" rootfs/bin/busybox
for t in sh env cat; do ln -s busybox "rootfs/bin/$t"; done
tar -C rootfs -cf rootfs.tar .
check "a local base that sets LD_LIBRARY_PATH, as an oci-archive" \
  "$PY" "$ROOT/tests/integration/mk_oci_base.py" rootfs.tar base.tar cudalike:1 PATH=/bin LD_LIBRARY_PATH=/opt/base/lib
cat > spec.yaml <<YAML
models: [{name: ridge, version: 1, path: model.onnx}]
environment:
  base_image: oci-archive:$WORK/base.tar
  gpu: {enabled: true, cuda_version: "11.3"}
  env: {OMP_NUM_THREADS: "2"}
output: {name: gpu, tag: "1"}
YAML
P=(podman --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs)
on_exit "${P[*]} rm -af -t 0; ${P[*]} rmi -af"
check "the GPU Dockerfile context is generated from the GPU template" bash -c "
  '$AMLPKG' build spec.yaml --dockerfile ctx >/dev/null && grep -q '^# The GPU variant' ctx/Dockerfile"
check "podman builds it" bash -c "${P[*]} build -q -t localhost/gpu-dockerfile:1 ctx > build.log 2>&1"
check "the daemonless image of the same spec builds and loads" bash -c "
  '$AMLPKG' build spec.yaml -o native.tar >/dev/null && ${P[*]} load -q -i native.tar >/dev/null"
env_of() { "${P[@]}" image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$1" | sed '/^$/d' | sort; }
labels_of() { "${P[@]}" image inspect -f '{{json .Config.Labels}}' "$1" | jq -S 'del(."io.buildah.version")'; }
check "both images carry the same environment (in any order)" bash -c "$(declare -f env_of); P=(${P[*]});
  cmp <(env_of localhost/gpu-dockerfile:1) <(env_of localhost/gpu:1)"
check "... with the NVIDIA runtime's variables" bash -c "$(declare -f env_of); P=(${P[*]});
  env_of localhost/gpu:1 > env.txt && grep -qx NVIDIA_VISIBLE_DEVICES=all env.txt &&
  grep -qx NVIDIA_DRIVER_CAPABILITIES=compute,utility env.txt && grep -qx 'NVIDIA_REQUIRE_CUDA=cuda>=11.3' env.txt"
check "... and CUDA's libraries in front of the base's" \
  grep -qx 'LD_LIBRARY_PATH=/usr/local/cuda/lib64:/usr/local/nvidia/lib:/usr/local/nvidia/lib64:/opt/base/lib' env.txt
check "both carry the same labels, the GPU ones among them" bash -c "$(declare -f labels_of); P=(${P[*]});
  diff <(labels_of localhost/gpu-dockerfile:1) <(labels_of localhost/gpu:1) &&
  labels_of localhost/gpu:1 | jq -e '.\"com.amlpkg.gpu\" == \"cuda\" and .\"com.amlpkg.cuda-version\" == \"11.3\"'"
check "inside the container, amlserve sees the same LD_LIBRARY_PATH" bash -c "
  [ \"\$(${P[*]} run --rm --entrypoint /bin/sh localhost/gpu-dockerfile:1 -c 'echo \$LD_LIBRARY_PATH')\" = \
    \"\$(${P[*]} run --rm --entrypoint /bin/sh localhost/gpu:1 -c 'echo \$LD_LIBRARY_PATH')\" ]"
run_image() { # NAME IMAGE: starts it on a free loopback port; sets NAME_port
  local port; port=$(free_port)
  "${P[@]}" run -d --name "$1" -p "127.0.0.1:$port:5001" "$2" >/dev/null || return 1
  eval "${1}_port=$port"
  wait_http "http://127.0.0.1:$port/" 30
}
check "the Dockerfile image runs (without a GPU the NVIDIA variables change nothing)" run_image fromdockerfile localhost/gpu-dockerfile:1
check "the daemonless image runs" run_image native localhost/gpu:1
check "... and answer /score the same, as numpy does" bash -c "
  curl -sS --data @sample-request.json http://127.0.0.1:$fromdockerfile_port/score > a.json &&
  curl -sS --data @sample-request.json http://127.0.0.1:$native_port/score > b.json && cmp a.json b.json &&
  '$PY' '$ROOT/tests/expected_scores.py' model.onnx sample-request.json b.json"
