#!/usr/bin/env bash
# amlpkg lock: a conda environment resolved by libsolv against real channels — .conda and .tar.bz2
# packages made by Debian's conda-package-handling (cph), indexed in repodata.json with their sha256 —
# served over loopback HTTP (python3 -m http.server) and read over file://; written in conda's explicit
# format with each file's sha256; conflicts explained with both specs named.
source "$(dirname "$0")/../lib.sh"
command -v cph >/dev/null || { skip "cph is not installed (conda-package-handling; make deps installs it)"; exit 0; }
cd "$WORK" || exit 1
PKGS=(
  "linux-64:python=3.11.4=h_0;__glibc >=2.17"
  "linux-64:python=3.12.1=h_0;__glibc >=2.28"
  "linux-64:numpy=1.26.4=py311_0;python 3.11.*&libblas"
  "linux-64:numpy=1.26.4=py312_0;python 3.12.*&libblas"
  "linux-64:numpy=2.0.0=py312_0;python >=3.12&libblas"
  "linux-64:libblas=3.9.0=openblas_1=1;;blas_openblas"
  "linux-64:libblas=3.9.0=mkl_0"
  "linux-64:scipy=1.11.0=py311_0;numpy >=1.23,<2&python 3.11.*"
  "noarch:six=1.16.0=pyh_0;python >=3"
  "noarch:oldsix=1.0=pyh_0;six <1"
  "noarch:pinner=1.0=0;;;numpy <1.26"
)
"$PY" "$ROOT/tests/conda_channel.py" "$WORK/channels" main "${PKGS[@]}" || { fail "the channel is built with cph"; exit 1; }
"$PY" "$ROOT/tests/conda_channel.py" "$WORK/channels" extra "noarch:six=9.9=pyh_0;python >=3" "noarch:onlyextra=1.0=0;six"
check "cph made real .conda and .tar.bz2 packages" bash -c "
  ls channels/main/linux-64/*.conda channels/main/linux-64/*.tar.bz2 >/dev/null && cph x channels/main/noarch/six-1.16.0-pyh_0.tar.bz2 --dest x >/dev/null 2>&1 &&
  grep -q '\"name\": \"six\"' x/info/index.json"
port=$(free_port)
"$PY" -m http.server --bind 127.0.0.1 --directory "$WORK/channels" "$port" >/dev/null 2>&1 &
srv=$!
on_exit "kill $srv; wait $srv 2>/dev/null"
wait_http "http://127.0.0.1:$port/main/noarch/repodata.json" 20 || { fail "the channel is served"; exit 1; }
URL=http://127.0.0.1:$port

cat > env.yml <<YAML
name: scoring
channels:
  - $URL/main
dependencies:
  - python 3.11.*   # the runtime Azure ML images use
  - numpy
  - six
YAML
check "lock resolves over HTTP to the highest versions the specs allow" bash -c "
  '$AMLPKG' lock env.yml -o env.lock 2> lock.err && grep -q '^@EXPLICIT$' env.lock &&
  [ \"\$(grep -v '^[#@]' env.lock | sed 's|.*/||; s|#.*||; s/\\.conda\$//; s/\\.tar\\.bz2\$//' | tr '\\n' ' ')\" = \\
    'libblas-3.9.0-mkl_0 numpy-1.26.4-py311_0 python-3.11.4-h_0 six-1.16.0-pyh_0 ' ]"
