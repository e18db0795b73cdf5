#!/usr/bin/env bash
# The digest `amlpkg build` prints is the one a registry serves after `amlpkg
# push` of that output, for every format: oci-archive, docker-archive (which
# keeps its OCI manifest, annotations included) and OCI layout. inspect agrees,
# and the manifest the registry returns hashes to it.
# (amlpkg inspect of a registry reference is item 4 of issue 17, not this test's.)
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/registry_lib.sh"
EX="$ROOT/examples/onnx-ridge"
plain_registry_test
declare -A out=([oci-archive]="$WORK/img.tar" [docker-archive]="$WORK/img-docker.tar" [oci-layout]="$WORK/img-layout")
for fmt in oci-archive docker-archive oci-layout; do
  built=$("$AMLPKG" build "$EX/spec.yaml" --format "$fmt" -o "${out[$fmt]}" --no-sbom 2>/dev/null | tail -1)
  inspected=$("$AMLPKG" inspect "${out[$fmt]}" --json | jq -r .digest)
  check "$fmt: inspect prints build's digest" test -n "$built" -a "$inspected" = "$built"
  check "$fmt: push reports build's digest" bash -c "
    '$AMLPKG' push '${out[$fmt]}' '$R/team/$fmt:1' --json | jq -e --arg d '$built' '.digest == \$d'"
  check "$fmt: the registry's manifest hashes to it" bash -c "
    [ sha256:\$(skopeo inspect --raw --tls-verify=false docker://$R/team/$fmt:1 | sha256sum | cut -d' ' -f1) = '$built' ]"
  check "$fmt: the registry serves it by that digest, Docker-Content-Digest and all" bash -c "
    curl -sfI -H 'Accept: application/vnd.oci.image.manifest.v1+json' http://$R/v2/team/$fmt/manifests/$built |
    tr -d '\r' | grep -qix 'docker-content-digest: $built'"
  check "$fmt: skopeo inspect of the pushed reference prints it too" bash -c "
    skopeo inspect --tls-verify=false docker://$R/team/$fmt:1 | jq -e --arg d '$built' '.Digest == \$d'"
done
check "a docker-archive pushed with annotations keeps them" bash -c "
  skopeo inspect --raw --tls-verify=false docker://$R/team/docker-archive:1 |
  jq -e '.annotations[\"org.opencontainers.image.created\"]'"
