#!/usr/bin/env bash
# amlpkg keygen, sign and verify on oci-archives and OCI layouts: key files and their modes,
# cosign's simple-signing payload and signature manifest (checked with jq and the openssl CLI,
# not with amlpkg), what verify accepts and refuses, and clear errors for bad keys and passphrases.
# The tag form is what these tests look at (--format tag); the bundle form is 36-sign-bundle.sh.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples/onnx-ridge"
cd "$WORK"
# No terminal: a passphrase comes from the environment only (setsid drops the controlling tty).
nt() { setsid -w "$@" </dev/null; }
unset AMLPKG_SIGNING_PASSWORD

# ---- keygen -----------------------------------------------------------------------------------
check "keygen writes an encrypted P-256 pair" env AMLPKG_SIGNING_PASSWORD=s3cret "$AMLPKG" keygen k
check "the private key is PKCS#8, encrypted" grep -qx -- '-----BEGIN ENCRYPTED PRIVATE KEY-----' k.key
check "the private key is mode 0600" test "$(stat -c %a k.key)" = 600
check "the public key is PEM PKIX" grep -qx -- '-----BEGIN PUBLIC KEY-----' k.pub
check "openssl reads the pair as P-256" bash -c "openssl pkey -in k.key -passin pass:s3cret -noout -text | grep -q 'NIST CURVE: P-256'"
check "the public key is the private key's" bash -c "cmp <(openssl pkey -in k.key -passin pass:s3cret -pubout) k.pub"
check_fails "keygen refuses to replace a key" "k.key: exists already" env AMLPKG_SIGNING_PASSWORD=x "$AMLPKG" keygen k
check "keygen --force replaces it" env AMLPKG_SIGNING_PASSWORD=s3cret "$AMLPKG" keygen --force k
check "an empty passphrase leaves the key unencrypted" env AMLPKG_SIGNING_PASSWORD= "$AMLPKG" keygen plain
check "  (PRIVATE KEY, not ENCRYPTED)" grep -qx -- '-----BEGIN PRIVATE KEY-----' plain.key
check "no passphrase and no terminal: unencrypted too" nt "$AMLPKG" keygen notty
check "keygen --algorithm ed25519" env AMLPKG_SIGNING_PASSWORD= "$AMLPKG" keygen --algorithm ed25519 ed
check "  openssl reads it as ED25519" bash -c "openssl pkey -in ed.key -noout -text | grep -qi 'ED25519'"
check_exit "keygen --algorithm rsa is a usage error" 2 "$AMLPKG" keygen --algorithm rsa r
check "the default prefix is cosign" bash -c "mkdir -p d && cd d && AMLPKG_SIGNING_PASSWORD= '$AMLPKG' keygen >/dev/null && test -f cosign.key -a -f cosign.pub"
if command -v script >/dev/null; then
  # On a terminal (script gives one) the passphrase is asked for: twice for a new key.
  check "keygen asks for the passphrase on a terminal, twice" bash -c \
    "printf 'ttypw\nttypw\n' | script -qec '$AMLPKG keygen tty' /dev/null >/dev/null && grep -q 'ENCRYPTED PRIVATE KEY' tty.key &&
     openssl pkey -in tty.key -passin pass:ttypw -noout"
  check "  different answers are refused, and nothing is written" \
    bash -c "printf 'a\nb\n' | script -qec '$AMLPKG keygen tty2' /dev/null | grep -q 'passphrases do not match' && test ! -e tty2.key"
else
  skip "script (util-linux) is not installed: no terminal for the passphrase prompt"
fi
check "keygen --help documents AMLPKG_SIGNING_PASSWORD" bash -c "'$AMLPKG' keygen --help | grep -q AMLPKG_SIGNING_PASSWORD"

