#!/usr/bin/env bash
# amlpkg push / pull / copy against the CNCF registry on loopback: round trip
# digests, dedupe, cross-repo mount, chunked upload, Basic auth and its
# errors, and interop with skopeo and podman.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/registry_lib.sh"
EX="$ROOT/examples/onnx-ridge"
plain_registry_test

"$AMLPKG" build "$EX/spec.yaml" -o "$WORK/ridge.tar" --tag amlpkg-test/ridge:it >/dev/null
mkdir -p "$WORK/x" && tar xf "$WORK/ridge.tar" -C "$WORK/x"
want=$(jq -r '.manifests[0].digest' "$WORK/x/index.json")

check "push uploads the image" "$AMLPKG" push "$WORK/ridge.tar" "$R/team/ridge:1" --json
cp "$WORK/last.out" "$WORK/push1.json"
check "push reports the archive's manifest digest" jq -e --arg d "$want" '.digest == $d and .uploaded == 3' "$WORK/push1.json"
check "skopeo sees the pushed image" bash -c \
  "skopeo inspect --tls-verify=false docker://$R/team/ridge:1 | jq -e --arg d '$want' '.Digest == \$d and (.Layers | length) == 2'"
check "the registry serves the same manifest bytes" bash -c \
  "curl -fsS -H 'Accept: application/vnd.oci.image.manifest.v1+json' http://$R/v2/team/ridge/manifests/1 | cmp - '$WORK/x/blobs/sha256/${want#sha256:}'"

"$AMLPKG" push "$WORK/ridge.tar" "$R/team/ridge:1" --json > "$WORK/push2.json"
check "a second push skips every blob" jq -e '.skipped == 3 and .uploaded == 0 and .bytes_moved == 0' "$WORK/push2.json"
check "the first push puts the manifest, the second finds it already tagged" bash -c \
  "jq -e '.manifests_put == 1' '$WORK/push1.json' && jq -e '.manifests_put == 0' '$WORK/push2.json'"
# The HEAD before the manifest PUT must not keep a tag that names another image.
SOURCE_DATE_EPOCH=86400 "$AMLPKG" build "$EX/spec.yaml" -o "$WORK/other.tar" >/dev/null
check "pushing another image moves the tag" bash -c \
  "'$AMLPKG' push '$WORK/other.tar' '$R/team/moved:1' --json | jq -e '.manifests_put == 1' >/dev/null &&
   '$AMLPKG' push '$WORK/ridge.tar' '$R/team/moved:1' --json | jq -e --arg d '$want' '.manifests_put == 1 and .digest == \$d'"
check "... and the tag names the image pushed last" bash -c \
  "skopeo inspect --tls-verify=false docker://$R/team/moved:1 | jq -e --arg d '$want' '.Digest == \$d'"
check "without --json push prints one summary line" bash -c \
  "'$AMLPKG' push '$WORK/ridge.tar' '$R/team/ridge:1' 2>&1 | grep -Eq '^pushed .*3 skipped'"

check "pull writes an oci-archive" "$AMLPKG" pull "$R/team/ridge:1" -o "$WORK/back.tar" --json
check "pull reports the same manifest digest" jq -e --arg d "$want" '.digest == $d and .downloaded == 3' "$WORK/last.out"
mkdir -p "$WORK/y" && tar xf "$WORK/back.tar" -C "$WORK/y"
check "the pulled archive's index names the manifest" test "$(jq -r '.manifests[0].digest' "$WORK/y/index.json")" = "$want"
check "pulled blobs are byte-equal to the pushed ones" diff -r "$WORK/x/blobs" "$WORK/y/blobs"
check "skopeo reads the pulled archive" bash -c "skopeo inspect oci-archive:'$WORK/back.tar' | jq -e '(.Layers | length) == 2'"
check "pull by digest works" "$AMLPKG" pull "$R/team/ridge@$want" -o "$WORK/bydigest.tar"
check "no staging files are left beside the output" bash -c "! ls -A '$WORK' | grep -E 'amlpkg-pull|tmp-'"

check "copy within one registry mounts every blob" bash -c \
  "'$AMLPKG' copy $R/team/ridge:1 $R/other/ridge:2 --json | jq -e --arg d '$want' '.mounted == 3 and .bytes_moved == 0 and .digest == \$d'"
