#!/usr/bin/env bash
# The registry commands' conventions that need no running registry: skopeo's
# transports on local images, --authfile in every --help, package --help,
# an unreachable registry named with its reason, and build --push checking
# its output folder and registry before it builds anything.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples/onnx-ridge"
digest=$("$AMLPKG" build "$EX/spec.yaml" -o "$WORK/r.tar" --no-sbom | tail -1)
mkdir -p "$WORK/layout" && tar xf "$WORK/r.tar" -C "$WORK/layout"
"$AMLPKG" build "$EX/spec.yaml" -o "$WORK/d.tar" --format docker-archive --no-sbom >/dev/null

# Transports where an image is read.
check "build's last line is the bare digest" bash -c "[[ '$digest' =~ ^sha256:[0-9a-f]{64}$ ]]"
check "inspect oci-archive:PATH" bash -c "'$AMLPKG' inspect 'oci-archive:$WORK/r.tar' | grep -qx 'digest      $digest'"
check "inspect oci:DIR" bash -c "'$AMLPKG' inspect 'oci:$WORK/layout' | grep -qx 'digest      $digest'"
check "inspect oci:DIR:NAME picks the image by its ref.name" bash -c \
  "'$AMLPKG' inspect 'oci:$WORK/layout:ridge:1' | grep -qx 'digest      $digest'"
check "inspect docker-archive:PATH" bash -c "'$AMLPKG' inspect 'docker-archive:$WORK/d.tar' | grep -q '^digest      sha256:'"
check "inspect --raw prints the manifest bytes as stored" bash -c \
  "'$AMLPKG' inspect --raw '$WORK/r.tar' | cmp - '$WORK/layout/blobs/sha256/${digest#sha256:}'"
check_fails "oci: on a file is refused" "not a directory \(oci:DIR\[:TAG\]" "$AMLPKG" inspect "oci:$WORK/r.tar"
check_fails "oci-archive: on a folder is refused" "a directory, not an archive" "$AMLPKG" inspect "oci-archive:$WORK/layout"
check_fails "a transport with nothing after it is refused" "nothing after 'oci-archive:'" "$AMLPKG" inspect "oci-archive:"
check_fails "a missing path that names no registry says so" "nope.tar: no such file or directory, and not a registry" \
  "$AMLPKG" inspect "$WORK/nope.tar"
check_exit "pull -o oci:DIR is a usage error (pull writes an oci-archive)" 2 \
  "$AMLPKG" pull "docker://127.0.0.1:1/x:1" -o "oci:$WORK/pulled"
check_fails "copy between two local images is refused" "neither is a registry" \
  "$AMLPKG" copy "oci-archive:$WORK/r.tar" "oci-archive:$WORK/r2.tar"

# Help texts.
for cmd in push pull copy inspect tags build deploy sign verify; do
  check "$cmd --help documents --authfile" bash -c "'$AMLPKG' $cmd --help | grep -q -- '--authfile'"
done
check "push --help gives the credential lookup order" bash -c \
  "'$AMLPKG' push --help | tr -s ' \n' ' ' | grep -q 'REGISTRY_AUTH_FILE, else \$XDG_RUNTIME_DIR/containers/auth.json, else /run/containers/\$UID/auth.json), ~/.config/containers/auth.json, ~/.docker/config.json, ~/.dockercfg'"
check "package --help documents --generate-dockerfile" bash -c "'$AMLPKG' package --help | grep -q -- '--generate-dockerfile DIR'"
check "amlpkg help package too" bash -c "'$AMLPKG' help package | grep -q -- '--generate-dockerfile'"

# An unreachable registry: the registry and the reason, at once, without retries.
closed=$(free_port)
check_fails "push to a closed port names the registry and 'connection refused'" \
  "push 127.0.0.1:$closed: cannot reach the registry: connection refused" \
  "$AMLPKG" push "$WORK/r.tar" "127.0.0.1:$closed/team/ridge:1"
check_fails "inspect of a closed port too" "inspect 127.0.0.1:$closed: cannot reach the registry: connection refused" \
  "$AMLPKG" inspect "127.0.0.1:$closed/team/ridge:1"
check_fails "... with docker:// as well" "inspect 127.0.0.1:$closed: cannot reach the registry" \
  "$AMLPKG" inspect "docker://127.0.0.1:$closed/team/ridge:1"
check_fails "a name that does not resolve says DNS" "cannot reach the registry: the host name does not resolve \(DNS\)" \
  "$AMLPKG" push "$WORK/r.tar" "amlpkg-no-such-host.invalid/team/ridge:1"
# A port whose accept queue is full drops SYNs: the connect timeout, named.
"$PY" -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)
held = []
for _ in range(4):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(s.getsockname())
    except BlockingIOError: pass
    held.append(c)
print(s.getsockname()[1], flush=True)
time.sleep(60)' > "$WORK/blackhole.port" &
bh=$!
on_exit "kill $bh"
for _ in $(seq 50); do [ -s "$WORK/blackhole.port" ] && break; sleep 0.1; done
check_fails "a registry that never answers the connect: the timeout, named" \
  "inspect 127.0.0.1:$(cat "$WORK/blackhole.port"): cannot reach the registry: no answer within the connect timeout \(AMLPKG_CONNECT_TIMEOUT_MS\)" \
  env AMLPKG_CONNECT_TIMEOUT_MS=300 "$AMLPKG" inspect "127.0.0.1:$(cat "$WORK/blackhole.port")/team/ridge:1"
kill $bh 2>/dev/null; wait $bh 2>/dev/null
check "push to a closed port does not retry" bash -c \
  "AMLPKG_DEBUG=1 '$AMLPKG' push '$WORK/r.tar' '127.0.0.1:$closed/team/ridge:1' 2>&1 | grep -vq retrying"

# build --push checks before it builds: nothing is written when the target is wrong.
check_exit "build --push with a bad reference is a usage error" 2 \
  "$AMLPKG" build "$EX/spec.yaml" -o "$WORK/bad.tar" --push "127.0.0.1:$closed/Team/Ridge:1"
check "... and writes nothing" test ! -e "$WORK/bad.tar"
check_fails "build --push to an unreachable registry fails before building" \
  "push 127.0.0.1:$closed: cannot reach the registry: connection refused" \
  "$AMLPKG" build "$EX/spec.yaml" -o "$WORK/unreach.tar" --push "127.0.0.1:$closed/team/ridge:1"
check "... leaving no output, SBOM or staging folder" bash -c \
  "[ ! -e '$WORK/unreach.tar' ] && [ ! -e '$WORK/unreach.tar.spdx.json' ] && ! ls -A '$WORK' | grep -q '^\.amlpkg-build'"
check "... and without building the layers (no 'built' line)" bash -c "! grep -q '^built' '$WORK/last.out'"
check_fails "build -o into a missing folder fails naming it" "--output $WORK/missing/x.tar: the folder $WORK/missing does not exist" \
  "$AMLPKG" build "$EX/spec.yaml" -o "$WORK/missing/x.tar"
