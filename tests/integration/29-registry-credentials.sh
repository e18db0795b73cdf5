#!/usr/bin/env bash
# Registry credentials where podman, skopeo and docker keep them, in
# containers-auth.json(5)'s order: --authfile / $REGISTRY_AUTH_FILE /
# $XDG_RUNTIME_DIR/containers/auth.json / /run/containers/$UID/auth.json, then
# ~/.config/containers/auth.json, ~/.docker/config.json (auths, credHelpers,
# credsStore through a real docker-credential-* helper), ~/.dockercfg.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/registry_lib.sh"
EX="$ROOT/examples/onnx-ridge"
for tool in docker-registry htpasswd jq; do
  command -v $tool >/dev/null || { skip "$tool is not installed (make deps installs it)"; exit 0; }
done
unset AMLPKG_REGISTRY_AUTH REGISTRY_AUTH_FILE DOCKER_CONFIG XDG_CONFIG_HOME
export HOME="$WORK/home" XDG_RUNTIME_DIR="$WORK/xdg" AMLPKG_RETRY_BASE_MS=50
mkdir -p "$HOME" "$XDG_RUNTIME_DIR/containers" "$WORK/bin"
htpasswd -Bbc "$WORK/htpasswd" alice s3cret-pw >/dev/null 2>&1
start_registry auth "$WORK/htpasswd" || { fail "the auth registry starts"; exit 1; }
A=$REG_auth
"$AMLPKG" build "$EX/spec.yaml" -o "$WORK/ridge.tar" --no-sbom >/dev/null
auth_json() { printf '{"auths":{"%s":{"auth":"%s"}}}' "$A" "$(printf '%s' "$1" | base64)"; }

# A real credential helper, as docker-credential-pass or -ecr-login are: the
# server on stdin, {"ServerURL","Username","Secret"} on stdout; it logs each call.
cat > "$WORK/bin/docker-credential-amlpkgtest" <<EOF
#!/bin/sh
[ "\$1" = get ] || exit 2
read -r server || true
echo "get \$server" >> "$WORK/helper.log"
if [ "\$server" = "$A" ]; then
  printf '{"ServerURL":"%s","Username":"alice","Secret":"s3cret-pw"}\n' "\$server"
else
  echo "credentials not found in native keychain"; exit 1
fi
EOF
printf '#!/bin/sh\necho "the keychain is locked"\nexit 4\n' > "$WORK/bin/docker-credential-amlpkgbroken"
chmod 755 "$WORK/bin/docker-credential-amlpkgtest" "$WORK/bin/docker-credential-amlpkgbroken"
export PATH="$WORK/bin:$PATH"
mkdir -p "$HOME/.docker"

printf '{"credsStore":"amlpkgtest"}' > "$HOME/.docker/config.json"
check "credsStore: the helper's credentials push" bash -c \
  "AMLPKG_DEBUG=1 '$AMLPKG' push '$WORK/ridge.tar' '$A/team/ridge:1' > '$WORK/push.out' 2>&1"
check "... the helper was asked for this registry" grep -qx "get $A" "$WORK/helper.log"
check "... and the secret appears in no output, even with AMLPKG_DEBUG" bash -c "! grep -q s3cret-pw '$WORK/push.out'"
check "build --push with the helper" bash -c \
  ": > '$WORK/helper.log'; '$AMLPKG' build '$EX/spec.yaml' -o '$WORK/bh.tar' --no-sbom --push '$A/team/helper:1' > /dev/null 2>&1"
check "... opens one registry session: checked before the build, used for the push (the helper asked once)" \
  bash -c "[ \$(grep -cx 'get $A' '$WORK/helper.log') = 1 ]"
check "credsStore also serves inspect of the registry" bash -c "'$AMLPKG' inspect '$A/team/ridge:1' | grep -q '^digest      sha256:'"
printf '{"credHelpers":{"%s":"amlpkgtest"},"auths":{"%s":{"auth":"%s"}}}' "$A" "$A" "$(printf alice:wrong | base64)" \
  > "$HOME/.docker/config.json"
check "credHelpers for the registry come before its auths entry" "$AMLPKG" pull "$A/team/ridge:1" -o "$WORK/p1.tar"
printf '{"credHelpers":{"%s":"amlpkgbroken"}}' "$A" > "$HOME/.docker/config.json"
check_fails "a failing helper is named with its message and the file naming it" \
  "docker-credential-amlpkgbroken \(credential helper named in $HOME/.docker/config.json\) get failed for $A: exit 4: the keychain is locked" \
  "$AMLPKG" push "$WORK/ridge.tar" "$A/team/ridge:2"
printf '{"credsStore":"amlpkgmissing"}' > "$HOME/.docker/config.json"
check_fails "a missing helper says it is not on PATH" "docker-credential-amlpkgmissing is not on PATH" \
  "$AMLPKG" push "$WORK/ridge.tar" "$A/team/ridge:2"
