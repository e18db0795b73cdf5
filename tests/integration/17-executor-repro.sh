#!/usr/bin/env bash
# Executor-built environments reproduce: the same Docker steps built by podman
# on two "machines" (their own podman store, amlpkg cache, TMPDIR and umask, a
# second apart) give the same environment layers and the same image digest,
# because the engine builds with --timestamp 0 and amlpkg re-writes its layer
# (sorted, mtime 0, the engine's own files dropped, owners and modes the steps
# set kept). Steps that reach the network are named in a warning. The build
# leaves podman's store as it found it, on success and on failure.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples/onnx-ridge"
export CONTAINERS_CONF="$ROOT/templates/podman-containers.conf"
for tool in podman busybox; do
  command -v $tool >/dev/null || { skip "$tool is not installed (make deps installs it)"; exit 0; }
done
cd "$WORK" || exit 1
cp "$EX/model.onnx" .
# A busybox base as an oci-archive: each machine's podman pulls it into its own store.
mkdir -p rootfs/bin rootfs/etc rootfs/tmp
cp "$(command -v busybox)" rootfs/bin/busybox
for t in sh echo cat mkdir chmod chown ln rm touch; do ln -s busybox "rootfs/bin/$t"; done
echo "welcome" > rootfs/etc/motd
tar -C rootfs -cf rootfs.tar .
# podman refuses a run root path over 50 characters, and the runner's TMPDIR is deep: run roots go in a
# short folder of their own, removed on exit.
RUNROOTS=$(mktemp -d /tmp/aer.XXXXXX)
on_exit "rm -rf '$RUNROOTS'"
store() { echo "podman --root $WORK/$1/storage --runroot $RUNROOTS/$1 --storage-driver vfs"; }
SETUP=$(store setup)
on_exit "$SETUP rmi -af"
check "the base is made with podman" bash -c "
  $SETUP import -q --change 'ENV PATH=/bin' rootfs.tar localhost/bb:1 >/dev/null &&
  $SETUP save -q --format oci-archive -o base.tar localhost/bb:1 && $SETUP rmi -af >/dev/null"

cat > spec.yaml <<'YAML'
models: [{name: ridge, version: 1, path: model.onnx}]
environment:
  base_image: oci-archive:base.tar
  docker_steps:
    - RUN mkdir -p /opt/app/data && echo hello > /opt/app/data/hello.txt && chmod 0600 /opt/app/data/hello.txt
    - ENV APP_HOME=/opt/app
    - RUN touch /opt/app/stamp && ln /opt/app/data/hello.txt /opt/app/a-link && ln -s data/hello.txt /opt/app/sym
    - RUN mkdir /opt/app/owned && chown 1000:1000 /opt/app/owned && chmod 1777 /opt/app/owned && rm /etc/motd
YAML
build_on() { # MACHINE UMASK: builds spec.yaml as that machine would, output $WORK/MACHINE.tar
  local m=$1 u=$2
  mkdir -p "$WORK/$m/tmp"
  ( umask "$u"
    export TMPDIR="$WORK/$m/tmp" AMLPKG_CACHE_DIR="$WORK/$m/cache" AMLPKG_PODMAN="$(store "$m")"
    "$AMLPKG" build spec.yaml -o "$WORK/$m.tar" --no-sbom > "$WORK/$m.out" 2> "$WORK/$m.err" )
}
layers() { # ARCHIVE: its layer digests, one a line
  "$PY" - "$1" <<'PY'
import json, sys, tarfile
t = tarfile.open(sys.argv[1]); b = lambda d: t.extractfile('blobs/sha256/' + d[7:]).read()
m = json.loads(b(json.loads(t.extractfile('index.json').read())['manifests'][0]['digest']))
print('\n'.join(l['digest'] for l in m['layers']))
PY
}
for m in one two; do on_exit "$(store $m) rm -af -t 0; $(store $m) rmi -af"; done
check "machine one builds the environment with podman" build_on one 022
check "... saying it re-wrote the engine's layer" grep -q "re-written reproducibly" one.err
check "... and warning about no step (none reaches the network)" bash -c "! grep -q 'not reproducible' one.err"
sleep 1.1
check "machine two (umask 002, its own store, cache and TMPDIR, a second later) builds it too" build_on two 002
env1=$(layers one.tar | sed -n 1,2p) env2=$(layers two.tar | sed -n 1,2p)
check "the two environment layers (base and steps) have one digest" \
  bash -c "[ \$(wc -l <<<'$env1') = 2 ] && [ '$env1' = '$env2' ]"
check "the two images have one digest" bash -c "[ -n \"\$(tail -1 one.out)\" ] && [ \"\$(tail -1 one.out)\" = \"\$(tail -1 two.out)\" ]"
check "... and are the same bytes" cmp one.tar two.tar
check "the steps' layer: sorted, mtime 0, no engine files, the owner and modes the steps set" bash -c "
  '$PY' - one.tar <<'PY'
import io, json, sys, tarfile
t = tarfile.open(sys.argv[1]); b = lambda d: t.extractfile('blobs/sha256/' + d[7:]).read()
m = json.loads(b(json.loads(t.extractfile('index.json').read())['manifests'][0]['digest']))
l = tarfile.open(fileobj=io.BytesIO(b(m['layers'][1]['digest'])))
e = {x.name: x for x in l.getmembers()}
names = [x.name for x in l.getmembers()]
assert names == sorted(names), names
assert all(x.mtime == 0 and x.uname == '' and x.gname == '' for x in e.values()), 'times or names'
for noise in ('etc/hostname', 'etc/hosts', 'etc/resolv.conf', 'run/.containerenv'):
    assert noise not in e, noise
