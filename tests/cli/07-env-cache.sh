#!/usr/bin/env bash
# Environment key and cache: `amlpkg hash` is stable under edits that keep the
# meaning and changes with edits that do not; bad conda files name
# file:line:column; `amlpkg cache` lists, counts, verifies (dropping a corrupt
# blob and its entry) and collects garbage.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples/onnx-ridge"
cd "$WORK" || exit 1
cp "$EX/model.onnx" model.onnx

cat > env.yml <<'YAML'
name: project_environment
channels:
  - conda-forge
  - defaults
dependencies:
  - python=3.9
  - numpy>=1.20
  - scikit-learn==1.0.2
  - pip:
      - azureml-defaults==1.40.0
      - requests>=2.0
variables:
  OMP_NUM_THREADS: "1"
YAML
cat > spec.yaml <<'YAML'
models:
  - name: ridge
    version: 1
    path: model.onnx
environment:
  name: ridge-env
  base_image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04
  conda_file: env.yml
  docker_steps:
    - RUN apt-get update && apt-get install -y libgomp1
  env:
    MODE: fast
    LOG_LEVEL: info
YAML
key=$("$AMLPKG" hash spec.yaml)
check "hash prints 64 hex digits" grep -Eqx '[0-9a-f]{64}' <<<"$key"
check "the same file hashes the same twice" test "$("$AMLPKG" hash spec.yaml)" = "$key"
doc=$("$AMLPKG" hash --explain spec.yaml | sed -n 2p)
check "--explain prints the document whose sha256 is the key" \
  test "$(printf '%s' "$doc" | sha256sum | cut -c1-64)" = "$key"
check "--json gives key and document" bash -c "'$AMLPKG' hash --json spec.yaml | $PY -c 'import json,sys; d=json.load(sys.stdin); assert d[\"key\"]==\"$key\" and d[\"document\"][\"conda\"][\"channels\"]==[\"conda-forge\",\"defaults\"]'"

same() { # DESCRIPTION: the edited files still give $key
  local got; got=$("$AMLPKG" hash spec.yaml 2>&1)
  if [ "$got" = "$key" ]; then pass "$1"; else fail "$1 (got $got)"; fi
  cp env.orig env.yml; cp spec.orig spec.yaml
}
differs() {
  local got; got=$("$AMLPKG" hash spec.yaml 2>&1)
  if [ "$got" != "$key" ] && grep -Eqx '[0-9a-f]{64}' <<<"$got"; then pass "$1"; else fail "$1 (got $got)"; fi
  cp env.orig env.yml; cp spec.orig spec.yaml
}
cp env.yml env.orig; cp spec.yaml spec.orig

# Edits that keep the meaning.
{ echo "# pinned for the ridge model"; sed 's/^  - numpy>=1.20$/  - numpy >=1.20   # fast enough/' env.orig; } > env.yml
same "comments and spacing inside a match spec do not change the key"
$PY - <<'PY'
lines = open("env.orig").read().split("\n")
i, j = lines.index("  - python=3.9"), lines.index("  - scikit-learn==1.0.2")
lines[i], lines[j] = lines[j], lines[i]
open("env.yml", "w").write("\n".join(lines).replace("azureml-defaults==1.40.0", "azureml_defaults == 1.40.0"))
PY
same "reordered dependencies and PEP 503 spelling do not change the key"
cat > env.yml <<'YAML'
{name: other, channels: [conda-forge, defaults], variables: {OMP_NUM_THREADS: '1'},
 dependencies: ["scikit-learn==1.0.2", 'numpy>=1.20', python=3.9,
                {pip: [requests>=2.0, azureml-defaults==1.40.0]}]}
YAML
same "flow style, quoting and a new environment name do not change the key"
cat > spec.yaml <<'YAML'
models:
    -   name: ridge
        version: 1
        path: model.onnx
environment:
        env:
            LOG_LEVEL: info
            MODE: "fast"
        docker_steps:
            -   "RUN  apt-get update &&  apt-get install -y libgomp1"
        conda_file: ./env.yml
        base_image: 'mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04'
YAML
same "reordered env vars and fields, deeper indentation and a ./ path do not change the key"

