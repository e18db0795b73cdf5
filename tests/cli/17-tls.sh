#!/usr/bin/env bash
# amlserve over HTTPS: a CA and server certificates made here with the openssl
# CLI, curl and openssl s_client as clients. Scoring, keep-alive and
# pipelining over TLS, TLS 1.1 and weak ciphers refused, plain HTTP to the TLS
# port answered without harm, certificate rotation on SIGHUP (a bad one kept
# out), and start-up errors that name the file.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples/onnx-ridge"
command -v openssl >/dev/null || { skip "TLS tests: the openssl CLI is not installed"; exit 0; }

# A CA, and server certificates it signs for localhost and 127.0.0.1.
T="$WORK/tls"
mkdir -p "$T"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/ca.key" -out "$T/ca.pem" -days 2 -subj "/CN=amlpkg test CA" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$T/san.ext"
issue() { # issue NAME SERIAL: NAME.pem + NAME.key
  openssl req -newkey rsa:2048 -nodes -keyout "$T/$1.key" -out "$T/$1.csr" -subj "/CN=localhost" 2>/dev/null &&
    openssl x509 -req -in "$T/$1.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -set_serial "$2" -days 2 \
      -extfile "$T/san.ext" -out "$T/$1.pem" 2>/dev/null
}
issue first 0x1001 && issue second 0x2002
check "the test CA and two server certificates are made" test -s "$T/first.pem" -a -s "$T/second.pem"
cp "$T/first.pem" "$T/server.pem" && cp "$T/first.key" "$T/server.key"

port=$(free_port)
URL="https://localhost:$port"
AZUREML_MODEL_DIR="$EX" AMLSERVE_TLS_CERT="$T/server.pem" AMLSERVE_TLS_KEY="$T/server.key" \
  "$AMLSERVE" --port "$port" --host 127.0.0.1 > "$WORK/server.log" 2> "$WORK/server.err" &
pid=$!
on_exit "kill $pid; wait $pid"
tcurl() { curl -sS --cacert "$T/ca.pem" --resolve "localhost:$port:127.0.0.1" "$@"; }
wait_https() { local d=$((SECONDS + 20)); while [ $SECONDS -lt $d ]; do tcurl -f -o /dev/null "$URL/" 2>/dev/null && return 0; sleep 0.1; done; return 1; }

check "amlserve starts with AMLSERVE_TLS_CERT/AMLSERVE_TLS_KEY and answers over HTTPS" wait_https
check "the listening event says tls: true" grep -q '"event":"listening".*"tls":true' "$WORK/server.log"
check "GET / over TLS says Healthy (certificate verified against the CA)" test "$(tcurl "$URL/")" = Healthy
tcurl -o "$WORK/score.json" -H 'Content-Type: application/json' --data @"$EX/sample-request.json" "$URL/score"
check "POST /score over TLS matches numpy within 1e-5" "$PY" "$ROOT/tests/expected_scores.py" "$EX/model.onnx" "$EX/sample-request.json" "$WORK/score.json"

# Three transfers on one connection: curl connects once, then reuses it.
tcurl -o /dev/null -o /dev/null -o /dev/null -w '%{num_connects}\n' "$URL/" -H 'Content-Type: application/json' \
  --data @"$EX/sample-request.json" "$URL/score" "$URL/score" > "$WORK/connects" 2>&1
check "keep-alive: three requests, one TLS connection" test "$(tr '\n' ' ' < "$WORK/connects")" = "1 0 0 "

# Pipelining: three requests in one TLS write, answered in order on the same connection.
"$PY" - "$port" "$T/ca.pem" "$EX/sample-request.json" > "$WORK/pipelined" 2>&1 <<'PY'
import re, socket, ssl, sys
port, ca, sample = int(sys.argv[1]), sys.argv[2], open(sys.argv[3], "rb").read()
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
          b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
          b"GET /no-such-route HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % (len(sample), sample))