# ---- sign an oci-archive ------------------------------------------------------------------------
"$AMLPKG" build "$EX/spec.yaml" -o ridge.tar >/dev/null
cp ridge.tar unsigned.tar
if command -v script >/dev/null; then
  cp unsigned.tar tty.tar
  check "sign asks for the passphrase on a terminal" bash -c \
    "printf 'ttypw\n' | script -qec '$AMLPKG sign tty.tar --key tty.key' /dev/null | grep -q '^digest ' && '$AMLPKG' verify tty.tar --key tty.pub"
fi
digest=$(tar xOf ridge.tar index.json | jq -r '.manifests[0].digest')
check "sign loads libcrypto (and version does not)" bash -c "
  AMLPKG_SIGNING_PASSWORD=s3cret LD_DEBUG=libs '$AMLPKG' sign ridge.tar --format tag --key k.key --identity reg.example/team/ridge:1 2>sign.libs >sign.out &&
  grep -q libcrypto sign.libs &&
  ! LD_DEBUG=libs '$AMLPKG' version 2>&1 >/dev/null | grep -q libcrypto"
check "sign reports the digest" grep -qx "digest $digest" sign.out
check "the image keeps its digest" test "$(tar xOf ridge.tar index.json | jq -r '.manifests[0].digest')" = "$digest"
check "index.json still lists one image (podman load takes it)" test "$(tar xOf ridge.tar index.json | jq '.manifests | length')" = 1
mkdir x && tar xf ridge.tar -C x
sig=$(jq -r '.manifests[0].annotations["com.amlpkg.signatures"]' x/index.json)
check "the image entry names the signature manifest" test -f "x/blobs/sha256/${sig#sha256:}"
layer=$(jq -c '.layers[0]' "x/blobs/sha256/${sig#sha256:}")
payload="x/blobs/sha256/$(jq -r .digest <<<"$layer" | cut -d: -f2)"
check "the layer is a simple-signing payload" test "$(jq -r .mediaType <<<"$layer")" = application/vnd.dev.cosign.simplesigning.v1+json
check "payload: critical.type" test "$(jq -r .critical.type "$payload")" = "cosign container image signature"
check "payload: critical.image.docker-manifest-digest" test "$(jq -r '.critical.image["docker-manifest-digest"]' "$payload")" = "$digest"
check "payload: critical.identity.docker-reference" test "$(jq -r '.critical.identity["docker-reference"]' "$payload")" = reg.example/team/ridge:1
check "payload: optional.creator and timestamp" jq -e '(.optional.creator | startswith("amlpkg")) and (.optional.timestamp > 1600000000)' "$payload"
jq -r '.annotations["dev.cosignproject.cosign/signature"]' <<<"$layer" | base64 -d > sig.der
check "openssl verifies the signature over the payload with k.pub" openssl dgst -sha256 -verify k.pub -signature sig.der "$payload"
check "openssl refuses it with another key" bash -c "! openssl dgst -sha256 -verify plain.pub -signature sig.der '$payload'"
check "the signed archive still holds every blob its image names (large ones are read on demand)" bash -c "
  m=\$(tar -xOf ridge.tar index.json | jq -r '.manifests[0].digest' | cut -d: -f2) &&
  for d in \$(tar -xOf ridge.tar blobs/sha256/\$m | jq -r '.config.digest, .layers[].digest' | cut -d: -f2); do
    tar -tf ridge.tar blobs/sha256/\$d >/dev/null || exit 1; done"
if command -v skopeo >/dev/null; then
  check "skopeo still reads the signed archive" test "$(skopeo inspect oci-archive:ridge.tar | jq -r .Digest)" = "$digest"
else
  skip "skopeo is not installed"
fi

# ---- verify ------------------------------------------------------------------------------------
check "verify accepts it" "$AMLPKG" verify ridge.tar --key k.pub
check "verify says who, what and when" bash -c "'$AMLPKG' verify ridge.tar --key k.pub | grep -q '^verified: reg.example/team/ridge:1' &&
  '$AMLPKG' verify ridge.tar --key k.pub | grep -Eq 'signed +20[0-9-]+T[0-9:]+Z by amlpkg'"