# Edits that change it.
sed 's/numpy>=1.20/numpy>=1.21/' env.orig > env.yml;            differs "a version change gives a new key"
sed 's/  - python=3.9/  - python=3.9\n  - pandas/' env.orig > env.yml; differs "a new dependency gives a new key"
sed 's/requests>=2.0/requests>=2.0\n      - flask/' env.orig > env.yml; differs "a new pip dependency gives a new key"
sed 's/  - conda-forge/  - pytorch/' env.orig > env.yml;        differs "a channel change gives a new key"
$PY -c "s=open('env.orig').read(); open('env.yml','w').write(s.replace('  - conda-forge\n  - defaults','  - defaults\n  - conda-forge'))"
differs "a channel order change gives a new key"
sed 's/libgomp1/libgomp1 curl/' spec.orig > spec.yaml;          differs "a docker step change gives a new key"
sed 's/ubuntu20.04/ubuntu22.04/' spec.orig > spec.yaml;         differs "a base image change gives a new key"
sed 's/MODE: fast/MODE: slow/' spec.orig > spec.yaml;           differs "an env var change gives a new key"

# Bad conda files and environment sections.
printf 'name: x\ndependencies:\n  - numpy\n  - ">=1.0"\n' > env.yml
check_fails "a dependency without a name names conda file, line and column" \
  "env.yml:4:5: dependencies\[1\]: not a valid package spec: expected a package name" "$AMLPKG" hash spec.yaml
printf 'name: x\ndependencies: [numpy, {pip: [requests]}\n' > env.yml
check_fails "malformed conda YAML names line and column" "env.yml:[0-9]+:[0-9]+: " "$AMLPKG" hash spec.yaml
printf 'name: x\ndependencys:\n  - numpy\n' > env.yml
check_fails "an unknown conda field is refused with a suggestion" \
  "env.yml:2:1: document: unknown field 'dependencys' \(did you mean 'dependencies'\?\)" "$AMLPKG" hash spec.yaml
printf 'dependencies:\n  - pip:\n      - -r requirements.txt\n' > env.yml
check_fails "pip -r files are refused (their content is not in the key)" "env.yml:3:9: .*'-r' names a file" \
  "$AMLPKG" hash spec.yaml
cp env.orig env.yml
sed 's/  conda_file: env.yml/  conda_fle: env.yml/' spec.orig > spec.yaml
check_fails "an unknown environment field names spec line and suggests" \
  "spec.yaml:8: environment.conda_fle: unknown field \(did you mean 'conda_file'\?\)" "$AMLPKG" hash spec.yaml
sed 's/  conda_file: env.yml/  conda_file: nope.yml/' spec.orig > spec.yaml
check_fails "a missing conda file names spec line" "spec.yaml:8: environment.conda_file: no such file" \
  "$AMLPKG" hash spec.yaml
cp spec.orig spec.yaml
check_fails "with --executor none, build refuses an environment that needs an engine, rather than ignoring it" \
  "spec.yaml:[0-9]+: environment: .*must run in a container.*--dockerfile DIR" "$AMLPKG" build spec.yaml -o out.tar --executor none
check_exit "hash without a spec is a usage error" 2 "$AMLPKG" hash

# The cache, populated from a built image under the spec's key.
printf 'models:\n  - {name: ridge, version: 1, path: model.onnx}\n' > plain.yaml
# (--no-cache: these builds only make images to add; the layers they would keep are tested below.)
"$AMLPKG" build plain.yaml -o img.tar --no-cache >/dev/null 2>&1
printf 'models:\n  - {name: ridge, version: 1, path: model.onnx}\noutput: {name: ridge2}\n' > plain2.yaml
"$AMLPKG" build plain2.yaml -o img2.tar --no-cache >/dev/null 2>&1
export AMLPKG_CACHE_DIR="$WORK/cache"
key2=$(printf '%064d' 2)
check "cache add records an image under a key" "$AMLPKG" cache add "$key" img.tar
check "a second image shares blobs" "$AMLPKG" cache add "$key2" img2.tar --name ridge2
check "the default directory comes from AMLPKG_CACHE_DIR" test -f "$WORK/cache/index.db"
check "cache ls lists both keys" bash -c "'$AMLPKG' cache ls | grep -q '^$key ' && '$AMLPKG' cache ls | grep -q '^$key2 .* ridge2\$'"
check "cache ls --json is JSON" bash -c "'$AMLPKG' cache ls --json | $PY -c 'import json,sys; l=json.load(sys.stdin); assert len(l)==2 and all(e[\"manifest\"].startswith(\"sha256:\") for e in l)'"
blobs=$(find "$WORK/cache/blobs/sha256" -type f | wc -l)
check "cache stats counts entries and blobs" bash -c "'$AMLPKG' cache stats --json | $PY -c 'import json,sys; s=json.load(sys.stdin); assert s[\"entries\"]==2 and s[\"blobs\"]==$blobs and s[\"schema\"]==2, s'"
check "cache verify passes on a clean cache" "$AMLPKG" cache verify

