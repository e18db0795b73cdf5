# Starts CNCF registries (Debian docker-registry) on loopback for tests.
# Source after lib.sh. start_registry NAME [htpasswd-file] sets REG_<NAME>=127.0.0.1:PORT;
# the registry and its storage are removed when the test exits.
# REG_TLS="CERT KEY" serves HTTPS with that certificate; REG_AUTH_YAML replaces
# the auth section (e.g. "{token: {realm: ..., service: ...}}").
start_registry() {
  local name=$1 htpasswd=${2:-} port dir scheme=http tls_yaml=""
  port=$(free_port)
  dir="$WORK/registry-$name"
  mkdir -p "$dir/data"
  if [ -n "${REG_TLS:-}" ]; then
    scheme=https
    tls_yaml=", tls: {certificate: ${REG_TLS% *}, key: ${REG_TLS#* }}"
  fi
  {
    echo "version: 0.1"
    echo "log: {level: error}"
    echo "storage: {filesystem: {rootdirectory: $dir/data}, delete: {enabled: true}}"
    echo "http: {addr: 127.0.0.1:$port$tls_yaml}"
    [ -n "$htpasswd" ] && echo "auth: {htpasswd: {realm: amlpkg-test, path: $htpasswd}}"
    [ -n "${REG_AUTH_YAML:-}" ] && echo "auth: $REG_AUTH_YAML"
  } > "$dir/config.yml"
  docker-registry serve "$dir/config.yml" > "$dir/log" 2>&1 &
  local pid=$!
  on_exit "kill $pid; wait $pid"
  local deadline=$((SECONDS + 20))
  until curl -sk -o /dev/null "$scheme://127.0.0.1:$port/v2/"; do
    [ $SECONDS -lt $deadline ] || { echo "registry $name did not start"; cat "$dir/log"; return 1; }
    sleep 0.1
  done
  printf -v "REG_$name" '127.0.0.1:%s' "$port"
  printf -v "REGPID_$name" '%s' "$pid"
}

# plain_registry_test: what every test against the anonymous registry starts with: skip without
# docker-registry or skopeo, keep the host's credentials out, start the registry as $R.
plain_registry_test() {
  local tool
  for tool in docker-registry skopeo; do
    command -v $tool >/dev/null || { skip "$tool is not installed (make deps installs it)"; exit 0; }
  done
  unset AMLPKG_REGISTRY_AUTH REGISTRY_AUTH_FILE
  export HOME="$WORK/home" XDG_RUNTIME_DIR="$WORK/xdg" AMLPKG_RETRY_BASE_MS=50
  mkdir -p "$HOME" "$XDG_RUNTIME_DIR"
  start_registry plain || { fail "the registry starts"; exit 1; }
  R=$REG_plain
}
