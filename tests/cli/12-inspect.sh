#!/usr/bin/env bash
# amlpkg inspect: what an archive or layout holds, every blob digest-checked.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples/onnx-ridge"
digest=$("$AMLPKG" build "$EX/spec.yaml" -o "$WORK/r.tar" | tail -1)
check "inspect shows the digest build printed" bash -c "'$AMLPKG' inspect '$WORK/r.tar' > '$WORK/i.txt' && grep -qx 'digest      $digest' '$WORK/i.txt'"
check "... the image name, entrypoint and AZUREML_MODEL_DIR" bash -c "grep -qx 'image       ridge:1' '$WORK/i.txt' &&
  grep -qx 'entrypoint  /usr/local/bin/amlserve' '$WORK/i.txt' && grep -q 'env         AZUREML_MODEL_DIR=/var/azureml-app/azureml-models/ridge/1' '$WORK/i.txt'"
check "... and each layer with what it holds" bash -c "grep -q '  1  sha256:.*amlpkg: amlserve' '$WORK/i.txt' && grep -q '  2  sha256:.*amlpkg: model ridge:1' '$WORK/i.txt'"
check "inspect --json gives the manifest and config as stored" bash -c "
  '$AMLPKG' inspect --json '$WORK/r.tar' | jq -e --arg d '$digest' '.digest == \$d and (.manifest.layers | length) == 2 and .config.config.Entrypoint == [\"/usr/local/bin/amlserve\"]'"
"$AMLPKG" build "$EX/spec.yaml" --format oci-layout -o "$WORK/layout" >/dev/null
check "inspect reads an OCI layout folder too" bash -c "'$AMLPKG' inspect '$WORK/layout' | grep -qx 'digest      $digest'"
check_fails "a missing target is named" "nope.tar" "$AMLPKG" inspect "$WORK/nope.tar"
# A config blob whose bytes no longer match its digest is refused.
cfg=$(jq -r '.manifests[0].digest' "$WORK/layout/index.json" | cut -d: -f2)
cfg=$(jq -r '.config.digest' "$WORK/layout/blobs/sha256/$cfg" | cut -d: -f2)
chmod u+w "$WORK/layout/blobs/sha256/$cfg"; printf ' ' >> "$WORK/layout/blobs/sha256/$cfg"
check_fails "a blob that does not match its digest is refused" "has digest sha256:" "$AMLPKG" inspect "$WORK/layout"
check_exit "inspect without TARGET is a usage error" 2 "$AMLPKG" inspect
