#!/usr/bin/env bash
# make demo: package the onnx-ridge example into an image without a daemon,
# load it into podman, run it, and score it over HTTP.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
EX="$ROOT/examples/onnx-ridge"
OUT="$ROOT/$BUILD/demo"
export CONTAINERS_CONF="$ROOT/templates/podman-containers.conf"
mkdir -p "$OUT"

echo "== amlpkg build (no daemon)"
"$ROOT/$BUILD/bin/amlpkg" build "$EX/spec.yaml" -o "$OUT/ridge.tar"

echo "== podman load"
podman load -i "$OUT/ridge.tar"

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo "== podman run -p 127.0.0.1:$port:5001 localhost/ridge:1"
cid=$(podman run -d --rm -p "127.0.0.1:$port:5001" localhost/ridge:1)
trap 'podman stop -t 5 "$cid" >/dev/null 2>&1 || true' EXIT
for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break; sleep 0.1; done

echo "== scoring"
cmd="curl -sS -H 'Content-Type: application/json' -d '$(cat "$EX/sample-request.json")' http://127.0.0.1:$port/score"
echo "\$ $cmd"
response=$(eval "$cmd")
echo "$response"
[ -n "$response" ] && [ "${response:0:1}" = "[" ]
