#!/usr/bin/env bash
# amlpkg build FROM a base image: oci-archive:, docker-archive:, oci:DIR[:TAG];
# base layers reused byte for byte, config merged (Env, User, Labels, ports,
# history, diff_ids); bad bases refused with nothing written; the environment
# cache (hit, miss, a deleted source, a corrupted blob); reproducible digests.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples/onnx-ridge"
MK="$ROOT/tests/mkbase.py"
cd "$WORK" || exit 1
cp "$EX/model.onnx" model.onnx

# A busybox root file system, made into an OCI layout with no engine at all.
BUSYBOX=$(command -v busybox || true)
if [ -z "$BUSYBOX" ] || ! file -L "$BUSYBOX" | grep -q 'statically linked'; then
  skip "busybox-static is not installed (make deps installs it)"; exit 0
fi
mkdir -p rootfs/bin rootfs/etc
cp "$BUSYBOX" rootfs/bin/busybox
for t in sh ls cat env; do ln -s busybox "rootfs/bin/$t"; done
echo 'root:x:0:0::/:/bin/sh' > rootfs/etc/passwd
"$PY" "$MK" layer busybox bb.tar rootfs
"$PY" "$MK" layout base-layout bb.tar --gzip --env FOO=bar --env PATH=/usr/bin:/bin --user 1000
tar cf base.tar -C base-layout oci-layout index.json blobs

spec() { # NAME BASE [extra lines...]: a no-code spec FROM BASE
  local name=$1 base=$2; shift 2
  { printf 'models:\n  - name: ridge\n    version: 1\n    path: model.onnx\nenvironment:\n  base_image: %s\n  env:\n    MODE: fast\n' "$base"
    printf '%s\n' "$@"; } > "$name"
}
# config ARCHIVE: the image config of an oci-archive, as JSON.
cat > config.py <<'PY'
import json, sys, tarfile
t = tarfile.open(sys.argv[1])
blob = lambda d: t.extractfile("blobs/sha256/" + d[7:]).read()
m = json.loads(blob(json.loads(t.extractfile("index.json").read())["manifests"][0]["digest"]))
c = json.loads(blob(m["config"]["digest"]))
c["_layers"] = [l["digest"] for l in m["layers"]]
c["_types"] = [l["mediaType"] for l in m["layers"]]
print(json.dumps(c))
PY
export PY WORK
config() { "$PY" "$WORK/config.py" "$1"; }
export -f config
# jq -e passes on empty input: a failed `config` must fail the check.
cjq() { # ARCHIVE JQ-ARGS...: jq -e over the archive's config
  local a=$1; shift
  config "$a" > "$a.config.json" && test -s "$a.config.json" && jq -e "$@" "$a.config.json"
}
export -f cjq
base_layer=$(jq -r '.manifests[0].digest' base-layout/index.json | cut -c8- | xargs -I{} jq -r '.layers[0].digest' base-layout/blobs/sha256/{})

spec s1.yaml oci-archive:base.tar
check "builds FROM an oci-archive" bash -c "'$AMLPKG' build s1.yaml -o out1.tar > b1.out 2> b1.err"
check "... saying the environment was a cache miss, now stored" grep -Eq '^environment [0-9a-f]{12}: cache miss: stored$' b1.err
config out1.tar > c1.json
check "the built image's config reads" test -s c1.json
check "layers = the base's (digest unchanged) + runtime + model" jq -e --arg b "$base_layer" \
  '(._layers | length) == 3 and ._layers[0] == $b and (.rootfs.diff_ids | length) == 3' c1.json
check "the base's Env comes first, ours after; PATH is the base's" jq -e \
  '.config.Env[0] == "FOO=bar" and .config.Env[1] == "PATH=/usr/bin:/bin" and (.config.Env | index("MODE=fast")) > 1 and ([.config.Env[] | select(startswith("PATH="))] | length) == 1' c1.json
