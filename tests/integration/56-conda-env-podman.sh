#!/usr/bin/env bash
# A locked conda environment installed by amlpkg without an engine runs in podman: the channel (real
# packages made by cph) holds an interpreter made from Debian's Python 3.11 with its whole standard
# library, a C extension built with gcc and a noarch: python package; `amlpkg lock` pins them, `amlpkg
# build` installs them into /azureml-envs/azureml_<key> on the Debian base, and score.py — which imports
# the extension and the noarch package, found only in that environment — answers /score from the
# environment's python (first on PATH, as in Azure ML's images).
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/python_base_lib.sh"
source "$ROOT/tests/conda_lib.sh"
export CONTAINERS_CONF="$ROOT/templates/podman-containers.conf"
[ -x /usr/bin/python3.11 ] && [ -f /usr/include/python3.11/Python.h ] && command -v gcc >/dev/null ||
  { skip "Debian's python3.11, its headers and gcc are needed for the test packages"; exit 0; }
need_podman_conda
cd "$WORK" || exit 1
serve_conda_channel \
  "linux-64:python=3.11.7=h_0;;;;python-full!conda" \
  "linux-64:fastext=1.0=py311_0;python 3.11.*;;;extension" \
  "noarch:greet=2.0=pyh_0;python >=3.8&fastext;;;noarch-python"
cat > env.yml <<YAML
channels: [$URL]
dependencies:
  - python 3.11.*
  - greet
YAML
cat > score.py <<'PY'
import json
import sys

import fastext          # the compiled extension: only in the conda environment
import greet            # the noarch: python package: only in the conda environment


def init():
    print("conda environment python", sys.executable, flush=True)


def run(raw_data):
    data = json.loads(raw_data)
    return {"sum": fastext.add(data["a"], data["b"]), "greet": greet.__version__, "prefix": sys.prefix}
PY
cp "$ROOT/examples/python-ridge/model.onnx" .
cat > spec.yaml <<YAML
models: [{name: ridge, version: 1, path: model.onnx}]
inference: {entry_script: score.py}
service: {workers: 1}
environment:
  base_image: oci-archive:$BASE
  conda_file: env.yml
  lock_file: env.lock
output: {name: condaenv, tag: '1'}
YAML
P=(podman --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs)
on_exit "${P[*]} rm -af -t 0; ${P[*]} rmi -af"
check "amlpkg lock pins the environment" "$AMLPKG" lock env.yml -o env.lock
check "amlpkg build installs it without an engine, on the Debian base" bash -c "
  AMLPKG_PODMAN=/nonexistent '$AMLPKG' build spec.yaml -o condaenv.tar 2> build.err &&
  grep -q 'conda environment installed without an engine: 3 packages' build.err"
check "podman loads the image" bash -c "${P[*]} load -q -i condaenv.tar >/dev/null"
KEY=$("$AMLPKG" hash spec.yaml)
port2=$(free_port)
cid=$("${P[@]}" run -d -p "127.0.0.1:$port2:5001" localhost/condaenv:1)
on_exit "${P[*]} rm -f -t 0 $cid"
wait_http "http://127.0.0.1:$port2/" 60 || { "${P[@]}" logs "$cid" | tail -20; }
check "score.py imports the extension and the noarch package and answers /score" bash -c "
  curl -sf -H 'Content-Type: application/json' --data '{\"a\": 40, \"b\": 2}' http://127.0.0.1:$port2/score > score.json &&
  '$PY' -c 'import json,sys; d=json.load(open(\"score.json\")); assert d == {\"sum\": 42, \"greet\": \"2.0\", \"prefix\": \"/azureml-envs/azureml_$KEY\"}, d'"
check "... run by the environment's python, first on PATH" bash -c "
  ${P[*]} logs $cid 2>&1 | grep -q 'conda environment python /azureml-envs/azureml_$KEY/bin/python'"
check "conda-meta in the image lists the packages" bash -c "
  [ \"\$(${P[*]} run --rm --entrypoint /bin/sh localhost/condaenv:1 -c 'ls \$AZUREML_CONDA_ENVIRONMENT_PATH/conda-meta' | tr '\n' ' ')\" = \\
    'fastext-1.0-py311_0.json greet-2.0-pyh_0.json history python-3.11.7-h_0.json ' ]"

# Docker steps still run in the executor, first (as the Dockerfile orders them); the conda environment goes
# on what they made, installed by amlpkg.
sed -e 's/^output: .*/output: {name: stepped, tag: "1"}/' \
  -e "s|^environment:|environment:\n  docker_steps: ['RUN echo made-by-step > /etc/made-by-step']|" spec.yaml > stepped.yaml
check "with docker_steps, the executor runs the steps and amlpkg installs the conda environment on top" bash -c "
  AMLPKG_PODMAN='${P[*]}' '$AMLPKG' build stepped.yaml -o stepped.tar 2> stepped.err &&
  grep -q 'conda environment installed without an engine: 3 packages' stepped.err && ! grep -q 'conda create' stepped.err"
check "... the image has the step's file and the environment, which answers from python" bash -c "
  ${P[*]} load -q -i stepped.tar >/dev/null &&
  [ \"\$(${P[*]} run --rm --entrypoint /bin/sh localhost/stepped:1 -c 'cat /etc/made-by-step; python3 -c \"import fastext; print(fastext.add(1, 2))\"' | tr '\n' ' ')\" = 'made-by-step 3 ' ]"
