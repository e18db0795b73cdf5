#!/usr/bin/env bash
# amlpkg build output side: docker-archive and oci-layout formats, layer
# compression (auto/gzip/zstd/none), --check DIGEST, the printed digest, and
# reproducible digests across directories and times.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples/onnx-ridge"
hex64='^sha256:[0-9a-f]{64}$'

# The digest is the last line of the normal output, and the "digest" of --json.
"$AMLPKG" build "$EX/spec.yaml" -o "$WORK/ridge.tar" > "$WORK/plain.out"
digest=$(tail -1 "$WORK/plain.out")
check "the manifest digest is printed as the last line" bash -c "grep -Eq '$hex64' <<<'$digest'"
"$AMLPKG" build "$EX/spec.yaml" -o "$WORK/ridge.tar" --json > "$WORK/ridge.json"
check "--json has digest, size, layers, output and format" jq -e --arg d "$digest" --arg o "$WORK/ridge.tar" \
  '.digest == $d and .size > 0 and (.layers | length) == 2 and .output == $o and .format == "oci-archive"' "$WORK/ridge.json"
check "the digest is the manifest the index names" \
  test "$(tar xOf "$WORK/ridge.tar" index.json | jq -r '.manifests[0].digest')" = "$digest"

# docker-archive: docker save's manifest.json naming config and layer files, beside the OCI layout
# (as Docker 25's docker save writes it: the OCI manifest travels with the file).
check "builds a docker-archive" "$AMLPKG" build "$EX/spec.yaml" --format docker-archive -o "$WORK/d.tar" --tag team/ridge:da
mkdir -p "$WORK/d" && tar xf "$WORK/d.tar" -C "$WORK/d"
check "docker-archive has manifest.json and the OCI index beside it" test -f "$WORK/d/manifest.json" -a -f "$WORK/d/index.json"
check "manifest.json names the image by RepoTags" \
  jq -e 'length == 1 and .[0].RepoTags == ["team/ridge:da"] and (.[0].Layers | length) == 2' "$WORK/d/manifest.json"
cat > "$WORK/docker_check.py" <<'PY'
import gzip, hashlib, json, os, sys
root = sys.argv[1]
m = json.load(open(os.path.join(root, "manifest.json")))[0]
def sha(b): return "sha256:" + hashlib.sha256(b).hexdigest()
cfg_bytes = open(os.path.join(root, m["Config"]), "rb").read()
assert sha(cfg_bytes) == "sha256:" + os.path.basename(m["Config"]), "config file name is not its digest"
cfg = json.loads(cfg_bytes)
diff_ids = cfg["rootfs"]["diff_ids"]
assert len(diff_ids) == len(m["Layers"]), "one diff_id per layer"
for path, diff_id in zip(m["Layers"], diff_ids):
    data = open(os.path.join(root, path), "rb").read()
    assert sha(data) == "sha256:" + os.path.basename(path), path + ": name is not its digest"
    tar = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    assert sha(tar) == diff_id, path + ": uncompressed layer does not match its diff_id"
assert cfg["config"]["Entrypoint"] == ["/usr/local/bin/amlserve"]
PY
check "docker-archive files match their digests and the config's diff_ids" "$PY" "$WORK/docker_check.py" "$WORK/d"
"$AMLPKG" build "$EX/spec.yaml" --format docker-archive -o "$WORK/d2.tar" > "$WORK/d2.out"
check "docker-archive defaults RepoTags to the spec's name:tag" \
  bash -c "tar xOf '$WORK/d2.tar' manifest.json | jq -e '.[0].RepoTags == [\"ridge:1\"]'"
check "docker-archive and oci-archive print the same manifest digest" test "$(tail -1 "$WORK/d2.out")" = "$digest"
check_exit "docker-archive refuses zstd layers (usage error)" 2 \
  "$AMLPKG" build "$EX/spec.yaml" --format docker-archive --compression zstd -o "$WORK/dz.tar"
