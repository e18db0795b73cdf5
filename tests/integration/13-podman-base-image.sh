#!/usr/bin/env bash
# Base images in real tools: a busybox base made with buildah, as an
# oci-archive, a docker-archive from `podman save`, an OCI layout from skopeo
# and a registry image; amlpkg builds FROM each; skopeo and umoci see the
# base's files, Env and User with our layers on top; podman runs the image and
# it serves /score.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/registry_lib.sh"
EX="$ROOT/examples/onnx-ridge"
export CONTAINERS_CONF="$ROOT/templates/podman-containers.conf"
for tool in podman buildah skopeo umoci busybox docker-registry; do
  command -v $tool >/dev/null || { skip "$tool is not installed (make deps installs it)"; exit 0; }
done
cd "$WORK" || exit 1
cp "$EX/model.onnx" model.onnx

# The base: busybox-static and its applet links, FOO=bar, user 1000.
mkdir -p rootfs/bin rootfs/etc rootfs/tmp
cp "$(command -v busybox)" rootfs/bin/busybox
for t in sh ls cat env id wget; do ln -s busybox "rootfs/bin/$t"; done
echo 'root:x:0:0::/:/bin/sh' > rootfs/etc/passwd
S=(--root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs)
P=(podman "${S[@]}")
B=(buildah "${S[@]}")
on_exit "${P[*]} rm -af -t 0; ${B[*]} rm -a; ${P[*]} rmi -af"
c=$("${B[@]}" from scratch)
"${B[@]}" copy "$c" rootfs/ / >/dev/null
"${B[@]}" config --env FOO=bar --env PATH=/bin --user 1000 --label base.label=yes "$c"
check "buildah commits the busybox base as an oci-archive" "${B[@]}" commit -q "$c" oci-archive:"$WORK/base.tar":base:1
"${B[@]}" commit -q "$c" localhost/base:1 >/dev/null
check "podman saves it as a docker-archive" "${P[@]}" save --format docker-archive -o "$WORK/base-docker.tar" localhost/base:1
check "skopeo copies it into an OCI layout" skopeo copy -q oci-archive:"$WORK/base.tar" oci:"$WORK/layout":base
# skopeo compresses the layer on its way into the layout: each form has its own base digests.
base_layers=$(skopeo inspect oci-archive:"$WORK/base.tar" | jq -c .Layers)
layout_layers=$(skopeo inspect oci:"$WORK/layout":base | jq -c .Layers)

# jq -e passes on empty input: the file must have something in it.
jqf() { test -s "${@: -1}" && jq -e "$@"; }
spec() { # NAME BASE
  printf 'models:\n  - name: ridge\n    version: 1\n    path: model.onnx\nenvironment:\n  base_image: %s\n  env:\n    MODE: fast\n' "$2" > "$1"
}
spec s-oci.yaml oci-archive:base.tar
spec s-docker.yaml docker-archive:base-docker.tar
spec s-layout.yaml oci:layout:base
for form in oci docker layout; do
  want=$base_layers; [ $form = layout ] && want=$layout_layers
  check "amlpkg builds FROM the $form base" bash -c "'$AMLPKG' build s-$form.yaml -o out-$form.tar --tag amlpkg-test/base-$form:1 > build-$form.out"
  skopeo inspect oci-archive:"out-$form.tar" > inspect-$form.json
  skopeo inspect --config oci-archive:"out-$form.tar" > config-$form.json
  check "$form: the base's layers come first, unchanged, then ours" jqf --argjson b "$want" \
    '(.Layers | length) == ($b | length) + 2 and .Layers[0:($b | length)] == $b' inspect-$form.json
  check "$form: the base's Env and User are kept; our Env and Entrypoint are set" jqf \
    '.config.User == "1000" and (.config.Env | index("FOO=bar")) == 0 and (.config.Env | index("MODE=fast")) and (.config.Env | index("PATH=/bin")) and .config.Entrypoint == ["/usr/local/bin/amlserve"] and .config.Labels["base.label"] == "yes"' config-$form.json
done
d1=$(tail -1 build-oci.out)
check "a second build (cache hit) gives the same digest" bash -c "'$AMLPKG' build s-oci.yaml -o again.tar --tag amlpkg-test/base-oci:1 2>/dev/null | tail -1 | grep -qx '$d1'"
check "a build without the cache gives the same digest" bash -c "'$AMLPKG' build s-oci.yaml --no-cache -o again2.tar --tag amlpkg-test/base-oci:1 2>/dev/null | tail -1 | grep -qx '$d1'"

mkdir -p unpack && tar xf out-oci.tar -C unpack
check "umoci unpacks it: the base's busybox and links with our amlserve and model" bash -c "
  umoci unpack --rootless --image unpack:amlpkg-test/base-oci:1 bundle >/dev/null &&
  test -x bundle/rootfs/bin/busybox -a -L bundle/rootfs/bin/sh -a -x bundle/rootfs/usr/local/bin/amlserve &&
  test -f bundle/rootfs/var/azureml-app/azureml-models/ridge/1/model.onnx"

