#!/usr/bin/env bash
# The registry tier of the environment cache (--cache-registry): a build on one
# machine pushes its environment image as <prefix>/azureml/azureml_<key>; a
# build with an empty local cache and no base source gets it from there and
# makes the identical image.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/registry_lib.sh"
EX="$ROOT/examples/onnx-ridge"
command -v docker-registry >/dev/null || { skip "docker-registry is not installed (make deps installs it)"; exit 0; }
start_registry cache || { fail "the registry starts"; exit 1; }
R=$REG_cache
cd "$WORK" || exit 1
cp "$EX/model.onnx" .
# Any OCI image serves as the base: the example's own.
"$AMLPKG" build "$EX/spec.yaml" -o base.tar --no-sbom >/dev/null
cat > spec.yaml <<'YAML'
models: [{name: ridge, version: 1, path: model.onnx}]
environment:
  base_image: oci-archive:base.tar
  env: {MODE: fast}
YAML
key=$("$AMLPKG" hash spec.yaml)
check "the first build misses both tiers, builds, and stores the environment in the registry" bash -c "
  AMLPKG_CACHE_DIR='$WORK/cache-a' '$AMLPKG' build spec.yaml -o one.tar --cache-registry $R/amlcache > one.out 2> one.err &&
  grep -q 'cache miss: stored' one.err && grep -q 'stored in the registry cache $R/amlcache' one.err"
check "the registry names it azureml/azureml_<key>" \
  skopeo inspect --tls-verify=false "docker://$R/amlcache/azureml/azureml_$key:latest"
mv base.tar base.tar.away
check "a second machine (empty local cache, no base source) gets it from the registry" bash -c "
  AMLPKG_CACHE_DIR='$WORK/cache-b' '$AMLPKG' build spec.yaml -o two.tar --cache-registry $R/amlcache > two.out 2> two.err &&
  grep -q 'cache hit (registry $R/amlcache)' two.err"
check "... and makes the identical image" bash -c "[ \"\$(tail -1 one.out)\" = \"\$(tail -1 two.out)\" ]"
check "a third build there is a local hit, the registry not asked" bash -c "
  AMLPKG_CACHE_DIR='$WORK/cache-b' '$AMLPKG' build spec.yaml -o three.tar --cache-registry 127.0.0.1:1/none > three.out 2> three.err &&
  grep -q 'cache hit (workspace)\$' three.err && ! grep -q 'registry' three.err"
mv base.tar.away base.tar

# Another platform is another environment image, in every tier: an arm64 build must never be
# found under the name a linux/amd64 build looks for.
"$PY" "$ROOT/tests/mkbase.py" layer fine fine.tar
"$PY" "$ROOT/tests/mkbase.py" layout multi fine.tar --index
printf 'models: [{name: ridge, version: 1, path: model.onnx}]\nenvironment:\n  base_image: oci:multi\n' > multi.yaml
arch_of() { # ARCHIVE: the image config's architecture
  "$PY" -c 'import json,sys,tarfile
t = tarfile.open(sys.argv[1]); b = lambda d: t.extractfile("blobs/sha256/" + d[7:]).read()
m = json.loads(b(json.loads(t.extractfile("index.json").read())["manifests"][0]["digest"]))
print(json.loads(b(m["config"]["digest"]))["architecture"])' "$1"
}
export -f arch_of; export PY
check "--platform linux/arm64 with the registry tier stores the arm64 environment" bash -c "
  AMLPKG_CACHE_DIR='$WORK/cache-m1' '$AMLPKG' build multi.yaml --platform linux/arm64 -o m1.tar --cache-registry $R/amlcache > m1.out 2> m1.err &&
  grep -q 'stored in the registry cache' m1.err"
check "... and a linux/amd64 build on another machine does not get it: it reads its own platform" bash -c "
  AMLPKG_CACHE_DIR='$WORK/cache-m2' '$AMLPKG' build multi.yaml -o m2.tar --cache-registry $R/amlcache > m2.out 2> m2.err &&
  [ \"\$(arch_of m2.tar)\" = amd64 ]"
check "... while a second arm64 machine gets the arm64 one from the registry" bash -c "
  AMLPKG_CACHE_DIR='$WORK/cache-m3' '$AMLPKG' build multi.yaml --platform linux/arm64 -o m3.tar --cache-registry $R/amlcache > m3.out 2> m3.err &&
  grep -q 'cache hit (registry' m3.err && [ \"\$(arch_of m3.tar)\" = arm64 ] && cmp m1.tar m3.tar"
kill "$REGPID_cache"; wait "$REGPID_cache" 2>/dev/null
check "an unreachable registry tier only warns; the build goes on from the source" bash -c "
  AMLPKG_CACHE_DIR='$WORK/cache-c' AMLPKG_RETRIES=0 '$AMLPKG' build spec.yaml -o four.tar --cache-registry $R/amlcache > four.out 2> four.err &&
  grep -q 'registry cache unavailable' four.err && [ \"\$(tail -1 one.out)\" = \"\$(tail -1 four.out)\" ]"
