#!/usr/bin/env bash
# What an environment miss no longer pays for. A base whose layers the cache already holds (an earlier
# environment on the same base; `amlpkg cache rm` drops the entry, not its blobs) has each layer taken
# from the cache by hard link instead of unpacking the archive again, and the layers amlpkg owns are
# stored without a copy (cache_adopt_blob). What must hold: the same image digest either way; a cache blob
# damaged on disk is hashed through the link, left out of the build and replaced by the archive's checked
# copy; a build killed at any point leaves no entry that needs a missing or partial blob; a layer typed as
# a plain tar whose bytes are compressed is refused (its digest is its diff_id, so it is hashed once).
# A conda environment installed without an engine is unpacked and linked in memory when it surely fits
# (conda_stage.h), on disk otherwise or when asked, and retried on disk when the memory stage fills up:
# the same layer every way.
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

# A conda environment installed without an engine is unpacked and linked in memory (/dev/shm) when it
# surely fits (conda_stage.h), on disk otherwise: the same layer either way.
if ! command -v cph >/dev/null; then
  skip "conda staging: cph is not installed (make deps installs it)"
  exit 0
fi
PKGS=()
for i in 1 2 3 4; do PKGS+=("linux-64:bulk$i=1.0=h_0;;;;bulk!conda"); done
"$PY" "$ROOT/tests/conda_channel.py" "$WORK/channels" main "${PKGS[@]}" >/dev/null || { fail "the channel is built"; exit 1; }
{ echo "channels: [file://$WORK/channels/main]"; echo "dependencies:"; for i in 1 2 3 4; do echo "  - bulk$i"; done; } > env.yml
"$AMLPKG" lock env.yml -o env.lock 2>/dev/null
printf 'models: [{name: m, version: 1, path: m.onnx}]\nenvironment:\n  base_image: oci-archive:base.tar\n  conda_file: env.yml\n  lock_file: env.lock\noutput: {name: envmiss, tag: "1"}\n' > conda.yaml
CKEY=$("$AMLPKG" hash conda.yaml)
conda_build() { # NAME [ENV=VALUE...]: builds conda.yaml into NAME.tar, stderr in NAME.err; prints the digest
  local name=$1; shift
  "$AMLPKG" cache rm "$CKEY" >/dev/null 2>&1
  env "$@" "$AMLPKG" build conda.yaml -o "$name.tar" 2>"$name.err" | tail -1
}
SHM_BEFORE=$(ls /dev/shm 2>/dev/null | grep '^amlpkg-conda-' | sort)
C1=$(conda_build first)
check "a conda environment whose packages are not cache blobs yet has them fetched first, then is unpacked and linked in memory" \
  bash -c "grep -q 'conda packages: 0 in the cache, 4 fetched' first.err && grep -q 'link [0-9.]* s (in memory)' first.err"
C2=$(conda_build mem)
check "... and so is it with the packages in the cache" grep -q 'link [0-9.]* s (in memory)' mem.err
check "... with the same digest" test -n "$C1" -a "$C2" = "$C1"
C3=$(conda_build forced AMLPKG_CONDA_STAGE=disk)
check "AMLPKG_CONDA_STAGE=disk keeps it on disk, same digest" \
  bash -c "grep -q 'link [0-9.]* s (on disk)' forced.err && [ '$C3' = '$C1' ]"
check "... and no stage of these builds is left in /dev/shm" \
  bash -c "[ \"\$(ls /dev/shm | grep '^amlpkg-conda-' | sort)\" = '$SHM_BEFORE' ]"
# A memory stage that fills up anyway is retried on disk: AMLPKG_CONDA_STAGE=memory skips the estimate,
# and a 64 KiB tmpfs on /dev/shm, in a mount namespace of its own, cannot hold the files.
if unshare -m true 2>/dev/null; then
  "$AMLPKG" cache rm "$CKEY" >/dev/null 2>&1
  C4=$(AMLPKG_CONDA_STAGE=memory unshare -m bash -c \
    "mount -t tmpfs -o size=64k tmpfs /dev/shm && exec '$AMLPKG' build conda.yaml -o full.tar" 2>full.err | tail -1)
  check "a memory stage that fills up is retried on disk, saying so, with the same digest" \
    bash -c "grep -q 'staging on disk instead of in memory' full.err && grep -q '(on disk)' full.err && [ '$C4' = '$C1' ]"
else
  skip "a full memory stage: unshare -m is not permitted here"
fi
