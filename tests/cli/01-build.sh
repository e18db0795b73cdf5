#!/usr/bin/env bash
# amlpkg build on the onnx-ridge example: archive layout, image contents,
# reproducibility, layer reuse across model versions.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples/onnx-ridge"

check "builds the example into an oci-archive" "$AMLPKG" build "$EX/spec.yaml" -o "$WORK/ridge.tar"
check "archive holds an OCI layout" bash -c "tar tf '$WORK/ridge.tar' | grep -qx oci-layout && tar tf '$WORK/ridge.tar' | grep -qx index.json"
if [ -n "${AMLPKG_SANITIZED:-}" ]; then
  skip "amlserve is statically linked: sanitizer builds link it dynamically"
else
  check "amlserve is statically linked" bash -c "file -L '$AMLSERVE' | grep -q 'statically linked'"
fi
check "amlserve links no name resolver" bash -c "! nm '$AMLSERVE' | grep -Ew 'getaddrinfo|gethostbyname|getpwnam|getgrnam'"

mkdir -p "$WORK/x" && tar xf "$WORK/ridge.tar" -C "$WORK/x"
manifest=$(jq -r '.manifests[0].digest' "$WORK/x/index.json" | cut -d: -f2)
config=$(jq -r '.config.digest' "$WORK/x/blobs/sha256/$manifest" | cut -d: -f2)
check "index names the image ridge:1" test "$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$WORK/x/index.json")" = "ridge:1"
check "config sets AZUREML_MODEL_DIR" bash -c "jq -e '.config.Env | index(\"AZUREML_MODEL_DIR=/var/azureml-app/azureml-models/ridge/1\")' '$WORK/x/blobs/sha256/$config'"
check "config exposes 5001/tcp" jq -e '.config.ExposedPorts["5001/tcp"]' "$WORK/x/blobs/sha256/$config"
check "entrypoint is amlserve" test "$(jq -c '.config.Entrypoint' "$WORK/x/blobs/sha256/$config")" = '["/usr/local/bin/amlserve"]'
check "every blob matches its digest" bash -c "cd '$WORK/x/blobs/sha256' && for f in *; do echo \"\$f  \$f\"; done | sha256sum -c --quiet"

layers=($(jq -r '.layers[].digest' "$WORK/x/blobs/sha256/$manifest" | cut -d: -f2))
check "two layers: runtime and model" test "${#layers[@]}" -eq 2
check "runtime layer holds only amlserve and its directories" \
  test "$(tar tzf "$WORK/x/blobs/sha256/${layers[0]}" | tr '\n' ' ')" = "usr/ usr/local/ usr/local/bin/ usr/local/bin/amlserve "
check "model layer puts the file under azureml-models/NAME/VERSION" \
  bash -c "tar tzf '$WORK/x/blobs/sha256/${layers[1]}' | grep -qx var/azureml-app/azureml-models/ridge/1/model.onnx"
check "layer entries are owned by 0:0 with a fixed mtime" \
  bash -c "! tar tvzf '$WORK/x/blobs/sha256/${layers[1]}' | grep -v ' 0/0 ' ; tar tvzf '$WORK/x/blobs/sha256/${layers[1]}' | grep -q '1970-01-01 00:00'"
check "model bytes are intact in the layer" bash -c "tar xzOf '$WORK/x/blobs/sha256/${layers[1]}' var/azureml-app/azureml-models/ridge/1/model.onnx | cmp - '$EX/model.onnx'"

# Reproducible: another directory, another time, a copy of the inputs.
mkdir -p "$WORK/copy" && cp -r "$EX" "$WORK/copy/"
sleep 1
(cd "$WORK/copy" && "$AMLPKG" build onnx-ridge/spec.yaml -o again.tar >/dev/null)
check "a second build is byte-for-byte identical" cmp "$WORK/ridge.tar" "$WORK/copy/again.tar"
SOURCE_DATE_EPOCH=1700000000 "$AMLPKG" build "$EX/spec.yaml" -o "$WORK/later.tar" >/dev/null
check "SOURCE_DATE_EPOCH changes the timestamps" bash -c "! cmp -s '$WORK/ridge.tar' '$WORK/later.tar' && tar tvf '$WORK/later.tar' | grep -q 2023-11-14"

