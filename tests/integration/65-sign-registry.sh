#!/usr/bin/env bash
# Signatures in a registry (the CNCF registry on 127.0.0.1), checked by independent readers:
# amlpkg sign writes cosign's sha256-<digest>.sig tag; curl + jq + the openssl CLI find and verify
# it the way cosign lays it out; skopeo and podman evaluate a policy.json requiring
# sigstoreSigned with the public key (registries.d: use-sigstore-attachments). amlpkg verify
# refuses a missing signature, another key, a changed manifest and a signature of another digest.
# The tag form is what is tested here (sign --format tag); bundles and carrying them are 66-sign-referrers.sh.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/registry_lib.sh"
EX="$ROOT/examples/onnx-ridge"
plain_registry_test
export CONTAINERS_CONF="$ROOT/templates/podman-containers.conf"
unset AMLPKG_SIGNING_PASSWORD
cd "$WORK"
MANIFEST=application/vnd.oci.image.manifest.v1+json

AMLPKG_SIGNING_PASSWORD=pw "$AMLPKG" keygen k >/dev/null
AMLPKG_SIGNING_PASSWORD= "$AMLPKG" keygen --algorithm ed25519 other >/dev/null
"$AMLPKG" build "$EX/spec.yaml" -o ridge.tar >/dev/null
img=$(tar xOf ridge.tar index.json | jq -r '.manifests[0].digest')
sigtag="sha256-${img#sha256:}.sig"
"$AMLPKG" push ridge.tar "$R/team/ridge:1" >/dev/null
"$AMLPKG" push ridge.tar "$R/team/unsigned:1" >/dev/null

# ---- amlpkg sign / verify against the registry ------------------------------------------------
check "sign REF" bash -c "AMLPKG_SIGNING_PASSWORD=pw '$AMLPKG' sign $R/team/ridge:1 --format tag --key k.key > sign.out 2>&1"
check "  the signature tag is cosign's" bash -c "curl -sf http://$R/v2/team/ridge/tags/list | jq -e --arg t '$sigtag' '.tags | index(\$t)'"
check "verify REF" bash -c "'$AMLPKG' verify $R/team/ridge:1 --key k.pub > verify.out"
check "  names identity, digest and time" bash -c "grep -q '^verified: $R/team/ridge:1$' verify.out && grep -q 'digest   $img' verify.out &&
  grep -Eq 'signed   20[0-9-]+T' verify.out"
check_fails "verify refuses another key" "none of the 1 signature" "$AMLPKG" verify "$R/team/ridge:1" --key other.pub
check_fails "verify refuses an unsigned image" "is not signed \(no $sigtag\)" "$AMLPKG" verify "$R/team/unsigned:1" --key k.pub
check_fails "verify of a missing image fails" "nosuch" "$AMLPKG" verify "$R/team/nosuch:1" --key k.pub

# ---- what another reader finds: cosign's layout, checked with curl, jq and openssl -----------------
curl -sf -H "Accept: $MANIFEST" "http://$R/v2/team/ridge/manifests/$sigtag" > sig.json
layer=$(jq -c '.layers[0]' sig.json)
check "the .sig manifest is an OCI image manifest" test "$(jq -r .mediaType sig.json)" = "$MANIFEST"
check "  its layer is a simple-signing payload" test "$(jq -r .mediaType <<<"$layer")" = application/vnd.dev.cosign.simplesigning.v1+json
curl -sf "http://$R/v2/team/ridge/blobs/$(jq -r .digest <<<"$layer")" > payload.json
check "  the payload names the image digest and the pushed reference" \
  jq -e --arg d "$img" --arg r "$R/team/ridge:1" '.critical.image["docker-manifest-digest"] == $d and
    .critical.identity["docker-reference"] == $r and .critical.type == "cosign container image signature"' payload.json
check "  the payload's digest is its descriptor's" test "sha256:$(sha256sum payload.json | cut -d' ' -f1)" = "$(jq -r .digest <<<"$layer")"
jq -r '.annotations["dev.cosignproject.cosign/signature"]' <<<"$layer" | base64 -d > sig.der
check "openssl verifies the annotation's signature with k.pub" openssl dgst -sha256 -verify k.pub -signature sig.der payload.json
check "the config blob the manifest names is in the registry" \
  curl -sf -o /dev/null "http://$R/v2/team/ridge/blobs/$(jq -r .config.digest sig.json)"

# ---- more signatures, by digest, Ed25519 ----------------------------------------------------------
check "sign REF@digest with an Ed25519 key" "$AMLPKG" sign "$R/team/ridge@$img" --format tag --key other.key
check "  the .sig manifest now holds both signatures" bash -c \
  "curl -sf -H 'Accept: $MANIFEST' http://$R/v2/team/ridge/manifests/$sigtag | jq -e '.layers | length == 2'"
