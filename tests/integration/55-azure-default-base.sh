#!/usr/bin/env bash
# An unchanged Azure ML project (an entry script, baseImage null) packages as Azure ML would: on Azure's
# default CPU image, mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04. There is no network here, so a
# registries.conf (containers-registries.conf(5)) points mcr.microsoft.com at a CNCF registry on
# 127.0.0.1 holding a Debian Python base under that very path; the image is built without a daemon and
# its score.py answers /score in podman. The Dockerfile route names the same default.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/registry_lib.sh"
source "$ROOT/tests/python_base_lib.sh"
EX="$ROOT/examples/python-ridge"
DEFAULT=mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04
export CONTAINERS_CONF="$ROOT/templates/podman-containers.conf"
command -v podman >/dev/null || { skip "podman is not installed (make deps installs it)"; exit 0; }
why=$(python_base) || { skip "$why"; exit 0; }
python_base >/dev/null
plain_registry_test
check "the Debian Python base goes into the local registry as azureml/openmpi4.1.0-ubuntu22.04" \
  skopeo copy -q --dest-tls-verify=false "oci-archive:$BASE" "docker://$R/azureml/openmpi4.1.0-ubuntu22.04:latest"
cd "$WORK" || exit 1
cp "$EX/score.py" "$EX/model.onnx" "$EX/sample-request.json" .
export AMLPKG_CACHE_DIR="$WORK/cache"
P=(podman --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs)
on_exit "${P[*]} rm -af -t 0; ${P[*]} rmi -af"
cat > registries.conf <<CONF
# Air-gapped: Azure's registry is mirrored on this machine.
unqualified-search-registries = ["docker.io"]
[[registry]]
prefix = "mcr.microsoft.com"
[[registry.mirror]]
location = "$R"
insecure = true
CONF
# Azure ML's inferenceconfig.json as a user has it: an entry script and no base image.
printf '{"entryScript": "score.py", "runtime": "python", "baseImage": null}\n' > inferenceconfig.json

check "the unchanged project builds without a daemon, on the default CPU image from the mirror" bash -c "
  '$AMLPKG' build --inference-config inferenceconfig.json --model ridge:1=model.onnx -o azure.tar --tag azure:1 \
    --registries-conf registries.conf > azure.out 2> azure.err &&
  grep -q 'pulling $DEFAULT from the mirror $R/azureml/openmpi4.1.0-ubuntu22.04:latest' azure.err"
first_layer() { skopeo inspect --raw --tls-verify=false "$1" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"])'; }
check "... its first layer is the mirror's, byte for byte" \
  test "$(first_layer "docker://$R/azureml/openmpi4.1.0-ubuntu22.04:latest")" = "$(first_layer oci-archive:azure.tar)"
check "... podman runs it and score.py answers /score like numpy" bash -c "
  ${P[*]} load -q -i azure.tar >/dev/null &&
  port=\$('$PY' -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); print(s.getsockname()[1])') &&
  cid=\$(${P[*]} run -d -p 127.0.0.1:\$port:5001 localhost/azure:1) &&
  for i in \$(seq 600); do curl -sf -o /dev/null http://127.0.0.1:\$port/ && break; sleep 0.1; done &&
  curl -sf -H 'Content-Type: application/json' --data @sample-request.json http://127.0.0.1:\$port/score > azure-score.json;
  rc=\$?; ${P[*]} rm -f -t 0 \$cid >/dev/null; [ \$rc -eq 0 ] &&
  '$PY' '$ROOT/tests/expected_scores.py' model.onnx sample-request.json azure-score.json"
check "a second build is a workspace cache hit, the mirror not asked" bash -c "
  '$AMLPKG' build --inference-config inferenceconfig.json --model ridge:1=model.onnx -o again.tar --tag azure:1 \
    --registries-conf registries.conf > again.out 2> again.err &&
  grep -q 'cache hit (workspace)' again.err && ! grep -q mirror again.err &&
  [ \"\$(tail -1 azure.out)\" = \"\$(tail -1 again.out)\" ]"
check "the example python-ridge spec (no base) builds the same way, the mirrors from \$AMLPKG_REGISTRIES_CONF" bash -c "
  AMLPKG_REGISTRIES_CONF=\$PWD/registries.conf '$AMLPKG' build '$EX/spec.yaml' -o ridge.tar --no-cache > ridge.out 2> ridge.err &&
  grep -q 'from the mirror $R/' ridge.err"
check "the Dockerfile route starts FROM the same default, without refusing" bash -c "
  '$AMLPKG' build --inference-config inferenceconfig.json --model ridge:1=model.onnx --dockerfile ctx > /dev/null &&
  grep -qx 'FROM $DEFAULT' ctx/Dockerfile"
check "... and the example's Dockerfile too" bash -c "
  '$AMLPKG' build '$EX/spec.yaml' --dockerfile exctx > /dev/null && grep -qx 'FROM $DEFAULT' exctx/Dockerfile"

# Mirrors are tried in order: one that is down is named and passed over.
cat > two.conf <<CONF
[[registry]]
prefix = "mcr.microsoft.com"
[[registry.mirror]]
location = "127.0.0.1:1"
insecure = true
[[registry.mirror]]
location = "$R"
insecure = true
CONF
check "a mirror that is down is named, and the next one serves" bash -c "
  AMLPKG_RETRY_BASE_MS=10 '$AMLPKG' build --inference-config inferenceconfig.json --model ridge:1=model.onnx -o two.tar \
    --tag azure:1 --no-cache --registries-conf two.conf > two.out 2> two.err &&
  grep -q '127.0.0.1:1/azureml/openmpi4.1.0-ubuntu22.04:latest failed' two.err &&
  [ \"\$(tail -1 two.out)\" = \"\$(tail -1 azure.out)\" ]"
printf '[[registry]]\nprefix = "mcr.microsoft.com"\nblocked = true\n' > blocked.conf
check_fails "a blocked registry is refused, naming the file and line" "blocked.conf:1: 'mcr.microsoft.com' is blocked" \
  "$AMLPKG" build --inference-config inferenceconfig.json --model ridge:1=model.onnx -o never.tar --no-cache \
  --registries-conf blocked.conf
printf '[[registry]]\nprefix = "mcr.microsoft.com"\nmirrors = ["x"]\n' > bad.conf
check_fails "a key amlpkg does not read is refused with file:line" "bad.conf:3: 'mirrors': not a key amlpkg reads" \
  "$AMLPKG" build --inference-config inferenceconfig.json --model ridge:1=model.onnx -o never.tar --no-cache \
  --registries-conf bad.conf
check "... and nothing was written" test ! -e never.tar