check "... and writes nothing" test ! -e "$WORK/dz.tar"

# oci-layout: a new layout, a second tag beside it, the same tag replaced.
L="$WORK/layout"
check "builds into a new OCI layout directory" "$AMLPKG" build "$EX/spec.yaml" --format oci-layout -o "$L"
check "the layout has oci-layout, index.json and blobs" test -f "$L/oci-layout" -a -f "$L/index.json" -a -d "$L/blobs/sha256"
check "oci-layout:DIR is short for --format oci-layout -o DIR" \
  "$AMLPKG" build "$EX/spec.yaml" --format "oci-layout:$L" --tag ridge:2
check "the layout holds both tags" \
  jq -e '[.manifests[] | select(.artifactType == null) | .annotations["org.opencontainers.image.ref.name"]] == ["ridge:1","ridge:2"]' "$L/index.json"
jq '.annotations = {"com.example.kept": "yes"}' "$L/index.json" > "$WORK/i.json" && cp "$WORK/i.json" "$L/index.json"
new=$(SOURCE_DATE_EPOCH=1700000000 "$AMLPKG" build "$EX/spec.yaml" --format oci-layout -o "$L" | tail -1)
check "a rebuilt tag replaces its entry in place" jq -e --arg d "$new" \
  '[.manifests[] | select(.artifactType == null)] as $m | ($m | length) == 2 and $m[0].digest == $d and $m[0].annotations["org.opencontainers.image.ref.name"] == "ridge:1"' "$L/index.json"
check "other index members are kept" jq -e '.annotations["com.example.kept"] == "yes"' "$L/index.json"
check "every layout blob matches its digest" bash -c "cd '$L/blobs/sha256' && for f in *; do echo \"\$f  \$f\"; done | sha256sum -c --quiet"
if command -v skopeo >/dev/null; then
  check "skopeo reads the layout by tag" bash -c "skopeo inspect 'oci:$L:ridge:2' | jq -e '(.Layers | length) == 2'"
else
  skip "skopeo is not installed"
fi
if command -v umoci >/dev/null; then
  check "umoci lists the layout's tags" bash -c "umoci ls --layout '$L' | sort | tr '\n' ' ' | grep -qx 'ridge:1 ridge:2 '"
else
  skip "umoci is not installed"
fi
mkdir -p "$WORK/dot/layout"
check "-o . builds a layout in the working directory" \
  bash -c "cd '$WORK/dot/layout' && '$AMLPKG' build '$EX/spec.yaml' --format oci-layout -o . >/dev/null"
check "... staging nothing inside it" test "$(ls -A "$WORK/dot/layout" | tr '\n' ' ')" = "blobs index.json oci-layout "
mkdir -p "$WORK/notlayout" && echo x > "$WORK/notlayout/file"
check_fails "a non-empty directory that is no layout is refused" "not an OCI image layout" \
  "$AMLPKG" build "$EX/spec.yaml" --format oci-layout -o "$WORK/notlayout"
check "... and left as it was" test "$(ls -A "$WORK/notlayout")" = file
check "no temporary files are left in the layout" bash -c "! ls -A '$L' '$WORK' | grep -E 'tmp-|amlpkg-build'"

# A build that fails while writing (here: past a file size limit) leaves the old output as it was.
echo old > "$WORK/keep.tar"
check_fails "a build failing mid-write reports it" "write failed|File too large" \
  bash -c "trap '' XFSZ; ulimit -f 300; exec '$AMLPKG' build '$EX/spec.yaml' -o '$WORK/keep.tar'"
check "... and leaves the old archive untouched" test "$(cat "$WORK/keep.tar")" = old
cp "$L/index.json" "$WORK/index.before"
# (--no-cache: kept layers would be linked from the cache, and nothing large written.)
check_fails "a layout build failing mid-write reports it" "write failed|File too large" \
  bash -c "trap '' XFSZ; ulimit -f 300; exec '$AMLPKG' build '$EX/spec.yaml' --format oci-layout -o '$L' --tag ridge:3 --no-cache"
