#!/usr/bin/env bash
# The other output formats in real tools: podman loads the docker-archive by
# its RepoTags and the container scores like numpy; podman reads zstd and
# uncompressed layers of an oci-archive; skopeo copies out of an oci-layout.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples/onnx-ridge"
export CONTAINERS_CONF="$ROOT/templates/podman-containers.conf"
for tool in podman skopeo; do
  command -v $tool >/dev/null || { skip "$tool is not installed (make deps installs it)"; exit 0; }
done

"$AMLPKG" build "$EX/spec.yaml" --format docker-archive -o "$WORK/ridge-docker.tar" --tag amlpkg-test/ridge:da >/dev/null

# Its own storage so the test never touches the machine's images.
P=(podman --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs)
on_exit "${P[*]} rm -af -t 0; ${P[*]} rmi -af"
check "podman loads the docker-archive" "${P[@]}" load -i "$WORK/ridge-docker.tar"
check "podman names it by RepoTags" bash -c "${P[*]} images --format '{{.Repository}}:{{.Tag}}' | grep -q 'amlpkg-test/ridge:da\$'"
port=$(free_port)
cid=$("${P[@]}" run -d -p "127.0.0.1:$port:5001" amlpkg-test/ridge:da 2>"$WORK/run.err")
check "podman runs the loaded image" test -n "$cid"
on_exit "${P[*]} rm -f -t 0 $cid"
if ! wait_http "http://127.0.0.1:$port/" 30; then
  fail "the container answers on port 5001"; "${P[@]}" logs "$cid" 2>&1 | tail -5; cat "$WORK/run.err"; exit 1
fi
pass "the container answers on port 5001"
check "GET / says Healthy" test "$(curl -sS "http://127.0.0.1:$port/")" = "Healthy"
curl -sS -o "$WORK/response.json" -H 'Content-Type: application/json' --data @"$EX/sample-request.json" "http://127.0.0.1:$port/score"
check "POST /score in the container matches numpy within 1e-5" \
  "$PY" "$ROOT/tests/expected_scores.py" "$EX/model.onnx" "$EX/sample-request.json" "$WORK/response.json"
"${P[@]}" rm -f -t 0 "$cid" >/dev/null 2>&1

for c in zstd none; do
  "$AMLPKG" build "$EX/spec.yaml" -o "$WORK/ridge-$c.tar" --compression $c --tag amlpkg-test/ridge:$c >/dev/null
  check "podman loads an oci-archive with $c layers" "${P[@]}" load -i "$WORK/ridge-$c.tar"
  check "... and runs it (the layers unpack)" bash -c "${P[*]} run --rm amlpkg-test/ridge:$c --version | grep -q amlserve"
done
"$AMLPKG" build "$EX/spec.yaml" --format docker-archive --compression none -o "$WORK/plain-docker.tar" \
  --tag amlpkg-test/ridge:plain >/dev/null
check "podman loads a docker-archive with plain tar layers" "${P[@]}" load -i "$WORK/plain-docker.tar"
check "... and runs it" bash -c "${P[*]} run --rm amlpkg-test/ridge:plain --version | grep -q amlserve"

"$AMLPKG" build "$EX/spec.yaml" --format oci-layout -o "$WORK/layout" --tag amlpkg-test/ridge:lay >/dev/null
check "skopeo copies the image out of the oci-layout" \
  skopeo copy -q "oci:$WORK/layout:amlpkg-test/ridge:lay" "docker-archive:$WORK/from-layout.tar:amlpkg-test/ridge:lay"
