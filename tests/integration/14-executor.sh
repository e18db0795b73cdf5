#!/usr/bin/env bash
# The executor: an environment with Docker steps is built by podman (only that
# stage), cached under its environment key, and amlpkg adds its own layers on
# top; a second build and a code-only change never run the engine again; a
# failing step leaves nothing in the cache.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples/onnx-ridge"
export CONTAINERS_CONF="$ROOT/templates/podman-containers.conf"
for tool in podman busybox; do
  command -v $tool >/dev/null || { skip "$tool is not installed (make deps installs it)"; exit 0; }
done
cd "$WORK" || exit 1
cp "$EX/model.onnx" "$EX/sample-request.json" .
# A busybox base in podman's own (private) storage: the executor's FROM names it there.
mkdir -p rootfs/bin rootfs/etc rootfs/tmp
cp "$(command -v busybox)" rootfs/bin/busybox
for t in sh echo cat; do ln -s busybox "rootfs/bin/$t"; done
tar -C rootfs -cf rootfs.tar .
P=(podman --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs)
export AMLPKG_PODMAN="${P[*]}" AMLPKG_CACHE_DIR="$WORK/cache"
on_exit "${P[*]} rm -af -t 0; ${P[*]} rmi -af"
check "the busybox base is imported into podman" bash -c "${P[*]} import -q --change 'ENV PATH=/bin' rootfs.tar localhost/bb:1 >/dev/null"
spec() { # STEP
  cat > spec.yaml <<YAML
models: [{name: ridge, version: 1, path: model.onnx}]
environment:
  base_image: localhost/bb:1
  docker_steps:
    - RUN $1
YAML
}
spec "echo built-by-the-executor > /etc/env.txt"
check "build runs the environment's Docker step with podman" bash -c "'$AMLPKG' build spec.yaml -o one.tar > one.out 2> one.err"
check "... the engine's output streams, prefixed" grep -q '^\[podman\] ' one.err
check "... and the environment is stored under its key" grep -q 'cache miss: stored' one.err
key=$("$AMLPKG" hash spec.yaml)
check "... the cache lists the key" bash -c "'$AMLPKG' cache ls | grep -q '^$key '"
check "... the engine keeps no image of it" bash -c "! ${P[*]} images --format '{{.Repository}}' | grep -q amlpkg-environment"
check "podman loads and runs the image: the step's file and the model are there" bash -c "
  ${P[*]} load -q -i one.tar >/dev/null &&
  [ \"\$(${P[*]} run --rm --entrypoint /bin/cat localhost/ridge:1 /etc/env.txt)\" = built-by-the-executor ]"
port=$(free_port)
cid=$("${P[@]}" run -d -p "127.0.0.1:$port:5001" localhost/ridge:1)
on_exit "${P[*]} rm -f -t 0 $cid"
check "... and it serves /score" bash -c "$(declare -f wait_http); wait_http http://127.0.0.1:$port/ 30 &&
  curl -sf --data @sample-request.json http://127.0.0.1:$port/score | jq -e 'length == 2'"
check "a second build is a cache hit: no engine, the same digest" bash -c "
  '$AMLPKG' build spec.yaml -o two.tar > two.out 2> two.err && grep -q 'cache hit' two.err && ! grep -q '^\[podman\]' two.err &&
  [ \"\$(tail -1 one.out)\" = \"\$(tail -1 two.out)\" ]"
cp model.onnx model2.onnx && printf 'x' >> /dev/null
sed -i 's/path: model.onnx/path: model2.onnx/' spec.yaml
check "changing only the model reuses the cached environment" bash -c "
  '$AMLPKG' build spec.yaml -o three.tar 2> three.err >/dev/null && grep -q 'cache hit' three.err && ! grep -q '^\[podman\]' three.err"
spec "exit 7"
check_fails "a failing step reports the engine's exit status" "failed with exit status" "$AMLPKG" build spec.yaml -o bad.tar
check "... writes no image" test ! -e bad.tar
check "... and caches nothing for that key" bash -c "! '$AMLPKG' cache ls | grep -q \"^\$('$AMLPKG' hash spec.yaml) \""
check_fails "--executor none refuses, naming the steps and --dockerfile" "environment.docker_steps \(1 step\) must run in a container.*--dockerfile DIR" \
  "$AMLPKG" build spec.yaml -o none.tar --executor none

# The same with buildah as the executor (it shares podman's storage here).
if command -v buildah >/dev/null; then
  export AMLPKG_BUILDAH="buildah --root $WORK/storage --runroot $WORK/run --storage-driver vfs"
  spec "echo via-buildah > /etc/env.txt"
  check "--executor buildah builds the environment stage too" bash -c "'$AMLPKG' build spec.yaml -o bud.tar --executor buildah > bud.out 2> bud.err && grep -q '^\[buildah\] ' bud.err"
  check "... and its step is in the image" bash -c "
    ${P[*]} load -q -i bud.tar >/dev/null &&
    [ \"\$(${P[*]} run --rm --entrypoint /bin/cat localhost/ridge:1 /etc/env.txt)\" = via-buildah ]"
else
  skip "buildah is not installed (make deps installs it)"
fi

# --executor docker, with the command lines real Docker takes (build -t, save -o, rmi). No Docker
# engine runs here, so two stand-ins answer them, both on this test's private podman storage:
# Debian's podman-docker (a `docker` that execs podman), and the real Docker CLI, where one is
# installed, talking to podman's Docker-compatible API on a unix socket in $WORK.
printf '[storage]\ndriver = "vfs"\ngraphroot = "%s/storage"\nrunroot = "%s/run"\n' "$WORK" "$WORK" > storage.conf
docker_case() { # NAME: builds with --executor docker; checks the step ran, the cache has it, the image serves
  spec "echo via-$1 > /etc/env.txt"
  check "--executor docker ($1) builds the environment stage" bash -c "
    '$AMLPKG' build spec.yaml -o $1.tar --executor docker > $1.out 2> $1.err && grep -q '^\[docker\] ' $1.err"
  check "... and stores it under the environment key" bash -c "'$AMLPKG' cache ls | grep -q \"^\$('$AMLPKG' hash spec.yaml) \""
  check "... the engine keeps no image of it" bash -c "! ${P[*]} images --format '{{.Repository}}' | grep -q amlpkg-environment"
  check "... its step is in the image, which serves /score" bash -c "
    ${P[*]} load -q -i $1.tar >/dev/null &&
    [ \"\$(${P[*]} run --rm --entrypoint /bin/cat localhost/ridge:1 /etc/env.txt)\" = via-$1 ] &&
    port=\$('$PY' -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); print(s.getsockname()[1])') &&
    cid=\$(${P[*]} run -d -p 127.0.0.1:\$port:5001 localhost/ridge:1) && $(declare -f wait_http) &&
    wait_http http://127.0.0.1:\$port/ 30 && curl -sf --data @sample-request.json http://127.0.0.1:\$port/score | jq -e 'length == 2';
    rc=\$?; ${P[*]} rm -f -t 0 \$cid >/dev/null 2>&1; exit \$rc"
}
if [ -x /usr/bin/docker ] && grep -q podman /usr/bin/docker 2>/dev/null; then
  (export AMLPKG_DOCKER=/usr/bin/docker CONTAINERS_STORAGE_CONF="$WORK/storage.conf"; docker_case podman-docker)
else
  skip "--executor docker through podman-docker: it is not installed (make deps installs it)"
fi
real_docker=
for d in $(type -ap docker); do grep -q podman "$d" 2>/dev/null || { real_docker=$d; break; }; done
if [ -n "$real_docker" ]; then
  "${P[@]}" system service --time=0 "unix://$WORK/docker.sock" > service.log 2>&1 &
  service_pid=$!
  on_exit "kill $service_pid"
  for _ in $(seq 100); do [ -S "$WORK/docker.sock" ] && break; sleep 0.1; done
  # The classic builder: podman's API has no BuildKit sessions, which a buildx plugin would ask for.
  (export AMLPKG_DOCKER="$real_docker" DOCKER_HOST="unix://$WORK/docker.sock" DOCKER_BUILDKIT=0
   docker_case docker-cli)
else
  skip "--executor docker through the Docker CLI: no Docker CLI other than podman-docker is installed"
fi