check "... and leaves index.json untouched" cmp "$L/index.json" "$WORK/index.before"
check "... and no temporary files" bash -c "! ls -A '$L' '$WORK' | grep -E 'tmp-|amlpkg-build'"

# --check: equal digest passes and writes; a different one fails and writes nothing.
check "--check with the right digest passes" "$AMLPKG" build "$EX/spec.yaml" -o "$WORK/c.tar" --check "$digest"
check "... and writes the archive" test -s "$WORK/c.tar"
other=sha256:$(printf '0%.0s' {1..64})
check_fails "--check with another digest fails naming both" "digest is $digest, not $other" \
  "$AMLPKG" build "$EX/spec.yaml" -o "$WORK/c2.tar" --check "$other"
check_exit "... with exit status 1" 1 "$AMLPKG" build "$EX/spec.yaml" -o "$WORK/c2.tar" --check "$other"
check "... and writes nothing at the output path" test ! -e "$WORK/c2.tar"
cp "$L/index.json" "$WORK/index.before"
check_exit "--check failing on an oci-layout" 1 "$AMLPKG" build "$EX/spec.yaml" --format oci-layout -o "$L" --check "$other"
check "... leaves index.json as it was" cmp "$L/index.json" "$WORK/index.before"
check_exit "--check refuses a malformed digest (usage error)" 2 "$AMLPKG" build "$EX/spec.yaml" --check sha256:abc

# Reproducible: a copy of the example at another path, built from another
# working directory a second later, gives the same manifest digest in every format.
mkdir -p "$WORK/elsewhere/deeper" "$WORK/cwd"
cp -r "$EX" "$WORK/elsewhere/deeper/"
sleep 1
cd "$WORK/cwd"
for fmt in oci-archive docker-archive; do
  d1=$("$AMLPKG" build "$EX/spec.yaml" --format $fmt -o "$WORK/r1-$fmt" | tail -1)
  d2=$("$AMLPKG" build ../elsewhere/deeper/onnx-ridge/spec.yaml --format $fmt -o "r2-$fmt" | tail -1)
  check "$fmt: same digest from another directory, time and path" test "$d1" = "$d2" -a "$d1" = "$digest"
  check "$fmt: the same bytes" cmp "$WORK/r1-$fmt" "r2-$fmt"
done
d3=$("$AMLPKG" build ../elsewhere/deeper/onnx-ridge/spec.yaml --format oci-layout -o lay2 | tail -1)
check "oci-layout: the same digest too" test "$d3" = "$digest"
check "--check accepts the digest of a build elsewhere" \
  "$AMLPKG" build ../elsewhere/deeper/onnx-ridge/spec.yaml -o r3.tar --check "$digest"
cd "$ROOT"

# Compression: media types per choice, and auto's choice per layer.
"$AMLPKG" build "$EX/spec.yaml" -o "$WORK/z.tar" --compression zstd --json > "$WORK/z.json"
check "zstd layers are tar+zstd" jq -e '[.layers[].mediaType] | all(. == "application/vnd.oci.image.layer.v1.tar+zstd")' "$WORK/z.json"
mkdir -p "$WORK/z" && tar xf "$WORK/z.tar" -C "$WORK/z"
zl=$(jq -r '.layers[1].digest' "$WORK/z.json" | cut -d: -f2)
if command -v zstd >/dev/null; then
  check "a zstd layer decompresses to its diff_id" \
    test "sha256:$(zstd -dc "$WORK/z/blobs/sha256/$zl" | sha256sum | cut -d' ' -f1)" = "$(jq -r '.layers[1].diff_id' "$WORK/z.json")"
else
  skip "zstd is not installed"
