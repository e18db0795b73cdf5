#!/usr/bin/env bash
# `amlpkg lock` on a spec takes the target's virtual packages from its base image: __glibc from the base's
# libc (this machine's real libc.so.6 copied into a made base; an older layout where libc.so.6 links to
# libc-2.31.so; a base with no libc at all), __cuda from the base's CUDA_VERSION, --virtual still winning; a
# package needing a newer glibc than the base's is refused naming both. And the pip section's wheels are kept
# in the cache while locking (by sha256, the store build fetches from) — also a wheel whose metadata came
# alone (PEP 658) — so the build after the lock installs them with the index server stopped.
source "$(dirname "$0")/../lib.sh"
command -v cph >/dev/null || { skip "cph is not installed (conda-package-handling; make deps installs it)"; exit 0; }
cd "$WORK" || exit 1
"$PY" "$ROOT/tests/conda_channel.py" "$WORK/channels" vp \
  "linux-64:newc=1.0=h_0;__glibc >=2.38" "linux-64:oldc=1.0=h_0;__glibc >=2.17" "linux-64:mid=1.0=h_0;__glibc >=2.32" \
  "linux-64:cu=1.0=h_0;__cuda >=12" "linux-64:plain=1.0=h_0" "linux-64:python=3.11.4=h_0" ||
  { fail "the channel is built with cph"; exit 1; }
CH="file://$WORK/channels/vp"
cp "$ROOT/examples/python-ridge/model.onnx" m.onnx
HOST_GLIBC=$(getconf GNU_LIBC_VERSION | cut -d' ' -f2)
LIBC=$(ldconfig -p 2>/dev/null | sed -n 's/.*libc\.so\.6 (libc6,x86-64) => //p' | head -1)
[ -f "${LIBC:-/usr/lib/x86_64-linux-gnu/libc.so.6}" ] || { skip "no x86-64 libc.so.6 on this machine"; exit 0; }
LIBC=$(readlink -f "${LIBC:-/usr/lib/x86_64-linux-gnu/libc.so.6}")

# Bases: merged /usr with the real libc; the older layout (a symlink to libc-2.31.so holding glibc's banner);
# none at all; one that says CUDA_VERSION.
mkdir -p b1/usr/lib/x86_64-linux-gnu && cp "$LIBC" b1/usr/lib/x86_64-linux-gnu/libc.so.6 && ln -s usr/lib b1/lib
mkdir -p b2/lib/x86_64-linux-gnu && ln -s libc-2.31.so b2/lib/x86_64-linux-gnu/libc.so.6 &&
  printf '\177ELF...GNU C Library (Ubuntu GLIBC 2.31-0ubuntu9.9) stable release version 2.31.\nCopyright\0' > b2/lib/x86_64-linux-gnu/libc-2.31.so
mkdir -p b3/etc && echo static > b3/etc/os-release
for b in b1 b2 b3; do tar -C $b -cf $b.tar . && "$PY" "$ROOT/tests/integration/mk_oci_base.py" $b.tar $b.oci $b:1 || exit 1; done
"$PY" "$ROOT/tests/integration/mk_oci_base.py" b1.tar b4.oci b4:1 PATH=/usr/bin CUDA_VERSION=12.2.140 || exit 1
spec() { # NAME BASE DEP...
  local n=$1 b=$2; shift 2
  { echo "channels: [$CH]"; echo "dependencies:"; for d in "$@"; do echo "  - $d"; done; } > "$n.yml"
  printf 'models: [{name: m, version: 1, path: m.onnx}]\nenvironment:\n  base_image: oci-archive:%s.oci\n  conda_file: %s.yml\n' "$b" "$n" > "$n.yaml"
}

spec new1 b1 newc
check_fails "a package needing __glibc >=2.38 on a base with glibc $HOST_GLIBC is refused, naming both" \
  "newc 1\.0 h_0 needs '__glibc >=2\.38'.*the base image oci-archive:b1\.oci has glibc $HOST_GLIBC" "$AMLPKG" lock new1.yaml
cp "$WORK/last.out" new1.out
check "... the glibc read from the base's real libc.so.6 is this machine's ($HOST_GLIBC)" \
  grep -q "target from oci-archive:b1.oci: glibc $HOST_GLIBC, x86_64" new1.out
spec old1 b1 oldc plain
check "a package needing __glibc >=2.17 locks on it" bash -c "'$AMLPKG' lock old1.yaml -o old1.lock 2>/dev/null && grep -q '/oldc-1.0-h_0' old1.lock"
check "--virtual __glibc=2.39 overrides the base" bash -c "'$AMLPKG' lock new1.yaml --virtual __glibc=2.39 2>/dev/null | grep -q '/newc-1.0-h_0'"
spec mid2 b2 mid
check_fails "the older layout (libc.so.6 -> libc-2.31.so) reads 2.31: __glibc >=2.32 is refused naming 2.31" \
  "mid 1\.0 h_0 needs '__glibc >=2\.32'.*has glibc 2\.31" "$AMLPKG" lock mid2.yaml