check "User is kept from the base; Entrypoint, WorkingDir ours; no Cmd" jq -e \
  '.config.User == "1000" and .config.Entrypoint == ["/usr/local/bin/amlserve"] and .config.WorkingDir == "/var/azureml-app" and (.config.Cmd == null)' c1.json
check "history is the base's then ours" jq -e '(.history | length) == 3 and .history[0].created_by == "mkbase.py"' c1.json
d1=$(tail -1 b1.out)
check "a second build from the cache gives the same digest" bash -c "'$AMLPKG' build s1.yaml -o out1b.tar > b2.out 2> b2.err && test \"\$(tail -1 b2.out)\" = '$d1'"
check "... and says cache hit" grep -Eq '^environment [0-9a-f]{12}: cache hit \(workspace\)$' b2.err
check "--no-cache reads the source and gives the same digest" bash -c "'$AMLPKG' build s1.yaml --no-cache -o out1c.tar 2> b3.err | tail -1 | grep -qx '$d1' && ! grep -q cache b3.err"
check "a fresh --cache-dir gives the same digest" bash -c "'$AMLPKG' build s1.yaml --cache-dir '$WORK/cache2' -o out1d.tar 2>/dev/null | tail -1 | grep -qx '$d1' && test -f '$WORK/cache2/index.db'"
check "the base's layer bytes are in the image unchanged" cmp <(tar xOf out1.tar "blobs/sha256/${base_layer#sha256:}") "base-layout/blobs/sha256/${base_layer#sha256:}"

# The cache without the source: the base archive is gone, the build still works.
mv base.tar base.tar.away
check "with the base archive deleted, the cache alone builds the same digest" bash -c "'$AMLPKG' build s1.yaml -o out1e.tar 2>/dev/null | tail -1 | grep -qx '$d1'"
# A corrupted cache blob is found; with the source back the build falls back to it.
cblob="$WORK/cache/blobs/sha256/${base_layer#sha256:}"
chmod u+w "$cblob"; printf 'garbage' | dd of="$cblob" bs=1 seek=100 conv=notrunc 2>/dev/null
check_fails "a corrupted cache blob with no source fails, writing nothing" "base.tar.: No such file" \
  "$AMLPKG" build s1.yaml -o out-bad.tar
cp "$WORK/last.out" damaged.out
check "... nothing written, after saying the cache entry was damaged" bash -c "test ! -e out-bad.tar && grep -q 'cache entry damaged' damaged.out"
mv base.tar.away base.tar
"$AMLPKG" build s1.yaml -o out1h.tar >/dev/null 2>&1 # stored again (verify dropped the bad blob)
chmod u+w "$cblob"; printf 'garbage' | dd of="$cblob" bs=1 seek=100 conv=notrunc 2>/dev/null
check "a corrupted cache blob: the build falls back to the source, same digest" bash -c "'$AMLPKG' build s1.yaml -o out1f.tar > b4.out 2> b4.err && test \"\$(tail -1 b4.out)\" = '$d1'"
check "... saying the entry was damaged, then stored again" bash -c "grep -q 'cache entry damaged' b4.err && grep -q 'cache miss: stored' b4.err"
check "... and the cache is whole again" bash -c "'$AMLPKG' cache verify >/dev/null && '$AMLPKG' build s1.yaml -o out1g.tar 2>&1 >/dev/null | grep -q 'cache hit'"

# oci:DIR and oci:DIR:TAG.
spec s2.yaml oci:base-layout
check "builds FROM an OCI layout directory" "$AMLPKG" build s2.yaml -o out2.tar --no-cache
spec s3.yaml oci:base-layout:base:1
check "builds FROM oci:DIR:TAG" "$AMLPKG" build s3.yaml -o out3.tar --no-cache
check "... with the base's layer" cjq out3.tar --arg b "$base_layer" '._layers[0] == $b'
spec s4.yaml oci:base-layout:nope:9
check_fails "an unknown TAG in the layout is refused" "no image named 'nope:9'" "$AMLPKG" build s4.yaml -o out4.tar --no-cache

