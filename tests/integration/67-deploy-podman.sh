#!/usr/bin/env bash
# amlpkg deploy --target podman: the example image, built by amlpkg and loaded into a private podman
# store, runs from the generated Deployment with `podman kube play`: /score answers with the key from
# the generated Secret and refuses without it, and the container's CPU and memory limits, user,
# read-only root and capabilities are the generated ones.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples/onnx-ridge"
export CONTAINERS_CONF="$ROOT/templates/podman-containers.conf"
command -v podman >/dev/null || { skip "podman is not installed (make deps installs it)"; exit 0; }

digest=$("$AMLPKG" build "$EX/spec.yaml" -o "$WORK/ridge.tar" --tag amlpkg-deploy-it67/ridge:1 | tail -1)
check "amlpkg builds the example image" bash -c "[[ '$digest' == sha256:* ]]"
# Its own storage so the test never touches the machine's images, pods, secrets or volumes.
P=(podman --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs)
on_exit "${P[*]} rmi -af"
on_exit "${P[*]} volume rm -af"
on_exit "${P[*]} secret rm ridge-it67-auth"
on_exit "${P[*]} pod rm -af -t 0"
check "podman loads the image" "${P[@]}" load -i "$WORK/ridge.tar"
check "podman keeps the manifest digest amlpkg printed" "${P[@]}" image exists "localhost/amlpkg-deploy-it67/ridge@$digest"

cat > "$WORK/deploymentconfig.json" <<'JSON'
{
  "computeType": "AKS",
  "autoScaler": {"autoscaleEnabled": false},
  "numReplicas": 1,
  "authEnabled": true,
  "keys": {"primaryKey": "it67-primary-key", "secondaryKey": "it67-secondary-key"},
  "containerResourceRequirements": {"cpu": 0.5, "memoryInGB": 0.25, "cpuLimit": 0.75, "memoryInGBLimit": 0.375},
  "maxConcurrentRequestsPerContainer": 3,
  "livenessProbeRequirements": {"periodSeconds": 20, "failureThreshold": 2}
}
JSON
port=$(free_port)
check "amlpkg deploy --target podman plays the generated Deployment and Secret" \
  env AMLPKG_PODMAN="${P[*]}" "$AMLPKG" deploy "$EX/spec.yaml" --deployment-config "$WORK/deploymentconfig.json" \
  --image "localhost/amlpkg-deploy-it67/ridge@$digest" --name ridge-it67 -o "$WORK/k8s" \
  --create-secret "$WORK/secret.yaml" --target podman --host-port "$port"
cp "$WORK/last.out" "$WORK/deploy.out"
check "the output states podman's limits" grep -q 'one replica and no Service' "$WORK/deploy.out"
if ! wait_http "http://127.0.0.1:$port/" 60; then
  fail "the played pod answers on 127.0.0.1:$port"; "${P[@]}" logs ridge-it67-pod-0-amlserve 2>&1 | tail -5; exit 1
fi
pass "the played pod answers on 127.0.0.1:$port"

score() { curl -sS -o "$WORK/response.json" -w '%{http_code}' -H 'Content-Type: application/json' "$@" \
  --data @"$EX/sample-request.json" "http://127.0.0.1:$port/score"; }
check "/score without a key is refused (401)" test "$(score)" = 401
check "/score with a wrong key is refused (401)" test "$(score -H 'Authorization: Bearer nope')" = 401
check "/score with the primary key from the Secret answers" test "$(score -H 'Authorization: Bearer it67-primary-key')" = 200
check "... with numpy's predictions" "$PY" "$ROOT/tests/expected_scores.py" "$EX/model.onnx" "$EX/sample-request.json" "$WORK/response.json"
check "/score with the secondary key answers" test "$(score -H 'Authorization: Bearer it67-secondary-key')" = 200

# The container runs as the generated Deployment says.
C=ridge-it67-pod-0-amlserve
check "the container runs the generated image by digest" bash -c \
  "[ \"\$(${P[*]} inspect -f '{{.ImageName}}' $C)\" = \"\$(sed -n 's/^ *image: //p' '$WORK/k8s/deployment.yaml')\" ]"
check "the generated limits are 750m CPU and 384Mi" bash -c "grep -q '^              cpu: 750m' '$WORK/k8s/deployment.yaml' && grep -q '^              memory: 384Mi' '$WORK/k8s/deployment.yaml'"
check "the container's CPU limit is the generated 0.75 CPU" bash -c \
  "[ \"\$(${P[*]} inspect -f '{{.HostConfig.CpuQuota}}/{{.HostConfig.CpuPeriod}}' $C)\" = 75000/100000 ]"
check "the container's memory limit is the generated 384Mi" bash -c \
  "[ \"\$(${P[*]} inspect -f '{{.HostConfig.Memory}}' $C)\" = $((384 * 1024 * 1024)) ]"
check "it runs as the generated non-root user with a read-only root" bash -c \
  "[ \"\$(${P[*]} inspect -f '{{.Config.User}} {{.HostConfig.ReadonlyRootfs}}' $C)\" = '65532:65532 true' ]"
check "it holds no capabilities (drop ALL)" bash -c "[ \"\$(${P[*]} inspect -f '{{len .EffectiveCaps}}' $C)\" = 0 ]"
check "amlserve reads the generated settings: max concurrent requests 3, none busy" bash -c \
  "curl -sS -H 'Authorization: Bearer it67-primary-key' 'http://127.0.0.1:$port/metrics' > '$WORK/metrics' && grep -qx 'amlserve_max_concurrent_requests 3' '$WORK/metrics' && grep -qx 'amlserve_requests_busy 0' '$WORK/metrics'"
check "the kustomize folder was written beside the play, without the Secret" bash -c \
  "[ -f '$WORK/k8s/kustomization.yaml' ] && ! grep -rq it67-primary-key '$WORK/k8s'"
check "the pod stops" "${P[@]}" pod rm -f -t 10 ridge-it67-pod-0

# --push: build, push to a registry on loopback and deploy the digest the registry stored.
if command -v docker-registry >/dev/null && command -v skopeo >/dev/null; then
  source "$ROOT/tests/registry_lib.sh"
  start_registry deploy || { fail "the registry starts"; exit 1; }
  pushed=$("$AMLPKG" build "$EX/spec.yaml" -o "$WORK/default.tar" | tail -1) # the spec's own name and tag
  check "deploy --push builds, pushes and writes the folder for the pushed digest" \
    env -u AMLPKG_REGISTRY_AUTH "$AMLPKG" deploy "$EX/spec.yaml" --push "$REG_deploy/ml/ridge:67" --name ridge-it67 -o "$WORK/pushed"
  # (quoted: a value starting with a digit and holding ':' is a string only in quotes)
  check "the Deployment names the image by the digest amlpkg build printed (builds reproduce)" \
    grep -qx "          image: \"$REG_deploy/ml/ridge@$pushed\"" "$WORK/pushed/deployment.yaml"
  check "the registry serves that digest" skopeo inspect --tls-verify=false "docker://$REG_deploy/ml/ridge@$pushed"
  check_fails "--push with a bad --name fails before building or pushing" "--name 'Bad_Name'" \
    env -u AMLPKG_REGISTRY_AUTH "$AMLPKG" deploy "$EX/spec.yaml" --push "$REG_deploy/ml/other:1" --name Bad_Name -o "$WORK/nopush"
  check "... nothing was pushed" bash -c "! skopeo inspect --tls-verify=false docker://$REG_deploy/ml/other:1 >/dev/null 2>&1"
else
  skip "deploy --push: docker-registry or skopeo is not installed"
fi