# Corrupt the biggest blob: the model layer both images share.
victim=$(ls -S "$WORK/cache/blobs/sha256" | head -1)
printf 'garbage' | dd of="$WORK/cache/blobs/sha256/$victim" bs=1 seek=100 conv=notrunc 2>/dev/null
check_exit "cache verify exits 1 when it finds a corrupt blob" 1 "$AMLPKG" cache verify --json
cp "$WORK/last.out" verify.json
check "verify reports the corrupt blob and drops both entries" $PY -c "
import json; r=json.load(open('verify.json'))
assert r['corrupt']==1 and r['entries_removed']==2, r
assert r['problems']==[{'digest':'sha256:$victim','problem':'corrupt'}], r"
check "the corrupt file is gone" test ! -e "$WORK/cache/blobs/sha256/$victim"
check "cache ls is empty afterwards" test -z "$("$AMLPKG" cache ls)"
check "cache verify is clean afterwards" "$AMLPKG" cache verify
check "gc keeps young unreferenced blobs (grace period)" bash -c "'$AMLPKG' cache gc --json | grep -q '\"blobs_removed\":0'"
check "gc --grace 0 removes every unreferenced blob" bash -c "'$AMLPKG' cache gc --grace 0 --json | grep -Eq '\"blobs_removed\":[1-9]'"
check "no blob files are left" test -z "$(ls -A "$WORK/cache/blobs/sha256")"
"$AMLPKG" cache add "$key" img.tar >/dev/null
check "gc --older-than 0 drops entries not used since" bash -c "sleep 1; '$AMLPKG' cache gc --older-than 0 --grace 0 --json | grep -q '\"entries_removed\":1'"
check_exit "an unknown cache command is a usage error" 2 "$AMLPKG" cache frob
check_exit "gc options elsewhere are a usage error" 2 "$AMLPKG" cache ls --older-than 3
check_fails "a bad key is refused" "not an environment key" "$AMLPKG" cache add nothex img.tar

# rm and size-bounded gc (least recently used first).
"$AMLPKG" cache add "$key" img.tar >/dev/null && sleep 1 && "$AMLPKG" cache add "$key2" img2.tar --name ridge2 >/dev/null
check "cache rm forgets one entry" bash -c "'$AMLPKG' cache rm '$key2' | grep -q 'removed $key2' && ! '$AMLPKG' cache ls | grep -q '^$key2 '"
check_fails "cache rm of an unknown key says so" "no entry for $key2" "$AMLPKG" cache rm "$key2"
"$AMLPKG" cache add "$key2" img2.tar --name ridge2 >/dev/null
size2=$("$AMLPKG" cache ls --json | $PY -c 'import json,sys; print(max(e["size"] for e in json.load(sys.stdin)))')
check "gc --max-size keeps the most recently used entry and drops the older one" bash -c "
  '$AMLPKG' cache gc --max-size $size2 --grace 0 --json | grep -q '\"entries_removed\":1' &&
  '$AMLPKG' cache ls | grep -q '^$key2 ' && ! '$AMLPKG' cache ls | grep -q '^$key '"
check "... and the cache still verifies" "$AMLPKG" cache verify
check "gc --max-size 0 empties it" bash -c "'$AMLPKG' cache gc --max-size 0 --grace 0 >/dev/null && [ -z \"\$('$AMLPKG' cache ls)\" ]"
check_exit "a bad --max-size is a usage error" 2 "$AMLPKG" cache gc --max-size lots
