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
# A multi-platform layout: index.json names an image index whose linux/amd64 entry is the image (the
# arm64 entry names a blob the layout does not have: it must not be read).
cp -r "$WORK/layout" "$WORK/multi"
m=$(jq -c '.manifests[0] | {mediaType, digest, size}' "$WORK/multi/index.json")
jq -nc --argjson m "$m" '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [
  ($m + {platform: {os: "linux", architecture: "arm64"}, digest: "sha256:\("0" * 64)"}),
  ($m + {platform: {os: "linux", architecture: "amd64"}})]}' > "$WORK/idx.json"
idx=$(sha256sum "$WORK/idx.json" | cut -d' ' -f1)
cp "$WORK/idx.json" "$WORK/multi/blobs/sha256/$idx"
jq -nc --arg d "sha256:$idx" --argjson s "$(stat -c %s "$WORK/idx.json")" '{schemaVersion: 2, manifests: [
  {mediaType: "application/vnd.oci.image.index.v1+json", digest: $d, size: $s}]}' > "$WORK/multi/index.json"
check "inspect of a local index shows linux/amd64's image and the index" bash -c "'$AMLPKG' inspect '$WORK/multi' > '$WORK/m.txt' &&
  grep -qx 'digest      $digest' '$WORK/m.txt' && grep -qx 'index       sha256:$idx' '$WORK/m.txt' && grep -qx 'platform    linux/amd64' '$WORK/m.txt'"
check "... --json names both digests" bash -c "'$AMLPKG' inspect --json '$WORK/multi' |
  jq -e --arg d '$digest' --arg i 'sha256:$idx' '.digest == \$d and .index_digest == \$i'"
check "... --raw prints the index's bytes" bash -c "'$AMLPKG' inspect --raw '$WORK/multi' | cmp - '$WORK/idx.json'"
check_fails "... a platform it lacks is refused naming those it has" "has no image for linux/s390x .it has: linux/arm64, linux/amd64." \
  "$AMLPKG" inspect --platform linux/s390x "$WORK/multi"
check_fails "a missing target is named" "nope.tar" "$AMLPKG" inspect "$WORK/nope.tar"
# A config blob whose bytes no longer match its digest is refused.
cfg=$(jq -r '.manifests[0].digest' "$WORK/layout/index.json" | cut -d: -f2)
cfg=$(jq -r '.config.digest' "$WORK/layout/blobs/sha256/$cfg" | cut -d: -f2)
chmod u+w "$WORK/layout/blobs/sha256/$cfg"; printf ' ' >> "$WORK/layout/blobs/sha256/$cfg"
check_fails "a blob that does not match its digest is refused" "has digest sha256:" "$AMLPKG" inspect "$WORK/layout"
check_exit "inspect without TARGET is a usage error" 2 "$AMLPKG" inspect
