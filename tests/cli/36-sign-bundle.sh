#!/usr/bin/env bash
# The OCI 1.1 form of signatures and attestations on oci-archives and layouts: sign --format bundle
# and build --sign write sigstore bundles (v0.3) as referrers of the image (cosign's bundle spec:
# artifactType, empty config, one bundle layer, subject, annotations). Checked without amlpkg: the
# bundle against a JSON schema of the bundle messages (tests/data), the statement with jq, the DSSE
# signature over PAE(type, statement) with the openssl CLI (P-256 and Ed25519), and the whole bundle
# with sigstore-js (@sigstore/bundle + @sigstore/verify, tests/sigstore). verify accepts
# either form and refuses another key, a changed statement and a changed manifest; it also reads a
# message-signature bundle that another tool wrote (here: openssl over the manifest bytes).
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples/onnx-ridge"
cd "$WORK"
export AMLPKG_SIGNING_PASSWORD=
BUNDLE=application/vnd.dev.sigstore.bundle.v0.3+json
SCHEMA="$ROOT/tests/data/sigstore-bundle-v0.3.schema.json"
blob() { echo "$1/blobs/sha256/${2#sha256:}"; }
# pae TYPE FILE > OUT: DSSE's pre-authentication encoding, written here from the DSSE spec.
pae() { printf 'DSSEv1 %d %s %d ' "${#1}" "$1" "$(stat -c %s "$2")"; cat "$2"; }
# sigstore-js: sjs DESCRIPTION BUNDLE KEY [ARTIFACT] passes when it verifies; sjs_refuses when it does not.
have_sjs() { [ -d "$ROOT/tests/sigstore/node_modules/@sigstore/verify" ] && command -v node >/dev/null; }
sjs() { if have_sjs; then check "$1" node "$ROOT/tests/sigstore/verify.mjs" "${@:2}"; else skip "$1: sigstore-js is not installed (bash tests/sigstore/install.sh)"; fi; }
sjs_refuses() { if have_sjs; then check_fails "$1" "refused: SIGNATURE_ERROR" node "$ROOT/tests/sigstore/verify.mjs" "${@:2}"; else skip "$1: sigstore-js is not installed"; fi; }
valid() { "$PY" -c 'import json, sys, jsonschema
jsonschema.Draft202012Validator(json.load(open(sys.argv[2]))).validate(json.load(open(sys.argv[1])))' "$1" "$SCHEMA"; }

"$AMLPKG" keygen k >/dev/null
"$AMLPKG" keygen other >/dev/null
"$AMLPKG" keygen --algorithm ed25519 ed >/dev/null
"$AMLPKG" build "$EX/spec.yaml" -o ridge.tar >/dev/null 2>&1
cp ridge.tar unsigned.tar
digest=$(tar xOf ridge.tar index.json | jq -r '.manifests[0].digest')

# ---- sign --format bundle: an oci-archive ---------------------------------------------------------
check "sign --format bundle" bash -c "'$AMLPKG' sign ridge.tar --format bundle --key k.key > sign.out"
check "  says where the bundle went" grep -q "sigstore bundle sha256:[0-9a-f]*, a referrer of the image" sign.out
check "  the archive still lists one image, its digest unchanged" \
  test "$(tar xOf ridge.tar index.json | jq -r '[.manifests[].digest] | join(",")')" = "$digest"
mkdir a && tar xf ridge.tar -C a
check "  no .sig manifest with --format bundle" test "$(jq -r '.manifests[0].annotations["com.amlpkg.signatures"]' a/index.json)" = null
ref=$(jq -r '.manifests[0].annotations["com.amlpkg.bundles"]' a/index.json)
M=$(blob a "$ref")
check "the referrer manifest is laid out as cosign's bundle spec says" jq -e --arg d "$digest" --arg b "$BUNDLE" '
  .mediaType == "application/vnd.oci.image.manifest.v1+json" and .artifactType == $b and
  .config.mediaType == "application/vnd.oci.empty.v1+json" and .config.size == 2 and
  (.layers | length) == 1 and .layers[0].mediaType == $b and
  (.layers[0].annotations["org.opencontainers.image.title"] | test("^sha256-[0-9a-f]{64}\\.sigstore\\.json$")) and
  .subject.digest == $d and .annotations["dev.sigstore.bundle.content"] == "dsse-envelope" and
  .annotations["dev.sigstore.bundle.predicateType"] == "https://sigstore.dev/cosign/sign/v1" and
  (.annotations["org.opencontainers.image.created"] | test("^20[0-9-]+T[0-9:]+Z$"))' "$M"
check "  its empty config is {}" test "$(cat "$(blob a "$(jq -r .config.digest "$M")")")" = "{}"
B=$(blob a "$(jq -r '.layers[0].digest' "$M")")
check "the bundle validates against the bundle schema" valid "$B"
check "  a bundle with both contents does not (the schema is not lax)" bash -c \
  "jq '.messageSignature = {signature: \"AA==\"}' '$B' > both.json && ! valid both.json"
check "  its key hint is the key's id" test "$(jq -r .verificationMaterial.publicKey.hint "$B")" = \
  "sha256:$(openssl pkey -pubin -in k.pub -outform DER | sha256sum | cut -d' ' -f1)"
jq -r .dsseEnvelope.payload "$B" | base64 -d > statement.json
check "the statement: in-toto v1, cosign sign v1, subject the image" jq -e --arg h "${digest#sha256:}" '
  ._type == "https://in-toto.io/Statement/v1" and .predicateType == "https://sigstore.dev/cosign/sign/v1" and
  .subject[0].digest.sha256 == $h and .subject[0].name == "ridge:1"' statement.json
pae "$(jq -r .dsseEnvelope.payloadType "$B")" statement.json > pae.bin
jq -r '.dsseEnvelope.signatures[0].sig' "$B" | base64 -d > sig.der
check "openssl verifies the DSSE signature over PAE(type, statement) with k.pub" \
  openssl dgst -sha256 -verify k.pub -signature sig.der pae.bin
check "  and refuses it with another key" bash -c "! openssl dgst -sha256 -verify other.pub -signature sig.der pae.bin"
check "  and over the statement alone (PAE is what is signed)" bash -c "! openssl dgst -sha256 -verify k.pub -signature sig.der statement.json"
sjs "sigstore-js reads the bundle and verifies it with k.pub" "$B" k.pub
sjs_refuses "  and refuses it with another key" "$B" other.pub

check "verify accepts the bundle" bash -c "'$AMLPKG' verify ridge.tar --key k.pub > verify.out"
check "  and says it was a bundle" grep -q "^verified: ridge:1 (sigstore bundle)" verify.out
check "verify --json names the form" bash -c \
  "'$AMLPKG' verify ridge.tar --key k.pub --json | jq -e '.verified and .signatures[0].form == \"bundle\" and .signatures[0].good'"
check_fails "verify refuses another key" "none of the 1 signature.*verifies" "$AMLPKG" verify ridge.tar --key other.pub
check_fails "verify refuses an unsigned image" "is not signed .* has no signature bundle" "$AMLPKG" verify unsigned.tar --key k.pub
check_exit "sign --format nonsense is a usage error" 2 "$AMLPKG" sign ridge.tar --format nonsense --key k.key
check "a second bundle (Ed25519) is added beside the first" bash -c \
  "'$AMLPKG' sign ridge.tar --format bundle --key ed.key >/dev/null &&
   tar xOf ridge.tar index.json | jq -e '.manifests[0].annotations[\"com.amlpkg.bundles\"] | split(\",\") | length == 2'"
check "  each key verifies its own" bash -c "'$AMLPKG' verify ridge.tar --key ed.pub | grep -q '1 of 2 signatures verified' &&
  '$AMLPKG' verify ridge.tar --key k.pub | grep -q '1 of 2 signatures verified'"
rm -rf a && mkdir a && tar xf ridge.tar -C a
edref=$(jq -r '.manifests[0].annotations["com.amlpkg.bundles"] | split(",")[1]' a/index.json)
EB=$(blob a "$(jq -r '.layers[0].digest' "$(blob a "$edref")")")
jq -r .dsseEnvelope.payload "$EB" | base64 -d > ed-statement.json
pae "$(jq -r .dsseEnvelope.payloadType "$EB")" ed-statement.json > ed-pae.bin
jq -r '.dsseEnvelope.signatures[0].sig' "$EB" | base64 -d > ed-sig.bin
check "openssl verifies the Ed25519 DSSE signature over PAE" \
  openssl pkeyutl -verify -pubin -inkey ed.pub -rawin -in ed-pae.bin -sigfile ed-sig.bin
sjs "sigstore-js verifies the Ed25519 bundle" "$EB" ed.pub

# ---- tampering ---------------------------------------------------------------------------------------
# edit ROOT PYTHON: runs PYTHON with root, blob(d), put(bytes) -> (digest, size) and idx (index.json, saved after).
edit() {
  "$PY" - "$1" <<PY
import base64, hashlib, json, os, sys
root = sys.argv[1]
def blob(d): return os.path.join(root, "blobs/sha256", d.split(":")[1])
def put(data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    open(blob(d), "wb").write(data)
    return d, len(data)
idx = json.load(open(os.path.join(root, "index.json")))
$2
json.dump(idx, open(os.path.join(root, "index.json"), "w"))
PY
}
mkdir lay && "$AMLPKG" build "$EX/spec.yaml" --format oci-layout -o lay >/dev/null 2>&1
"$AMLPKG" sign lay --format bundle --key k.key >/dev/null
check "a layout: the bundle is an index entry beside the image" jq -e --arg b "$BUNDLE" --arg d "$digest" \
  '[.manifests[] | select(.artifactType == $b and .annotations["com.amlpkg.artifact.for"] == $d)] | length == 1' lay/index.json
check "  verify accepts it" "$AMLPKG" verify lay --key k.pub
# One byte of the image manifest changed (the image entry now names the changed manifest): the bundle
# names the old digest.
cp -r lay changed
edit changed '
e = next(m for m in idx["manifests"] if "artifactType" not in m)
old = open(blob(e["digest"]), "rb").read()
new = old[:-1] + (b" " if old[-1:] != b" " else b"\n")
for m in idx["manifests"]:
    if m.get("annotations", {}).get("com.amlpkg.artifact.for") == e["digest"]:
        m["annotations"]["com.amlpkg.artifact.for"], _ = put(new)
e["digest"], e["size"] = put(new)'
check "  (the changed manifest differs from the signed one in one byte)" bash -c \
  "cmp -l '$(blob lay "$digest")' \"\$(jq -r '.manifests[] | select(.artifactType == null) | .digest' changed/index.json | sed 's|sha256:|changed/blobs/sha256/|')\" | wc -l | grep -qx 1"
check_fails "verify refuses one byte of the manifest changed" "its subject does not name sha256:" "$AMLPKG" verify changed --key k.pub
# The statement re-encoded with another subject digest: the signature no longer holds.
cp -r lay tampered
edit tampered '
e = next(m for m in idx["manifests"] if m.get("artifactType") == "'"$BUNDLE"'")
man = json.load(open(blob(e["digest"])))
b = json.load(open(blob(man["layers"][0]["digest"])))
st = json.loads(base64.b64decode(b["dsseEnvelope"]["payload"]))
st["subject"][0]["name"] = "evil.example/other:1"
b["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(st).encode()).decode()
man["layers"][0]["digest"], man["layers"][0]["size"] = put(json.dumps(b).encode())
e["digest"], e["size"] = put(json.dumps(man).encode())'
check_fails "verify refuses a changed statement" "not signed by key .* statement was changed" "$AMLPKG" verify tampered --key k.pub

# ---- a message-signature bundle, as another tool writes it -----------------------------------------
mkdir msg && "$AMLPKG" build "$EX/spec.yaml" --format oci-layout -o msg >/dev/null 2>&1
openssl dgst -sha256 -sign k.key -out msg.sig "$(blob msg "$digest")"
edit msg '
mbytes = open(blob("'"$digest"'"), "rb").read()
b = {"mediaType": "'"$BUNDLE"'", "verificationMaterial": {"publicKey": {"hint": "k"}},
     "messageSignature": {"messageDigest": {"algorithm": "SHA2_256", "digest": base64.b64encode(hashlib.sha256(mbytes).digest()).decode()},
                          "signature": base64.b64encode(open("msg.sig", "rb").read()).decode()}}
bd, bs = put(json.dumps(b).encode())
cd, cs = put(b"{}")
man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "artifactType": "'"$BUNDLE"'",
       "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": cd, "size": cs},
       "layers": [{"mediaType": "'"$BUNDLE"'", "digest": bd, "size": bs}],
       "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "'"$digest"'", "size": len(mbytes)}}
md, ms = put(json.dumps(man).encode())
idx["manifests"].append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
                         "artifactType": "'"$BUNDLE"'", "annotations": {"com.amlpkg.artifact.for": "'"$digest"'"}})'
