#!/usr/bin/env bash
# One digest per image, whatever reads it: the digest `amlpkg build` prints for
# an oci-archive, a docker-archive and an OCI layout is the one `amlpkg inspect`
# prints for that output, and the manifest stored in it hashes to that digest
# (a docker-archive keeps the OCI layout beside docker save's manifest.json, so
# nothing of the manifest, annotations included, is rebuilt on the way out).
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples/onnx-ridge"
declare -A out=([oci-archive]="$WORK/img.tar" [docker-archive]="$WORK/img-docker.tar" [oci-layout]="$WORK/img-layout")
declare -A built
for fmt in oci-archive docker-archive oci-layout; do
  built[$fmt]=$("$AMLPKG" build "$EX/spec.yaml" --format "$fmt" -o "${out[$fmt]}" --no-sbom 2>/dev/null | tail -1)
  check "$fmt: build prints a digest" bash -c "[[ '${built[$fmt]}' =~ ^sha256:[0-9a-f]{64}$ ]]"
  check "$fmt: inspect prints the digest build printed" bash -c "
    '$AMLPKG' inspect '${out[$fmt]}' | awk '\$1 == \"digest\" {print \$2}' | grep -qx '${built[$fmt]}'"
  check "$fmt: inspect --json says the same" bash -c "
    '$AMLPKG' inspect '${out[$fmt]}' --json | jq -e --arg d '${built[$fmt]}' '.digest == \$d'"
done
check "the three formats hold one image (one digest)" bash -c "
  [ '${built[oci-archive]}' = '${built[docker-archive]}' ] && [ '${built[oci-archive]}' = '${built[oci-layout]}' ]"

# The stored manifest's bytes hash to the digest, and it keeps its annotations.
manifest_of() { # DIR: the manifest index.json names, as stored
  local d; d=$(jq -r '.manifests[0].digest' "$1/index.json"); cat "$1/blobs/sha256/${d#sha256:}"
}
mkdir -p "$WORK/da" && tar xf "${out[docker-archive]}" -C "$WORK/da"
check "docker-archive: docker save's manifest.json is there for docker load" \
  jq -e '.[0].Config and (.[0].Layers | length) == 2 and .[0].RepoTags == ["ridge:1"]' "$WORK/da/manifest.json"
check "docker-archive: the OCI manifest it holds hashes to build's digest" bash -c "
  [ sha256:\$($(declare -f manifest_of); manifest_of '$WORK/da' | sha256sum | cut -d' ' -f1) = '${built[docker-archive]}' ]"
check "docker-archive: ... with its annotations" bash -c "
  $(declare -f manifest_of); manifest_of '$WORK/da' | jq -e '.annotations[\"org.opencontainers.image.created\"]'"
check "docker-archive: manifest.json and the OCI manifest name the same config and layers" bash -c "
  $(declare -f manifest_of); m=\$(manifest_of '$WORK/da');
  [ \"\$(jq -r '.config.digest, .layers[].digest' <<<\"\$m\" | sed 's/^sha256:/blobs\/sha256\//')\" = \
    \"\$(jq -r '.[0].Config, .[0].Layers[]' '$WORK/da/manifest.json')\" ]"
check "oci-layout: the manifest it holds hashes to build's digest" bash -c "
  [ sha256:\$($(declare -f manifest_of); manifest_of '${out[oci-layout]}' | sha256sum | cut -d' ' -f1) = '${built[oci-layout]}' ]"

# What other tools read from the OCI forms.
if command -v skopeo >/dev/null; then
  check "skopeo reads build's digest from the oci-archive" bash -c "
    [ sha256:\$(skopeo inspect --raw oci-archive:'${out[oci-archive]}' | sha256sum | cut -d' ' -f1) = '${built[oci-archive]}' ]"
  check "... from the OCI layout" bash -c "
    [ sha256:\$(skopeo inspect --raw oci:'${out[oci-layout]}' | sha256sum | cut -d' ' -f1) = '${built[oci-layout]}' ]"
  check "... and, as an OCI layout, from the docker-archive's files" bash -c "
    [ sha256:\$(skopeo inspect --raw oci:'$WORK/da' | sha256sum | cut -d' ' -f1) = '${built[docker-archive]}' ]"
else
  skip "skopeo is not installed (make deps installs it)"
fi