check "podman loads the image" "${P[@]}" load -q -i out-oci.tar
check "the base's shell runs in it, as user 1000 with FOO=bar" bash -c \
  "set -o pipefail; ${P[*]} run --rm --entrypoint /bin/sh localhost/amlpkg-test/base-oci:1 -c 'echo \$FOO \$(id -u)' | grep -qx 'bar 1000'"
port=$(free_port)
cid=$("${P[@]}" run -d -p "127.0.0.1:$port:5001" localhost/amlpkg-test/base-oci:1 2>run.err)
check "podman runs the image" test -n "$cid"
if ! wait_http "http://127.0.0.1:$port/" 30; then
  fail "the container answers on port 5001"; "${P[@]}" logs "$cid" 2>&1 | tail -5; cat run.err
else
  pass "the container answers on port 5001"
  curl -sS -o response.json -H 'Content-Type: application/json' --data @"$EX/sample-request.json" "http://127.0.0.1:$port/score"
  check "POST /score matches numpy within 1e-5" "$PY" "$ROOT/tests/expected_scores.py" "$EX/model.onnx" "$EX/sample-request.json" response.json
fi

# A registry base: pushed to a loopback registry, pulled (and verified) by the build.
start_registry plain || exit 1
check "skopeo pushes the base to the registry" skopeo copy -q --dest-tls-verify=false oci-archive:"$WORK/base.tar" "docker://$REG_plain/base:1"
reg_layers=$(skopeo inspect --tls-verify=false "docker://$REG_plain/base:1" | jq -c .Layers)
spec s-reg.yaml "$REG_plain/base:1"
check "amlpkg builds FROM $REG_plain/base:1" bash -c "'$AMLPKG' build s-reg.yaml -o out-reg.tar > build-reg.out 2> build-reg.err"
check "... with the base's layers unchanged" bash -c "set -o pipefail; skopeo inspect oci-archive:out-reg.tar | jq -e --argjson b '$reg_layers' '.Layers[0:(\$b | length)] == \$b'"
d2=$(tail -1 build-reg.out)
# Docker media types (schema 2): the same bytes under their OCI names.
check "skopeo pushes the base as a Docker schema 2 image" skopeo copy -q --format v2s2 --dest-tls-verify=false oci-archive:"$WORK/base.tar" "docker://$REG_plain/base:v2s2"
v2_layers=$(skopeo inspect --tls-verify=false "docker://$REG_plain/base:v2s2" | jq -c .Layers)
spec s-v2.yaml "$REG_plain/base:v2s2"
check "amlpkg builds FROM the Docker-typed image" bash -c "'$AMLPKG' build s-v2.yaml -o out-v2.tar >/dev/null 2>&1"
check "... its layers keep their digests under OCI media types" bash -c "set -o pipefail;
  skopeo inspect oci-archive:out-v2.tar | jq -e --argjson b '$v2_layers' '.Layers[0:(\$b | length)] == \$b' >/dev/null &&
  tar xOf out-v2.tar index.json | jq -r '.manifests[0].digest' | cut -c8- | xargs -I{} tar xOf out-v2.tar blobs/sha256/{} |
  jq -e '[.layers[].mediaType] | all(startswith(\"application/vnd.oci.image.layer.v1.tar\"))'"
kill "$REGPID_plain" 2>/dev/null; wait "$REGPID_plain" 2>/dev/null
check "with the registry gone, the cache builds the same digest" bash -c "'$AMLPKG' build s-reg.yaml -o out-reg2.tar 2>&1 | tail -1 | grep -qx '$d2'"
check_fails "with the registry gone and no cache, the build fails naming the registry" "$REG_plain" \
  "$AMLPKG" build s-reg.yaml -o out-reg3.tar --no-cache

# A registry that wants credentials: AMLPKG_REGISTRY_AUTH is honoured as by push and pull.
if command -v htpasswd >/dev/null; then
  htpasswd -Bbc "$WORK/htpasswd" alice s3cret >/dev/null 2>&1
  start_registry auth "$WORK/htpasswd" || exit 1
  skopeo copy -q --dest-tls-verify=false --dest-creds alice:s3cret oci-archive:"$WORK/base.tar" "docker://$REG_auth/base:1"
  spec s-auth.yaml "$REG_auth/base:1"
  check_fails "without credentials the base pull is refused, saying how to give them" "AMLPKG_REGISTRY_AUTH" \
    env HOME="$WORK/nohome" XDG_RUNTIME_DIR="$WORK/nohome" "$AMLPKG" build s-auth.yaml -o out-auth.tar --no-cache
  check "with AMLPKG_REGISTRY_AUTH the build pulls the base" \
    env HOME="$WORK/nohome" XDG_RUNTIME_DIR="$WORK/nohome" AMLPKG_REGISTRY_AUTH=alice:s3cret "$AMLPKG" build s-auth.yaml -o out-auth.tar --no-cache
else
  skip "htpasswd is not installed (apache2-utils)"
fi
