#!/usr/bin/env bash
# The SBOM as a referrer of its image: on a registry without the referrers
# API (the CNCF registry 2.8) build --push keeps the OCI 1.1 referrers tag
# schema (an index tagged sha256-<hex of the image digest>), merged with what
# the tag already lists and never duplicated; with the API (emulated by the
# proxy) no tag is written. pull --sbom finds the SBOM either way.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/registry_lib.sh"
EX="$ROOT/examples/onnx-ridge"
plain_registry_test
INDEX=application/vnd.oci.image.index.v1+json

"$AMLPKG" build "$EX/spec.yaml" -o "$WORK/ridge.tar" >/dev/null
img=$(tar xOf "$WORK/ridge.tar" index.json | jq -r '.manifests[0].digest')
tag="sha256-${img#sha256:}"
check "the registry has no referrers API (the fallback is what is tested)" bash -c \
  "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://$R/v2/team/ridge/referrers/$img)\" = 404 ]"

# Another tool's referrer already in the tag: ours must be added beside it.
"$AMLPKG" push "$WORK/ridge.tar" "$R/team/ridge:1" >/dev/null
size=$(tar xOf "$WORK/ridge.tar" "blobs/sha256/${img#sha256:}" | wc -c)
printf '{"schemaVersion":2,"mediaType":"%s","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"artifactType":"application/vnd.example.other"}]}' \
  "$INDEX" "$img" "$size" > "$WORK/seed.json"
check "a foreign referrer is seeded in the tag" curl -sf -X PUT -H "Content-Type: $INDEX" \
  --data-binary @"$WORK/seed.json" "http://$R/v2/team/ridge/manifests/$tag"

check "build --push pushes the image and its SBOM" bash -c \
  "'$AMLPKG' build '$EX/spec.yaml' -o '$WORK/ridge.tar' --push $R/team/ridge:1 >/dev/null 2> '$WORK/push1.err'"
sbom=$(grep -o 'pushed the SBOM as sha256:[0-9a-f]*' "$WORK/push1.err" | grep -o 'sha256:.*')
check "... and says the SBOM went into the referrers tag" grep -q "listed in the referrers tag $tag" "$WORK/push1.err"
check "the referrers tag lists the SBOM with its artifactType" bash -c \
  "curl -sf -H 'Accept: $INDEX' http://$R/v2/team/ridge/manifests/$tag |
   jq -e --arg s '$sbom' '[.manifests[] | select(.digest == \$s and .artifactType == \"application/spdx+json\")] | length == 1'"
check "... beside the referrer that was there before" bash -c \
  "curl -sf -H 'Accept: $INDEX' http://$R/v2/team/ridge/manifests/$tag | jq -e '(.manifests | length) == 2 and
   any(.manifests[]; .artifactType == \"application/vnd.example.other\")'"
check "skopeo reads the referrers tag" bash -c \
  "skopeo inspect --raw --tls-verify=false docker://$R/team/ridge:$tag | jq -e --arg s '$sbom' '.mediaType == \"$INDEX\" and any(.manifests[]; .digest == \$s)'"

check "a second build --push" bash -c \
  "'$AMLPKG' build '$EX/spec.yaml' -o '$WORK/ridge.tar' --push $R/team/ridge:1 >/dev/null 2>/dev/null"
check "... does not list the SBOM twice" bash -c \
  "curl -sf -H 'Accept: $INDEX' http://$R/v2/team/ridge/manifests/$tag | jq -e '(.manifests | length) == 2'"

check "pull --sbom finds the SBOM through the referrers tag" \
  "$AMLPKG" pull "$R/team/ridge:1" -o "$WORK/back.tar" --sbom "$WORK/back.spdx.json"
check "... byte-equal to the SBOM build wrote" cmp "$WORK/back.spdx.json" "$WORK/ridge.tar.spdx.json"
"$AMLPKG" push "$WORK/ridge.tar" "$R/bare/ridge:1" >/dev/null
check_fails "pull --sbom of an image without one says where it looked" \
  "has no application/spdx\+json referrer .*tag $tag" \
  "$AMLPKG" pull "$R/bare/ridge:1" -o "$WORK/bare.tar" --sbom "$WORK/bare.spdx.json"

# A registry with the referrers API (the proxy adds it): no tag is written.
port=$(free_port)
REFERRERS=1 "$PY" "$ROOT/tests/integration/registry_proxy.py" "$port" "$R" &
pxpid=$!
on_exit "kill $pxpid"
PX="127.0.0.1:$port"
deadline=$((SECONDS + 10))
until curl -s -o /dev/null "http://$PX/v2/"; do [ $SECONDS -lt $deadline ] || break; sleep 0.1; done
check "build --push to a registry with the referrers API" bash -c \
  "'$AMLPKG' build '$EX/spec.yaml' -o '$WORK/ridge.tar' --push $PX/api/ridge:1 >/dev/null 2> '$WORK/api.err' &&
   grep -q 'pushed the SBOM' '$WORK/api.err' && ! grep -q 'referrers tag' '$WORK/api.err'"
check "... writes no referrers tag" bash -c \
  "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept: $INDEX' http://$R/v2/api/ridge/manifests/$tag)\" = 404 ]"
check "pull --sbom finds the SBOM through the referrers API" bash -c \
  "'$AMLPKG' pull $PX/api/ridge:1 -o '$WORK/api.tar' --sbom '$WORK/api.spdx.json' && cmp '$WORK/api.spdx.json' '$WORK/ridge.tar.spdx.json'"

# CI writes outputs relative to where it runs: the default output name, and -o with a relative path.
mkdir -p "$WORK/rel" && cp "$EX/model.onnx" "$EX/spec.yaml" "$WORK/rel/"
check "build --push with the default (relative) output pushes the image and its SBOM" bash -c "
  cd '$WORK/rel' && '$AMLPKG' build spec.yaml --push $R/team/rel:1 > rel1.out 2> rel1.err && grep -q 'pushed the SBOM' rel1.err"
check "... and with -o a relative path" bash -c "
  cd '$WORK/rel' && '$AMLPKG' build spec.yaml -o ./rel2.tar --push $R/team/rel:2 > rel2.out 2> rel2.err &&
  grep -q 'pushed the SBOM' rel2.err && [ \"\$(tail -1 rel1.out)\" = \"\$(tail -1 rel2.out)\" ]"
check "... leaving no staging folder behind" bash -c "! ls -a '$WORK/rel' | grep -q amlpkg-build"
