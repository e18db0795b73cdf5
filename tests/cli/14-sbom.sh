#!/usr/bin/env bash
# The SPDX 2.3 SBOM written beside every image: what it lists, that it is
# consistent and reproducible, and --no-sbom.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples/onnx-ridge"
digest=$("$AMLPKG" build "$EX/spec.yaml" -o "$WORK/r.tar" | tail -1)
check "build writes OUTPUT.spdx.json beside the image" test -s "$WORK/r.tar.spdx.json"
check "the SBOM is consistent SPDX 2.3 and lists the image, amlserve, its static libraries and the model" \
  "$PY" - "$WORK/r.tar.spdx.json" "$digest" "$EX/model.onnx" "$AMLSERVE" <<'PYEOF'
import hashlib, json, sys
doc = json.load(open(sys.argv[1]))
digest, model, amlserve = sys.argv[2], sys.argv[3], sys.argv[4]
sha = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()
assert doc["spdxVersion"] == "SPDX-2.3" and doc["dataLicense"] == "CC0-1.0" and doc["SPDXID"] == "SPDXRef-DOCUMENT"
assert doc["documentNamespace"].endswith(digest[7:]), doc["documentNamespace"]
assert doc["creationInfo"]["created"] == "1970-01-01T00:00:00Z"
ids = [p["SPDXID"] for p in doc["packages"]] + [f["SPDXID"] for f in doc["files"]]
assert len(ids) == len(set(ids)), "SPDXIDs repeat"
known = set(ids) | {"SPDXRef-DOCUMENT"}
for r in doc["relationships"]:
    assert r["spdxElementId"] in known and r["relatedSpdxElement"] in known, r
by_name = {p["name"]: p for p in doc["packages"]}
image = by_name["ridge:1"]
assert image["primaryPackagePurpose"] == "CONTAINER" and image["checksums"][0]["checksumValue"] == digest[7:]
assert {"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": image["SPDXID"]} in doc["relationships"]
srv = by_name["amlserve"]
assert srv["checksums"][0]["checksumValue"] == sha(amlserve)
libs = [r["relatedSpdxElement"] for r in doc["relationships"] if r["relationshipType"] == "STATIC_LINK"]
names = {p["SPDXID"]: p["name"] for p in doc["packages"]}
assert {"libc6-dev", "libhttp-parser-dev", "libprotobuf-c-dev"} <= {names[i] for i in libs}, libs
m = by_name["ridge"]
assert m["versionInfo"] == "1"
files = {f["fileName"]: f for f in doc["files"]}
f = files["/var/azureml-app/azureml-models/ridge/1/model.onnx"]
assert f["checksums"][0]["checksumValue"] == sha(model)
assert {"spdxElementId": m["SPDXID"], "relationshipType": "CONTAINS", "relatedSpdxElement": f["SPDXID"]} in doc["relationships"]
PYEOF
# The static libraries come from amlserve's build-info section; a runtime whose
# section was renamed is searched whole and gives the same list.
if command -v objcopy >/dev/null; then
  objcopy --rename-section .amlserve_build_info=.rodata.renamed "$AMLSERVE" "$WORK/amlserve-renamed"
  "$AMLPKG" build "$EX/spec.yaml" -o "$WORK/ren.tar" --runtime "$WORK/amlserve-renamed" >/dev/null
  static_libs() { jq -c '[.packages[] | select(.comment == "statically linked into amlserve") | .name]' "$1"; }
  check "amlserve's build info is found in its own section, or by searching a runtime without it" bash -c "
    $(declare -f static_libs); ! readelf -SW '$WORK/amlserve-renamed' | grep -q amlserve_build_info &&
    test \"\$(static_libs '$WORK/ren.tar.spdx.json')\" = \"\$(static_libs '$WORK/r.tar.spdx.json')\" &&
    static_libs '$WORK/r.tar.spdx.json' | jq -e 'length >= 3'"
else
  skip "objcopy is not installed (binutils)"
fi
mkdir -p "$WORK/other"
check "the same image gives the same SBOM bytes, from another folder" bash -c "
  cd '$WORK/other' && '$AMLPKG' build '$EX/spec.yaml' -o r.tar >/dev/null && cmp r.tar.spdx.json '$WORK/r.tar.spdx.json'"
check "--no-sbom writes none" bash -c "'$AMLPKG' build '$EX/spec.yaml' -o '$WORK/n.tar' --no-sbom >/dev/null && [ ! -e '$WORK/n.tar.spdx.json' ]"
check_fails "--check that fails writes neither image nor SBOM" "not sha256:0000" \
  "$AMLPKG" build "$EX/spec.yaml" -o "$WORK/c.tar" --check "sha256:$(printf '0%.0s' $(seq 64))"
check "... nothing at all" bash -c "[ ! -e '$WORK/c.tar' ] && [ ! -e '$WORK/c.tar.spdx.json' ]"

# In an OCI layout the SBOM is also an artifact whose subject is the image; rebuilding replaces it.
"$AMLPKG" build "$EX/spec.yaml" --format oci-layout -o "$WORK/lay" >/dev/null
"$AMLPKG" build "$EX/spec.yaml" --format oci-layout -o "$WORK/lay" >/dev/null
check "an oci-layout holds the image and one SBOM artifact for it" bash -c "
  jq -e '[.manifests[] | select(.artifactType == \"application/spdx+json\")] | length == 1' '$WORK/lay/index.json' &&
  jq -e '[.manifests[] | select(.artifactType == null)] | length == 1' '$WORK/lay/index.json'"
art=$(jq -r '.manifests[] | select(.artifactType != null) | .digest' "$WORK/lay/index.json" | cut -d: -f2)
img=$(jq -r '.manifests[] | select(.artifactType == null) | .digest' "$WORK/lay/index.json")
check "... whose subject is the image and whose layer is the SBOM beside the layout" bash -c "
  jq -e --arg d '$img' '.subject.digest == \$d' '$WORK/lay/blobs/sha256/$art' &&
  sbom=\$(jq -r '.layers[0].digest' '$WORK/lay/blobs/sha256/$art' | cut -d: -f2) &&
  cmp '$WORK/lay/blobs/sha256/'\$sbom '$WORK/lay.spdx.json'"
check "... and tools still see one image: inspect, skopeo" bash -c "
  '$AMLPKG' inspect '$WORK/lay' >/dev/null && skopeo inspect oci:'$WORK/lay':ridge:1 >/dev/null"