assert e['opt/app/data/hello.txt'].mode == 0o600, oct(e['opt/app/data/hello.txt'].mode)
assert e['opt/app/owned'].uid == 1000 and e['opt/app/owned'].mode == 0o1777, (e['opt/app/owned'].uid, oct(e['opt/app/owned'].mode))
assert e['opt/app/a-link'].islnk() and e['opt/app/a-link'].linkname == 'opt/app/data/hello.txt' or \
       e['opt/app/data/hello.txt'].islnk() and e['opt/app/data/hello.txt'].linkname == 'opt/app/a-link'
assert e['opt/app/sym'].issym() and e['opt/app/sym'].linkname == 'data/hello.txt'
assert 'etc/.wh.motd' in e
cfg = json.loads(b(m['config']['digest']))
assert cfg['created'] == '1970-01-01T00:00:00Z', cfg['created']
PY"
check "the image runs: the steps' files are there, /etc/motd is gone" bash -c "
  P=\"$(store one)\"; \$P load -q -i one.tar >/dev/null &&
  [ \"\$(\$P run --rm --entrypoint /bin/cat localhost/ridge:1 /opt/app/a-link)\" = hello ] &&
  ! \$P run --rm --entrypoint /bin/cat localhost/ridge:1 /etc/motd 2>/dev/null;
  rc=\$?; \$P rmi -f localhost/ridge:1 >/dev/null 2>&1; exit \$rc"

# --executor docker: Debian's podman-docker (a `docker` that execs podman, so no --timestamp reaches
# the engine); amlpkg's own re-writing makes the two machines agree all the same.
if [ -x /usr/bin/docker ] && grep -q podman /usr/bin/docker 2>/dev/null; then
  docker_on() { # MACHINE UMASK
    local m=$1 u=$2
    mkdir -p "$WORK/$m/tmp"
    printf '[storage]\ndriver = "vfs"\ngraphroot = "%s/storage"\nrunroot = "%s"\n' "$WORK/$m" "$RUNROOTS/$m" > "$WORK/$m/storage.conf"
    ( umask "$u"
      export TMPDIR="$WORK/$m/tmp" AMLPKG_CACHE_DIR="$WORK/$m/cache" AMLPKG_DOCKER=/usr/bin/docker \
        CONTAINERS_STORAGE_CONF="$WORK/$m/storage.conf"
      "$AMLPKG" build spec.yaml -o "$WORK/$m.tar" --no-sbom --executor docker > "$WORK/$m.out" 2> "$WORK/$m.err" )
  }
  for m in dock1 dock2; do on_exit "$(store $m) rm -af -t 0; $(store $m) rmi -af"; done
  check "--executor docker builds on machine one" docker_on dock1 022
  sleep 1.1
  check "... and on machine two" docker_on dock2 002
  d1=$(layers dock1.tar) d2=$(layers dock2.tar)
  check "... the same layers and image digest" bash -c "
    [ -n '$d1' ] && [ '$d1' = '$d2' ] && [ -n \"\$(tail -1 dock1.out)\" ] && [ \"\$(tail -1 dock1.out)\" = \"\$(tail -1 dock2.out)\" ]"
else
  skip "--executor docker through podman-docker: it is not installed (make deps installs it)"
fi

# The store is left as found: the base podman pulled from the archive, the built image, no container.
S=$(store three)
on_exit "$S rm -af -t 0; $S rmi -af"
check "a store with an image of its own" bash -c "$S import -q rootfs.tar localhost/mine:1 >/dev/null"
printf '%s\n' "{ $S images -a --no-trunc --format '{{.ID}} {{.Repository}}:{{.Tag}}'; $S ps -a --external -q --no-trunc; } | sort" > snapshot.sh
bash snapshot.sh > before.txt
sed -i 's/echo hello/echo again/' spec.yaml
check "a build with the store holding another image" bash -c "
  AMLPKG_PODMAN='$S' AMLPKG_CACHE_DIR='$WORK/three/cache' '$AMLPKG' build spec.yaml -o three.tar --no-sbom 2> three.err >/dev/null"
check "... leaves podman's images and containers as they were (the pulled base and the stage gone, its own kept)" bash -c "diff before.txt <(bash snapshot.sh)"
sed -i 's/echo again/echo failing; exit 3/' spec.yaml
check_fails "a failing step fails the build" "failed with exit status" \
  env AMLPKG_PODMAN="$S" AMLPKG_CACHE_DIR="$WORK/three/cache" "$AMLPKG" build spec.yaml -o bad.tar --no-sbom
check "... and leaves podman's images and containers as they were too" bash -c "diff before.txt <(bash snapshot.sh)"

# Steps that reach the network are named; the build does not pretend.
cat > spec.yaml <<'YAML'
models: [{name: ridge, version: 1, path: model.onnx}]
environment:
  base_image: oci-archive:base.tar
  docker_steps:
    - RUN echo offline > /etc/offline
    - RUN pip install --no-cache-dir numpy==1.26.4
YAML
AMLPKG_PODMAN="$S" AMLPKG_CACHE_DIR="$WORK/three/cache" "$AMLPKG" build spec.yaml -o net.tar --no-sbom > net.out 2> net.err
check "a pip install step gets a one-line warning naming it" \
  grep -Eq '^amlpkg build: warning: environment [0-9a-f]{12} is not reproducible: environment.docker_steps\[1\] \(RUN pip install --no-cache-dir numpy==1.26.4\): pip installs from a package index$' net.err
check "... and only that step" test "$(grep -c 'not reproducible' net.err)" = 1
check "... and the store is still as it was" bash -c "diff before.txt <(bash snapshot.sh)"
