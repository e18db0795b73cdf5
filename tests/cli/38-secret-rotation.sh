#!/usr/bin/env bash
# Keys and certificates rotate without a restart or a signal: amlserve notices
# when a mounted Secret changes. Kubernetes updates a Secret volume by writing
# a new timestamped folder and swapping the `..data` symlink; the test builds
# exactly that layout and swaps it the same way.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples/onnx-ridge"
S="$WORK/secret-volume"
# secret_version NAME FILE=CONTENT...: a new `..NAME` folder made current by an atomic symlink swap.
secret_version() {
  local name=$1; shift
  mkdir -p "$S/..$name"
  local kv
  for kv in "$@"; do printf '%s\n' "${kv#*=}" > "$S/..$name/${kv%%=*}"; done
  ln -sfn "..$name" "$S/..data_tmp" && mv -T "$S/..data_tmp" "$S/..data"
}
# serve LOG PORT OPTIONS...: amlserve on the example model in the background, stopped on exit.
serve() {
  local log=$1 port=$2; shift 2
  AZUREML_MODEL_DIR="$EX" "$AMLSERVE" --host 127.0.0.1 --port "$port" --quiet "$@" > "$log" 2>&1 &
  on_exit "kill $!; wait $!"
}
mkdir -p "$S"
secret_version v1 keys=first-key-0123456789
ln -s ..data/keys "$S/keys"
port=$(free_port)
serve "$WORK/log" "$port" --auth-key-file "$S/keys"
check "amlserve starts with keys from a Secret volume" wait_http "http://127.0.0.1:$port/"
status_with() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" --data @"$EX/sample-request.json" "http://127.0.0.1:$port/score"; }
gets() { [ "$(status_with "$1")" = "$2" ]; }
# eventually KEY CODE: the key gets CODE within 10 s.
eventually() { within 10 gets "$@"; }
check "the first key scores" test "$(status_with first-key-0123456789)" = 200
secret_version v2 keys=second-key-9876543210
rm -rf "$S/..v1"
check "after the Secret's ..data swap the new key scores, without SIGHUP" eventually second-key-9876543210 200
check "... and the old key is refused" test "$(status_with first-key-0123456789)" = 401
check "the log says why the keys were reloaded" grep -q 'key file changed: keys reloaded' "$WORK/log"

# A bad version (no key in it) keeps the keys that work.
secret_version v3 keys=
rm -rf "$S/..v2"
wait_log() { within 10 grep -q "$1" "$WORK/log"; }
check "an empty Secret is reported and the old keys stay" wait_log 'key file changed: keeping the old keys'
check "... the key that worked still scores" test "$(status_with second-key-9876543210)" = 200

# A plain file rewritten in place is picked up once it has settled.
printf 'plain-key-aaaaaaaaaaaa\n' > "$WORK/plain-keys"
port2=$(free_port)
serve "$WORK/log2" "$port2" --auth-key-file "$WORK/plain-keys"
check "a second amlserve starts with a plain key file" wait_http "http://127.0.0.1:$port2/"
sleep 1.1 # a different mtime even on coarse-grained filesystems
printf 'plain-key-bbbbbbbbbbbb\n' > "$WORK/plain-keys"
port_saved=$port; port=$port2
check "a key file rewritten in place is re-read" eventually plain-key-bbbbbbbbbbbb 200
port=$port_saved

# TLS: a rotated certificate is served to new connections.
T="$WORK/tls"
mkdir -p "$T"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/ca.key" -out "$T/ca.pem" -days 2 -subj "/CN=amlpkg test CA" 2>/dev/null
# leaf NAME SERIAL: a certificate for localhost signed by the test CA.
leaf() {
  openssl req -newkey rsa:2048 -nodes -keyout "$T/$1.key" -out "$T/$1.csr" -subj "/CN=localhost" 2>/dev/null &&
    openssl x509 -req -in "$T/$1.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -set_serial "$2" -days 2 \
      -extfile <(printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n') -out "$T/$1.pem" 2>/dev/null
}
leaf one 4097 && leaf two 8193
mkdir -p "$T/vol/..t1"
cp "$T/one.pem" "$T/vol/..t1/tls.crt"; cp "$T/one.key" "$T/vol/..t1/tls.key"
ln -s ..t1 "$T/vol/..data"; ln -s ..data/tls.crt "$T/vol/tls.crt"; ln -s ..data/tls.key "$T/vol/tls.key"
port3=$(free_port)
serve "$WORK/log3" "$port3" --tls-cert "$T/vol/tls.crt" --tls-key "$T/vol/tls.key"
served_serial() {
  openssl s_client -connect "127.0.0.1:$port3" -servername localhost -CAfile "$T/ca.pem" </dev/null 2>/dev/null |
    openssl x509 -noout -serial 2>/dev/null
}
serial_is() { [ "$(served_serial)" = "$1" ]; }
serves_tls() { [ -n "$(served_serial)" ]; }
up_tls() { within 10 serves_tls; }
check "amlserve serves HTTPS from a TLS Secret volume" up_tls
check "... the first certificate (serial 1001 hex)" test "$(served_serial)" = "serial=1001"
mkdir -p "$T/vol/..t2"
cp "$T/two.pem" "$T/vol/..t2/tls.crt"; cp "$T/two.key" "$T/vol/..t2/tls.key"
ln -sfn ..t2 "$T/vol/..data_tmp" && mv -T "$T/vol/..data_tmp" "$T/vol/..data"
rm -rf "$T/vol/..t1"
rotated_tls() { within 10 serial_is serial=2001; }
check "after the swap new connections get the new certificate, without SIGHUP" rotated_tls
