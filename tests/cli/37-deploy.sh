#!/usr/bin/env bash
# amlpkg deploy: the kustomize folder against golden files, every object against the official
# schemas (kubernetes-models, @kubernetes-models/keda, installed by tests/deploy/install.sh),
# `kubectl kustomize` rendering each folder, the Secret, and bad input refused with nothing written.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/cli/deploy/cases.sh"
D="$ROOT/tests/cli/deploy"
SPEC="$ROOT/examples/onnx-ridge/spec.yaml"

mkdir -p "$WORK/out"
check "deploy --help names the outputs" bash -c "'$AMLPKG' deploy --help | grep -q 'kustomization.yaml'"

for c in $DEPLOY_CASES; do
  check "$c: writes the folder" deploy_case "$c" "$WORK/out/$c"
  check "$c: byte for byte the golden files (make golden regenerates them)" diff -r "$ROOT/tests/cli/golden/deploy/$c" "$WORK/out/$c"
done

check "a second run into its own folder replaces it, same bytes" bash -c \
  ". '$D/cases.sh'; AMLPKG='$AMLPKG' ROOT='$ROOT' deploy_case aks-autoscale '$WORK/out/aks-autoscale' >/dev/null && diff -r '$ROOT/tests/cli/golden/deploy/aks-autoscale' '$WORK/out/aks-autoscale'"

"$AMLPKG" deploy "$SPEC" --deployment-config "$D/aks-autoscale.json" --image "$DEPLOY_IMAGE" -o "$WORK/notes" \
  >/dev/null 2>"$WORK/notes.err"
check "fields a cluster has no use for are reported with file, line and reason" bash -c \
  "grep -q 'aks-autoscale.json:24: appInsightsEnabled: not applicable: ' '$WORK/notes.err' &&
   grep -q 'aks-autoscale.json:28: computeTargetName: not applicable: ' '$WORK/notes.err' &&
   grep -q 'tags: not applicable: ' '$WORK/notes.err'"

# The objects against the official schemas, and kustomize rendering each folder. The KServe CRD is
# kept in tests/deploy/kserve/ (see its README).
CRD="$ROOT/tests/deploy/kserve/serving.kserve.io_inferenceservices.yaml"
if [ -d "$ROOT/tests/deploy/node_modules/kubernetes-models" ] && command -v node >/dev/null; then
  if [ -n "$CRD" ]; then
    check "every generated object validates against the Kubernetes, KEDA and KServe CRD schemas" \
      node "$ROOT/tests/deploy/validate.mjs" --crd "$CRD" "$WORK"/out/*/*.yaml
    sed 's/containerConcurrency:/containerConcurency:/' "$WORK/out/kserve/inferenceservice.yaml" > "$WORK/isvc-typo.yaml"
    check_fails "the KServe schema refuses an unknown field" 'must NOT have additional properties' \
      node "$ROOT/tests/deploy/validate.mjs" --crd "$CRD" "$WORK/isvc-typo.yaml"
  else
    skip "the KServe CRD (tests/deploy/kserve) is missing"
    check "every generated object validates against the Kubernetes and KEDA schemas" \
      node "$ROOT/tests/deploy/validate.mjs" $(ls "$WORK"/out/*/*.yaml | grep -v inferenceservice)
  fi
  printf 'apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  ports:\n    - port: "eighty"\n' > "$WORK/bad.yaml"
  check_fails "the validator refuses an object the schema refuses" 'invalid .*port' node "$ROOT/tests/deploy/validate.mjs" "$WORK/bad.yaml"
else
  skip "schema validation: run tests/deploy/install.sh (make deps) to install kubernetes-models"