check "... every line is URL#sha256 of the file the channel serves" bash -c "
  grep -v '^[#@]' env.lock | while IFS='#' read -r url sha; do
    [ \"\$(curl -sf \"\$url\" | sha256sum | cut -d' ' -f1)\" = \"\$sha\" ] || exit 1; done"
check "... track_features lose: the mkl build, not the openblas one of higher build number" grep -q 'libblas-3.9.0-mkl_0' env.lock
check "... and the lock records its input and platform" grep -Eq '^# amlpkg-input: sha256:[0-9a-f]{64}$' env.lock
sed 's|# the runtime.*||; s|  - six|  - "six"|' env.yml > env2.yml
check "comments and quoting do not change the lock, a spec does" bash -c "
  '$AMLPKG' lock env2.yml -o env2.lock && diff <(grep -v '^# Written' env.lock) <(grep -v '^# Written' env2.lock) &&
  sed -i 's/  - numpy/  - numpy <2/' env2.yml && '$AMLPKG' lock env2.yml -o env3.lock &&
  [ \"\$(grep amlpkg-input env.lock)\" != \"\$(grep amlpkg-input env3.lock)\" ]"
sed "s|$URL/main|$WORK/channels/main|" env.yml > file.yml
check "a channel given as a path is read over file://, with the same solution" bash -c "
  '$AMLPKG' lock file.yml -o file.lock && grep -q '^file://$WORK/channels/main/linux-64/numpy-1.26.4-py311_0' file.lock &&
  diff <(grep -v '^#' env.lock | sed 's|.*/||') <(grep -v '^#' file.lock | sed 's|.*/||')"
printf 'channels: [main]\ndependencies: [python=3.12, numpy]\n' > alias.yml
check "--channel-alias points named channels at a mirror; build strings and =3.12 pick the py312 numpy" bash -c "
  '$AMLPKG' lock alias.yml --channel-alias $URL/ --virtual __glibc=2.31 > alias.lock &&
  grep -q '^$URL/main/linux-64/numpy-2.0.0-py312_0' alias.lock && grep -q 'python-3.12.1-h_0' alias.lock"
check_fails "a virtual package the target lacks is named (python 3.12 needs __glibc >=2.28)" \
  "python 3.12.1 h_0 needs '__glibc >=2.28', which nothing in the channels matches" \
  "$AMLPKG" lock alias.yml --channel-alias "$URL" --virtual __glibc=2.17
printf 'channels: [%s/main, %s/extra]\ndependencies: [six, onlyextra]\n' "$URL" "$URL" > prio.yml
check "strict channel priority: six from the first channel even though the second has 9.9" bash -c "
  '$AMLPKG' lock prio.yml > prio.lock && grep -q '/main/noarch/six-1.16.0' prio.lock && grep -q '/extra/noarch/onlyextra-1.0' prio.lock"
printf 'channels: [%s/main]\ndependencies: [scipy, numpy >=2]\n' "$URL" > conflict.yml
check "an unsatisfiable request fails and names both conflicting specs" bash -c "
  ! '$AMLPKG' lock conflict.yml > conflict.out 2>&1 && grep -q 'cannot be satisfied together' conflict.out &&
  grep -q \"you asked for 'numpy >=2'\" conflict.out && grep -q \"you asked for 'scipy'\" conflict.out"
printf 'channels: [%s/main]\ndependencies: [numpy 1.26.*, pinner]\n' "$URL" > constrained.yml
check_fails "a package's constrains is honoured and named" "pinner 1.0 0 constrains 'numpy <1.26'" \
  "$AMLPKG" lock constrained.yml
printf 'channels: [%s/main]\ndependencies: [tensorflow]\n' "$URL" > unknown.yml
check_fails "an unknown package is named" "nothing in the channels matches 'tensorflow'" "$AMLPKG" lock unknown.yml -o never.lock
check "... and nothing is written" test ! -e never.lock
printf 'channels: [%s/main]\ndependencies:\n  - numpy\n  - pip:\n      - --no-index\n      - onnx==1.14.1\n' "$URL" > pip.yml
check_fails "the pip section is resolved after the conda part (tests/cli/27-pip-lock.sh): no source has onnx" \
  "pip.yml: dependencies: pip: the requirements cannot be satisfied together: no source has onnx" "$AMLPKG" lock pip.yml
printf 'channels: [%s/nosuch]\ndependencies: [numpy]\n' "$URL" > missing.yml
check_fails "a channel without an index is named by its URL" "$URL/nosuch/linux-64/repodata.json: HTTP status 404" \
  "$AMLPKG" lock missing.yml
printf 'channels: [%s/main]\ndependencies: ["numpy >>2"]\n' "$URL" > badspec.yml
check_fails "a malformed spec is named" "badspec.yml: dependencies\[0\]: 'numpy >>2'" "$AMLPKG" lock badspec.yml
cp "$ROOT/examples/onnx-ridge/model.onnx" m.onnx
printf 'models: [{name: m, version: 1, path: m.onnx}]\nenvironment:\n  conda_file: env.yml\n' > spec.yaml
check "an amlpkg spec locks its environment.conda_file" bash -c "
  '$AMLPKG' lock spec.yaml > spec.lock && diff <(grep -v '^# Written' spec.lock) <(grep -v '^# Written' env.lock)"

# environment.lock_file: the lock is part of the environment key, the Dockerfile installs it as is,
# and a stale lock (the environment changed since) is refused before anything is built.
cp env.yml envl.yml && "$AMLPKG" lock envl.yml -o envl.lock 2>/dev/null
printf 'models: [{name: m, version: 1, path: m.onnx}]\nenvironment:\n  conda_file: envl.yml\n  lock_file: envl.lock\n' > locked.yaml
printf 'models: [{name: m, version: 1, path: m.onnx}]\nenvironment:\n  conda_file: envl.yml\n' > unlocked.yaml
check "the lock is part of the environment key" bash -c "
  '$AMLPKG' hash locked.yaml --explain | grep -q '\"conda_lock\":\"sha256:' &&
  [ \"\$('$AMLPKG' hash locked.yaml)\" != \"\$('$AMLPKG' hash unlocked.yaml)\" ]"
check "the Dockerfile installs the lock with conda create --file, no solve" bash -c "
  '$AMLPKG' build locked.yaml --dockerfile lctx > /dev/null &&
  grep -Eq '^RUN conda create -y -p /azureml-envs/azureml_[0-9a-f]{64} --file /azureml-environment-setup/conda.lock' lctx/Dockerfile &&
  ! grep -q 'conda env create' lctx/Dockerfile && cmp envl.lock lctx/azureml-environment-setup/conda.lock"
sed -i 's/  - numpy/  - numpy <1.26/' envl.yml
check_fails "a stale lock is refused, naming the spec's line" \
  "locked.yaml:4: environment.lock_file: '.*envl.lock' is stale: it was resolved from another environment" \
  "$AMLPKG" build locked.yaml --dockerfile never-ctx
check "... and nothing was written" test ! -e never-ctx
printf '@EXPLICIT\nhttps://example/x.conda\n' > hand.lock
printf 'models: [{name: m, version: 1, path: m.onnx}]\nenvironment:\n  conda_file: env.yml\n  lock_file: hand.lock\n' > hand.yaml
check_fails "a lock amlpkg did not write is refused" "hand.yaml:4: environment.lock_file: '.*hand.lock' is not a lock written by amlpkg lock" \
  "$AMLPKG" hash hand.yaml
printf 'models: [{name: m, version: 1, path: m.onnx}]\nenvironment:\n  lock_file: env.lock\n' > nolock.yaml
check_fails "a lock without its environment is refused" "nolock.yaml:3: environment.lock_file: give the conda environment" \
  "$AMLPKG" hash nolock.yaml

# The same solutions as rattler's solver (the @conda-org/rattler bindings, installed by make deps into
# tests/rattler), on a channel without virtual packages (rattler's simpleSolve adds none).
RATTLER="$ROOT/tests/rattler"
if ! command -v node >/dev/null || [ ! -d "$RATTLER/node_modules/@conda-org/rattler" ]; then
  skip "rattler comparison: node or tests/rattler/node_modules missing (make deps installs them)"
else
  "$PY" "$ROOT/tests/conda_channel.py" "$WORK/channels" cmp \
    "linux-64:python=3.11.4=h_0" "linux-64:python=3.12.1=h_0" \
    "linux-64:numpy=1.24.0=py311_0;python >=3.11,<3.12&libblas" \
    "linux-64:numpy=1.26.4=py311_0;python 3.11.*&libblas" "linux-64:numpy=1.26.4=py312_0;python 3.12.*&libblas" \
    "linux-64:numpy=2.0.0=py312_0;python >=3.12&libblas" \
    "linux-64:libblas=3.9.0=openblas_1=1;;blas_openblas" "linux-64:libblas=3.9.0=mkl_0" \
    "linux-64:scipy=1.11.0=py311_0;numpy >=1.23,<2&python 3.11.*" \
    "noarch:six=1.16.0=pyh_0;python >=3" "noarch:pinner=1.0=0;;;numpy <1.26"
  for specs in '["numpy", "python 3.11.*", "six"]' '["numpy"]' '["numpy <2", "python"]' '["scipy"]' \
               '["numpy 1.26.* py312*"]' '["numpy", "pinner"]' '["libblas * openblas*"]' '["python=3.11", "numpy>=1.20,<1.25"]'; do
    check "amlpkg lock and rattler agree on $specs" bash -c "
      '$PY' -c 'import json,sys; print(\"channels: [$URL/cmp]\"); print(\"dependencies: \" + json.dumps(json.loads(sys.argv[1])))' '$specs' > cmp.yml &&
      '$AMLPKG' lock cmp.yml --virtual __glibc=99 > cmp.lock &&
      node '$RATTLER/solve.cjs' '$specs' '[\"$URL/cmp\"]' > rattler.txt &&
      diff <(grep -v '^[#@]' cmp.lock | sed 's|.*/||; s|#.*||; s/\.conda\$//; s/\.tar\.bz2\$//' | sort) rattler.txt"
  done
fi

# Virtual packages from the spec's target: a GPU environment has __cuda (its cuda_version).
"$PY" "$ROOT/tests/conda_channel.py" "$WORK/channels" gpu "linux-64:torchcuda=2.1=cuda118_0;__cuda >=11.8&__glibc >=2.17"
printf 'channels: [%s/gpu]\ndependencies: [torchcuda]\n' "$URL" > gpuenv.yml
printf 'models: [{name: m, version: 1, path: m.onnx}]\nenvironment:\n  conda_file: gpuenv.yml\n  base_image: oci-archive:none.tar\n  gpu: {enabled: true, cuda_version: "12.2"}\n' > gpu.yaml
check_fails "a CPU target has no __cuda: the package that needs it is named" \
  "torchcuda 2.1 cuda118_0 needs '__cuda >=11.8', which nothing in the channels matches" "$AMLPKG" lock gpuenv.yml
check "a spec with gpu.enabled and cuda_version 12.2 provides __cuda=12.2" bash -c "
  '$AMLPKG' lock gpu.yaml | grep -q '/gpu/linux-64/torchcuda-2.1-cuda118_0'"