check_fails "build --push checks the credentials before building" "docker-credential-amlpkgmissing is not on PATH" \
  "$AMLPKG" build "$EX/spec.yaml" -o "$WORK/never.tar" --push "$A/team/built:1"
check "... and writes nothing" test ! -e "$WORK/never.tar"
rm "$HOME/.docker/config.json"
check_fails "build --push with a refused password fails before building" "push $A/team/built: check access: HTTP 401" \
  env AMLPKG_REGISTRY_AUTH=alice:wrong "$AMLPKG" build "$EX/spec.yaml" -o "$WORK/never2.tar" --push "$A/team/built:1"
check "... and writes nothing either" bash -c "[ ! -e '$WORK/never2.tar' ] && ! grep -q '^built' '$WORK/last.out'"

# The order of the files: the first that has an entry for the registry wins.
auth_json alice:s3cret-pw > "$HOME/.docker/config.json"
check "~/.docker/config.json alone" "$AMLPKG" pull "$A/team/ridge:1" -o "$WORK/p2.tar"
mkdir -p "$HOME/.config/containers"
auth_json alice:from-config > "$HOME/.config/containers/auth.json"
check_fails "~/.config/containers/auth.json comes before ~/.docker/config.json" \
  "HTTP 401.*refused the credentials from $HOME/.config/containers/auth.json" \
  "$AMLPKG" pull "$A/team/ridge:1" -o "$WORK/p3.tar"
auth_json alice:s3cret-pw > "$XDG_RUNTIME_DIR/containers/auth.json"
check "\$XDG_RUNTIME_DIR/containers/auth.json comes before both" "$AMLPKG" pull "$A/team/ridge:1" -o "$WORK/p4.tar"
auth_json alice:from-env > "$WORK/env-auth.json"
check_fails "\$REGISTRY_AUTH_FILE replaces the runtime dir's file" \
  "refused the credentials from $WORK/env-auth.json" \
  env REGISTRY_AUTH_FILE="$WORK/env-auth.json" "$AMLPKG" pull "$A/team/ridge:1" -o "$WORK/p5.tar"
auth_json alice:s3cret-pw > "$WORK/explicit.json"
check "--authfile replaces \$REGISTRY_AUTH_FILE" \
  env REGISTRY_AUTH_FILE="$WORK/env-auth.json" "$AMLPKG" pull "$A/team/ridge:1" -o "$WORK/p6.tar" --authfile "$WORK/explicit.json"
for cmd in "push $WORK/ridge.tar $A/team/ridge:3" "copy $A/team/ridge:1 $A/team/copy:1" "tags $A/team/ridge" \
  "inspect $A/team/ridge:1" "build $EX/spec.yaml -o $WORK/bp.tar --no-sbom --push $A/team/built:1"; do
  check "--authfile on ${cmd%% *}" bash -c "REGISTRY_AUTH_FILE='$WORK/env-auth.json' '$AMLPKG' $cmd --authfile '$WORK/explicit.json' > /dev/null"
done
check_fails "a missing --authfile is an error, not a silent fallback" "--authfile $WORK/nope.json: cannot open" \
  "$AMLPKG" pull "$A/team/ridge:1" -o "$WORK/p7.tar" --authfile "$WORK/nope.json"
rm -f "$XDG_RUNTIME_DIR/containers/auth.json" "$HOME/.config/containers/auth.json" "$HOME/.docker/config.json"
printf '{"%s":{"auth":"%s"}}' "$A" "$(printf alice:s3cret-pw | base64)" > "$HOME/.dockercfg"
check "~/.dockercfg (the legacy format) last" "$AMLPKG" pull "$A/team/ridge:1" -o "$WORK/p8.tar"
rm "$HOME/.dockercfg"

# /run/containers/$UID/auth.json, podman's file when XDG_RUNTIME_DIR is unset: in a
# private mount namespace over a folder of the test's own, so the host's /run is untouched.
if unshare --mount --propagation private true 2>/dev/null; then
  mkdir -p "$WORK/run/$(id -u)"
  auth_json alice:s3cret-pw > "$WORK/run/$(id -u)/auth.json"
  check "/run/containers/\$UID/auth.json when XDG_RUNTIME_DIR is unset" unshare --mount --propagation private bash -c \
    "mkdir -p /run/containers && mount --bind '$WORK/run' /run/containers &&
     env -u XDG_RUNTIME_DIR '$AMLPKG' pull '$A/team/ridge:1' -o '$WORK/p9.tar'"
  check_fails "... and not when XDG_RUNTIME_DIR is set (podman's rule)" "no credentials found" \
    unshare --mount --propagation private bash -c \
    "mkdir -p /run/containers && mount --bind '$WORK/run' /run/containers && '$AMLPKG' pull '$A/team/ridge:1' -o '$WORK/p10.tar'"
else
  skip "/run/containers/\$UID/auth.json: no private mount namespace here (needs root or user namespaces)"
fi