data = b""
try:
    while chunk := s.recv(65536):
        data += chunk
except ssl.SSLError as e:
    print("ssl error:", e)
print(" ".join(code.decode() for code in re.findall(rb"HTTP/1\.1 (\d{3}) ", data)))
PY
check "pipelining: three requests in one write are answered in order (200 200 404)" \
  test "$(tail -1 "$WORK/pipelined")" = "200 200 404"

# A large body and answer cross many TLS records and partial writes.
"$PY" -c 'import json; print(json.dumps({"data": [[float(i % 7)] * 10 for i in range(20000)]}))' > "$WORK/big.json"
code=$(tcurl -o "$WORK/big.out" -w '%{http_code}' -H 'Content-Type: application/json' --data @"$WORK/big.json" "$URL/score")
check "a 1 MB request over TLS is scored (20,000 rows back)" bash -c "[ $code = 200 ] && jq -e 'length == 20000' '$WORK/big.out'"

check "TLS 1.2 is accepted" test "$(tcurl --tlsv1.2 --tls-max 1.2 "$URL/")" = Healthy
check_fails "TLS 1.1 is refused by the server (protocol version alert)" 'alert protocol version' \
  tcurl --tls-max 1.1 --ciphers 'DEFAULT:@SECLEVEL=0' "$URL/"
check_fails "a TLS 1.2 cipher without forward secrecy is refused" 'handshake failure|no cipher|alert' \
  openssl s_client -connect "127.0.0.1:$port" -tls1_2 -cipher AES128-SHA -CAfile "$T/ca.pem" </dev/null

code=$(curl -sS -o "$WORK/plain.out" -w '%{http_code}' "http://127.0.0.1:$port/")
check "plain HTTP to the TLS port gets a 400 saying to use https" bash -c "[ $code = 400 ] && grep -q 'speaks HTTPS' '$WORK/plain.out'"
head -c 2000 /dev/urandom | "$PY" -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"\x80" + sys.stdin.buffer.read())
s.settimeout(5)
try:
    while s.recv(4096): pass
except OSError: pass' "$port"
check "garbage bytes to the TLS port only close that connection" test "$(tcurl "$URL/")" = Healthy
check "the server process is still running" kill -0 $pid

# Rotation: new connections get the new certificate after SIGHUP.
served_serial() { openssl s_client -connect "127.0.0.1:$port" -servername localhost -CAfile "$T/ca.pem" </dev/null 2>/dev/null |
  openssl x509 -noout -serial; }
logged() { local d=$((SECONDS + 5)); while [ $SECONDS -lt $d ]; do [ "$(grep -c "$1" "$WORK/server.err")" -ge "${2:-1}" ] && return 0; sleep 0.1; done; return 1; }
check "the first certificate is served (serial 1001)" test "$(served_serial)" = "serial=1001"
cp "$T/second.key" "$T/server.key.new" && cp "$T/second.pem" "$T/server.pem.new"
mv "$T/server.key.new" "$T/server.key" && mv "$T/server.pem.new" "$T/server.pem"
kill -HUP $pid
check "SIGHUP reloads the certificate and says so" logged 'SIGHUP: TLS certificate reloaded (serial 2002)'
check "... and new connections get the second certificate (serial 2002)" test "$(served_serial)" = "serial=2002"
echo "not a certificate" > "$T/server.pem"
kill -HUP $pid
check "SIGHUP with a bad certificate keeps the old one and names the file" \
  logged "keeping the old TLS certificate (serial 2002): tls certificate '$T/server.pem': no PEM certificate"
check "... and the old certificate still serves" test "$(served_serial)" = "serial=2002"
cp "$T/first.pem" "$T/server.pem" # first.pem with second.key: a mismatched pair
kill -HUP $pid
check "SIGHUP with a certificate that does not match the key keeps the old one" \
  logged "keeping the old TLS certificate (serial 2002): tls key '$T/server.key' does not match the certificate"