fi
check "zstd builds reproduce" bash -c "'$AMLPKG' build '$EX/spec.yaml' -o '$WORK/z2.tar' --compression zstd >/dev/null && cmp '$WORK/z.tar' '$WORK/z2.tar'"
"$AMLPKG" build "$EX/spec.yaml" -o "$WORK/n.tar" --compression none --json > "$WORK/n.json"
check "none layers are plain tar whose digest is the diff_id" \
  jq -e '.layers | all(.mediaType == "application/vnd.oci.image.layer.v1.tar" and .digest == .diff_id)' "$WORK/n.json"
check "gzip layers are tar+gzip" bash -c "'$AMLPKG' build '$EX/spec.yaml' -o '$WORK/g.tar' --compression gzip --json | jq -e '[.layers[].mediaType] | all(. == \"application/vnd.oci.image.layer.v1.tar+gzip\")'"
check_exit "an unknown compression is a usage error" 2 "$AMLPKG" build "$EX/spec.yaml" --compression lz4

mkdir -p "$WORK/big/model" "$WORK/zeros/model"
cp "$EX/model.onnx" "$WORK/big/model/" && cp "$EX/model.onnx" "$WORK/zeros/model/"
head -c $((20 * 1024 * 1024)) /dev/urandom > "$WORK/big/model/weights.bin"
head -c $((20 * 1024 * 1024)) /dev/zero > "$WORK/zeros/model/weights.bin"
printf 'models:\n  - name: big\n    version: 1\n    path: model\n' > "$WORK/big/spec.yaml"
printf 'models:\n  - name: zeros\n    version: 1\n    path: model\n' > "$WORK/zeros/spec.yaml"
"$AMLPKG" build "$WORK/big/spec.yaml" -o "$WORK/big.tar" --json > "$WORK/big.json"
check "auto stores a random 20 MiB model layer uncompressed" \
  jq -e '.layers[1].mediaType == "application/vnd.oci.image.layer.v1.tar" and .layers[1].size > 20971520' "$WORK/big.json"
check "... and still gzips the runtime layer" jq -e '.layers[0].mediaType | endswith("+gzip")' "$WORK/big.json"
check "auto gzips a compressible 20 MiB model layer" bash -c \
  "'$AMLPKG' build '$WORK/zeros/spec.yaml' -o '$WORK/zeros.tar' --json | jq -e '.layers[1].mediaType | endswith(\"+gzip\")'"
check "auto's choice reproduces" bash -c "'$AMLPKG' build '$WORK/big/spec.yaml' -o '$WORK/big2.tar' | tail -1 | grep -qx \$(jq -r .digest '$WORK/big.json')"
# The plain model layer is staged with room for its tar header: the archive is
# built around it (its first entry), never copied; the other blobs follow.
big_layer=$(jq -r '.layers[1].digest' "$WORK/big.json" | cut -d: -f2)
check "the archive's first entry is the plain model layer, written in place" \
  test "$(tar tf "$WORK/big.tar" | head -1)" = "blobs/sha256/$big_layer"
check "... and the archive holds every blob once" bash -c \
  "test \$(tar tf '$WORK/big.tar' | grep -c '^blobs/sha256/.') -eq 4 && test \$(tar tf '$WORK/big.tar' | sort | uniq -d | wc -l) -eq 0"
check "... whose bytes hash to its name" bash -c "tar xOf '$WORK/big.tar' blobs/sha256/$big_layer | sha256sum | grep -q '^$big_layer '"
check "... and whose model file is byte-equal to the input" bash -c \
  "tar xOf '$WORK/big.tar' blobs/sha256/$big_layer | tar xOf - var/azureml-app/azureml-models/big/1/model/weights.bin | cmp - '$WORK/big/model/weights.bin'"
check "the SBOM gives the weights' SHA-256 (hashed on another core while the layer was written)" bash -c "
  jq -r '.files[] | select(.fileName | endswith(\"/big/1/model/weights.bin\")) | .checksums[0].checksumValue' '$WORK/big.tar.spdx.json' |
  grep -qx \$(sha256sum '$WORK/big/model/weights.bin' | cut -d' ' -f1)"
