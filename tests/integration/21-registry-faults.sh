#!/usr/bin/env bash
# Registry faults through a proxy: Bearer token flow, 503 + Retry-After,
# dropped upload connections, and a corrupted blob that must be refused.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/registry_lib.sh"
command -v docker-registry >/dev/null || { skip "docker-registry is not installed"; exit 0; }
unset AMLPKG_REGISTRY_AUTH REGISTRY_AUTH_FILE
export HOME="$WORK/home" XDG_RUNTIME_DIR="$WORK/xdg" AMLPKG_RETRY_BASE_MS=50
start_registry up || { fail "the registry starts"; exit 1; }
"$AMLPKG" build "$ROOT/examples/onnx-ridge/spec.yaml" -o "$WORK/ridge.tar" >/dev/null
want=$(tar xOf "$WORK/ridge.tar" index.json | jq -r '.manifests[0].digest')

proxy() { # proxy ENV... : starts a proxy in front of the registry, sets PX
  local port; port=$(free_port)
  env "$@" "$PY" "$ROOT/tests/integration/registry_proxy.py" "$port" "$REG_up" &
  local pid=$!
  on_exit "kill $pid"
  PX="127.0.0.1:$port"
  local deadline=$((SECONDS + 10))
  until curl -s -o /dev/null "http://$PX/v2/"; do [ $SECONDS -lt $deadline ] || return 1; sleep 0.1; done
}

proxy BEARER=1
check "push through the Bearer token flow" "$AMLPKG" push "$WORK/ridge.tar" "$PX/tok/ridge:1" --creds alice:s3cret --json
check "the token-auth push has the archive's digest" jq -e --arg d "$want" '.digest == $d' "$WORK/last.out"
check "pull through the Bearer token flow" "$AMLPKG" pull "$PX/tok/ridge:1" -o "$WORK/tok.tar" --creds alice:s3cret
check_fails "a refused token names the token service" "push $PX: the token service .* refused the credentials" \
  "$AMLPKG" push "$WORK/ridge.tar" "$PX/tok/ridge:1" --creds alice:nope

# Tag list pagination (registry 2.8 sends one page; the proxy pages like the spec says).
for t in a b c d e; do "$AMLPKG" push "$WORK/ridge.tar" "$REG_up/paged/ridge:$t" >/dev/null; done
proxy TAG_PAGE=2
check "tags follows Link rel=next across pages" bash -c \
  "test \"\$('$AMLPKG' tags $PX/paged/ridge | tr '\n' ' ')\" = 'a b c d e '"
check "tags --page-size asks for smaller pages and still gets every tag" bash -c \
  "'$AMLPKG' tags $PX/paged/ridge --page-size 1 --json | jq -e '.tags == [\"a\",\"b\",\"c\",\"d\",\"e\"]'"

proxy FAIL_503=3
start=$SECONDS
check "503 with Retry-After is retried until the push completes" "$AMLPKG" push "$WORK/ridge.tar" "$PX/busy/ridge:1" --jobs 1
check "Retry-After: 1 was honoured (at least 3 s of waiting)" test $((SECONDS - start)) -ge 3

proxy DROP=2
check "dropped upload connections are retried" "$AMLPKG" push "$WORK/ridge.tar" "$PX/drop/ridge:1" --jobs 1 --json
check "the tag after retries points at the complete image" bash -c \
  "skopeo inspect --tls-verify=false docker://$REG_up/drop/ridge:1 | jq -e --arg d '$want' '.Digest == \$d'"

layer=$(tar xOf "$WORK/ridge.tar" "blobs/sha256/${want#sha256:}" | jq -r '.layers[1].digest')
proxy CORRUPT="$layer"
check_fails "a corrupted blob is refused" "download blob .*expected .*nothing was kept" \
  "$AMLPKG" pull "$PX/tok/ridge:1" -o "$WORK/bad.tar"
check "nothing is kept after a refused blob" bash -c "! ls -A '$WORK' | grep -E 'bad.tar|amlpkg-pull'"