check "verify reads skopeo's transport prefix: oci-archive:PATH" "$AMLPKG" verify oci-archive:ridge.tar --key k.pub
cp unsigned.tar prefixed.tar
check "sign oci-archive:PATH rewrites PATH itself (no file named after the prefix)" bash -c "
  '$AMLPKG' sign oci-archive:prefixed.tar --format tag --key plain.key --identity reg.example/team/ridge:1 >/dev/null &&
  [ ! -e oci-archive:prefixed.tar ] && '$AMLPKG' verify prefixed.tar --key plain.pub >/dev/null"
check "verify --json" bash -c "'$AMLPKG' verify ridge.tar --key k.pub --json | jq -e '.verified and .digest == \"$digest\" and .signatures[0].good'"
check_fails "verify refuses another key" "none of the 1 signature" "$AMLPKG" verify ridge.tar --key plain.pub
check_fails "verify refuses an unsigned image" "is not signed" "$AMLPKG" verify unsigned.tar --key k.pub
check_exit "verify without --key is a usage error" 2 "$AMLPKG" verify ridge.tar
check "a second key adds a second signature" bash -c "'$AMLPKG' sign ridge.tar --format tag --key ed.key | grep -q '(2 signatures)'"
check "  each key verifies its own" bash -c "'$AMLPKG' verify ridge.tar --key ed.pub | grep -q '1 of 2 signatures verified' &&
  '$AMLPKG' verify ridge.tar --key k.pub | grep -q '1 of 2 signatures verified'"
check "  the default identity is the image's name" bash -c "'$AMLPKG' verify ridge.tar --key ed.pub | grep -q '^verified: ridge:1$'"