check "  each key verifies its own; by digest the identity is the repository" bash -c \
  "'$AMLPKG' verify $R/team/ridge:1 --key other.pub | grep -qx 'verified: $R/team/ridge' &&
   '$AMLPKG' verify $R/team/ridge:1 --key k.pub | grep -q '1 of 2 signatures verified'"

# A signature copied with the image into another repository names the first one: refused there.
"$AMLPKG" push ridge.tar "$R/team/copied:1" >/dev/null
"$AMLPKG" copy "$R/team/ridge:$sigtag" "$R/team/copied:$sigtag" >/dev/null
check_fails "a signature copied to another repository is refused" "signed for '$R/team/ridge:1', not for $R/team/copied" \
  "$AMLPKG" verify "$R/team/copied:1" --key k.pub

# ---- carried signatures join those already there: push and copy never drop another key's ---------
cp ridge.tar carried.tar
AMLPKG_SIGNING_PASSWORD=pw "$AMLPKG" sign carried.tar --format tag --key k.key --identity "$R/team/merge:1" >/dev/null
"$AMLPKG" push ridge.tar "$R/team/merge:1" >/dev/null
"$AMLPKG" sign "$R/team/merge:1" --format tag --key other.key >/dev/null
check "push of a signed archive where another key signed the image already" "$AMLPKG" push carried.tar "$R/team/merge:1"
check "  the .sig tag holds both signatures, and each key verifies" bash -c \
  "curl -sf -H 'Accept: $MANIFEST' http://$R/v2/team/merge/manifests/$sigtag | jq -e '.layers | length == 2' >/dev/null &&
   '$AMLPKG' verify $R/team/merge:1 --key k.pub >/dev/null && '$AMLPKG' verify $R/team/merge:1 --key other.pub >/dev/null"
check "  pushing it again adds nothing" bash -c "'$AMLPKG' push carried.tar $R/team/merge:1 >/dev/null &&
  curl -sf -H 'Accept: $MANIFEST' http://$R/v2/team/merge/manifests/$sigtag | jq -e '.layers | length == 2' >/dev/null"
"$AMLPKG" push ridge.tar "$R/team/merge2:1" >/dev/null
"$AMLPKG" sign "$R/team/merge2:1" --format tag --key other.key >/dev/null
check "copy to a repository where the image is signed already" "$AMLPKG" copy "$R/team/merge:1" "$R/team/merge2:1"
check "  keeps that signature and adds the two carried (3 layers); other.pub still verifies there" bash -c \
  "curl -sf -H 'Accept: $MANIFEST' http://$R/v2/team/merge2/manifests/$sigtag | jq -e '.layers | length == 3' >/dev/null &&
   '$AMLPKG' verify $R/team/merge2:1 --key other.pub | grep -q '1 of 3 signatures verified'"

# ---- build --sign --push ----------------------------------------------------------------------------
check "build --sign KEY --push REF signs what it pushed" bash -c \
  "AMLPKG_SIGNING_PASSWORD=pw '$AMLPKG' build '$EX/spec.yaml' -o built.tar --sign k.key --push $R/team/built:1 >build.out 2>build.err &&
   grep -q '^signed $img as $R/team/built:1' build.err && '$AMLPKG' verify $R/team/built:1 --key k.pub"
sbomd=$(grep -o 'pushed the SBOM as sha256:[0-9a-f]*' build.err | grep -o 'sha256:.*')
check "  the SBOM is signed too (verify REPO@sbom-digest)" bash -c "test -n '$sbomd' && '$AMLPKG' verify $R/team/built@$sbomd --key k.pub | grep -qx 'verified: $R/team/built'"
check "  and its SLSA provenance: verify --provenance" bash -c "'$AMLPKG' verify $R/team/built:1 --key k.pub --provenance | grep -q '^provenance: verified'"
check "  the provenance is a referrer beside the SBOM (fallback tag sha256-<hex>)" bash -c \
  "curl -sf -H 'Accept: application/vnd.oci.image.index.v1+json' http://$R/v2/team/built/manifests/sha256-${img#sha256:} |
   jq -e '[.manifests[].artifactType] | index(\"application/spdx+json\") and index(\"application/vnd.in-toto+json\")'"
check_fails "  verify --provenance refuses another key" "no provenance of .* verifies|none of the" \
  "$AMLPKG" verify "$R/team/built:1" --key other.pub --provenance