check "the copied tag resolves to the same digest" bash -c \
  "skopeo inspect --tls-verify=false docker://$R/other/ridge:2 | jq -e --arg d '$want' '.Digest == \$d'"

# amlpkg tags: the tag list, across pages.
for t in v1 v2 v3 v4 v5; do "$AMLPKG" push "$WORK/ridge.tar" "$R/tagged/ridge:$t" >/dev/null; done
check "tags lists every tag, one per line" bash -c \
  "test \"\$('$AMLPKG' tags $R/tagged/ridge | sort | tr '\n' ' ')\" = 'v1 v2 v3 v4 v5 '"
check "tags --json" bash -c \
  "'$AMLPKG' tags $R/tagged/ridge --json | jq -e --arg r '$R/tagged/ridge' '.repository == \$r and (.tags | sort) == [\"v1\",\"v2\",\"v3\",\"v4\",\"v5\"]'"
check_fails "tags of a missing repository says NAME_UNKNOWN" "tags $R/nope/ridge: list tags: HTTP 404.*NAME_UNKNOWN" \
  "$AMLPKG" tags "$R/nope/ridge"
check_exit "tags with a tagged reference is a usage error" 2 "$AMLPKG" tags "$R/tagged/ridge:v1"

# Chunked upload: a chunk size far below the layer size forces PATCH chunks.
check "chunked upload of the image" env AMLPKG_CHUNK_SIZE=65536 "$AMLPKG" push "$WORK/x" "$R/chunked/ridge:1" --json
check "the chunked push has the same digest" jq -e --arg d "$want" '.digest == $d and .uploaded == 3' "$WORK/last.out"
check "skopeo pulls the chunked upload intact" skopeo copy -q --src-tls-verify=false \
  "docker://$R/chunked/ridge:1" "oci-archive:$WORK/skopeo-chunked.tar"

# amlpkg pulls what skopeo pushed.
check "skopeo pushes the archive" skopeo copy -q --dest-tls-verify=false "oci-archive:$WORK/ridge.tar" "docker://$R/bysko/ridge:1"
check "amlpkg pulls skopeo's push" "$AMLPKG" pull "$R/bysko/ridge:1" -o "$WORK/sko.tar" --json

# Errors name the operation, registry and repository.
check_fails "pulling a missing repository says NAME_UNKNOWN" "pull $R/nope/ridge: .*404.*(NAME_UNKNOWN|MANIFEST_UNKNOWN)" \
  "$AMLPKG" pull "$R/nope/ridge:1" -o "$WORK/nope.tar"
check_fails "pulling a missing tag says so" "pull $R/team/ridge: get manifest missing: HTTP 404" \
  "$AMLPKG" pull "$R/team/ridge:missing" -o "$WORK/nope.tar"
check "a failed pull leaves no output" test ! -e "$WORK/nope.tar"
check_exit "a bad reference is a usage error" 2 "$AMLPKG" push "$WORK/ridge.tar" "$R/Team/Ridge"
check_exit "push without REF is a usage error" 2 "$AMLPKG" push "$WORK/ridge.tar"
check_fails "an unreachable registry is reported" "push 127.0.0.1:1: cannot reach the registry" \
  env AMLPKG_RETRIES=0 "$AMLPKG" push "$WORK/ridge.tar" "127.0.0.1:1/x:1"
check_fails "a non-archive source is reported" "not an oci-archive" "$AMLPKG" push "$EX/spec.yaml" "$R/x:1"

