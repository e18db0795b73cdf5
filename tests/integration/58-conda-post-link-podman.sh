#!/usr/bin/env bash
# Post-link scripts of a locked conda environment, run through the executor (podman) with --allow-scripts
# on top of the layer amlpkg installed: real packages made by cph whose bin/.NAME-post-link.sh runs a tool
# of the package found through $PREFIX/bin on PATH and writes a file from conda's variables (PKG_NAME,
# PKG_VERSION, PKG_BUILDNUM, PREFIX). alpha depends on omega, so omega's script runs first although alpha
# sorts first. The result is cached under its own key (a rebuild runs no engine), the same on a second
# machine (another cache and podman store), and a failing script fails the build naming the package with
# the script's own output, leaving nothing in the cache or podman's store.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/python_base_lib.sh"
source "$ROOT/tests/conda_lib.sh"
export CONTAINERS_CONF="$ROOT/templates/podman-containers.conf"
need_podman_conda
cd "$WORK" || exit 1
serve_conda_channel \
  "linux-64:alpha=1.0=h_1=1;omega;;;post-link" \
  "linux-64:omega=2.5=h_2=2;;;;post-link" \
  "linux-64:broken=1.0=h_0;;;;post-link-fail"
cp "$ROOT/examples/python-ridge/model.onnx" .
spec() { # NAME DEP...
  local n=$1; shift
  { echo "channels: [$URL]"; echo "dependencies:"; for d in "$@"; do echo "  - $d"; done; } > "$n.yml"
  "$AMLPKG" lock "$n.yml" -o "$n.lock" 2>/dev/null
  printf 'models: [{name: m, version: 1, path: model.onnx}]\nenvironment:\n  base_image: oci-archive:%s\n  conda_file: %s.yml\n  lock_file: %s.lock\noutput: {name: %s, tag: "1"}\n' "$BASE" "$n" "$n" "$n" > "$n.yaml"
}
spec scripted alpha
RUN=$(mktemp -d /tmp/pl.XXXX)
on_exit "rm -rf $RUN"
P=(podman --root "$WORK/storage" --runroot "$RUN/a" --storage-driver vfs)
P2=(podman --root "$WORK/storage2" --runroot "$RUN/b" --storage-driver vfs)
on_exit "${P[*]} rm -af -t 0; ${P[*]} rmi -af; ${P2[*]} rmi -af"
KEY=$("$AMLPKG" hash scripted.yaml)
E=/azureml-envs/azureml_$KEY

check "build --allow-scripts installs the lock without an engine, then runs its 2 post-link scripts in podman" bash -c "
  AMLPKG_PODMAN='${P[*]}' '$AMLPKG' build scripted.yaml --allow-scripts -o scripted.tar 2> build.err &&
  grep -q 'conda environment installed without an engine: 2 packages' build.err &&
  grep -q 'running 2 post-link scripts with podman' build.err"
check "... the scripts' output is shown" grep -q 'post-link of omega running' build.err
check "... and podman's store is left as it was found (empty)" bash -c "[ -z \"\$(${P[*]} images -q)\" ]"
check "podman loads the image" bash -c "${P[*]} load -q -i scripted.tar >/dev/null"
check "each script saw conda's variables and found its package's tool through \$PREFIX/bin on PATH" bash -c "
  [ \"\$(${P[*]} run --rm --entrypoint /bin/cat localhost/scripted:1 $E/share/omega/post-link.txt $E/share/alpha/post-link.txt)\" = \\
    \"\$(printf 'omega 2.5 2 $E tool-of-omega\nalpha 1.0 1 $E tool-of-alpha')\" ]"
check "... and they ran dependencies first, as conda does (omega before alpha)" bash -c "
  [ \"\$(${P[*]} run --rm --entrypoint /bin/cat localhost/scripted:1 $E/share/post-link-order.txt | tr '\n' ' ')\" = 'omega alpha ' ]"
check "the scripts' layer is normalised like every executor layer (entries dated 1970, owned by root)" "$PY" -c "
import json, tarfile
t = tarfile.open('scripted.tar')
read = lambda d: t.extractfile('blobs/sha256/' + d.split(':')[1]).read()
m = json.loads(read(json.loads(t.extractfile('index.json').read())['manifests'][0]['digest']))
config = json.loads(read(m['config']['digest']))
layer, k = None, 0
for h in config['history']:
    if h.get('empty_layer'):
        continue
    if 'amlpkg-post-link-start' in h.get('created_by', ''):
        layer = k
    k += 1
import io
top = tarfile.open(fileobj=io.BytesIO(read(m['layers'][layer]['digest'])))
names = top.getnames()
assert any(n.endswith('share/post-link-order.txt') for n in names), names
assert all(x.mtime == 0 and x.uname == '' for x in top.getmembers()), [(x.name, x.mtime, x.uname) for x in top.getmembers()]
"
check "a rebuild takes the environment from the cache: no engine, no script" bash -c "
  AMLPKG_PODMAN=/nonexistent '$AMLPKG' build scripted.yaml --allow-scripts -o again.tar 2> again.err &&
  grep -q 'cache hit (workspace)' again.err && ! grep -q 'post-link' again.err &&
  cmp <(tar -xOf scripted.tar index.json) <(tar -xOf again.tar index.json)"
check "... while without --allow-scripts the cached scripted environment is not used: the package is refused" bash -c "
  ! AMLPKG_PODMAN=/nonexistent '$AMLPKG' build scripted.yaml -o no.tar 2> no.err && grep -q 'alpha-1.0-h_1 has a post-link script' no.err"
check "another machine (fresh cache and podman store) builds the same image digest" bash -c "
  AMLPKG_CACHE_DIR='$WORK/cache2' AMLPKG_PODMAN='${P2[*]}' '$AMLPKG' build scripted.yaml --allow-scripts -o other.tar 2>/dev/null &&
  cmp <(tar -xOf scripted.tar index.json) <(tar -xOf other.tar index.json)"

spec broken broken
entries=$("$AMLPKG" cache ls | wc -l)
check_fails "a failing post-link script fails the build, naming the package, its exit status and its output" \
  "post-link script of package broken-1\.0-h_0 failed \(exit status 3\).*" \
  env AMLPKG_PODMAN="${P[*]}" "$AMLPKG" build broken.yaml --allow-scripts -o broken.tar
cp "$WORK/last.out" broken.out
check "... the message carries what the script said" grep -q '^broken: cannot configure' broken.out
check "... nothing is cached or written, and podman's store holds only the image loaded above" bash -c "
  [ \$('$AMLPKG' cache ls | wc -l) = $entries ] && [ ! -e broken.tar ] &&
  [ \"\$(${P[*]} images -q | wc -l)\" = 1 ]"
