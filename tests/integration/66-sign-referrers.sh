#!/usr/bin/env bash
# Signatures and attestations in a registry in the OCI 1.1 form, and carried when images move.
# sign REF writes a sigstore bundle referrer: the CNCF registry 2.8 has no referrers API, so it is
# listed in the sha256-<hex> referrers tag (read back here with curl and skopeo, the bundle checked
# against the bundle schema, its DSSE signature with openssl and the bundle with sigstore-js); through registry_proxy.py (which
# adds the referrers API) no tag is written. push of a signed oci-archive or layout sends its .sig
# manifest and referrers; copy to a second registry carries them (tag and referrers) as cosign copy
# does; build --sign --push ends with a signed, attested image. amlpkg verify REF checks each place.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/registry_lib.sh"
EX="$ROOT/examples/onnx-ridge"
plain_registry_test
start_registry second || { fail "the second registry starts"; exit 1; }
R2=$REG_second
cd "$WORK"
export AMLPKG_SIGNING_PASSWORD=
INDEX=application/vnd.oci.image.index.v1+json
MANIFEST=application/vnd.oci.image.manifest.v1+json
BUNDLE=application/vnd.dev.sigstore.bundle.v0.3+json
SCHEMA="$ROOT/tests/data/sigstore-bundle-v0.3.schema.json"
pae() { printf 'DSSEv1 %d %s %d ' "${#1}" "$1" "$(stat -c %s "$2")"; cat "$2"; }
# referrers HOST REPO DIGEST: the fallback tag's index (empty when there is none).
referrers() { curl -sf -H "Accept: $INDEX" "http://$1/v2/$2/manifests/sha256-${3#sha256:}" || echo '{"manifests":[]}'; }
n_bundles() { referrers "$@" | jq --arg b "$BUNDLE" '[.manifests[] | select(.artifactType == $b)] | length'; }

"$AMLPKG" keygen k >/dev/null
"$AMLPKG" keygen other >/dev/null
"$AMLPKG" build "$EX/spec.yaml" -o ridge.tar >/dev/null 2>&1
cp ridge.tar unsigned.tar
img=$(tar xOf ridge.tar index.json | jq -r '.manifests[0].digest')
sigtag="sha256-${img#sha256:}.sig"
check "the registry has no referrers API (the fallback tag is what is tested first)" bash -c \
  "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://$R/v2/team/ridge/referrers/$img)\" = 404 ]"

# ---- sign REF: both forms -------------------------------------------------------------------------
"$AMLPKG" push ridge.tar "$R/team/ridge:1" >/dev/null
check "sign REF (tag and bundle, the default)" bash -c "'$AMLPKG' sign $R/team/ridge:1 --key k.key > sign.out"
check "  the .sig tag is there" bash -c "curl -sf http://$R/v2/team/ridge/tags/list | jq -e --arg t '$sigtag' '.tags | index(\$t)'"
referrers "$R" team/ridge "$img" > fallback.json
check "  the referrers tag lists the bundle, with its annotations" jq -e --arg b "$BUNDLE" --arg m "$MANIFEST" '
  [.manifests[] | select(.artifactType == $b and .mediaType == $m and
    .annotations["dev.sigstore.bundle.content"] == "dsse-envelope" and
    .annotations["dev.sigstore.bundle.predicateType"] == "https://sigstore.dev/cosign/sign/v1")] | length == 1' fallback.json
bref=$(jq -r --arg b "$BUNDLE" '.manifests[] | select(.artifactType == $b) | .digest' fallback.json)
check "skopeo reads the bundle's manifest: subject the image" bash -c \
  "skopeo inspect --raw --tls-verify=false docker://$R/team/ridge@$bref | jq -e --arg d '$img' '.subject.digest == \$d and .artifactType == \"$BUNDLE\"'"
curl -sf -H "Accept: $MANIFEST" "http://$R/v2/team/ridge/manifests/$bref" > bm.json
curl -sf "http://$R/v2/team/ridge/blobs/$(jq -r '.layers[0].digest' bm.json)" > bundle.json
check "  the bundle validates against the bundle schema" "$PY" -c 'import json, sys, jsonschema
jsonschema.Draft202012Validator(json.load(open(sys.argv[2]))).validate(json.load(open(sys.argv[1])))' bundle.json "$SCHEMA"
jq -r .dsseEnvelope.payload bundle.json | base64 -d > statement.json
pae "$(jq -r .dsseEnvelope.payloadType bundle.json)" statement.json > pae.bin
jq -r '.dsseEnvelope.signatures[0].sig' bundle.json | base64 -d > sig.der
check "  openssl verifies its DSSE signature over PAE" openssl dgst -sha256 -verify k.pub -signature sig.der pae.bin
if [ -d "$ROOT/tests/sigstore/node_modules/@sigstore/verify" ] && command -v node >/dev/null; then
  check "  sigstore-js verifies the bundle fetched from the registry" node "$ROOT/tests/sigstore/verify.mjs" bundle.json k.pub
  check_fails "  and refuses it with another key" "refused: SIGNATURE_ERROR" node "$ROOT/tests/sigstore/verify.mjs" bundle.json other.pub
