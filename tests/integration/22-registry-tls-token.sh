#!/usr/bin/env bash
# The CNCF registry over TLS with a test CA (--ca-cert, --insecure, a
# certificate error that never falls back to plain HTTP, skopeo interop), and
# behind real Bearer token auth (`auth: token:` with an RS256 token service,
# tests/integration/token_server.py): push, pull, mount, refused credentials
# and refused scopes.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/registry_lib.sh"
for tool in docker-registry skopeo openssl; do
  command -v $tool >/dev/null || { skip "$tool is not installed (make deps installs it)"; exit 0; }
done
unset AMLPKG_REGISTRY_AUTH REGISTRY_AUTH_FILE
export HOME="$WORK/home" XDG_RUNTIME_DIR="$WORK/xdg" AMLPKG_RETRY_BASE_MS=50
mkdir -p "$HOME" "$XDG_RUNTIME_DIR"

"$AMLPKG" build "$ROOT/examples/onnx-ridge/spec.yaml" -o "$WORK/ridge.tar" >/dev/null
want=$(tar xOf "$WORK/ridge.tar" index.json | jq -r '.manifests[0].digest')

# A test CA, a server certificate for IP 127.0.0.1 and a token-signing certificate.
PKI="$WORK/pki"
mkdir -p "$PKI"
(
  cd "$PKI" &&
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=amlpkg test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" &&
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=127.0.0.1" &&
  printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' > server.ext &&
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile server.ext &&
  openssl req -newkey rsa:2048 -nodes -keyout token.key -out token.csr -subj "/CN=amlpkg test token issuer" &&
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n' > token.ext &&
  openssl x509 -req -in token.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out token.pem -days 2 -extfile token.ext &&
  openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other-ca.pem -days 2 -subj "/CN=some other CA"
) > "$PKI/log" 2>&1 || { fail "openssl makes the test CA"; cat "$PKI/log"; exit 1; }

# ---- TLS ------------------------------------------------------------------
REG_TLS="$PKI/server.pem $PKI/server.key" start_registry tls || { fail "the TLS registry starts"; exit 1; }
T=$REG_tls
check "push over TLS with --ca-cert" "$AMLPKG" push "$WORK/ridge.tar" "$T/team/ridge:1" --ca-cert "$PKI/ca.pem" --json
check "... reports the archive's digest" jq -e --arg d "$want" '.digest == $d and .uploaded == 3' "$WORK/last.out"
check "pull over TLS with --ca-cert round-trips the digest" "$AMLPKG" pull "$T/team/ridge:1" -o "$WORK/tls.tar" \
  --ca-cert "$PKI/ca.pem" --json
check "... and the pulled archive names it" bash -c \
  "jq -e --arg d '$want' '.digest == \$d and .downloaded == 3' '$WORK/last.out' &&
   test \"\$(tar xOf '$WORK/tls.tar' index.json | jq -r '.manifests[0].digest')\" = '$want'"

# plain_after_tls COMMAND...: fails when the command sends a plain-HTTP request
# after its first TLS ClientHello (what a silent fall-back to HTTP would do).
plain_after_tls() {
  strace -f -qq -e trace=sendto -s 8 -o "$WORK/sendto.log" "$@" >/dev/null 2>&1
  grep -q 'sendto(' "$WORK/sendto.log" || return 1
  awk '/sendto\(/ { if ($0 ~ /"\\26\\3/) tls = 1; else if (tls && $0 ~ /"(GET|HEAD|PUT|POST|PATCH) /) bad = 1 }
       END { exit bad }' "$WORK/sendto.log"
}
check_fails "without --ca-cert push fails with a certificate error naming the registry" \
  "push $T: the registry's TLS certificate cannot be verified: .*certificate.*--ca-cert" \
  "$AMLPKG" push "$WORK/ridge.tar" "$T/team/ridge:2"
if command -v strace >/dev/null; then
  check "... and never retries over plain HTTP after the TLS failure" \
    plain_after_tls "$AMLPKG" push "$WORK/ridge.tar" "$T/team/ridge:2"
  check "with --ca-cert not even the loopback probe goes over plain HTTP" bash -c \
    "strace -f -qq -e trace=sendto -s 8 -o '$WORK/sendto2.log' '$AMLPKG' pull '$T/team/ridge:1' -o '$WORK/st.tar' \
       --ca-cert '$PKI/other-ca.pem' >/dev/null 2>&1; grep -q 'sendto(' '$WORK/sendto2.log' && ! grep -Eq '\"(GET|HEAD|PUT|POST) ' '$WORK/sendto2.log'"
else
  skip "strace is not installed: the no-plain-HTTP checks need it"
fi
check_exit "a certificate error exits 1" 1 "$AMLPKG" push "$WORK/ridge.tar" "$T/team/ridge:2"
check_fails "a CA that did not sign the certificate is refused too" \
  "pull $T: the registry's TLS certificate cannot be verified: .*not signed by the --ca-cert bundle" \
  "$AMLPKG" pull "$T/team/ridge:1" -o "$WORK/wrongca.tar" --ca-cert "$PKI/other-ca.pem"
check_fails "a missing --ca-cert file is named" "push $T: .*$PKI/missing.pem.*check the --ca-cert file" \
  "$AMLPKG" push "$WORK/ridge.tar" "$T/team/ridge:2" --ca-cert "$PKI/missing.pem"