# A new model version touches only its own layer.
sed -i 's/version: 1/version: 2/' "$WORK/copy/onnx-ridge/spec.yaml"
"$AMLPKG" build "$WORK/copy/onnx-ridge/spec.yaml" -o "$WORK/v2.tar" --json > "$WORK/v2.json"
check "--json reports the image" jq -e '.image == "ridge:1" and (.layers | length) == 2' "$WORK/v2.json"
check "the runtime layer is reused across model versions" test "$(jq -r '.layers[0].digest' "$WORK/v2.json")" = "sha256:${layers[0]}"
check "--tag overrides the image name" bash -c "'$AMLPKG' build '$EX/spec.yaml' -o '$WORK/t.tar' --tag team/ridge:prod --json | jq -e '.image == \"team/ridge:prod\"'"
check "no temporary files are left beside the output" bash -c "! ls -A '$WORK' | grep -E 'tmp-|amlpkg-build'"
check "build --help documents the options" bash -c "'$AMLPKG' build --help | grep -q SOURCE_DATE_EPOCH"

# Three models (one registered as a folder): one layer each, AZUREML_MODEL_DIR
# is the folder of all, and the unpacked image serves them through ?model=.
mkdir -p "$WORK/multi/folder" && cp "$EX/model.onnx" "$WORK/multi/a.onnx" && cp "$EX/model.onnx" "$WORK/multi/b.onnx"
cp "$EX/model.onnx" "$WORK/multi/folder/model.onnx"
cat > "$WORK/multi/spec.yaml" <<'YAML'
models:
  - {name: ridge, version: 1, path: a.onnx}
  - {name: ridge-large, version: 3, path: b.onnx}
  - {name: ridge-folder, version: 2, path: folder}
output: {name: multi, tag: "1"}
YAML
check "a spec with three models builds" bash -c "'$AMLPKG' build '$WORK/multi/spec.yaml' -o '$WORK/multi.tar' --json > '$WORK/multi.json'"
check "... into one layer per model" jq -e '(.layers | length) == 4' "$WORK/multi.json"
mkdir -p "$WORK/multi/x" && tar xf "$WORK/multi.tar" -C "$WORK/multi/x"
mcfg=$(jq -r '.manifests[0].digest' "$WORK/multi/x/index.json" | cut -d: -f2)
mcfg=$(jq -r '.config.digest' "$WORK/multi/x/blobs/sha256/$mcfg" | cut -d: -f2)
check "... with AZUREML_MODEL_DIR at the folder of all models" \
  jq -e '.config.Env | index("AZUREML_MODEL_DIR=/var/azureml-app/azureml-models")' "$WORK/multi/x/blobs/sha256/$mcfg"
mkdir -p "$WORK/multi/root"
for l in $(jq -r '.layers[].digest' "$WORK/multi.json" | cut -d: -f2); do tar xzf "$WORK/multi/x/blobs/sha256/$l" -C "$WORK/multi/root"; done
port=$(free_port)
AZUREML_MODEL_DIR="$WORK/multi/root/var/azureml-app/azureml-models" "$WORK/multi/root/usr/local/bin/amlserve" \
  --host 127.0.0.1 --port "$port" >/dev/null 2>&1 &
mpid=$!
on_exit "kill $mpid; wait $mpid"
wait_http "http://127.0.0.1:$port/"
check "the image's amlserve routes ?model=ridge-large to its model" \
  bash -c "curl -sf --data @'$EX/sample-request.json' 'http://127.0.0.1:$port/score?model=ridge-large' | jq -e 'length == 2'"
check "... and ?model=ridge-folder:2 to the model registered as a folder" \
  bash -c "curl -sf --data @'$EX/sample-request.json' 'http://127.0.0.1:$port/score?model=ridge-folder:2' | jq -e 'length == 2'"

# The spec's service section becomes the image's settings; keys never enter the image.
mkdir -p "$WORK/svc" && cp "$EX/model.onnx" "$EX/sample-request.json" "$WORK/svc/"
cat > "$WORK/svc/spec.yaml" <<'YAML'
models: [{name: ridge, version: 1, path: model.onnx}]
service:
  workers: 3
  timeout_ms: 2500
  max_request_mb: 5
  max_concurrent_requests: 8
  max_queue_wait_ms: 700
  auth: {keys: [do-not-bake-me]}
  cors: {origins: ["https://app.example.com"]}
  input_sample: sample-request.json
output: {name: svc, tag: "1"}
YAML
check "a spec with a service section builds" bash -c "'$AMLPKG' build '$WORK/svc/spec.yaml' -o '$WORK/svc.tar' --json > '$WORK/svc.json'"
mkdir -p "$WORK/svc/x" "$WORK/svc/root" && tar xf "$WORK/svc.tar" -C "$WORK/svc/x"
scfg=$(jq -r '.manifests[0].digest' "$WORK/svc/x/index.json" | cut -d: -f2)
scfg="$WORK/svc/x/blobs/sha256/$(jq -r '.config.digest' "$WORK/svc/x/blobs/sha256/$scfg" | cut -d: -f2)"
check "... its settings are the image's environment" jq -e '.config.Env as $e | ["WORKER_COUNT=3", "SCORING_TIMEOUT_MS=2500",
  "AMLSERVE_MAX_BODY_MB=5", "AMLSERVE_MAX_QUEUE=8", "AMLSERVE_MAX_QUEUE_WAIT_MS=700", "AMLSERVE_AUTH_REQUIRED=1",
  "AML_CORS_ORIGINS=https://app.example.com", "AMLSERVE_INPUT_SAMPLE=/var/azureml-app/input_sample.json"] | all(. as $v | $e | index($v))' "$scfg"
