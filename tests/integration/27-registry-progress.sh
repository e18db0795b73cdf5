#!/usr/bin/env bash
# Transfer progress: on a terminal (a pseudo-terminal from util-linux
# `script`) push and pull draw a bar per blob and a total bar; without one
# they print only the summary; --json prints only the JSON object.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/registry_lib.sh"
for tool in docker-registry script; do
  command -v $tool >/dev/null || { skip "$tool is not installed"; exit 0; }
done
unset AMLPKG_REGISTRY_AUTH REGISTRY_AUTH_FILE
export HOME="$WORK/home" XDG_RUNTIME_DIR="$WORK/xdg"
mkdir -p "$HOME" "$XDG_RUNTIME_DIR"
start_registry plain || { fail "the registry starts"; exit 1; }
R=$REG_plain
"$AMLPKG" build "$ROOT/examples/onnx-ridge/spec.yaml" -o "$WORK/ridge.tar" --no-sbom >/dev/null
mkdir -p "$WORK/x" && tar xf "$WORK/ridge.tar" -C "$WORK/x"
m=$(jq -r '.manifests[0].digest' "$WORK/x/index.json")
blobs=$(jq -r '.config.digest, .layers[].digest' "$WORK/x/blobs/sha256/${m#sha256:}" | cut -c1-19)

# on_tty COMMAND...: runs COMMAND on a pseudo-terminal (stdout and stderr), printing what it drew.
on_tty() { script -qec "$(printf '%q ' "$@")" /dev/null < /dev/null; }
export -f on_tty

check "push on a terminal" bash -c "on_tty '$AMLPKG' push '$WORK/ridge.tar' $R/tty/ridge:1 > '$WORK/tty-push.out'"
check "... draws a bar with bytes and rate for every blob" bash -c "
  for b in $(echo $blobs); do grep -aEq \"\$b \\[#+\\.*\\] +[0-9.]+/[0-9.]+ MB +[0-9.]+ MB/s\" '$WORK/tty-push.out' || exit 1; done"
check "... and a total bar that ends full, all blobs done" \
  grep -aEq 'pushing +\[#{24}\] +[0-9.]+/[0-9.]+ MB +[0-9.]+ MB/s +blobs 3/3' "$WORK/tty-push.out"
check "... redrawn in place (erase-line sequences)" bash -c \
  "grep -aq \$'\\033\\[K' '$WORK/tty-push.out'"
check "... then the summary line" grep -aq '^pushed .*3 uploaded' "$WORK/tty-push.out"
check "a re-push on a terminal shows every blob as already there" bash -c "
  on_tty '$AMLPKG' push '$WORK/ridge.tar' '$R/tty/ridge:1' > '$WORK/tty-repush.out' &&
  [ \"\$(grep -ac ' exists ' '$WORK/tty-repush.out')\" -ge 3 ]"
check "pull on a terminal draws the bars too" bash -c "
  on_tty '$AMLPKG' pull '$R/tty/ridge:1' -o '$WORK/back.tar' > '$WORK/tty-pull.out' &&
  grep -aEq 'pulling +\[#{24}\] .* blobs 3/3' '$WORK/tty-pull.out'"

check "without a terminal push prints one summary line and nothing on stderr" bash -c "
  '$AMLPKG' push '$WORK/ridge.tar' '$R/plain/ridge:1' > '$WORK/plain.out' 2> '$WORK/plain.err' &&
  [ ! -s '$WORK/plain.err' ] && [ \"\$(wc -l < '$WORK/plain.out')\" = 2 ] &&
  head -1 '$WORK/plain.out' | grep -q '^pushed .*3 uploaded' && sed -n 2p '$WORK/plain.out' | grep -Eqx 'sha256:[0-9a-f]{64}'"
check "--json on a terminal prints the JSON object and no bars" bash -c "
  on_tty '$AMLPKG' push '$WORK/ridge.tar' '$R/json/ridge:1' --json > '$WORK/json.out' &&
  ! grep -aq 'MB/s' '$WORK/json.out' && tr -d '\r' < '$WORK/json.out' | jq -e '.uploaded == 3' >/dev/null"