# ---- keys and passphrases ----------------------------------------------------------------------
check_fails "a wrong passphrase is named" "wrong passphrase" env AMLPKG_SIGNING_PASSWORD=nope "$AMLPKG" sign unsigned.tar --key k.key
check_fails "an encrypted key with no passphrase and no terminal" "encrypted; set AMLPKG_SIGNING_PASSWORD" nt "$AMLPKG" sign unsigned.tar --key k.key
printf -- '-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n' > bad.key
check_fails "a malformed key" "bad.key: not a PEM private key" "$AMLPKG" sign unsigned.tar --key bad.key
check_fails "a public key is no signing key" "k.pub: no PEM private key" "$AMLPKG" sign unsigned.tar --key k.pub
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out p384.key 2>/dev/null
check_fails "an unsupported curve" "unsupported curve 'secp384r1'" "$AMLPKG" sign unsigned.tar --key p384.key
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key 2>/dev/null
check_fails "an RSA key" "unsupported key type" "$AMLPKG" sign unsigned.tar --key rsa.key
# cosign's own encrypted key format, written independently of amlpkg (libsodium's secretbox through
# PyNaCl, Python's scrypt): amlpkg decrypts it and signs; openssl checks the signature with the
# public half of the key that went in.
if "$PY" -c 'import nacl.secret' 2>/dev/null; then
  "$PY" "$ROOT/tests/cli/cosign_key.py" plain.key cosign.key cpw
  "$PY" "$ROOT/tests/cli/cosign_key.py" ed.key cosign-ed.key "" "ENCRYPTED COSIGN PRIVATE KEY"
  cp unsigned.tar cos.tar
  check "sign with cosign's encrypted key (ENCRYPTED SIGSTORE PRIVATE KEY)" \
    env AMLPKG_SIGNING_PASSWORD=cpw "$AMLPKG" sign cos.tar --format tag --key cosign.key
  mkdir cx && tar xf cos.tar -C cx
  cman="cx/blobs/sha256/$(jq -r '.manifests[0].annotations["com.amlpkg.signatures"]' cx/index.json | cut -d: -f2)"
  jq -r '.layers[0].annotations["dev.cosignproject.cosign/signature"]' "$cman" | base64 -d > cos.sig
  check "  openssl verifies that signature with the original key's public half" \
    openssl dgst -sha256 -verify plain.pub -signature cos.sig "cx/blobs/sha256/$(jq -r '.layers[0].digest' "$cman" | cut -d: -f2)"
  check "  verify --key cosign.key reads its public half" env AMLPKG_SIGNING_PASSWORD=cpw "$AMLPKG" verify cos.tar --key cosign.key
  check "  COSIGN_PASSWORD is read when AMLPKG_SIGNING_PASSWORD is not set" \
    env -u AMLPKG_SIGNING_PASSWORD COSIGN_PASSWORD=cpw setsid -w "$AMLPKG" sign cos.tar --format tag --key cosign.key </dev/null
  check "an Ed25519 cosign key with an empty passphrase (ENCRYPTED COSIGN PRIVATE KEY)" bash -c \
    "AMLPKG_SIGNING_PASSWORD= '$AMLPKG' sign cos.tar --format tag --key cosign-ed.key >/dev/null && '$AMLPKG' verify cos.tar --key ed.pub"
  check_fails "  a wrong passphrase is named" "cosign.key: wrong passphrase" \
    env AMLPKG_SIGNING_PASSWORD=nope "$AMLPKG" sign cos.tar --key cosign.key
  check_fails "  no passphrase and no terminal" "cosign's key is encrypted; set AMLPKG_SIGNING_PASSWORD" \
    nt env -u COSIGN_PASSWORD "$AMLPKG" sign cos.tar --key cosign.key
  # keygen --format cosign writes that format: opened by the independent reader (what cosign sign
  # --key does), its public half is the .pub keygen wrote.
  check "keygen --format cosign" bash -c "AMLPKG_SIGNING_PASSWORD=kpw '$AMLPKG' keygen --format cosign gen >/dev/null &&
    head -1 gen.key | grep -qx -- '-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----' && [ \$(stat -c %a gen.key) = 600 ]"
  check "  PyNaCl and Python's scrypt open it; its public half is gen.pub" bash -c \
    "'$PY' '$ROOT/tests/cli/cosign_key.py' --open gen.key gen-open.pem kpw && openssl pkey -in gen-open.pem -pubout | cmp - gen.pub"
  check "  amlpkg signs with it and verifies with gen.pub" bash -c \
    "cp unsigned.tar gen.tar && AMLPKG_SIGNING_PASSWORD=kpw '$AMLPKG' sign gen.tar --key gen.key >/dev/null && '$AMLPKG' verify gen.tar --key gen.pub >/dev/null"
  check "  an empty passphrase still seals it, as cosign does" bash -c "AMLPKG_SIGNING_PASSWORD= '$AMLPKG' keygen --format cosign gen-empty >/dev/null &&
    '$PY' '$ROOT/tests/cli/cosign_key.py' --open gen-empty.key gen-empty.pem ''"
  check_exit "  keygen --format other is a usage error" 2 "$AMLPKG" keygen --format jwk nope
  # One byte of the sealed key changed: Poly1305 refuses the box, as for a wrong passphrase.
  "$PY" - cosign.key damaged.key <<'PY'
import base64, json, sys
lines = open(sys.argv[1]).read().splitlines()
doc = json.loads(base64.b64decode("".join(lines[1:-1])))
box = bytearray(base64.b64decode(doc["ciphertext"])); box[20] ^= 1
doc["ciphertext"] = base64.b64encode(bytes(box)).decode()
open(sys.argv[2], "w").write(lines[0] + "\n" + base64.b64encode(json.dumps(doc).encode()).decode() + "\n" + lines[-1] + "\n")
doc["kdf"]["params"]["N"] = 1 << 24
open("greedy.key", "w").write(lines[0] + "\n" + base64.b64encode(json.dumps(doc).encode()).decode() + "\n" + lines[-1] + "\n")
doc["kdf"]["params"]["N"] = 32768; doc["cipher"]["name"] = "aes-gcm"
open("othercipher.key", "w").write(lines[0] + "\n" + base64.b64encode(json.dumps(doc).encode()).decode() + "\n" + lines[-1] + "\n")
PY
  check_fails "  a changed byte of the sealed key is refused" "damaged.key: wrong passphrase, or the encrypted key is damaged" \
    env AMLPKG_SIGNING_PASSWORD=cpw "$AMLPKG" sign cos.tar --key damaged.key
  check_fails "  scrypt parameters far beyond cosign's are refused before any work" "greedy.key: kdf.params.N: an integer from 1 to 262144" \
    env AMLPKG_SIGNING_PASSWORD=cpw "$AMLPKG" sign cos.tar --key greedy.key
  check_fails "  another cipher is named" "othercipher.key: cipher.name: 'aes-gcm' is not supported" \
    env AMLPKG_SIGNING_PASSWORD=cpw "$AMLPKG" sign cos.tar --key othercipher.key