fi
if command -v kubectl >/dev/null; then
  for c in $DEPLOY_CASES; do
    check "$c: kubectl kustomize renders the folder" bash -c "kubectl kustomize '$WORK/out/$c' > '$WORK/$c.rendered'"
  done
  check "kustomize puts every object in the deploymentconfig's namespace" bash -c \
    "[ \$(grep -c '^  namespace: ml-prod' '$WORK/aks-autoscale.rendered') -eq 4 ]"
  # No API server exists here: --apply is checked up to kubectl refusing the unreachable cluster
  # (kubectl's --dry-run=client needs a server too, for discovery).
  rm -rf "$WORK/applied"
  check_fails "--apply without a reachable cluster fails naming kubectl, after writing the folder" "'kubectl apply' failed" \
    env KUBECONFIG=/dev/null AMLPKG_KUBECTL="kubectl --server=http://127.0.0.1:1" "$AMLPKG" deploy "$SPEC" \
    --image "$DEPLOY_IMAGE" -o "$WORK/applied" --apply
  check "... the folder it gave kubectl is there" test -f "$WORK/applied/kustomization.yaml"
  check_fails "--dry-run without a reachable cluster fails naming kubectl diff" "kubectl diff -k .*/diffed failed .*reachable" \
    env KUBECONFIG=/dev/null AMLPKG_KUBECTL="kubectl --server=http://127.0.0.1:1" "$AMLPKG" deploy "$SPEC" \
    --image "$DEPLOY_IMAGE" -o "$WORK/diffed" --dry-run
  check_fails "--dry-run with --apply is a usage error" "one or the other" \
    "$AMLPKG" deploy "$SPEC" --image "$DEPLOY_IMAGE" -o "$WORK/both" --dry-run --apply
else
  skip "kubectl kustomize: kubectl is not installed"
fi

# --create-secret: the spec's keys, mode 0600, never inside the folder; never over an existing file.
check "--create-secret writes the Secret beside the folder" "$AMLPKG" deploy "$SPEC" --deployment-config "$D/aks-autoscale.json" \
  --image "$DEPLOY_IMAGE" -o "$WORK/sec" --create-secret "$WORK/secret.yaml"
check "the Secret holds the deploymentconfig's keys, one a line, and is private" bash -c \
  "grep -q '^  keys: \"primary-key-1\\\\nsecondary-key-2\\\\n\"' '$WORK/secret.yaml' && [ \$(stat -c %a '$WORK/secret.yaml') = 600 ] &&
   ! grep -rq primary-key-1 '$WORK/sec'"
check_fails "--create-secret does not replace an existing file" 'already exists' "$AMLPKG" deploy "$SPEC" \
  --deployment-config "$D/aks-autoscale.json" --image "$DEPLOY_IMAGE" -o "$WORK/sec2" --create-secret "$WORK/secret.yaml"
check "generated keys are random and two" bash -c "'$AMLPKG' deploy '$SPEC' --deployment-config '$D/aks-defaults.json' \
  --image '$DEPLOY_IMAGE' -o '$WORK/gen' --create-secret '$WORK/gen.yaml' >/dev/null &&
  grep -Eq '^  keys: \"[A-Za-z0-9_-]{43}\\\\n[A-Za-z0-9_-]{43}\\\\n\"' '$WORK/gen.yaml'"
if [ -d "$ROOT/tests/deploy/node_modules/kubernetes-models" ]; then
  check "the Secrets validate" node "$ROOT/tests/deploy/validate.mjs" "$WORK/secret.yaml" "$WORK/gen.yaml"
fi
check_fails "--create-secret without auth is refused" 'no authentication' "$AMLPKG" deploy "$SPEC" \
  --deployment-config "$D/aks-gpu-fixed.json" --image "$DEPLOY_IMAGE" -o "$WORK/noauth" --create-secret "$WORK/noauth.yaml"

# Bad input: a clear error naming file, line and field; nothing written.
bad() {
  local desc=$1 pattern=$2 json=$3
  printf '%s\n' "$json" > "$WORK/bad.json"
  rm -rf "$WORK/badout"
  check_fails "$desc" "$pattern" "$AMLPKG" deploy "$SPEC" --deployment-config "$WORK/bad.json" --image "$DEPLOY_IMAGE" -o "$WORK/badout"
  [ -e "$WORK/badout" ] && fail "$desc: wrote $WORK/badout"
}
bad "negative replicas" 'bad.json:1: numReplicas: expected an integer from 1' \
  '{"computeType": "AKS", "autoScaler": {"autoscaleEnabled": false}, "numReplicas": -2}'
