#!/usr/bin/env bash
# amlpkg push of a docker-archive (podman save --format docker-archive, or
# amlpkg build --format docker-archive): one OCI manifest with the config as it
# is and the layers as the archive holds them; skopeo reads the result and
# amlpkg pull gives back byte-equal layers.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/registry_lib.sh"
EX="$ROOT/examples/onnx-ridge"
plain_registry_test

# same_layers ARCHIVE_DIR PULLED_DIR: every layer file manifest.json names is byte-equal to the pulled blob
# with that digest, in order.
same_layers() {
  local dir=$1 pulled=$2 m i=0 f d
  m=$(jq -r '.manifests[0].digest' "$pulled/index.json")
  for f in $(jq -r '.[0].Layers[]' "$dir/manifest.json"); do
    d=$(jq -r --argjson i $i '.layers[$i].digest' "$pulled/blobs/sha256/${m#sha256:}")
    cmp "$dir/$f" "$pulled/blobs/sha256/${d#sha256:}" || return 1
    i=$((i + 1))
  done
  [ "$i" -gt 0 ] && [ "$(jq '.layers | length' "$pulled/blobs/sha256/${m#sha256:}")" = "$i" ]
}

# amlpkg's own docker-archive (gzip layers).
"$AMLPKG" build "$EX/spec.yaml" -o "$WORK/ridge.tar" --no-sbom >/dev/null
"$AMLPKG" build "$EX/spec.yaml" -o "$WORK/own.tar" --format docker-archive --no-sbom >/dev/null
check "push takes amlpkg's docker-archive" "$AMLPKG" push "$WORK/own.tar" "$R/own/ridge:1" --json
check "... uploading the config and both layers" jq -e '.uploaded == 3' "$WORK/last.out"
check "skopeo inspects it" bash -c \
  "skopeo inspect --tls-verify=false docker://$R/own/ridge:1 | jq -e '(.Layers | length) == 2'"
check "its layers have the oci-archive's digests (same bytes)" bash -c "
  diff <(skopeo inspect --tls-verify=false docker://$R/own/ridge:1 | jq -r '.Layers[]') \
       <(skopeo inspect oci-archive:'$WORK/ridge.tar' | jq -r '.Layers[]')"
mkdir -p "$WORK/own" && tar xf "$WORK/own.tar" -C "$WORK/own"
check "pull gives back byte-equal layers" bash -c "
  '$AMLPKG' pull $R/own/ridge:1 -o '$WORK/own-back.tar' >/dev/null && mkdir -p '$WORK/own-back' &&
  tar xf '$WORK/own-back.tar' -C '$WORK/own-back' && $(declare -f same_layers); same_layers '$WORK/own' '$WORK/own-back'"
check "a second push skips every blob" bash -c \
  "'$AMLPKG' push '$WORK/own.tar' $R/own/ridge:1 --json | jq -e '.skipped == 3 and .manifests_put == 0'"

# podman's docker-archive (uncompressed layer tars, named by the layer's hash).
if command -v podman >/dev/null; then
  export CONTAINERS_CONF="$ROOT/templates/podman-containers.conf"
  P=(podman --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs)
  on_exit "${P[*]} rmi -af"
  check "podman loads the image and saves a docker-archive" bash -c "
    ${P[*]} load -i '$WORK/ridge.tar' >/dev/null && ${P[*]} tag ridge:1 localhost/ridge:saved &&
    ${P[*]} save --format docker-archive -o '$WORK/podman.tar' localhost/ridge:saved >/dev/null"
  mkdir -p "$WORK/pd" && tar xf "$WORK/podman.tar" -C "$WORK/pd"
  check "push takes podman's docker-archive" "$AMLPKG" push "$WORK/podman.tar" "$R/pd/ridge:1" --json
  check "skopeo inspects it, the layer digests those of the archive's tars" bash -c "
    diff <(skopeo inspect --tls-verify=false docker://$R/pd/ridge:1 | jq -r '.Layers[]') \
         <(cd '$WORK/pd' && for f in \$(jq -r '.[0].Layers[]' manifest.json); do echo sha256:\$(sha256sum < \$f | cut -d' ' -f1); done)"
  check "the config is pushed as it is" bash -c "
    skopeo inspect --tls-verify=false --raw docker://$R/pd/ridge:1 |
    jq -e --arg d sha256:\$(sha256sum < '$WORK/pd/'\$(jq -r '.[0].Config' '$WORK/pd/manifest.json') | cut -d' ' -f1) '.config.digest == \$d'"
  check "pull gives back byte-equal layers" bash -c "
    '$AMLPKG' pull $R/pd/ridge:1 -o '$WORK/pd-back.tar' >/dev/null && mkdir -p '$WORK/pd-back' &&
    tar xf '$WORK/pd-back.tar' -C '$WORK/pd-back' && $(declare -f same_layers); same_layers '$WORK/pd' '$WORK/pd-back'"
  check "podman loads the pulled image" bash -c "
    ${P[*]} load -i '$WORK/pd-back.tar' >/dev/null"
else
  skip "podman is not installed: podman's docker-archive is not tested"
fi

# Bad archives.
mkdir -p "$WORK/bad" && cp -r "$WORK/own/." "$WORK/bad/"
rm -f "$WORK/bad/$(jq -r '.[0].Layers[1]' "$WORK/bad/manifest.json")"
tar cf "$WORK/bad.tar" -C "$WORK/bad" manifest.json blobs
check_fails "a docker-archive missing a layer names it" "layer 'blobs/sha256/[0-9a-f]+' is missing" \
  "$AMLPKG" push "$WORK/bad.tar" "$R/bad/ridge:1"
tar cf "$WORK/neither.tar" -C "$EX" spec.yaml
check_fails "a tarball that is neither format says so" "neither an oci-archive nor a docker-archive" \
  "$AMLPKG" push "$WORK/neither.tar" "$R/bad/ridge:1"
