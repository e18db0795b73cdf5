#!/usr/bin/env bash
# An environment miss on a base whose layers the cache already holds (an earlier environment on the same
# base; `amlpkg cache rm` drops the entry, not its blobs) takes each layer from the cache by hard link
# instead of unpacking the archive again, and stores the layers it owns without copying them
# (cache_adopt_blob). What must hold: the same image digest either way; a cache blob damaged on disk is
# hashed through the link, left out of the build and replaced by the archive's checked copy; a build
# killed at any point leaves no entry that needs a missing or partial blob; and a layer typed as a plain
# tar whose bytes are compressed is refused (its digest is its diff_id, so it is hashed only once).
source "$(dirname "$0")/../lib.sh"
cd "$WORK" || exit 1

# A base without an engine: one plain-tar layer, 24 MB so that a kill lands while it is being handled.
mkdir -p rootfs/etc rootfs/opt && echo base > rootfs/etc/base-release &&
  head -c 24000000 /dev/urandom > rootfs/opt/weights.bin && tar -C rootfs -cf root.tar etc opt &&
  "$PY" "$ROOT/tests/integration/mk_oci_base.py" root.tar base.tar base:1 || { fail "the base is made"; exit 1; }
LAYER=$(sha256sum root.tar | cut -d' ' -f1)
BLOB=$AMLPKG_CACHE_DIR/blobs/sha256/$LAYER
cp "$ROOT/examples/onnx-ridge/model.onnx" m.onnx
printf 'models: [{name: m, version: 1, path: m.onnx}]\nenvironment:\n  base_image: oci-archive:base.tar\noutput: {name: reuse, tag: "1"}\n' > spec.yaml
KEY=$("$AMLPKG" hash spec.yaml)
digest() { "$AMLPKG" build spec.yaml -o "$1" 2>"$1.err" | tail -1; }
layer_ok() { # ARCHIVE: the base layer's bytes inside the output hash to its name
  tar -xOf "$1" "blobs/sha256/$LAYER" | sha256sum | grep -q "^$LAYER "
}

D1=$(digest one.tar)
check "a first build stores the base layer in the cache" test -s "$BLOB"
INODE=$(stat -c %i "$BLOB")
"$AMLPKG" cache rm "$KEY" >/dev/null 2>&1
D2=$(digest two.tar)
check "after the entry is dropped, the rebuild gives the same digest" test -n "$D1" -a "$D1" = "$D2"
check "... the cache's blob is still the same file" test "$(stat -c %i "$BLOB")" = "$INODE"
check "... and whole in the output" layer_ok two.tar
check "... no link is left in the cache's temporary directory" \
  bash -c "[ -z \"\$(ls -A '$AMLPKG_CACHE_DIR/blobs/tmp')\" ]"
# The archive's copy of the layer damaged (same size): only a build that takes the layer from the cache,
# by its digest, can still succeed.
"$PY" - base.tar damaged.tar "$LAYER" <<'PYEOF'
import sys, tarfile, io
src, dst, layer = sys.argv[1:]
with tarfile.open(src) as i, tarfile.open(dst, "w") as o:
    for m in i.getmembers():
        data = i.extractfile(m).read() if m.isfile() else None
        if m.name.endswith(layer):
            data = data[:4096] + b"XXXX" + data[4100:]
        o.addfile(m, io.BytesIO(data) if data is not None else None)
PYEOF
sed 's/oci-archive:base.tar/oci-archive:damaged.tar/' spec.yaml > damaged.yaml
"$AMLPKG" cache rm "$KEY" >/dev/null 2>&1
check "a layer the cache holds is taken from it by digest, not unpacked again: an archive whose copy is damaged still builds" \
  "$AMLPKG" build damaged.yaml -o dmg.tar
check "... with the layer whole in its output" layer_ok dmg.tar

# A cache blob damaged in place (same size): hashed through the link, left out, and replaced.
"$AMLPKG" cache rm "$KEY" >/dev/null 2>&1
printf 'XXXX' | dd of="$BLOB" bs=1 seek=4096 conv=notrunc 2>/dev/null
D3=$(digest three.tar)
check "a damaged cache blob is not linked into the build: same digest" test -n "$D3" -a "$D3" = "$D1"
check "... the output's layer is the archive's, not the damaged one" layer_ok three.tar
check "... and the cache holds the checked copy now" bash -c "
  sha256sum '$BLOB' | grep -q '^$LAYER ' && '$AMLPKG' cache verify 2>&1 | grep -q ' 0 corrupt, 0 missing'"

# Builds killed at different points: never an entry that needs a missing or partial blob.
ok=1 n=0
for delay in 0.05 0.15 0.3 0.6 0.05 0.15 0.3 0.6; do
  n=$((n + 1))
  "$AMLPKG" cache rm "$KEY" >/dev/null 2>&1
  [ $n -gt 4 ] && rm -rf "$AMLPKG_CACHE_DIR" # the second round: killed while the layer goes into the cache
  mkdir -p k/tmp
  TMPDIR=$WORK/k/tmp "$AMLPKG" build spec.yaml -o k/killed.tar >/dev/null 2>&1 &
  pid=$!
  sleep "$delay"
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  rm -rf k # what the killed process could not remove: its temporary directories and output
  "$AMLPKG" cache verify > verify.out 2>&1 || ok=0
  grep -q ' 0 corrupt, 0 missing' verify.out || { ok=0; cat verify.out; }
  [ "$(digest again.tar)" = "$D1" ] || { ok=0; cat again.tar.err; }
  rm -f again.tar*
done
check "a build killed at any point leaves the cache verifiable (no partial blob, no broken entry) and the next build whole" \
  test "$ok" = 1

# A layer typed as a plain tar whose bytes are gzip: its digest is its diff_id, yet it is no tar.
gzip -1 -c root.tar > root.tar.gz && "$PY" "$ROOT/tests/integration/mk_oci_base.py" root.tar.gz gz.tar gz:1
printf 'models: [{name: m, version: 1, path: m.onnx}]\nenvironment:\n  base_image: oci-archive:gz.tar\noutput: {name: gz, tag: "1"}\n' > gz.yaml
check_fails "a plain-tar layer whose bytes are compressed is refused, naming the compression" \
  "plain tar layer whose bytes are gzip-compressed" "$AMLPKG" build gz.yaml -o gz-out.tar
check "... and nothing is written" test ! -e gz-out.tar