bad "minReplicas above maxReplicas" 'bad.json:3: autoScaler: minReplicas \(5\) is above maxReplicas \(3\)' \
  $'{"computeType": "AKS",\n "autoScaler": {"minReplicas": 5,\n  "maxReplicas": 3}}'
bad "target utilization 0" 'bad.json:1: targetUtilization: expected an integer from 1 to 100' \
  '{"computeType": "AKS", "autoScaler": {"targetUtilization": 0}}'
bad "target utilization 101" 'targetUtilization: expected an integer from 1 to 100, found .101.' \
  '{"computeType": "AKS", "autoScaler": {"targetUtilization": 101}}'
bad "an unknown autoScaler key gets a suggestion" "bad.json:1: .*autoScaler.*maxReplica.*did you mean 'maxReplicas'" \
  '{"computeType": "AKS", "autoScaler": {"maxReplica": 3}}'
bad "an unknown probe key gets a suggestion" "did you mean 'periodSeconds'" \
  '{"computeType": "AKS", "livenessProbeRequirements": {"periodSecond": 3}}'
bad "a CPU limit below the request" 'containerResourceRequirements.cpuLimit: 0.5 is below the request \(1\)' \
  '{"computeType": "AKS", "containerResourceRequirements": {"cpu": 1, "cpuLimit": 0.5}}'
bad "a negative memory request" 'containerResourceRequirements.memoryInGB: expected a number of GB above 0' \
  '{"computeType": "AKS", "containerResourceRequirements": {"memoryInGB": -1}}'
bad "liveness successThreshold above 1" 'livenessProbeRequirements.successThreshold' \
  '{"computeType": "AKS", "livenessProbeRequirements": {"successThreshold": 2}}'
bad "numReplicas with autoscaling on" 'numReplicas: a fixed number of replicas needs autoScaler.autoscaleEnabled: false' \
  '{"computeType": "AKS", "autoScaler": {"autoscaleEnabled": true}, "numReplicas": 2}'
bad "a namespace that is no DNS label" "namespace: 'ML_Prod' is not a namespace" \
  '{"computeType": "AKS", "namespace": "ML_Prod"}'
# Endpoints: bad versions and traffic refused with the field and line, nothing written.
bad_endpoint() {
  local desc=$1 pattern=$2
  rm -rf "$WORK/badout"
  check_fails "$desc" "$pattern" "$AMLPKG" deploy "$SPEC" --endpoint "$WORK/ep.yaml" -o "$WORK/badout"
  [ -e "$WORK/badout" ] && fail "$desc: wrote $WORK/badout"
}
ep_head=$'name: ridge
gateway: {name: gw}
versions:'
I1=registry.example.com/ml/ridge@sha256:1111111111111111111111111111111111111111111111111111111111111111
printf '%s
  - {name: v1, image: %s, traffic: 70, default: true}
  - {name: v2, image: %s, traffic: 20}
' "$ep_head" "$I1" "$I1" > "$WORK/ep.yaml"
bad_endpoint "endpoint traffic that does not sum to 100" 'ep.yaml:4: versions: traffic sums to 90, not 100'
printf '%s
  - {name: v1, image: %s, traffic: 50, default: true}
  - {name: v1, image: %s, traffic: 50}
' "$ep_head" "$I1" "$I1" > "$WORK/ep.yaml"
bad_endpoint "a version given twice" "ep.yaml:5: versions\[1\].name: version 'v1' is given twice \(also line 4\)"
printf '%s
  - {name: v1, image: %s, traffic: 50, default: true}
  - {name: v2, image: %s, traffic: 50, default: true}
' "$ep_head" "$I1" "$I1" > "$WORK/ep.yaml"
bad_endpoint "two default versions" "ep.yaml:5: versions\[1\].default: a second default version \('v2'\)"
printf '%s
  - {name: v1, image: %s, traffic: 100}