else
  skip "sigstore-js is not installed (bash tests/sigstore/install.sh)"
fi
check "  its statement names the image and the pushed name" jq -e --arg h "${img#sha256:}" --arg n "$R/team/ridge:1" \
  '.subject[0].digest.sha256 == $h and .subject[0].name == $n' statement.json
check "verify REF: both forms" bash -c "'$AMLPKG' verify $R/team/ridge:1 --key k.pub | grep -q '2 of 2 signatures verified'"
check_fails "verify refuses another key" "none of the 2 signature" "$AMLPKG" verify "$R/team/ridge:1" --key other.pub
check "sign --format bundle by digest adds a bundle, not a tag layer" bash -c \
  "'$AMLPKG' sign $R/team/ridge@$img --format bundle --key other.key >/dev/null &&
   [ \"\$(curl -sf -H 'Accept: $MANIFEST' http://$R/v2/team/ridge/manifests/$sigtag | jq '.layers | length')\" = 1 ]"
check "  the referrers tag now lists two bundles" test "$(n_bundles "$R" team/ridge "$img")" = 2
check "  each key verifies its own" bash -c "'$AMLPKG' verify $R/team/ridge:1 --key other.pub | grep -q '1 of 3 signatures verified' &&
  '$AMLPKG' verify $R/team/ridge:1 --key k.pub | grep -q '2 of 3 signatures verified'"

# ---- push carries what sign put into an archive or a layout ----------------------------------------
cp unsigned.tar s.tar
"$AMLPKG" sign s.tar --identity "$R/team/pushed:1" --key k.key >/dev/null
check "push of a signed archive" bash -c "'$AMLPKG' push s.tar $R/team/pushed:1 > push.out 2> push.err"
check "  says it pushed the signature tag and the bundle" \
  grep -q "pushed its signatures and attestations: 1 signature tag, 1 referrer (listed in the referrers tag)" push.err
check "  the .sig tag is in the registry" bash -c "curl -sf http://$R/v2/team/pushed/tags/list | jq -e --arg t '$sigtag' '.tags | index(\$t)'"
check "  the bundle is in its referrers tag" test "$(n_bundles "$R" team/pushed "$img")" = 1
check "verify REF of the pushed image: both forms" bash -c "'$AMLPKG' verify $R/team/pushed:1 --key k.pub | grep -q '2 of 2 signatures verified'"
check "... and as docker://REF" bash -c "'$AMLPKG' verify docker://$R/team/pushed:1 --key k.pub | grep -q '2 of 2 signatures verified'"
check "a second push lists nothing twice" bash -c "'$AMLPKG' push s.tar $R/team/pushed:1 >/dev/null 2>&1 &&
  [ \"\$(curl -sf -H 'Accept: $INDEX' http://$R/v2/team/pushed/manifests/sha256-${img#sha256:} | jq '.manifests | length')\" = 1 ]"
check "push of an unsigned archive pushes no signature" bash -c \
  "'$AMLPKG' push unsigned.tar $R/team/plain:1 >/dev/null 2>plain.err && ! grep -q 'signatures and attestations' plain.err &&
   ! curl -sf http://$R/v2/team/plain/tags/list | jq -e '.tags | index(\"$sigtag\")'"
check "build --sign into an archive, then push it" bash -c \
  "'$AMLPKG' build '$EX/spec.yaml' -o built.tar --sign k.key >/dev/null 2>&1 && '$AMLPKG' push built.tar $R/team/built:1 >/dev/null 2>built.err"
check "  its signature tag and three referrers (provenance, two bundles) went along" \
  grep -q "1 signature tag, 3 referrers" built.err
check "verify --provenance of the pushed image" bash -c "'$AMLPKG' verify $R/team/built:1 --key k.pub --provenance > built.out 2> built.verr"
check "  the bundle holds in the registry; the tag-form signature names ridge:1, not this repository" bash -c \
  "grep -q '1 of 2 signatures verified' built.out && grep -q \"signed for 'ridge:1'\" built.verr"
check "  both provenance forms verify" grep -q '^provenance: verified (2 attestations, 2 good)' built.out
mkdir lay && "$AMLPKG" build "$EX/spec.yaml" --format oci-layout -o lay --sign k.key --sign-format bundle >/dev/null 2>&1
check "push of a layout signed with bundles only" bash -c \
  "'$AMLPKG' push lay $R/team/lay:1 >/dev/null 2>lay.err && grep -q '0 signature tags, 2 referrers' lay.err"
check "  verify --provenance REF" bash -c "'$AMLPKG' verify $R/team/lay:1 --key k.pub --provenance | grep -q '^provenance: verified (1 attestation, 1 good)'"

# ---- copy to another registry carries them ---------------------------------------------------------------
check "copy to a second registry" bash -c "'$AMLPKG' copy $R/team/pushed:1 $R2/mirror/ridge:1 >/dev/null 2>copy.err"
check "  says it copied the signature tag and the bundle" grep -q "copied its signatures and attestations: 1 signature tag, 1 referrer" copy.err
check "  the .sig tag is in the second registry" bash -c "curl -sf http://$R2/v2/mirror/ridge/tags/list | jq -e --arg t '$sigtag' '.tags | index(\$t)'"
check "  the bundle is in its referrers tag" test "$(n_bundles "$R2" mirror/ridge "$img")" = 1
check "verify the copy: the bundle holds; the tag form names the old repository and is refused" bash -c \
  "'$AMLPKG' verify $R2/mirror/ridge:1 --key k.pub > copy.out 2> copy.verr && grep -q '1 of 2 signatures verified' copy.out &&
   grep -q \"signed for '$R/team/pushed:1'\" copy.verr"
check "copy with provenance and SBOM: verify --provenance on the second registry" bash -c \
  "'$AMLPKG' build '$EX/spec.yaml' -o bp.tar --sign k.key --push $R/team/bp:1 >/dev/null 2>&1 &&
   '$AMLPKG' copy $R/team/bp:1 $R2/mirror/bp:1 >/dev/null 2>bp.err &&
   '$AMLPKG' verify $R2/mirror/bp:1 --key k.pub --provenance | grep -q '^provenance: verified (2 attestations, 2 good)'"
check "  the SBOM came along (pull --sbom from the second registry)" bash -c \
  "'$AMLPKG' pull $R2/mirror/bp:1 -o back.tar --sbom back.spdx.json && cmp back.spdx.json bp.tar.spdx.json"

# ---- build --sign --push -------------------------------------------------------------------------------
check "build --sign --push: the pushed image verifies in both forms, with its provenance" bash -c \
  "'$AMLPKG' verify $R/team/bp:1 --key k.pub --provenance > bp.out && grep -q '2 of 2 signatures verified' bp.out &&
   grep -q '^provenance: verified (2 attestations, 2 good)' bp.out"
check "build --sign --sign-format bundle --push: bundles only, verified" bash -c \
  "'$AMLPKG' build '$EX/spec.yaml' -o bb.tar --sign k.key --sign-format bundle --push $R/team/bb:1 >/dev/null 2>&1 &&
   ! curl -sf http://$R/v2/team/bb/tags/list | jq -e '.tags | index(\"$sigtag\")' &&
   '$AMLPKG' verify $R/team/bb:1 --key k.pub --provenance | grep -q '^provenance: verified (1 attestation, 1 good)'"

# ---- a registry with the referrers API (the proxy adds it): no referrers tag ------------------------------
port=$(free_port)
REFERRERS=1 "$PY" "$ROOT/tests/integration/registry_proxy.py" "$port" "$R" &
pxpid=$!
on_exit "kill $pxpid"
PX="127.0.0.1:$port"
wait_http "http://$PX/v2/" 10 || fail "the proxy starts"
"$AMLPKG" push unsigned.tar "$PX/api/ridge:1" >/dev/null
check "sign REF --format bundle through the referrers API" "$AMLPKG" sign "$PX/api/ridge:1" --format bundle --key k.key
check "  the API lists it, with its annotations" bash -c \
  "curl -sf http://$PX/v2/api/ridge/referrers/$img | jq -e --arg b '$BUNDLE' '[.manifests[] | select(.artifactType == \$b and
   .annotations[\"dev.sigstore.bundle.content\"] == \"dsse-envelope\")] | length == 1'"
check "  no referrers tag is written" bash -c \
  "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept: $INDEX' http://$R/v2/api/ridge/manifests/sha256-${img#sha256:})\" = 404 ]"
check "  verify REF finds it through the API" bash -c "'$AMLPKG' verify $PX/api/ridge:1 --key k.pub | grep -q '1 of 1 signature verified'"
check "push of a signed archive through the referrers API" bash -c \
  "'$AMLPKG' push built.tar $PX/api/built:1 >/dev/null 2>api.err && grep -q '3 referrers' api.err && ! grep -q 'referrers tag' api.err &&
   '$AMLPKG' verify $PX/api/built:1 --key k.pub --provenance | grep -q '^provenance: verified (2 attestations, 2 good)'"
check "copy from the API registry to the tag-schema one carries the referrers" bash -c \
  "'$AMLPKG' copy $PX/api/built:1 $R2/mirror/built:1 >/dev/null 2>api-copy.err && grep -q '1 signature tag, 3 referrers' api-copy.err &&
   '$AMLPKG' verify $R2/mirror/built:1 --key k.pub --provenance | grep -q '^provenance: verified (2 attestations, 2 good)'"
