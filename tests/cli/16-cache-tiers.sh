#!/usr/bin/env bash
# The cache beyond one environment: compressed layers kept by content (an
# unchanged layer is not compressed again; a changed file always is), file
# digests remembered by stat, hit counts, and the read-only global tier
# (--global-cache / AMLPKG_GLOBAL_CACHE): a hit there is copied into the
# workspace and the global directory is never written.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples/onnx-ridge"
MK="$ROOT/tests/mkbase.py"
cd "$WORK" || exit 1
cp "$EX/model.onnx" model.onnx
printf 'models:\n  - {name: ridge, version: 1, path: model.onnx}\n' > plain.yaml
# Files younger than 2 s are hashed every time (their digest is not remembered yet): age them.
touch -d '-1 minute' model.onnx

digest_of() { tail -1 "$1"; }

# ---- layers kept by content ----
export AMLPKG_CACHE_DIR="$WORK/ws"
"$AMLPKG" build plain.yaml -o a.tar > a.out 2> a.err
"$AMLPKG" build plain.yaml -o b.tar > b.out 2> b.err
check "a rebuild from kept layers gives the same digest" test "$(digest_of a.out)" = "$(digest_of b.out)"
check "... byte for byte" cmp a.tar b.tar
check "the cache lists the runtime and model layers" bash -c "
  '$AMLPKG' cache stats --json | $PY -c 'import json,sys; s=json.load(sys.stdin); assert s[\"layers\"]==2 and s[\"entries\"]==0, s'"