spec old2 b2 oldc
check "... and __glibc >=2.17 locks there" bash -c "'$AMLPKG' lock old2.yaml 2>/dev/null | grep -q '/oldc-1.0-h_0'"
spec old3 b3 oldc
check_fails "a base without glibc provides no __glibc (not the CPU default)" \
  "oldc 1\.0 h_0 needs '__glibc >=2\.17'.*has no glibc" "$AMLPKG" lock old3.yaml
spec plain3 b3 plain
check "... while a package that needs none locks there" bash -c "'$AMLPKG' lock plain3.yaml 2>/dev/null | grep -q '/plain-1.0-h_0'"
spec cu1 b1 cu
check_fails "a base without CUDA_VERSION provides no __cuda" "cu 1\.0 h_0 needs '__cuda >=12'" "$AMLPKG" lock cu1.yaml
spec cu4 b4 cu
check "a base with CUDA_VERSION=12.2.140 provides __cuda=12.2" bash -c "
  '$AMLPKG' lock cu4.yaml 2> cu4.err | grep -q '/cu-1.0-h_0' && grep -q 'glibc $HOST_GLIBC, CUDA 12.2' cu4.err"
check_fails "... and --virtual __cuda=11.8 still wins" "cu 1\.0 h_0 needs '__cuda >=12'" "$AMLPKG" lock cu4.yaml --virtual __cuda=11.8
printf 'models: [{name: m, version: 1, path: m.onnx}]\nenvironment:\n  base_image: oci-archive:missing.oci\n  conda_file: old1.yml\n' > gone.yaml
check "a base that cannot be read is said, and the defaults kept (a lock may be written without the base)" bash -c "
  '$AMLPKG' lock gone.yaml 2> gone.err | grep -q '/oldc-1.0-h_0' && grep -q 'missing.oci.*keep their defaults' gone.err"

# The pip section's wheels, kept while locking.
if ! "$PY" -c 'import setuptools' 2>/dev/null; then
  skip "python3-setuptools is not installed (make deps installs it)"; exit 0
fi
"$PY" "$ROOT/tests/pip_index.py" build "$WORK" "kept=1.0" "meta-only=2.0" >/dev/null || { fail "wheels are built with pip wheel"; exit 1; }
mkdir -p wheels && cp built/*.whl wheels/
"$PY" "$ROOT/tests/pip_index.py" index "$WORK/srv" wheels --metadata meta_only-2.0-py3-none-any.whl
port=$(free_port)
"$PY" "$ROOT/tests/pip_index.py" serve "$WORK/srv" "$port" 2> server.log &
srv=$!
on_exit "kill $srv 2>/dev/null; wait $srv 2>/dev/null"
wait_http "http://127.0.0.1:$port/simple/" 20 || { fail "the index is served"; exit 1; }
{ echo "channels: [$CH]"; echo "dependencies:"; echo "  - python 3.11.*"; echo "  - pip:"
  echo "      - --index-url http://127.0.0.1:$port/simple"; echo "      - kept"; echo "      - meta-only"; } > piped.yml
printf 'models: [{name: m, version: 1, path: m.onnx}]\nenvironment:\n  base_image: oci-archive:b1.oci\n  conda_file: piped.yml\n  lock_file: piped.lock\noutput: {name: piped, tag: "1"}\n' > piped.yaml
sha() { sha256sum "wheels/$1" | cut -d' ' -f1; }
check "lock --no-cache keeps no wheel" bash -c "
  '$AMLPKG' lock piped.yml --no-cache -o piped.lock 2>/dev/null && grep -q '^# pip kept @ ' piped.lock &&
  [ ! -e '$AMLPKG_CACHE_DIR/blobs/sha256/$(sha kept-1.0-py3-none-any.whl)' ]"
check "lock keeps both wheels in the cache by sha256, the one resolved from PEP 658 metadata too" bash -c "
  '$AMLPKG' lock piped.yml -o piped.lock 2>/dev/null &&
  cmp wheels/kept-1.0-py3-none-any.whl '$AMLPKG_CACHE_DIR/blobs/sha256/$(sha kept-1.0-py3-none-any.whl)' &&
  cmp wheels/meta_only-2.0-py3-none-any.whl '$AMLPKG_CACHE_DIR/blobs/sha256/$(sha meta_only-2.0-py3-none-any.whl)'"
check "... the metadata-only wheel was resolved from its .metadata file (PEP 658)" grep -q 'meta_only-2.0-py3-none-any.whl.metadata' server.log
kill $srv; wait $srv 2>/dev/null
check "with the index server stopped, the build installs both wheels from the cache" bash -c "
  ! curl -s -o /dev/null http://127.0.0.1:$port/simple/ &&
  '$AMLPKG' build piped.yaml -o piped.tar 2> build.err && grep -q 'and 2 pip wheels' build.err"