check "--insecure pushes without the CA" "$AMLPKG" push "$WORK/ridge.tar" "$T/insecure/ridge:1" --insecure --json
check "... with the same digest" jq -e --arg d "$want" '.digest == $d' "$WORK/last.out"
check "tags over TLS with --ca-cert" bash -c \
  "test \"\$('$AMLPKG' tags $T/team/ridge --ca-cert '$PKI/ca.pem')\" = 1"
check "copy within the TLS registry mounts" bash -c \
  "'$AMLPKG' copy $T/team/ridge:1 $T/copied/ridge:1 --ca-cert '$PKI/ca.pem' --json | jq -e '.mounted == 3'"

mkdir -p "$WORK/certs.d" && cp "$PKI/ca.pem" "$WORK/certs.d/ca.crt"
check "skopeo with --cert-dir verifies and sees amlpkg's push" bash -c \
  "skopeo inspect --cert-dir '$WORK/certs.d' --tls-verify=true docker://$T/team/ridge:1 | jq -e --arg d '$want' '.Digest == \$d'"
check "skopeo pulls amlpkg's push over verified TLS" skopeo copy -q --src-cert-dir "$WORK/certs.d" \
  --src-tls-verify=true "docker://$T/team/ridge:1" "oci-archive:$WORK/sko-tls.tar"
check_fails "skopeo without the CA refuses the registry (the certificate is really checked)" "certificate" \
  skopeo inspect --tls-verify=true "docker://$T/team/ridge:1"

# ---- Bearer token auth ----------------------------------------------------
tport=$(free_port)
export TOKEN_LOG="$WORK/token.log"
: > "$TOKEN_LOG"
"$PY" "$ROOT/tests/integration/token_server.py" "$tport" "$PKI/token.key" "$PKI/token.pem" \
  amlpkg-test-issuer amlpkg-test-registry &
tpid=$!
on_exit "kill $tpid"
deadline=$((SECONDS + 10))
until curl -s -o /dev/null "http://127.0.0.1:$tport/token"; do
  [ $SECONDS -lt $deadline ] || { fail "the token server starts"; exit 1; }
  sleep 0.1
done
REALM="http://127.0.0.1:$tport/token"
REG_AUTH_YAML="{token: {realm: \"$REALM\", service: amlpkg-test-registry, issuer: amlpkg-test-issuer, rootcertbundle: $PKI/ca.pem}}" \
  start_registry tok || { fail "the token-auth registry starts"; exit 1; }
K=$REG_tok

check "push through token auth with --creds" "$AMLPKG" push "$WORK/ridge.tar" "$K/team/ridge:1" --creds alice:s3cret --json
check "... reports the archive's digest" jq -e --arg d "$want" '.digest == $d and .uploaded == 3' "$WORK/last.out"
check "pull through token auth round-trips the digest" bash -c \
  "'$AMLPKG' pull $K/team/ridge:1 -o '$WORK/tok.tar' --creds alice:s3cret --json | jq -e --arg d '$want' '.digest == \$d'"
check "copy across repositories mounts every blob through token auth" bash -c \
  "'$AMLPKG' copy $K/team/ridge:1 $K/mirror/ridge:1 --creds alice:s3cret --json | jq -e --arg d '$want' '.mounted == 3 and .digest == \$d'"
check "tags through token auth" bash -c \
  "'$AMLPKG' tags $K/team/ridge --creds alice:s3cret --json | jq -e '.tags == [\"1\"]'"
check_fails "tags of a denied repository names the refused scope" \
  "tags $K: the token service '$REALM' denied 'repository:denied/ridge:pull'" \
  "$AMLPKG" tags "$K/denied/ridge" --creds alice:s3cret
check "skopeo reads the mounted copy with the same token service" bash -c \
  "skopeo inspect --tls-verify=false --creds alice:s3cret docker://$K/mirror/ridge:1 | jq -e --arg d '$want' '.Digest == \$d'"
: > "$TOKEN_LOG"
check "a re-push through token auth skips every blob" bash -c \
  "'$AMLPKG' push '$WORK/ridge.tar' $K/team/ridge:1 --creds alice:s3cret --json | jq -e '.skipped == 3 and .uploaded == 0'"
check "... fetching one token for its one scope" test "$(wc -l < "$TOKEN_LOG")" -le 1
check_fails "a wrong password: 401 from the token service, named with the registry" \
  "push $K: the token service '$REALM' refused the credentials \(HTTP 401: incorrect username or password\).*check the user name and password" \
  "$AMLPKG" push "$WORK/ridge.tar" "$K/team/ridge:2" --creds alice:wrong
check_exit "... and exits 1" 1 "$AMLPKG" push "$WORK/ridge.tar" "$K/team/ridge:2" --creds alice:wrong
check_fails "no credentials: the token service refuses anonymous access" \
  "pull $K: the token service '$REALM' refused anonymous access \(HTTP 401.*--creds" \
  "$AMLPKG" pull "$K/team/ridge:1" -o "$WORK/anon.tar"
check_fails "a scope the token service refuses is named" \
  "push $K: the token service '$REALM' denied 'repository:denied/ridge:pull,push' \(HTTP 403: access to repository 'denied/ridge' is denied\)" \
  "$AMLPKG" push "$WORK/ridge.tar" "$K/denied/ridge:1" --creds alice:s3cret
check_fails "a token without push access names the missing scope" \
  "push $K/readonly/ridge: .*HTTP 401 .*the token for 'repository:readonly/ridge:pull,push' does not grant it" \
  "$AMLPKG" push "$WORK/ridge.tar" "$K/readonly/ridge:1" --creds alice:s3cret