else
  skip "python3-nacl is not installed: no independent writer of cosign's key format"
fi
printf -- '-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\ne30=\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n' > cosign-format.key
check_fails "a malformed cosign key is named" "cosign-format.key: kdf.name" "$AMLPKG" sign unsigned.tar --key cosign-format.key
check_fails "a missing key file" "nokey.key" "$AMLPKG" sign unsigned.tar --key nokey.key
check "the signing key is in no output and not in the archive" bash -c "
  for f in sign.out last.out; do ! grep -Fq \"\$(sed -n 2p k.key)\" \$f || exit 1; done
  ! grep -aFq \"\$(sed -n 2p k.key)\" ridge.tar && ! grep -aFq \"\$(sed -n 2p ed.key)\" ridge.tar"
"$AMLPKG" build "$EX/spec.yaml" --format docker-archive -o docker.tar >/dev/null 2>&1
if [ -f docker.tar ]; then
  check_fails "a docker-archive is refused with a reason" "docker-archive has no place" "$AMLPKG" sign docker.tar --key plain.key
else
  skip "no docker-archive output"
fi

# ---- OCI layout; tampering ---------------------------------------------------------------------
mkdir lay && "$AMLPKG" build "$EX/spec.yaml" --format oci-layout -o lay >/dev/null
check "sign a layout" "$AMLPKG" sign lay --format tag --key plain.key --identity reg.example/team/ridge:1
check "... and verify names it as oci:DIR too" "$AMLPKG" verify oci:lay --key plain.pub
check "verify it (DIR and DIR:NAME:TAG)" bash -c "'$AMLPKG' verify lay --key plain.pub && '$AMLPKG' verify lay:ridge:1 --key plain.pub"
check "the layout keeps its SBOM entry beside the signature" \
  jq -e '[.manifests[].artifactType] | index("application/spdx+json") and index("application/vnd.dev.cosign.artifact.sig.v1+json")' lay/index.json