# An image index: linux/amd64 by default, --platform picks another.
"$PY" "$MK" layout multi bb.tar --gzip --index
spec s7.yaml oci:multi
check "an image index gives linux/amd64 by default" bash -c "'$AMLPKG' build s7.yaml -o out7.tar --no-cache >/dev/null && cjq out7.tar '.architecture == \"amd64\" and (.config.Env | index(\"ARCH=amd64\"))'"
check "--platform linux/arm64 picks the arm64 image" bash -c "'$AMLPKG' build s7.yaml --platform linux/arm64 -o out8.tar --no-cache >/dev/null && cjq out8.tar '.architecture == \"arm64\" and (.config.Env | index(\"ARCH=arm64\"))'"
check "with the cache, the default and --platform linux/arm64 stay apart" bash -c "
  '$AMLPKG' build s7.yaml -o out7c.tar 2>/dev/null >/dev/null && '$AMLPKG' build s7.yaml --platform linux/arm64 -o out8c.tar 2>/dev/null >/dev/null &&
  cjq out8c.tar '.architecture == \"arm64\"' && cjq out7c.tar '.architecture == \"amd64\"' && cmp out8.tar out8c.tar"
check_fails "a platform the index lacks is refused" "has no image for platform 'linux/s390x'" \
  "$AMLPKG" build s7.yaml --platform linux/s390x -o out9.tar --no-cache

# docker-archive: manifest.json + config + layer tars (here from `buildah commit`, else hand-made).
if command -v buildah >/dev/null; then
  export CONTAINERS_CONF="$ROOT/templates/podman-containers.conf"
  B=(buildah --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs)
  on_exit "${B[*]} rm -a; ${B[*]} rmi -af"
  c=$("${B[@]}" from scratch)
  "${B[@]}" copy "$c" rootfs/ / >/dev/null
  "${B[@]}" config --env FOO=bar --user 1000 --label base.label=yes "$c"
  "${B[@]}" commit -q --format docker "$c" docker-archive:"$WORK/base-docker.tar":base:1 >/dev/null
  "${B[@]}" commit -q "$c" oci-archive:"$WORK/base-buildah.tar":base:1 >/dev/null
  spec s5.yaml docker-archive:base-docker.tar
  check "builds FROM a docker-archive" bash -c "'$AMLPKG' build s5.yaml -o out5.tar --no-cache >/dev/null"
  config out5.tar > c5.json && test -s c5.json || fail "the docker-archive build's config reads"
  check "... base Env, User, Labels kept and merged; OCI media types" jq -e \
    '.config.Env[0] == "FOO=bar" and .config.User == "1000" and .config.Labels["base.label"] == "yes" and .config.Labels["com.amlpkg.scoring"] == "onnx" and (._types | all(startswith("application/vnd.oci.image.layer.v1.tar")))' c5.json
  spec s6.yaml oci-archive:base-buildah.tar
  check "builds FROM buildah's oci-archive" "$AMLPKG" build s6.yaml -o out6.tar --no-cache
  check "... PATH from our default when the base has none" cjq out6.tar '[.config.Env[] | select(startswith("PATH="))] | length == 1'
else
  skip "buildah is not installed: docker-archive from buildah not tested"
fi

# Reproducible: same inputs, another time and directory, same digest.
mkdir -p elsewhere && cp s1.yaml model.onnx base.tar elsewhere/
check "reproducible from another directory (no cache)" bash -c "cd elsewhere && '$AMLPKG' build s1.yaml --no-cache -o x.tar 2>/dev/null | tail -1 | grep -qx '$d1'"

# Bad bases: each refused with the file and what is wrong; nothing written.
bad() { # DESCRIPTION PATTERN LAYOUT-DIR
  local desc=$1 pattern=$2 dir=$3
  spec bad.yaml "oci:$dir"
  check_fails "$desc" "$pattern" "$AMLPKG" build bad.yaml -o bad-out.tar --no-cache
  if [ -e bad-out.tar ] || ls -A | grep -q amlpkg-build; then fail "$desc: something was written"; fi
}
for kind in dotdot absolute symlink-escape hardlink-escape device; do
  "$PY" "$MK" layer "$kind" "$kind.tar" && "$PY" "$MK" layout "L-$kind" "$kind.tar"
