#!/usr/bin/env bash
# `amlpkg lock` on a spec whose base is a real distribution (Debian bookworm made by mmdebstrap) reads the
# glibc version from the base's own libc, and it is what glibc inside the running image says (`ldd --version`
# in podman, the oracle). A package needing a newer glibc is refused naming both; one that fits is locked,
# installed by amlpkg and its file is in the image.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/python_base_lib.sh"
source "$ROOT/tests/conda_lib.sh"
export CONTAINERS_CONF="$ROOT/templates/podman-containers.conf"
need_podman_conda
cd "$WORK" || exit 1
RUN=$(mktemp -d /tmp/gl.XXXX)
on_exit "rm -rf $RUN"
P=(podman --root "$WORK/storage" --runroot "$RUN/r" --storage-driver vfs)
on_exit "${P[*]} rm -af -t 0; ${P[*]} rmi -af"
IMAGE_GLIBC=$("${P[@]}" run -q --rm "oci-archive:$BASE" ldd --version | sed -n '1s/.* \([0-9][0-9.]*\)$/\1/p')
check "the oracle: glibc in the running base says its version" bash -c "[ -n '$IMAGE_GLIBC' ]"
NEWER=$("$PY" -c "import sys; a, b = sys.argv[1].split('.')[:2]; print(f'{a}.{int(b) + 2}')" "${IMAGE_GLIBC:-2.0}")
"$PY" "$ROOT/tests/conda_channel.py" "$WORK/channels" main \
  "linux-64:toonew=1.0=h_0;__glibc >=$NEWER" "linux-64:fits=1.0=h_0;__glibc >=2.17" || { fail "the channel is built"; exit 1; }
cp "$ROOT/examples/python-ridge/model.onnx" m.onnx
for n in toonew fits; do
  printf 'channels: [file://%s/channels/main]\ndependencies: [%s]\n' "$WORK" $n > $n.yml
  printf 'models: [{name: m, version: 1, path: m.onnx}]\nenvironment:\n  base_image: oci-archive:%s\n  conda_file: %s.yml\n  lock_file: %s.lock\noutput: {name: %s, tag: "1"}\n' "$BASE" $n $n $n > $n.yaml
done
check "lock reads glibc $IMAGE_GLIBC from the Debian base's libc, as ldd in the image says" bash -c "
  '$AMLPKG' lock fits.yaml -o fits.lock 2> fits.err && grep -q 'target from oci-archive:.*: glibc $IMAGE_GLIBC, x86_64' fits.err"
check_fails "a package needing __glibc >=$NEWER is refused, naming it and the base's glibc" \
  "toonew 1\.0 h_0 needs '__glibc >=$NEWER'.*has glibc $IMAGE_GLIBC" "$AMLPKG" lock toonew.yaml -o toonew.lock
check "the one that fits installs without an engine and is in the image" bash -c "
  AMLPKG_PODMAN=/nonexistent '$AMLPKG' build fits.yaml -o fits.tar 2>/dev/null && ${P[*]} load -q -i fits.tar >/dev/null &&
  [ \"\$(${P[*]} run --rm --entrypoint /bin/sh localhost/fits:1 -c 'cat \$AZUREML_CONDA_ENVIRONMENT_PATH/share/fits/VERSION')\" = 1.0 ]"