check "... and scoring still works" bash -c "[ \"\$(curl -sS --cacert '$T/ca.pem' --resolve localhost:$port:127.0.0.1 -o /dev/null -w '%{http_code}' --data @'$EX/sample-request.json' '$URL/score')\" = 200 ]"
kill -TERM $pid; wait $pid; rc=$?
check "SIGTERM stops the TLS server cleanly" test "$rc" -eq 0

# Start-up errors: exit non-zero before loading the model, naming the file.
start() { AZUREML_MODEL_DIR="$EX" "$AMLSERVE" --port "$(free_port)" --host 127.0.0.1 "$@"; }
check_fails "a missing certificate file is named" "tls certificate '$T/nope.pem': cannot open: No such file" \
  start --tls-cert "$T/nope.pem" --tls-key "$T/first.key"
check_fails "an unreadable key file is named" "tls key '$T': read failed" start --tls-cert "$T/first.pem" --tls-key "$T"
check_fails "a certificate that is not PEM is named" "tls certificate '$T/san.ext': no PEM certificate" \
  start --tls-cert "$T/san.ext" --tls-key "$T/first.key"
check_fails "a key that does not match the certificate names both" \
  "tls key '$T/second.key' does not match the certificate '$T/first.pem'" start --tls-cert "$T/first.pem" --tls-key "$T/second.key"
openssl pkey -in "$T/first.key" -aes256 -passout pass:secret -out "$T/encrypted.key" 2>/dev/null
check_fails "an encrypted key is refused without prompting" "tls key '$T/encrypted.key': the key is encrypted" \
  start --tls-cert "$T/first.pem" --tls-key "$T/encrypted.key"
check_exit "a certificate without a key is a usage error (2)" 2 start --tls-cert "$T/first.pem"
check_exit "a bad certificate exits 3, like any start-up failure" 3 start --tls-cert "$T/nope.pem" --tls-key "$T/first.key"

# The static binary opens no shared library and no openssl.cnf for TLS either.
if [ -n "${AMLPKG_SANITIZED:-}" ]; then
  skip "run-time dlopen check: sanitizer builds link amlserve dynamically"
elif command -v strace >/dev/null; then
  port=$(free_port)
  AZUREML_MODEL_DIR="$EX" strace -f -qq -e trace=openat,open -o "$WORK/strace.log" "$AMLSERVE" --port "$port" \
    --host 127.0.0.1 --tls-cert "$T/first.pem" --tls-key "$T/first.key" >/dev/null 2>&1 &
  spid=$!
  URL="https://localhost:$port"
  wait_https && tcurl -o /dev/null "$URL/"
  pkill -TERM -P $spid; wait $spid
  check "amlserve with TLS opens no shared library, openssl.cnf or NSS file at run time" \
    bash -c "grep -q first.key '$WORK/strace.log' && ! grep -E '\\.so|openssl\\.cnf|gconv|nsswitch|/etc/hosts|resolv.conf' '$WORK/strace.log'"
else
  skip "run-time dlopen check: strace is not installed (make deps installs it)"
fi

# service.tls in a spec: `serve` speaks HTTPS with the pair; an image expects it
# mounted at /var/azureml-app/tls (never baked in) and refuses to start without it.
P="$WORK/pkg"
mkdir -p "$P" && cp "$EX/model.onnx" "$P/" && cp "$T/first.pem" "$P/cert.pem" && cp "$T/first.key" "$P/key.pem"
cat > "$P/spec.yaml" <<'YAML'
models: [{name: ridge, version: 1, path: model.onnx}]
service:
  tls: {cert_file: cert.pem, key_file: key.pem}