check_fails "  an image without provenance is refused" "has no provenance attestation" \
  bash -c "'$AMLPKG' push ridge.tar $R/team/noprov:1 >/dev/null && '$AMLPKG' sign $R/team/noprov:1 --key other.key >/dev/null &&
  '$AMLPKG' verify $R/team/noprov:1 --key other.pub --provenance"
check_fails "build --sign with a wrong passphrase fails before building" "wrong passphrase" \
  env AMLPKG_SIGNING_PASSWORD=bad "$AMLPKG" build "$EX/spec.yaml" -o never.tar --sign k.key --push "$R/team/never:1"
check "  (nothing was written)" test ! -e never.tar
check "no private key text in any output or in the registry's storage" bash -c "
  for k in k.key other.key; do line=\$(sed -n 2p \$k)
    ! grep -rFq \"\$line\" sign.out verify.out build.out build.err '$WORK/registry-plain/data' || exit 1; done"

# ---- changed manifests ------------------------------------------------------------------------------
# One byte more in the manifest (a space): another digest, which no signature names.
curl -sf -H "Accept: $MANIFEST" "http://$R/v2/team/ridge/manifests/1" | sed 's/"schemaVersion":2/"schemaVersion": 2/' > changed.json
curl -sf -X PUT -H "Content-Type: $MANIFEST" --data-binary @changed.json "http://$R/v2/team/ridge/manifests/1"
changed="sha256:$(sha256sum changed.json | cut -d' ' -f1)"
check "the tag now names a manifest one byte longer" test "$changed" != "$img"
check_fails "verify refuses it: no signature for that digest" "is not signed" "$AMLPKG" verify "$R/team/ridge:1" --key k.pub
# The old signature put where the new digest's would go: it names the old digest.
curl -sf -X PUT -H "Content-Type: $MANIFEST" --data-binary @sig.json "http://$R/v2/team/ridge/manifests/sha256-${changed#sha256:}.sig"
check_fails "verify refuses a signature of another digest" "signs manifest $img, but the image is $changed" \
  "$AMLPKG" verify "$R/team/ridge:1" --key k.pub

# ---- skopeo and podman under a sigstoreSigned policy ---------------------------------------------------
mkdir -p registries.d "$HOME/.config/containers/registries.d"
printf 'docker:\n  %s:\n    use-sigstore-attachments: true\n' "$R" > registries.d/default.yaml
cp registries.d/default.yaml "$HOME/.config/containers/registries.d/"
policy() { # policy KEY FILE
  printf '{"default":[{"type":"reject"}],"transports":{"docker":{"%s":[{"type":"sigstoreSigned","keyPath":"%s","signedIdentity":{"type":"matchRepoDigestOrExact"}}]},"oci-archive":{"":[{"type":"insecureAcceptAnything"}]}}}' \
    "$R" "$WORK/$1" > "$2"
}
policy k.pub policy.json
policy other.pub policy-other.json
sk() { skopeo --policy "$1" --registries.d "$WORK/registries.d" copy --src-tls-verify=false "docker://$2" "oci-archive:$WORK/copy.tar"; }
P=(podman --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs)
on_exit "'${P[0]}' --root '$WORK/storage' --runroot '$WORK/run' --storage-driver vfs rmi -af"
check_fails "skopeo refuses the unsigned image" "no signature exists|signature was required" sk policy.json "$R/team/unsigned:1"
check_fails "podman refuses the unsigned image" "no signature exists|signature was required" \
  "${P[@]}" pull --tls-verify=false --signature-policy policy.json "$R/team/unsigned:1"
if strings "$(command -v skopeo)" | grep -q 'sigstore disabled'; then
  # Debian builds containers/image without sigstore: its verifier answers with this error, which it
  # reaches only after finding a signature at cosign's place (an unsigned image gets "no signature").
  check_fails "skopeo finds amlpkg's signature (Debian's build then stops: sigstore disabled)" "sigstore disabled" \
    sk policy.json "$R/team/built:1"
  check_fails "podman finds it too (same Debian stop)" "sigstore disabled" \
    "${P[@]}" pull --tls-verify=false --signature-policy policy.json "$R/team/built:1"
  skip "skopeo/podman accepting a good signature and refusing a bad one: this build has sigstore disabled (Debian)"
else
  check "skopeo accepts the signed image" sk policy.json "$R/team/built:1"
  check "podman pulls the signed image" "${P[@]}" pull --tls-verify=false --signature-policy policy.json "$R/team/built:1"
  check_fails "skopeo refuses it under another key" "signature|rejected" sk policy-other.json "$R/team/built:1"
  check_fails "skopeo refuses the changed manifest" "signature|rejected|digest" sk policy.json "$R/team/ridge:1"
fi