' "$ep_head" "$I1" > "$WORK/ep.yaml"
bad_endpoint "no default version" 'versions: no default version'
printf '%s
  - {name: v1, image: registry.example.com/ml/ridge:1, traffic: 100, default: true}
' "$ep_head" > "$WORK/ep.yaml"
bad_endpoint "a version image without a digest" 'versions\[0\].image: .* is not an image by digest'
printf '%s
  - {name: v1, image: %s, traffic: 100, default: true, weight: 3}
' "$ep_head" "$I1" > "$WORK/ep.yaml"
bad_endpoint "an unknown version key" "versions\[0\].*weight"
check_fails "--set-traffic that does not sum to 100" 'traffic sums to 90, not 100' "$AMLPKG" deploy "$SPEC" \
  --endpoint "$D/endpoint.yaml" --set-traffic v1=80,v2=10 -o "$WORK/out/endpoint"
check_fails "--set-traffic naming an unknown version" "'v9' is not a version" "$AMLPKG" deploy "$SPEC" \
  --endpoint "$D/endpoint.yaml" --set-traffic v1=80,v9=20 -o "$WORK/out/endpoint"
check "... and the route is unchanged" diff "$ROOT/tests/cli/golden/deploy/endpoint/httproute.yaml" "$WORK/out/endpoint/httproute.yaml"
check_fails "--target kserve with three versions is refused (KServe splits between two revisions)" 'KServe splits traffic between two revisions' \
  "$AMLPKG" deploy "$SPEC" --endpoint "$D/endpoint.yaml" --target kserve -o "$WORK/badout"
check_fails "--set-traffic needs a folder amlpkg deploy wrote" 'no folder amlpkg deploy wrote' "$AMLPKG" deploy "$SPEC" \
  --endpoint "$D/endpoint.yaml" --set-traffic v1=100 -o "$WORK/foreign"
check "--create-secret with an endpoint writes one Secret per version, one key for all" bash -c \
  "'$AMLPKG' deploy '$SPEC' --deployment-config '$D/aks-autoscale.json' --endpoint '$D/endpoint.yaml' -o '$WORK/eps' \
     --create-secret '$WORK/eps.yaml' >/dev/null && [ \$(grep -c 'primary-key-1' '$WORK/eps.yaml') = 3 ] &&
   grep -q 'name: ridge-v3-auth' '$WORK/eps.yaml'"

rm -rf "$WORK/badout"
check_fails "an image without a digest is refused, nothing written" 'expected an image by digest' \
  "$AMLPKG" deploy "$SPEC" --image registry.example.com/ml/ridge:1 -o "$WORK/badout"
check "... and nothing was written" test ! -e "$WORK/badout"
check_exit "a missing --image is a usage error" 2 "$AMLPKG" deploy "$SPEC" -o "$WORK/badout"
check_exit "--push with --image is a usage error" 2 "$AMLPKG" deploy "$SPEC" -o "$WORK/badout" --image "$DEPLOY_IMAGE" --push r.example/m:1
check_exit "--creds without --push is a usage error" 2 "$AMLPKG" deploy "$SPEC" -o "$WORK/badout" --image "$DEPLOY_IMAGE" --creds a:b
check_fails "an invalid --name is refused" "--name 'Ridge_1'" "$AMLPKG" deploy "$SPEC" --image "$DEPLOY_IMAGE" --name Ridge_1 -o "$WORK/badout"
mkdir -p "$WORK/foreign" && echo keep > "$WORK/foreign/notes.txt"
check_fails "a folder amlpkg did not write is not replaced" 'did not write' "$AMLPKG" deploy "$SPEC" --image "$DEPLOY_IMAGE" -o "$WORK/foreign"
check "... and is left as it was" test "$(cat "$WORK/foreign/notes.txt")" = keep
check_fails "--target podman with auth needs --create-secret" 'give --create-secret' \
  "$AMLPKG" deploy "$SPEC" --deployment-config "$D/aks-defaults.json" --image "$DEPLOY_IMAGE" --target podman