output: {name: ridge-tls, tag: "1"}
YAML
"$AMLPKG" serve "$P/spec.yaml" --port 0 > "$WORK/serve.out" 2> "$WORK/serve.err" &
serve_pid=$!
on_exit "kill $serve_pid; wait $serve_pid"
for _ in $(seq 300); do grep -q 'Press Ctrl-C' "$WORK/serve.out" && break; sleep 0.1; done
sport=$(grep -o 'Scoring URI: https://127.0.0.1:[0-9]*' "$WORK/serve.out" | grep -o '[0-9]*$')
check "amlpkg serve prints an https scoring URI for a spec with service.tls" test -n "$sport"
check "... and answers /score over TLS" bash -c "curl -sf --cacert '$T/ca.pem' --resolve localhost:$sport:127.0.0.1 \
  --data @'$EX/sample-request.json' https://localhost:$sport/score | jq -e 'length == 2'"
kill $serve_pid; wait $serve_pid 2>/dev/null

check "a spec with service.tls builds" "$AMLPKG" build "$P/spec.yaml" -o "$P/image.tar" --json
mkdir -p "$P/x" "$P/root" && tar xf "$P/image.tar" -C "$P/x"
manifest="$P/x/blobs/sha256/$(jq -r '.manifests[0].digest' "$P/x/index.json" | cut -d: -f2)"
cfg="$P/x/blobs/sha256/$(jq -r '.config.digest' "$manifest" | cut -d: -f2)"
for l in $(jq -r '.layers[].digest' "$manifest" | cut -d: -f2); do tar xzf "$P/x/blobs/sha256/$l" -C "$P/root"; done
check "... the image's environment points amlserve at the mount point" jq -e '.config.Env as $e |
  ["AMLSERVE_TLS_CERT=/var/azureml-app/tls/tls.crt", "AMLSERVE_TLS_KEY=/var/azureml-app/tls/tls.key"] | all(. as $v | $e | index($v))' "$cfg"
key_line=$(sed -n 2p "$P/key.pem")
check "... and the private key is nowhere in the image" bash -c "[ ! -e '$P/root/var/azureml-app/tls' ] && ! grep -rqF -- '$key_line' '$P/root' '$P/x'"
run_image() { # the unpacked image's amlserve with the image's environment, /var/azureml-app under $P/root
  local envs=()
  mapfile -t envs < <(jq -r '.config.Env[]' "$cfg" | sed "s#=/var/azureml-app#=$P/root/var/azureml-app#")
  # In the background (a subshell) exec, so $! is amlserve itself and killing it stops the server.
  if [ "$BASH_SUBSHELL" -gt 0 ]; then
    exec env "${envs[@]}" "$P/root/usr/local/bin/amlserve" --host 127.0.0.1 --port "$iport"
  fi
  env "${envs[@]}" "$P/root/usr/local/bin/amlserve" --host 127.0.0.1 --port "$iport"
}
iport=$(free_port)
check_fails "without the mount the image's amlserve exits naming the file and the fix" \
  "tls certificate '$P/root/var/azureml-app/tls/tls.crt': cannot open.*mount the certificate and key there" run_image
mkdir -p "$P/root/var/azureml-app/tls" && cp "$T/first.pem" "$P/root/var/azureml-app/tls/tls.crt" &&
  cp "$T/first.key" "$P/root/var/azureml-app/tls/tls.key"
run_image > "$WORK/image.log" 2>&1 &
ipid=$!
on_exit "kill $ipid; wait $ipid"
port=$iport URL="https://localhost:$iport"
check "with the pair mounted it serves HTTPS" wait_https
kill $ipid; wait $ipid 2>/dev/null

cp "$T/second.key" "$P/key.pem"
check_fails "a spec whose key does not match its certificate fails at the tls line" \
  "spec.yaml:3: service.tls: tls key '.*key.pem' does not match the certificate" "$AMLPKG" build "$P/spec.yaml" -o "$P/bad.tar"
printf 'models: [{name: ridge, version: 1, path: model.onnx}]\nservice:\n  tls: {cert_file: cert.pem}\n' > "$P/half.yaml"
check_fails "service.tls needs both files" "half.yaml:3: service.tls: needs both cert_file .* and key_file" \
  "$AMLPKG" build "$P/half.yaml" -o "$P/bad.tar"