# A changed payload (another digest), its blob and manifest rewritten consistently: the signature no longer matches.
cp -r lay tampered
/usr/bin/python3 - tampered <<'PY'
import hashlib, json, os, sys
root = sys.argv[1]
def blob(d): return os.path.join(root, "blobs/sha256", d.split(":")[1])
def put(data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    open(blob(d), "wb").write(data)
    return d, len(data)
idx = json.load(open(os.path.join(root, "index.json")))
e = next(m for m in idx["manifests"] if m.get("artifactType") == "application/vnd.dev.cosign.artifact.sig.v1+json")
man = json.load(open(blob(e["digest"])))
p = json.load(open(blob(man["layers"][0]["digest"])))
p["critical"]["identity"]["docker-reference"] = "evil.example/other:1"
man["layers"][0]["digest"], man["layers"][0]["size"] = put(json.dumps(p).encode())
e["digest"], e["size"] = put(json.dumps(man).encode())
json.dump(idx, open(os.path.join(root, "index.json"), "w"))
PY
check_fails "a changed payload is refused" "not signed by key .* the payload was changed" "$AMLPKG" verify tampered --key plain.pub
# A good signature of another image, put beside this one: refused for the digest it names.
mkdir other && "$AMLPKG" build "$EX/spec.yaml" --format oci-layout -o other --tag ridge:2 >/dev/null 2>&1 ||
  { rm -rf other; mkdir other; SOURCE_DATE_EPOCH=1700000000 "$AMLPKG" build "$EX/spec.yaml" --format oci-layout -o other >/dev/null; }
"$AMLPKG" sign other --format tag --key plain.key --identity reg.example/team/ridge:1 >/dev/null
cp -r lay grafted
/usr/bin/python3 - grafted other <<'PY'
import json, os, shutil, sys
dst, src = sys.argv[1], sys.argv[2]
T = "application/vnd.dev.cosign.artifact.sig.v1+json"
for b in os.listdir(os.path.join(src, "blobs/sha256")):
    if not os.path.exists(os.path.join(dst, "blobs/sha256", b)):
        shutil.copy(os.path.join(src, "blobs/sha256", b), os.path.join(dst, "blobs/sha256", b))
di, si = json.load(open(os.path.join(dst, "index.json"))), json.load(open(os.path.join(src, "index.json")))
mine = next(m for m in di["manifests"] if m.get("artifactType") == T)
theirs = next(m for m in si["manifests"] if m.get("artifactType") == T)
mine["digest"], mine["size"] = theirs["digest"], theirs["size"]
json.dump(di, open(os.path.join(dst, "index.json"), "w"))
PY
check_fails "another image's signature is refused (digest mismatch)" "signs manifest sha256:[0-9a-f]+, but the image is $digest" \
  "$AMLPKG" verify grafted --key plain.pub
check "help lists keygen, sign and verify" bash -c "'$AMLPKG' help | grep -q '^  keygen' && '$AMLPKG' help | grep -q '^  sign' && '$AMLPKG' help | grep -q '^  verify'"
check_exit "sign without --key is a usage error" 2 "$AMLPKG" sign ridge.tar

# ---- build --sign: signature and SLSA provenance ---------------------------------------------------
check "build --sign signs the archive and attaches its provenance" bash -c \
  "'$AMLPKG' build '$EX/spec.yaml' -o built.tar --sign ed.key >built.out 2>built.err &&
   grep -q '^signed ' built.err && grep -q '^attached the SLSA provenance' built.err"
check "verify --provenance accepts it" bash -c "'$AMLPKG' verify built.tar --key ed.pub --provenance > prov.out"
check "  and prints builder, spec digest and environment key" bash -c "
  grep -q '^provenance: verified' prov.out && grep -q 'builder  urn:amlpkg:builder' prov.out &&
  grep -q \"sha256:\$(sha256sum '$EX/spec.yaml' | cut -d' ' -f1)\" prov.out"
check "the signed archive still lists one image" test "$(tar xOf built.tar index.json | jq '.manifests | length')" = 1
mkdir p && tar xf built.tar -C p
att=$(jq -r '.manifests[0].annotations["com.amlpkg.provenance"]' p/index.json)
check "the image entry names the attestation manifest" test -f "p/blobs/sha256/${att#sha256:}"
check "  an in-toto referrer whose subject is the image" jq -e --arg d "$(jq -r '.manifests[0].digest' p/index.json)" \
  '.artifactType == "application/vnd.in-toto+json" and .subject.digest == $d and .layers[0].mediaType == "application/vnd.dsse.envelope.v1+json"' \
  "p/blobs/sha256/${att#sha256:}"
envelope="p/blobs/sha256/$(jq -r '.layers[0].digest' "p/blobs/sha256/${att#sha256:}" | cut -d: -f2)"
jq -r .payload "$envelope" | base64 -d > statement.json
bdigest=$(jq -r '.manifests[0].digest' p/index.json)
bconfig=$(jq -r .config.digest "p/blobs/sha256/${bdigest#sha256:}")
check "statement: in-toto v1, SLSA provenance v1, subject the image" jq -e --arg h "${bdigest#sha256:}" \
  '._type == "https://in-toto.io/Statement/v1" and .predicateType == "https://slsa.dev/provenance/v1" and .subject[0].digest.sha256 == $h' statement.json
check "statement: the spec by digest" test "$(jq -r .predicate.buildDefinition.externalParameters.spec.digest.sha256 statement.json)" = \
  "$(sha256sum "$EX/spec.yaml" | cut -d' ' -f1)"
check "statement: the environment key is the image's label" test "$(jq -r .predicate.buildDefinition.internalParameters.environmentKey statement.json)" = \
  "$(jq -r '.config.Labels["com.amlpkg.environment-key"]' "p/blobs/sha256/${bconfig#sha256:}")"
check "statement: the model by the digest of its bytes" bash -c "jq -e --arg h \"\$(sha256sum '$EX/model.onnx' | cut -d' ' -f1)\" \
  '.predicate.buildDefinition.resolvedDependencies | any(.annotations.kind == \"model\" and .digest.sha256 == \$h)' statement.json"
check "statement: amlserve by digest, and what it was built from" jq -e \
  '[.predicate.buildDefinition.resolvedDependencies[].annotations.kind] | index("amlserve") and index("amlserve-build-input")' statement.json
# The DSSE signature, checked with openssl over the pre-authentication encoding.
type=$(jq -r .payloadType "$envelope")
{ printf 'DSSEv1 %d %s %d ' "${#type}" "$type" "$(stat -c %s statement.json)"; cat statement.json; } > pae.bin
jq -r '.signatures[0].sig' "$envelope" | base64 -d > dsse.sig
check "openssl verifies the DSSE signature over PAE(type, statement)" \
  openssl pkeyutl -verify -pubin -inkey ed.pub -rawin -in pae.bin -sigfile dsse.sig
check_fails "verify --provenance refuses another key" "no provenance of .* verifies" \
  bash -c "'$AMLPKG' sign built.tar --key plain.key >/dev/null && '$AMLPKG' verify built.tar --key plain.pub --provenance"
check_fails "verify --provenance refuses an image without one" "has no provenance attestation" \
  "$AMLPKG" verify ridge.tar --key k.pub --provenance
# A changed statement (another spec digest), re-encoded into the envelope: the signature no longer holds.
mkdir bl && "$AMLPKG" build "$EX/spec.yaml" --format oci-layout -o bl --sign ed.key --sign-format tag >/dev/null 2>&1
check "build --sign into a layout; verify --provenance" "$AMLPKG" verify bl --key ed.pub --provenance
/usr/bin/python3 - bl <<'PY'
import base64, hashlib, json, os, sys
root = sys.argv[1]
def blob(d): return os.path.join(root, "blobs/sha256", d.split(":")[1])
def put(data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    open(blob(d), "wb").write(data)
    return d, len(data)
idx = json.load(open(os.path.join(root, "index.json")))
e = next(m for m in idx["manifests"] if m.get("artifactType") == "application/vnd.in-toto+json")
man = json.load(open(blob(e["digest"])))
env = json.load(open(blob(man["layers"][0]["digest"])))
st = json.loads(base64.b64decode(env["payload"]))
st["predicate"]["buildDefinition"]["externalParameters"]["spec"]["digest"]["sha256"] = "0" * 64
env["payload"] = base64.b64encode(json.dumps(st).encode()).decode()
man["layers"][0]["digest"], man["layers"][0]["size"] = put(json.dumps(env).encode())
e["digest"], e["size"] = put(json.dumps(man).encode())
json.dump(idx, open(os.path.join(root, "index.json"), "w"))
PY
check_fails "a changed statement is refused" "not signed by key .* statement was changed" "$AMLPKG" verify bl --key ed.pub --provenance
check "--git-labels puts the revision into the provenance" bash -c "
  '$AMLPKG' build '$EX/spec.yaml' -o git.tar --git-labels --sign ed.key >/dev/null 2>&1 &&
  '$AMLPKG' verify git.tar --key ed.pub --provenance | grep -q \"revision \$(git -C '$ROOT' rev-parse HEAD)\""
check_exit "build --sign with a docker-archive is a usage error" 2 "$AMLPKG" build "$EX/spec.yaml" --format docker-archive -o d2.tar --sign ed.key