check "cache ls hides layers unless --all" bash -c "
  [ -z \"\$('$AMLPKG' cache ls)\" ] && [ \$('$AMLPKG' cache ls --all | grep -c ' layer ') = 2 ]"
check "each kept layer counts its hit" bash -c "
  '$AMLPKG' cache ls --all --json | $PY -c 'import json,sys; l=json.load(sys.stdin); assert [e[\"hits\"] for e in l]==[1,1] and {e[\"kind\"] for e in l}=={\"layer\"}, l'"
check "--no-cache builds the same image without the cache" bash -c "
  '$AMLPKG' build plain.yaml -o n.tar --no-cache 2>/dev/null | tail -1 | grep -qx '$(digest_of a.out)'"

# A content change with the same size and the old mtime: ctime still tells.
cp model.onnx model.orig
$PY - <<'PY'
data = bytearray(open("model.onnx", "rb").read())
data[-1] ^= 1
open("model.onnx", "wb").write(data)
PY
touch -r model.orig model.onnx
"$AMLPKG" build plain.yaml -o c.tar > c.out 2>/dev/null
"$AMLPKG" build plain.yaml -o c2.tar --no-cache > c2.out 2>/dev/null
check "an edited model gives a new image even with size and mtime kept" \
  bash -c "[ '$(digest_of c.out)' != '$(digest_of a.out)' ] && [ '$(digest_of c.out)' = '$(digest_of c2.out)' ]"
cp model.orig model.onnx && touch -d '-1 minute' model.onnx

# A damaged kept layer is never used: the build compresses the layer again.
victim=$("$AMLPKG" cache ls --all --json | $PY -c 'import json,sys; print(max(json.load(sys.stdin), key=lambda e: e["size"])["manifest"][7:])')
printf 'garbage' | dd of="$WORK/ws/blobs/sha256/$victim" bs=1 seek=100 conv=notrunc 2>/dev/null
"$AMLPKG" build plain.yaml -o d.tar > d.out 2> d.err
check "a corrupt kept layer is rebuilt, and the image is still right" test "$(digest_of d.out)" = "$(digest_of a.out)"
check "... saying so" grep -q 'cached copy unusable' d.err
check "cache verify then removes the bad blob" bash -c "'$AMLPKG' cache verify >/dev/null; '$AMLPKG' cache verify"

# ---- environments: hit counts and the global tier ----
BUSYBOX=$(command -v busybox || true)
if [ -z "$BUSYBOX" ] || ! file -L "$BUSYBOX" | grep -q 'statically linked'; then
  skip "global tier: busybox-static is not installed (make deps installs it)"
  exit 0
fi
mkdir -p rootfs/bin && cp "$BUSYBOX" rootfs/bin/busybox
"$PY" "$MK" layer busybox bb.tar rootfs >/dev/null
"$PY" "$MK" layout base-layout bb.tar --gzip --env FOO=bar >/dev/null
tar cf base.tar -C base-layout oci-layout index.json blobs
printf 'models:\n  - {name: ridge, version: 1, path: model.onnx}\nenvironment:\n  base_image: oci-archive:base.tar\n' > env.yaml
key=$("$AMLPKG" hash env.yaml)

# A CI job publishes the global cache; then it is only read.
AMLPKG_CACHE_DIR="$WORK/global" "$AMLPKG" build env.yaml -o g.tar > g.out 2>/dev/null
snapshot() { (cd "$1" && find . -printf '%p %s %T@\n' | sort && find . -type f -exec sha256sum {} + | sort); }
snapshot "$WORK/global" > global.before
rm base.tar # the base's source is gone: only a cache can supply it now

export AMLPKG_CACHE_DIR="$WORK/fresh"
"$AMLPKG" build env.yaml -o h.tar --global-cache "$WORK/global" > h.out 2> h.err
check "a fresh workspace gets a global hit" grep -q "environment ${key:0:12}: cache hit (global $WORK/global)" h.err
check "... and the identical image" test "$(digest_of h.out)" = "$(digest_of g.out)"
check "... and the entry is copied into the workspace" bash -c "'$AMLPKG' cache ls | grep -q '^$key '"
check "... whole" "$AMLPKG" cache verify
snapshot "$WORK/global" > global.after
check "the global directory is not written (no -wal, -shm, lock or touched rows)" diff global.before global.after
"$AMLPKG" build env.yaml -o i.tar > i.out 2> i.err
check "the next build is a workspace hit" grep -q "environment ${key:0:12}: cache hit (workspace)" i.err
check "hits count in the workspace entry" bash -c "
  '$AMLPKG' cache ls --json | $PY -c 'import json,sys; e=[e for e in json.load(sys.stdin) if e[\"key\"]==\"$key\"][0]; assert e[\"hits\"]==2, e'"
check "cache stats sums environment hits" bash -c "'$AMLPKG' cache stats | grep -Eq '^entries: 1 environments \([0-9]+ hits\)'"

export AMLPKG_CACHE_DIR="$WORK/fresh2"
check "AMLPKG_GLOBAL_CACHE names the global tier too" bash -c "
  AMLPKG_GLOBAL_CACHE='$WORK/global' '$AMLPKG' build env.yaml -o j.tar 2>&1 >/dev/null | grep -q 'cache hit (global'"

# A damaged global tier is reported and skipped, never copied.
cp -a "$WORK/global" "$WORK/bad-global"
blob=$(ls -S base-layout/blobs/sha256 | head -1) # the base's layer, which the environment entry needs
printf 'garbage' | dd of="$WORK/bad-global/blobs/sha256/$blob" bs=1 seek=100 conv=notrunc 2>/dev/null
export AMLPKG_CACHE_DIR="$WORK/fresh3"
check_fails "a corrupt global blob is refused (the base's source is gone, so the build fails)" \
  "global cache .*unusable.*corrupt" "$AMLPKG" build env.yaml -o k.tar --global-cache "$WORK/bad-global"
check "... and nothing corrupt reaches the workspace" bash -c "'$AMLPKG' cache verify && [ -z \"\$('$AMLPKG' cache ls)\" ]"
check "... nor any output" test ! -e k.tar
check "a missing global directory is reported, and the build goes on without it" bash -c "
  ! '$AMLPKG' build env.yaml -o l.tar --global-cache '$WORK/nowhere' 2> l.err >/dev/null &&
  grep -q 'global cache .*/nowhere unusable' l.err && grep -q 'base.tar' l.err"

# A real read-only mount, where the kernel enforces it (needs mount rights: root outside a locked-down container).
mkdir -p ro
if mount --bind "$WORK/global" ro 2>/dev/null && mount -o remount,ro,bind ro 2>/dev/null; then
  on_exit "umount '$WORK/ro'"
  export AMLPKG_CACHE_DIR="$WORK/fresh4"
  check "a global tier on a read-only mount works" bash -c "
    '$AMLPKG' build env.yaml -o m.tar --global-cache '$WORK/ro' 2>&1 >/dev/null | grep -q 'cache hit (global'"
  check "cache ls lists a read-only cache" bash -c "'$AMLPKG' cache --dir '$WORK/ro' ls | grep -q '^$key '"
  umount ro
else
  umount ro 2>/dev/null
  skip "read-only mount: this machine does not allow mount --bind here (the snapshot check above covers no writes)"
fi
