#!/usr/bin/env bash
# The built image in real tools: skopeo and umoci read it, podman loads and
# runs it, and the container serves numpy's predictions on port 5001.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples/onnx-ridge"
export CONTAINERS_CONF="$ROOT/templates/podman-containers.conf"
for tool in podman skopeo umoci; do
  command -v $tool >/dev/null || { skip "$tool is not installed (make deps installs it)"; exit 0; }
done

"$AMLPKG" build "$EX/spec.yaml" -o "$WORK/ridge.tar" --tag amlpkg-test/ridge:it >/dev/null
check "skopeo inspects the oci-archive" bash -c "skopeo inspect oci-archive:'$WORK/ridge.tar' | jq -e '.Architecture and (.Layers | length) == 2'"
mkdir -p "$WORK/layout" && tar xf "$WORK/ridge.tar" -C "$WORK/layout"
check "umoci unpacks the image" umoci unpack --rootless --image "$WORK/layout:amlpkg-test/ridge:it" "$WORK/bundle"
check "the unpacked rootfs has amlserve and the model" \
  test -x "$WORK/bundle/rootfs/usr/local/bin/amlserve" -a -f "$WORK/bundle/rootfs/var/azureml-app/azureml-models/ridge/1/model.onnx"

# Its own storage so the test never touches the machine's images.
P=(podman --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs)
on_exit "${P[*]} rm -af -t 0; ${P[*]} rmi -af"
check "podman loads the archive" "${P[@]}" load -i "$WORK/ridge.tar"
check "podman names it as tagged" "${P[@]}" image exists localhost/amlpkg-test/ridge:it
port=$(free_port)
cid=$("${P[@]}" run -d -p "127.0.0.1:$port:5001" localhost/amlpkg-test/ridge:it 2>"$WORK/run.err")
check "podman runs the image" test -n "$cid"
on_exit "${P[*]} rm -f -t 0 $cid"
if ! wait_http "http://127.0.0.1:$port/" 30; then
  fail "the container answers on port 5001"; "${P[@]}" logs "$cid" 2>&1 | tail -5; cat "$WORK/run.err"; exit 1
fi
pass "the container answers on port 5001"
check "GET / says Healthy" test "$(curl -sS "http://127.0.0.1:$port/")" = "Healthy"
curl -sS -o "$WORK/response.json" -H 'Content-Type: application/json' --data @"$EX/sample-request.json" "http://127.0.0.1:$port/score"
check "POST /score in the container matches numpy within 1e-5" \
  "$PY" "$ROOT/tests/expected_scores.py" "$EX/model.onnx" "$EX/sample-request.json" "$WORK/response.json"
# The Open Inference Protocol on the same port: the model by its spec name and version.
check "GET /v2/health/ready in the container: 200" curl -fsS -o /dev/null "http://127.0.0.1:$port/v2/health/ready"
jq '{inputs: [{name: "x", shape: [(.data | length), (.data[0] | length)], datatype: "FP32", data: .data}]}' \
  "$EX/sample-request.json" > "$WORK/v2.json"
curl -sS -o "$WORK/v2.out" --data-binary @"$WORK/v2.json" "http://127.0.0.1:$port/v2/models/ridge/versions/1/infer"
check "POST /v2/models/ridge/versions/1/infer in the container: /score's numbers exactly" \
  "$PY" "$ROOT/tests/cli/python/oip_tool.py" same "$WORK/response.json" "$WORK/v2.out" 0
check "the container stops on SIGTERM with status 0" bash -c "${P[*]} stop -t 10 $cid >/dev/null && test \"\$(${P[*]} inspect -f '{{.State.ExitCode}}' $cid)\" = 0"

# amlpkg profile --image: the built image under podman with CPU and memory limits.
for i in 1 2; do tr -d '\n' < "$EX/sample-request.json"; echo; done > "$WORK/requests.jsonl"
before=$("${P[@]}" ps -aq | wc -l)
check "profile --image measures the image under podman with --cpus/--memory" bash -c "
  AMLPKG_PODMAN='${P[*]}' '$AMLPKG' profile --image '$WORK/ridge.tar' --input '$WORK/requests.jsonl' \
    --requests 400 --concurrency 2 --cpus 1 --memory 256m --json > '$WORK/profile.json'"
check "... every request answered, with a sizing" jq -e '.totalQueries == 400 and .errorQueries == 0 and
  .requestedCpu >= 0.1 and .requestedMemoryInGb >= 0.1 and .maxUtilizedMemoryInGb > 0' "$WORK/profile.json"
check "... and the container is removed afterwards" test "$("${P[@]}" ps -aq | wc -l)" = "$before"
check_exit "--cpus without --image is a usage error" 2 "$AMLPKG" profile "$EX/spec.yaml" --input "$WORK/requests.jsonl" --cpus 1
