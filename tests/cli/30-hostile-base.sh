#!/usr/bin/env bash
# Hostile base images (issue 18): a small archive whose entry expands to 1 GiB
# of zeros, in each form a base comes in (oci-archive, docker-archive, oci:
# layout). Unreferenced, it is never unpacked (the build succeeds); as the layer
# with a small descriptor it is refused from the descriptor, unread; as a
# correctly sized gzip layer that expands to 1 GiB it is refused at
# AMLPKG_MAX_LAYER_MB. $TMPDIR is sampled while each build runs: its peak stays
# small, and nothing stays behind.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples/onnx-ridge"
cd "$WORK" || exit 1
cp "$EX/model.onnx" model.onnx
mkdir bases
"$PY" "$ROOT/tests/cli/hostile_base.py" bases || { fail "making the hostile bases"; exit 0; }
check "the hostile archives are small on disk" bash -c "[ \$(du -sk bases/oci-unref.tar.gz | cut -f1) -lt 16384 ]"

spec() { # NAME BASE
  printf 'models: [{name: ridge, version: 1, path: model.onnx}]\nenvironment: {base_image: "%s"}\noutput: {name: ridge, tag: "1"}\n' \
    "$2" > "$1"
}
# build_sampled SPEC OUT: builds with its own TMPDIR, sampling that folder's size (KiB) into peak.kb
# while the build runs; the build's output in build.log, its exit code in build.rc.
build_sampled() {
  rm -rf tmp && mkdir tmp && echo 0 > samples.kb
  ( while :; do du -sk tmp 2>/dev/null | cut -f1 >> samples.kb; sleep 0.05; done ) &
  local sampler=$!
  TMPDIR="$WORK/tmp" AMLPKG_MAX_LAYER_MB=64 "$AMLPKG" build "$1" -o "$2" --no-sbom --no-cache > build.log 2>&1
  echo $? > build.rc
  kill "$sampler"; wait "$sampler" 2>/dev/null
  grep -E '^[0-9]+$' samples.kb | sort -n | tail -1 > peak.kb
}
# Peak $TMPDIR use under 32 MiB (the bomb is 1 GiB), and nothing left there.
bounded() {
  local peak; peak=$(cat peak.kb)
  if [ "$peak" -lt 32768 ] && [ -z "$(ls -A tmp)" ]; then pass "$1 (peak \$TMPDIR ${peak} KiB, nothing left)"
  else fail "$1 (peak \$TMPDIR ${peak} KiB; left: $(ls -A tmp | tr '\n' ' '))"; fi
}
builds() { # DESC BASE
  spec s.yaml "$2"; rm -f out.tar
  build_sampled s.yaml out.tar
  if [ "$(cat build.rc)" = 0 ] && [ -s out.tar ]; then pass "$1 builds"
  else fail "$1 builds (exit $(cat build.rc))"; sed 's/^/    /' build.log | head; fi
  bounded "... never unpacking the 1 GiB entry"
}
refused() { # DESC BASE PATTERN
  spec s.yaml "$2"; rm -f out.tar
  build_sampled s.yaml out.tar
  if [ "$(cat build.rc)" != 0 ] && grep -Eq -- "$3" build.log && [ ! -e out.tar ]; then pass "$1 is refused, nothing written"
  else fail "$1 is refused (exit $(cat build.rc), want /$3/)"; sed 's/^/    /' build.log | head; fi
  bounded "... without expanding it to \$TMPDIR"
}

B="$WORK/bases"
BOMB=sha256:$("$PY" -c 'import hashlib; print(hashlib.sha256(b"bomb").hexdigest())')
builds "oci-archive (gzip) with an unreferenced 1 GiB entry" "oci-archive:$B/oci-unref.tar.gz"
refused "oci-archive: the 1 GiB entry as a layer whose descriptor says 1000 bytes" "oci-archive:$B/oci-ref.tar.gz" \
  "oci-ref.tar.gz: blob $BOMB is larger than its descriptor's 1000 bytes"
refused "oci-archive: a correctly sized gzip layer expanding to 1 GiB" "oci-archive:$B/oci-zip.tar" \
  "oci-zip.tar.*expands to more than 64 MiB uncompressed \(AMLPKG_MAX_LAYER_MB\)"
builds "docker-archive (gzip) with an unreferenced 1 GiB entry" "docker-archive:$B/docker-unref.tar.gz"
refused "docker-archive: the 1 GiB entry as its layer" "docker-archive:$B/docker-ref.tar.gz" \
  "docker-ref.tar.gz': layer bomb/layer.tar is larger than 64 MiB \(AMLPKG_MAX_LAYER_MB\)"
refused "docker-archive: a gzip layer expanding to 1 GiB" "docker-archive:$B/docker-zip.tar" \
  "docker-zip.tar.*expands to more than 64 MiB uncompressed \(AMLPKG_MAX_LAYER_MB\)"
builds "oci: layout with an unreferenced 1 GiB blob" "oci:$B/layout-unref"
refused "oci: layout: a 1 GiB blob whose descriptor says 1000 bytes" "oci:$B/layout-ref" \
  "layout-ref: blob $BOMB is larger than its descriptor's 1000 bytes"
refused "oci: layout: a gzip layer expanding to 1 GiB" "oci:$B/layout-zip" \
  "layout-zip.*expands to more than 64 MiB uncompressed \(AMLPKG_MAX_LAYER_MB\)"

# A full file system (a 2 MiB tmpfs): the error names the file and says "No space left on device",
# never "Success"; no partial output; a cache that could not store the base holds no entry for it.
mkdir full
if ! mount -t tmpfs -o size=2m tmpfs full 2>/dev/null; then
  skip "cannot mount a tmpfs (needs root): the full-disk checks"; exit 0
fi
on_exit "umount '$WORK/full'"
spec s.yaml "oci-archive:$B/oci-unref.tar.gz"
check_fails "a build onto a full file system fails with the errno's text, naming the file" \
  "full/[^ ]*: write failed: No space left on device" "$AMLPKG" build s.yaml -o full/out.tar --no-sbom --no-cache
check "... and leaves nothing there" bash -c "[ -z \"\$(ls -A full)\" ]"
check "... never 'Success'" bash -c "! grep -q Success '$WORK/last.out'"
spec big.yaml "oci-archive:$B/big.tar"
check "a base the full cache cannot store still builds" env AMLPKG_CACHE_DIR="$WORK/full/cache" \
  "$AMLPKG" build big.yaml -o big-out.tar --no-sbom
cp last.out big.log
check "... saying why it was not stored" grep -q "not stored (cache: write failed: No space left on device)" big.log
check "... and the cache verifies clean" "$AMLPKG" cache --dir full/cache verify
check "... with no entry for the base" bash -c "[ -z \"\$('$AMLPKG' cache --dir full/cache ls --json | jq -c '.[]?' 2>/dev/null)\" ]"
check_fails "a base unpacked into a full \$TMPDIR fails with the errno's text, naming the file" \
  "full/amlpkg-src-[^ ]*/blobs/sha256/[0-9a-f]{64}: cannot write: No space left on device" \
  env TMPDIR="$WORK/full" "$AMLPKG" build big.yaml -o big-out2.tar --no-sbom --no-cache
check "... never 'Success', nothing written, nothing left in \$TMPDIR" bash -c \
  "! grep -q Success '$WORK/last.out' && [ ! -e big-out2.tar ] && [ -z \"\$(ls -A full | grep -v '^cache$')\" ]"
