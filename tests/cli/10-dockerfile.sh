#!/usr/bin/env bash
# amlpkg package --generate-dockerfile: the Dockerfile text (pinned by a golden
# file), its build context, byte stability, and refusing to overwrite.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples"
GOLDEN="$ROOT/tests/cli/golden"

check "package --generate-dockerfile writes a Dockerfile and a context" \
  "$AMLPKG" package "$EX/onnx-ridge/spec.yaml" --generate-dockerfile "$WORK/ctx"
check "the Dockerfile matches the golden file (make golden regenerates it)" diff -u "$GOLDEN/onnx-ridge.Dockerfile" "$WORK/ctx/Dockerfile"
check "the context holds amlserve and the model at their image paths" bash -c "
  cmp '$AMLSERVE' '$WORK/ctx/rootfs/usr/local/bin/amlserve' &&
  cmp '$EX/onnx-ridge/model.onnx' '$WORK/ctx/rootfs/var/azureml-app/azureml-models/ridge/1/model.onnx' &&
  [ -x '$WORK/ctx/rootfs/usr/local/bin/amlserve' ]"
cp -r "$EX/onnx-ridge" "$WORK/elsewhere"
check "the same spec from another folder gives the same bytes" bash -c "
  cd '$WORK' && '$AMLPKG' package elsewhere/spec.yaml --generate-dockerfile ctx2 >/dev/null && cmp ctx/Dockerfile ctx2/Dockerfile"
check_fails "an existing non-empty folder is refused, and left alone" "exists and is not empty" \
  "$AMLPKG" package "$EX/onnx-ridge/spec.yaml" --generate-dockerfile "$WORK/ctx"
check "... the earlier context is untouched" diff -u "$GOLDEN/onnx-ridge.Dockerfile" "$WORK/ctx/Dockerfile"
mkdir "$WORK/empty"
check "an empty folder is filled" "$AMLPKG" package "$EX/onnx-ridge/spec.yaml" --generate-dockerfile "$WORK/empty"
check_fails "a bad spec writes nothing" "models\[0\].path: no such file" bash -c "
  printf 'models: [{name: a, version: 1, path: nope.onnx}]\n' > '$WORK/bad.yaml' &&
  '$AMLPKG' package '$WORK/bad.yaml' --generate-dockerfile '$WORK/never'"
check "... no folder and no temporary context left" bash -c "[ ! -e '$WORK/never' ] && ! ls -A '$WORK' | grep -q amlpkg-context"

# Service settings and samples become ENV lines and a samples COPY, safely quoted.
mkdir -p "$WORK/svc" && cp "$EX/onnx-ridge/model.onnx" "$EX/onnx-ridge/sample-request.json" "$WORK/svc/"
cat > "$WORK/svc/spec.yaml" <<'YAML'
models: [{name: ridge, version: 1, path: model.onnx}]
service:
  workers: 2
  cors: {origins: ["https://a.example.com", "https://b.example.com"]}
  input_sample: sample-request.json
YAML
check "a spec with service settings generates" "$AMLPKG" package "$WORK/svc/spec.yaml" --generate-dockerfile "$WORK/svcctx"
check "... with its settings as ENV" bash -c "grep -qx 'ENV WORKER_COUNT=\"2\"' '$WORK/svcctx/Dockerfile' &&
  grep -qx 'ENV AML_CORS_ORIGINS=\"https://a.example.com,https://b.example.com\"' '$WORK/svcctx/Dockerfile'"
check "... and the sample copied before the models" bash -c "
  awk '/^COPY/ {print NR, \$0}' '$WORK/svcctx/Dockerfile' | grep -n input_sample | grep -q '^2:'"
check "build --dockerfile is the same as package --generate-dockerfile" bash -c "
  '$AMLPKG' build '$EX/onnx-ridge/spec.yaml' --dockerfile '$WORK/viabuild' >/dev/null &&
  '$AMLPKG' package '$EX/onnx-ridge/spec.yaml' --generate-dockerfile='$WORK/viapkg' >/dev/null &&
  cmp '$WORK/viabuild/Dockerfile' '$WORK/viapkg/Dockerfile'"
check_exit "--dockerfile with --format is a usage error" 2 \
  "$AMLPKG" build "$EX/onnx-ridge/spec.yaml" --dockerfile "$WORK/x" --format docker-archive
check "package without --generate-dockerfile builds an image like build" bash -c "
  '$AMLPKG' package '$EX/onnx-ridge/spec.yaml' -o '$WORK/pkg.tar' | tail -1 | grep -q '^sha256:'"