for l in $(jq -r '.layers[].digest' "$WORK/svc.json" | cut -d: -f2); do tar xf "$WORK/svc/x/blobs/sha256/$l" -C "$WORK/svc/root"; done
check "... the input sample is in the image" cmp "$WORK/svc/root/var/azureml-app/input_sample.json" "$EX/sample-request.json"
check "... and the key is nowhere in it" bash -c "! grep -rq do-not-bake-me '$WORK/svc/x'"
# run_image_amlserve [ENV=VALUE...]: the unpacked image's amlserve with the image's environment.
# Run in the background (a subshell) it execs, so $! is amlserve's own pid and killing it stops the server.
run_image_amlserve() {
  local envs=()
  mapfile -t envs < <(jq -r '.config.Env[]' "$scfg" | sed "s#=/var/azureml-app#=$WORK/svc/root/var/azureml-app#")
  if [ "$BASH_SUBSHELL" -gt 0 ]; then
    exec env "${envs[@]}" "$@" "$WORK/svc/root/usr/local/bin/amlserve" --host 127.0.0.1 --port "$sport"
  fi
  env "${envs[@]}" "$@" "$WORK/svc/root/usr/local/bin/amlserve" --host 127.0.0.1 --port "$sport"
}
sport=$(free_port)
check_exit "the image's amlserve refuses to start without keys when the spec turns auth on" 3 run_image_amlserve
run_image_amlserve AMLSERVE_AUTH_KEYS=run-time-key > "$WORK/svc.log" 2>&1 &
spid=$!
on_exit "kill $spid; wait $spid"
wait_http "http://127.0.0.1:$sport/"
check "... and with keys given at run time it requires them" bash -c "
  [ \$(curl -s -o /dev/null -w '%{http_code}' --data @'$EX/sample-request.json' http://127.0.0.1:$sport/score) = 401 ] &&
  curl -sf -H 'Authorization: Bearer run-time-key' --data @'$EX/sample-request.json' http://127.0.0.1:$sport/score | jq -e 'length == 2'"
check "... its swagger shows the spec's input sample" bash -c "curl -sf 'http://127.0.0.1:$sport/swagger.json' | grep -q '\"data\"'"
check "... and the body limit is the spec's 5 MiB" bash -c "
  head -c 6000000 /dev/zero | tr '\\\\0' ' ' > '$WORK/big.json'
  [ \$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer run-time-key' --data-binary @'$WORK/big.json' http://127.0.0.1:$sport/score) = 413 ]"

# libcurl, libgit2, libarchive and libcrypto load on first use (builder/sys/lazy_lib.h): commands that need none start without them.
check "amlpkg starts without loading libcurl, libgit2, libarchive or OpenSSL" bash -c "
  LD_DEBUG=libs '$AMLPKG' version 2>&1 >/dev/null | grep -q 'calling init' &&
  ! LD_DEBUG=libs '$AMLPKG' version 2>&1 >/dev/null | grep -Eq 'libcurl|libgit2|libarchive|libssl|libcrypto'"
# A rebuild whose layers all come from the cache writes its archive without libarchive.
AMLPKG_CACHE_DIR="$WORK/lazy-cache" "$AMLPKG" build "$EX/spec.yaml" -o "$WORK/lazy.tar" >/dev/null
check "a rebuild from the cache never loads libarchive, and gives the same image" bash -c "
  d=\$(AMLPKG_CACHE_DIR='$WORK/lazy-cache' LD_DEBUG=libs '$AMLPKG' build '$EX/spec.yaml' -o '$WORK/lazy2.tar' 2>'$WORK/lazy.libs' | tail -1) &&
  grep -q 'calling init' '$WORK/lazy.libs' && ! grep -q libarchive '$WORK/lazy.libs' &&
  test \"\$d\" = \"\$(AMLPKG_CACHE_DIR='$WORK/lazy-cache' '$AMLPKG' build '$EX/spec.yaml' -o '$WORK/lazy3.tar' --no-cache | tail -1)\" &&
  cmp '$WORK/lazy2.tar' '$WORK/lazy3.tar'"
