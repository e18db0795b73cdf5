#!/usr/bin/env bash
# Parity: `podman build` of the generated Dockerfile context serves /, /score
# and /swagger.json exactly as the daemonless image from the same spec does.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples/onnx-ridge"
export CONTAINERS_CONF="$ROOT/templates/podman-containers.conf"
if ! command -v podman >/dev/null; then skip "podman is not installed (make deps installs it)"; exit 0; fi
P=(podman --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs)
on_exit "${P[*]} rm -af -t 0; ${P[*]} rmi -af"

check "the Dockerfile context is generated" "$AMLPKG" package "$EX/spec.yaml" --generate-dockerfile "$WORK/ctx"
check "podman build turns it into an image" bash -c "${P[*]} build -q -t localhost/parity/dockerfile:1 '$WORK/ctx' > '$WORK/build.log' 2>&1"
check "the daemonless image of the same spec loads" bash -c "
  '$AMLPKG' build '$EX/spec.yaml' -o '$WORK/native.tar' --tag parity/native:1 >/dev/null &&
  ${P[*]} load -q -i '$WORK/native.tar' >/dev/null"

# run_image NAME IMAGE: starts it on a free loopback port; sets NAME_port.
run_image() {
  local port; port=$(free_port)
  "${P[@]}" run -d --name "$1" -p "127.0.0.1:$port:5001" "$2" >/dev/null || return 1
  eval "${1}_port=$port"
  wait_http "http://127.0.0.1:$port/" 30
}
check "the Dockerfile image runs" run_image fromdockerfile localhost/parity/dockerfile:1
check "the daemonless image runs" run_image native localhost/parity/native:1
fetch() { # fetch PORT PATH [curl args]: status line + body, without per-request headers
  curl -sS -w '\n%{http_code} %{content_type}\n' "${@:3}" "http://127.0.0.1:$1$2"
}
for what in "GET /" "POST /score" "GET /swagger.json" "GET /swagger.json?version=3" "GET /nowhere"; do
  path=${what#* }
  args=(); [ "${what%% *}" = POST ] && args=(-H 'Content-Type: application/json' --data @"$EX/sample-request.json")
  fetch "$fromdockerfile_port" "$path" "${args[@]}" > "$WORK/a.out"
  fetch "$native_port" "$path" "${args[@]}" > "$WORK/b.out"
  check "$what answers the same from both images" cmp "$WORK/a.out" "$WORK/b.out"
done
check "... and /score is numpy's answer" bash -c "curl -sS --data @'$EX/sample-request.json' http://127.0.0.1:$native_port/score > '$WORK/score.json' &&
  '$PY' '$ROOT/tests/expected_scores.py' '$EX/model.onnx' '$EX/sample-request.json' '$WORK/score.json'"
check "both images carry the same environment and entrypoint" bash -c "
  [ \"\$(${P[*]} image inspect -f '{{json .Config.Env}} {{json .Config.Entrypoint}} {{json .Config.ExposedPorts}}' localhost/parity/dockerfile:1)\" = \
    \"\$(${P[*]} image inspect -f '{{json .Config.Env}} {{json .Config.Entrypoint}} {{json .Config.ExposedPorts}}' localhost/parity/native:1)\" ]"
