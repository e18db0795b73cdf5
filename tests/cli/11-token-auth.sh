#!/usr/bin/env bash
# Token auth: HS256 JWTs minted by Python's own hmac/base64, checked by amlserve
# (signature, alg, exp, nbf), the secret re-read on SIGHUP, and the spec form.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples/onnx-ridge"
printf 'first-secret-0123456789\n' > "$WORK/secret"
# mint SECRET_FILE PAYLOAD_JSON [ALG]: prints a token.
mint() {
  "$PY" - "$@" <<'PYEOF'
import base64, hashlib, hmac, json, sys
secret = open(sys.argv[1]).read().strip().encode()
alg = sys.argv[3] if len(sys.argv) > 3 else "HS256"
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
head = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode()) + "." + b64(sys.argv[2].encode())
print(head + "." + b64(hmac.new(secret, head.encode(), hashlib.sha256).digest()))
PYEOF
}
now=$(date +%s)
port=$(free_port)
AZUREML_MODEL_DIR="$EX" "$AMLSERVE" --host 127.0.0.1 --port "$port" --quiet --token-secret-file "$WORK/secret" > "$WORK/log" 2>&1 &
pid=$!
on_exit "kill $pid; wait $pid"
check "amlserve starts with a token secret" wait_http "http://127.0.0.1:$port/"
score() { # score TOKEN: sets $code and $WORK/out
  code=$(curl -s -o "$WORK/out" -w '%{http_code}' -H "Authorization: Bearer $1" --data @"$EX/sample-request.json" "http://127.0.0.1:$port/score")
}
score "$(mint "$WORK/secret" "{\"sub\": \"ci\", \"exp\": $((now + 600))}")"
check "a valid HS256 token scores" bash -c "[ $code = 200 ] && jq -e 'length == 2' '$WORK/out'"
score "$(mint "$WORK/secret" "{\"exp\": $((now - 5))}")"
check "an expired token: 401 saying so" bash -c "[ $code = 401 ] && grep -q 'the token has expired' '$WORK/out'"
score "$(mint "$WORK/secret" "{\"exp\": $((now + 600)), \"nbf\": $((now + 300))}")"
check "a token not valid yet (nbf): 401" bash -c "[ $code = 401 ] && grep -q 'not valid yet' '$WORK/out'"
score "$(mint "$WORK/secret" '{"sub": "forever"}')"
check "a token without exp: 401" bash -c "[ $code = 401 ] && grep -q 'no exp claim' '$WORK/out'"
printf 'some-other-secret-abcdef\n' > "$WORK/other"
score "$(mint "$WORK/other" "{\"exp\": $((now + 600))}")"
check "a token signed with another secret: 401" bash -c "[ $code = 401 ] && grep -q 'signature is not valid' '$WORK/out'"
score "$(mint "$WORK/secret" "{\"exp\": $((now + 600))}" HS512)"
check "a token with another alg: 401" bash -c "[ $code = 401 ] && grep -q 'not signed with HS256' '$WORK/out'"
score "not-a-jwt"
check "garbage: 401 with WWW-Authenticate" bash -c "[ $code = 401 ] && curl -s -D - -o /dev/null -H 'Authorization: Bearer x' --data '{}' http://127.0.0.1:$port/score | grep -qi '^WWW-Authenticate: Bearer'"
printf 'second-secret-9876543210\n' > "$WORK/secret"
kill -HUP $pid
rotated() {
  local d=$((SECONDS + 5))
  while [ $SECONDS -lt $d ]; do score "$(mint "$WORK/secret" "{\"exp\": $((now + 600))}")"; [ "$code" = 200 ] && return 0; sleep 0.1; done
  return 1
}
check "SIGHUP re-reads the secret: tokens of the new secret score" rotated
score "$(mint "$WORK/other" "{\"exp\": $((now + 600))}")"
check "... and others still do not" test "$code" = 401
check_exit "keys and a token secret together are refused at start (exit 3)" 3 \
  env AZUREML_MODEL_DIR="$EX" AMLSERVE_AUTH_KEYS=k1 "$AMLSERVE" --port "$(free_port)" --token-secret-file "$WORK/secret"
printf 'short\n' > "$WORK/short"
check_fails "a secret under 16 characters is refused" "at least 16 characters" \
  env AZUREML_MODEL_DIR="$EX" "$AMLSERVE" --port "$(free_port)" --token-secret-file "$WORK/short"

# The spec form, through amlpkg serve.
cp "$EX/model.onnx" "$WORK/"
cat > "$WORK/spec.yaml" <<YAML
models: [{name: ridge, version: 1, path: model.onnx}]
service:
  auth: {token: true, token_secret_file: secret}
YAML
"$AMLPKG" serve "$WORK/spec.yaml" --port 0 > "$WORK/serve.out" 2>&1 &
spid=$!
on_exit "kill $spid; wait $spid"
up() { local d=$((SECONDS + 20)); while [ $SECONDS -lt $d ]; do grep -q 'Press Ctrl-C' "$WORK/serve.out" && return 0; sleep 0.1; done; return 1; }
check "serve runs a spec with token auth and says how to call it" bash -c "$(declare -f up); WORK='$WORK'; up && grep -q 'Token auth: .*HS256' '$WORK/serve.out'"
sport=$(grep -o 'Scoring URI: http://127.0.0.1:[0-9]*' "$WORK/serve.out" | grep -o '[0-9]*$')
check "... and a token of the spec's secret scores" bash -c "
  curl -sf -H 'Authorization: Bearer $(mint "$WORK/secret" "{\"exp\": $((now + 600))}")' --data @'$EX/sample-request.json' http://127.0.0.1:$sport/score | jq -e 'length == 2'"
cat > "$WORK/both.yaml" <<YAML
models: [{name: ridge, version: 1, path: model.onnx}]
service:
  auth: {token: true, token_secret_file: secret,
         keys: [abc]}
YAML
check_fails "a spec with token and keys is refused with the line" "both.yaml:4: service.auth: token auth and keys cannot be combined" \
  "$AMLPKG" serve "$WORK/both.yaml"