done
bad "a layer entry with '..' is refused" "L-dotdot.*layer sha256:.*entry 'etc/../../evil' has '..'" L-dotdot
bad "a layer entry with an absolute path is refused" "L-absolute.*entry '/etc/evil' has an absolute path" L-absolute
bad "a symlink leaving the root is refused" "symlink 'etc/up' -> '../../../etc/passwd' points outside the image root" L-symlink-escape
bad "a hard link leaving the root is refused" "hard link 'etc/hard' points outside the image root" L-hardlink-escape
bad "a device file is refused" "entry 'etc/null' is a device file" L-device
"$PY" "$MK" layer fine fine.tar
"$PY" "$MK" layout L-fine fine.tar
spec fine.yaml oci:L-fine
check "an absolute symlink (resolved inside the container) is accepted" "$AMLPKG" build fine.yaml -o fine-out.tar --no-cache
"$PY" "$MK" layout L-mt fine.tar --media-type application/vnd.example.layer.v1+tar
bad "an unknown layer media type is refused" "L-mt.*layer sha256:.* unknown media type 'application/vnd.example.layer.v1\+tar'" L-mt
"$PY" "$MK" layout L-diff fine.tar --bad-diff-id
bad "a layer whose content does not match its diff_id is refused" "L-diff.*uncompressed content has digest sha256:.*rootfs.diff_ids" L-diff
cp -r L-fine L-corrupt
f=$(ls -S L-corrupt/blobs/sha256 | head -1); chmod u+w "L-corrupt/blobs/sha256/$f"; printf 'X' | dd of="L-corrupt/blobs/sha256/$f" bs=1 seek=600 conv=notrunc 2>/dev/null
bad "a blob whose digest does not match is refused" "L-corrupt.*does not match its digest" L-corrupt
head -c 900000 base.tar > trunc.tar
spec bad.yaml oci-archive:trunc.tar
check_fails "a truncated archive is refused, naming it" "trunc.tar" "$AMLPKG" build bad.yaml -o bad-out.tar --no-cache
check "... nothing written" test ! -e bad-out.tar
spec bad.yaml docker-archive:base.tar
check_fails "an oci-archive given as docker-archive: is refused" "base.tar.: no manifest.json: not a docker-archive" "$AMLPKG" build bad.yaml -o bad-out.tar --no-cache

# An entry script on a base image is built natively (the image then needs Python in the base).
printf 'def init():\n    pass\n\ndef run(data):\n    return data\n' > score.py
{ printf 'models:\n  - name: ridge\n    version: 1\n    path: model.onnx\ninference:\n  entry_script: score.py\n'
  printf 'environment:\n  base_image: oci-archive:base.tar\n'; } > py.yaml
check "an entry script on a base image builds without an engine" "$AMLPKG" build py.yaml -o py.tar
check "... with the app layer and AZUREML_ENTRY_SCRIPT" cjq py.tar '(._layers | length) == 4 and (.config.Env | index("AZUREML_ENTRY_SCRIPT=score.py"))'
# The script loads its own models, in any format: a pickle is packaged, not refused as "no ONNX model".
printf 'pickled estimator' > model.pkl
{ printf 'models:\n  - {name: clf, version: 2, path: model.pkl}\ninference:\n  entry_script: score.py\n'
  printf 'environment:\n  base_image: oci-archive:base.tar\n'; } > pkl.yaml
check "an entry script with a non-ONNX model builds" "$AMLPKG" build pkl.yaml -o pkl.tar
spec steps.yaml oci-archive:base.tar "  docker_steps:" "    - RUN echo hi"
check_fails "Docker steps need an engine: --executor none refuses and names --dockerfile" "must run in a container.*--dockerfile DIR" \
  "$AMLPKG" build steps.yaml -o steps.tar --executor none
check_exit "--platform without a slash is a usage error" 2 "$AMLPKG" build s1.yaml --platform amd64