# Basic auth (htpasswd -B, what the CNCF registry accepts).
if command -v htpasswd >/dev/null; then
  htpasswd -Bbc "$WORK/htpasswd" alice s3cret >/dev/null 2>&1
  start_registry auth "$WORK/htpasswd" || { fail "the auth registry starts"; exit 1; }
  A=$REG_auth
  check_fails "no credentials: 401 naming registry, repository and operation" \
    "push $A/team/ridge: .*HTTP 401 Unauthorized.*no credentials found" "$AMLPKG" push "$WORK/ridge.tar" "$A/team/ridge:1"
  check_fails "wrong password: 401 naming where the credentials came from" \
    "push $A/team/ridge: .*HTTP 401 Unauthorized.*refused the credentials from --creds" \
    "$AMLPKG" push "$WORK/ridge.tar" "$A/team/ridge:1" --creds alice:wrong
  check_exit "a 401 exits 1" 1 "$AMLPKG" push "$WORK/ridge.tar" "$A/team/ridge:1" --creds alice:wrong
  check "--creds pushes" "$AMLPKG" push "$WORK/ridge.tar" "$A/team/ridge:1" --creds alice:s3cret
  check "build --push builds and pushes in one step, with --creds" bash -c "
    '$AMLPKG' build '$EX/spec.yaml' -o '$WORK/bp.tar' --push '$A/built/ridge:2' --creds alice:s3cret > '$WORK/bp.out' 2> '$WORK/bp.err' &&
    tail -1 '$WORK/bp.out' | grep -q '^sha256:' && grep -q 'pushed .* -> $A/built/ridge:2' '$WORK/bp.err'"
  sbom_digest=$(grep -o 'pushed the SBOM as sha256:[0-9a-f]*' "$WORK/bp.err" | grep -o 'sha256:.*')
  check "... the SBOM follows as an artifact whose subject is the image" bash -c "
    [ -n '$sbom_digest' ] && curl -sf -u alice:s3cret -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
      http://$A/v2/built/ridge/manifests/$sbom_digest |
    jq -e --arg d \"\$(tail -1 '$WORK/bp.out')\" '.artifactType == \"application/spdx+json\" and .subject.digest == \$d'"
  check "... and the registry holds the digest build printed" bash -c "
    '$AMLPKG' pull '$A/built/ridge:2' -o '$WORK/bp-pulled.tar' --creds alice:s3cret --json | jq -e --arg d \"\$(tail -1 '$WORK/bp.out')\" '.digest == \$d'"
  check_fails "build --push with bad credentials fails after the build, naming the registry" \
    "push $A/built/ridge: .*HTTP 401" "$AMLPKG" build "$EX/spec.yaml" -o "$WORK/bp2.tar" --push "$A/built/ridge:3" --creds alice:nope
  check_exit "--creds without --push is a usage error" 2 "$AMLPKG" build "$EX/spec.yaml" -o "$WORK/bp3.tar" --creds alice:s3cret
  check "AMLPKG_REGISTRY_AUTH pulls" env AMLPKG_REGISTRY_AUTH=alice:s3cret "$AMLPKG" pull "$A/team/ridge:1" -o "$WORK/auth.tar"
  mkdir -p "$XDG_RUNTIME_DIR/containers"
  printf '{"auths":{"%s":{"auth":"%s"}}}' "$A" "$(printf alice:s3cret | base64)" > "$XDG_RUNTIME_DIR/containers/auth.json"
  check "credentials from \$XDG_RUNTIME_DIR/containers/auth.json" "$AMLPKG" pull "$A/team/ridge:1" -o "$WORK/auth2.tar"
  rm "$XDG_RUNTIME_DIR/containers/auth.json"
  mkdir -p "$HOME/.docker"
  printf '{"auths":{"http://%s":{"auth":"%s"}}}' "$A" "$(printf alice:s3cret | base64)" > "$HOME/.docker/config.json"
  check "credentials from ~/.docker/config.json" "$AMLPKG" copy "$A/team/ridge:1" "$A/mirror/ridge:1" --json
  check "copy with auth mounts" jq -e '.mounted == 3' "$WORK/last.out"
  check "copy across registries moves the bytes" bash -c \
    "'$AMLPKG' copy $A/team/ridge:1 $R/fromauth/ridge:1 --json | jq -e --arg d '$want' '.uploaded == 3 and .downloaded == 3 and .digest == \$d'"
else
  skip "htpasswd is not installed (apache2-utils)"
fi

# podman loads and names what amlpkg pulled.
if command -v podman >/dev/null; then
  export CONTAINERS_CONF="$ROOT/templates/podman-containers.conf"
  P=(podman --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs)
  on_exit "${P[*]} rmi -af"
  check "podman loads the pulled archive" "${P[@]}" load -i "$WORK/back.tar"
  check "podman names it after the reference" "${P[@]}" image exists "$R/team/ridge:1"
  check "podman's image has the pushed config" bash -c \
    "test \"\$(${P[*]} image inspect --format '{{.Id}}' $R/team/ridge:1)\" = \"\$(jq -r .config.digest '$WORK/x/blobs/sha256/${want#sha256:}' | cut -d: -f2)\""
else
  skip "podman is not installed"
fi