check "a message-signature bundle (openssl over the manifest) validates against the schema" bash -c \
  "valid() { '$PY' -c 'import json, sys, jsonschema
jsonschema.Draft202012Validator(json.load(open(sys.argv[2]))).validate(json.load(open(sys.argv[1])))' \"\$1\" '$SCHEMA'; }
   for f in msg/blobs/sha256/*; do jq -e 'has(\"messageSignature\")' \$f >/dev/null 2>&1 && { valid \$f || exit 1; }; done; true"
MB=$(for f in msg/blobs/sha256/*; do jq -e 'has("messageSignature")' "$f" >/dev/null 2>&1 && echo "$f"; done)
sjs "sigstore-js verifies that bundle over the manifest bytes (the test's bundle is sound)" "$MB" k.pub "$(blob msg "$digest")"
check "verify accepts it" bash -c "'$AMLPKG' verify msg --key k.pub | grep -q '1 of 1 signature verified'"
check_fails "  and refuses it with another key" "not signed by key .* manifest was changed" "$AMLPKG" verify msg --key other.pub

# ---- build --sign: both forms by default, or bundles only ---------------------------------------------
check "build --sign (default format both) into an oci-archive" bash -c \
  "'$AMLPKG' build '$EX/spec.yaml' -o both.tar --sign k.key >/dev/null 2>&1"
check "  the archive names the .sig manifest, the DSSE provenance and two bundles" bash -c \
  "tar xOf both.tar index.json | jq -e '.manifests[0].annotations | has(\"com.amlpkg.signatures\") and has(\"com.amlpkg.provenance\") and
   (.[\"com.amlpkg.bundles\"] | split(\",\") | length == 2)'"
check "  verify: 2 of 2 signatures, and the provenance" bash -c \
  "'$AMLPKG' verify both.tar --key k.pub --provenance > both.out && grep -q '2 of 2 signatures verified' both.out && grep -q '^provenance: verified (2 attestations, 2 good)' both.out"
mkdir bl && check "build --sign --sign-format bundle into a layout" bash -c \
  "'$AMLPKG' build '$EX/spec.yaml' --format oci-layout -o bl --sign ed.key --sign-format bundle >/dev/null 2>&1"
check "  only bundles: no .sig and no in-toto entry" jq -e --arg b "$BUNDLE" \
  '([.manifests[] | select(.artifactType == $b)] | length == 2) and
   ([.manifests[] | select(.artifactType == "application/vnd.in-toto+json" or .artifactType == "application/vnd.dev.cosign.artifact.sig.v1+json")] | length == 0)' bl/index.json
check "  verify --provenance finds the SLSA statement in a bundle" bash -c \
  "'$AMLPKG' verify bl --key ed.pub --provenance | grep -q '^provenance: verified (1 attestation, 1 good)'"
pref=$(jq -r --arg b "$BUNDLE" '.manifests[] | select(.artifactType == $b) | .digest' bl/index.json |
  while read -r d; do jq -e '.annotations["dev.sigstore.bundle.predicateType"] == "https://slsa.dev/provenance/v1"' "$(blob bl "$d")" >/dev/null && echo "$d"; done)
PB=$(blob bl "$(jq -r '.layers[0].digest' "$(blob bl "$pref")")")
check "  the provenance bundle validates against the schema" valid "$PB"
jq -r .dsseEnvelope.payload "$PB" | base64 -d > prov.json
pae "$(jq -r .dsseEnvelope.payloadType "$PB")" prov.json > prov-pae.bin
jq -r '.dsseEnvelope.signatures[0].sig' "$PB" | base64 -d > prov-sig.bin
check "  openssl verifies its DSSE signature (Ed25519) over PAE" \
  openssl pkeyutl -verify -pubin -inkey ed.pub -rawin -in prov-pae.bin -sigfile prov-sig.bin
sjs "  sigstore-js verifies the provenance bundle" "$PB" ed.pub
check "  its statement is SLSA provenance v1 of the image" jq -e --arg h "$(jq -r '.manifests[] | select(.artifactType == null) | .digest' bl/index.json | cut -d: -f2)" \
  '.predicateType == "https://slsa.dev/provenance/v1" and .subject[0].digest.sha256 == $h' prov.json
check_fails "verify --provenance refuses another key (its signature bundle good)" "no provenance of .* verifies" \
  bash -c "'$AMLPKG' sign bl --format bundle --key k.key >/dev/null && '$AMLPKG' verify bl --key k.pub --provenance"
check_exit "build --sign-format nonsense is a usage error" 2 "$AMLPKG" build "$EX/spec.yaml" -o x.tar --sign k.key --sign-format nonsense
check "no private key text in any output or archive" bash -c "
  for k in k.key ed.key; do line=\$(sed -n 2p \$k); ! grep -rFq \"\$line\" sign.out verify.out both.out both.tar bl || exit 1; done"