check "... with --no-cache too (the digests then serve the one run)" bash -c "
  '$AMLPKG' build '$WORK/big/spec.yaml' -o '$WORK/big-nc.tar' --no-cache >/dev/null &&
  cmp '$WORK/big-nc.tar.spdx.json' '$WORK/big.tar.spdx.json' && cmp '$WORK/big-nc.tar' '$WORK/big.tar'"
"$AMLPKG" build "$WORK/big/spec.yaml" --format docker-archive -o "$WORK/big-docker.tar" >/dev/null
check "a docker-archive is built around the plain layer too" bash -c \
  "tar tf '$WORK/big-docker.tar' | head -1 | grep -qx blobs/sha256/$big_layer && tar xOf '$WORK/big-docker.tar' manifest.json | jq -e '.[0].Layers | length == 2'"
"$AMLPKG" build "$WORK/big/spec.yaml" --compression none -o "$WORK/big-none.tar" --fsync --json > "$WORK/big-none.json"
check "with every layer plain, only the largest is written in place; the others are copied whole" bash -c "
  tar tf '$WORK/big-none.tar' | head -1 | grep -qx blobs/sha256/$big_layer &&
  for d in \$(jq -r '.layers[].digest | sub(\"sha256:\"; \"\")' '$WORK/big-none.json'); do
    tar xOf '$WORK/big-none.tar' blobs/sha256/\$d | sha256sum | grep -q \"^\$d \" || exit 1; done"
check "no staging file is left beside the outputs" bash -c "! ls -a '$WORK' | grep -q -e '\\.tmp-' -e '\\.amlpkg-build-'"
rm -f "$WORK"/big*.tar "$WORK/zeros.tar"

# --git-labels: HEAD and origin of the repository holding the spec, never its credentials.
if command -v git >/dev/null; then
  G="$WORK/repo"
  mkdir -p "$G" && cp -r "$EX" "$G/"
  git -C "$G" init -q && git -C "$G" add . &&
    git -C "$G" -c user.name=t -c user.email=t@example.com commit -qm init &&
    git -C "$G" remote add origin https://user:s3cret@example.com/team/models.git
  head=$(git -C "$G" rev-parse HEAD)
  labels() { "$AMLPKG" build "$G/onnx-ridge/spec.yaml" -o "$WORK/git.tar" "$@" >/dev/null &&
    tar xOf "$WORK/git.tar" "blobs/sha256/$(tar xOf "$WORK/git.tar" "blobs/sha256/$(tar xOf "$WORK/git.tar" index.json |
      jq -r '.manifests[0].digest' | cut -d: -f2)" | jq -r .config.digest | cut -d: -f2)" | jq -c .config.Labels; }
  check "without --git-labels the image has no revision label" bash -c "$(declare -f labels); G='$G' AMLPKG='$AMLPKG' WORK='$WORK'
    labels | jq -e 'has(\"org.opencontainers.image.revision\") | not'"
  labels --git-labels > "$WORK/labels.json"
  check "--git-labels sets the revision to HEAD" jq -e --arg h "$head" '.["org.opencontainers.image.revision"] == $h' "$WORK/labels.json"
  check "--git-labels sets the source to origin without credentials" \
    jq -e '.["org.opencontainers.image.source"] == "https://example.com/team/models.git"' "$WORK/labels.json"
  echo "# changed" >> "$G/onnx-ridge/spec.yaml"
  check "a changed tracked file marks the revision -dirty" bash -c "$(declare -f labels); G='$G' AMLPKG='$AMLPKG' WORK='$WORK'
    labels --git-labels | jq -e --arg h '$head-dirty' '.[\"org.opencontainers.image.revision\"] == \$h'"
  check "--git-labels outside a repository adds nothing and says so" bash -c \
    "'$AMLPKG' build '$WORK/elsewhere/deeper/onnx-ridge/spec.yaml' -o '$WORK/ng.tar' --git-labels --check '$digest' 2>&1 | grep -q 'not in a git repository'"
else
  skip "git is not installed"
fi
