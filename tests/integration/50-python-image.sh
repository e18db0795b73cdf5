#!/usr/bin/env bash
# A Python entry script in a real image: a Debian bookworm base with python3,
# numpy and onnx made by mmdebstrap from Debian's archive (kept between runs on
# this machine, keyed by what goes into it), then score.py packaged FROM it by
# the daemonless builder, by the Dockerfile route, with a RUN step through the
# executor, and as an Azure ML user-managed conda environment (the conda path;
# see below) — each run by podman and scored.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples/python-ridge"
export CONTAINERS_CONF="$ROOT/templates/podman-containers.conf"
source "$ROOT/tests/python_base_lib.sh"
command -v podman >/dev/null || { skip "podman is not installed (make deps installs it)"; exit 0; }
why=$(python_base) || { skip "$why"; exit 0; }
python_base >/dev/null
check "the Debian Python base is an oci-archive" test -s "$BASE"
cd "$WORK" || exit 1
cp "$EX/score.py" "$EX/model.onnx" "$EX/sample-request.json" .
P=(podman --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs)
export AMLPKG_PODMAN="${P[*]}"
on_exit "${P[*]} rm -af -t 0; ${P[*]} rmi -af"
spec() { # NAME [DOCKER_STEP]
  { echo "models: [{name: ridge, version: 1, path: model.onnx}]"
    echo "inference: {entry_script: score.py}"
    echo "service: {workers: 2}"
    echo "environment:"
    echo "  base_image: oci-archive:$BASE"
    [ -n "${2:-}" ] && printf '  docker_steps: [%s]\n' "$2"
    echo "output: {name: $1, tag: '1'}"; } > "$1.yaml"
}
# run_and_score IMAGE NAME: runs it on a free port; sets NAME_port; checks /score against numpy.
run_and_score() {
  local port; port=$(free_port)
  local cid; cid=$("${P[@]}" run -d -p "127.0.0.1:$port:5001" "$1") || return 1
  on_exit "${P[*]} rm -f -t 0 $cid"
  eval "${2}_port=$port ${2}_cid=$cid"
  wait_http "http://127.0.0.1:$port/" 60 || { "${P[@]}" logs "$cid" | tail -5; return 1; }
  curl -sf -H 'Content-Type: application/json' --data @sample-request.json "http://127.0.0.1:$port/score" > "$2.json" &&
    "$PY" "$ROOT/tests/expected_scores.py" model.onnx sample-request.json "$2.json"
}

spec native
check "score.py is packaged FROM the Python base, without a daemon" bash -c "'$AMLPKG' build native.yaml -o native.tar > native.out 2>&1"
check "podman loads it" bash -c "${P[*]} load -q -i native.tar >/dev/null"
check "in the container, score.py's run() in 2 workers answers like numpy" run_and_score localhost/native:1 native
check "... and init() ran in both workers (its print is in the log)" bash -c "
  [ \$(${P[*]} logs $native_cid 2>&1 | grep -c 'ridge weights loaded') -eq 2 ]"

check "the Dockerfile route writes its context" "$AMLPKG" build native.yaml --dockerfile ctx
check "podman build makes the same service from it" bash -c "${P[*]} build -q -t localhost/viadockerfile:1 ctx > build.log 2>&1"
check "... which answers /score like numpy" run_and_score localhost/viadockerfile:1 viadockerfile
for path in / /swagger.json; do
  check "GET $path answers the same from both" bash -c "
    cmp <(curl -s http://127.0.0.1:$native_port$path) <(curl -s http://127.0.0.1:$viadockerfile_port$path)"
done

spec stepped '"RUN python3 -c \"open(\x27/etc/made-by-python\x27, \x27w\x27).write(\x27yes\x27)\""'
check "a RUN step on the Python base goes through the executor" bash -c "'$AMLPKG' build stepped.yaml -o stepped.tar > stepped.out 2> stepped.err"
check "... its output streamed, prefixed" grep -q '^\[podman\] ' stepped.err
check "... the step's file is in the image and score.py still answers" bash -c "
  ${P[*]} load -q -i stepped.tar >/dev/null &&
  [ \"\$(${P[*]} run --rm --entrypoint /bin/cat localhost/stepped:1 /etc/made-by-python)\" = yes ]"
check "... and it serves /score" run_and_score localhost/stepped:1 stepped

# The conda path. Conda itself cannot be installed here (Debian does not package it and there is no
# network), so it is tested two ways: by rendering (tests/cli/10-dockerfile.sh pins `conda env
# create` in the golden Dockerfile and reads the written conda file back), and here by an Azure ML
# environment whose conda dependencies (python, numpy, onnx) are what this Debian base already has.
# With userManagedDependencies: true, as Azure ML does for such an image, nothing is installed: no
# executor is needed, and the workers run the environment's interpreterPath.
azure_env() { # USER_MANAGED INTERPRETER
  cat > "ic-$1.json" <<JSON
{"entryScript": "score.py",
 "environment": {"name": "debian-python",
   "python": {"userManagedDependencies": $1, "interpreterPath": "$2",
              "condaDependencies": {"channels": ["conda-forge"],
                                    "dependencies": ["python=3.11", "numpy", {"pip": ["onnx"]}]}},
   "docker": {"baseImage": "oci-archive:$BASE"}}}
JSON
}
azure_env false python
check_fails "conda dependencies to install need an executor, and say which" \
  "the conda environment \(2 conda and 1 pip dependencies\) must run in a container" \
  "$AMLPKG" build --inference-config ic-false.json --model ridge:1=model.onnx -o never.tar --executor none
check "... and render as conda env create into /azureml-envs/azureml_<key>" bash -c "
  '$AMLPKG' build --inference-config ic-false.json --model ridge:1=model.onnx --dockerfile condactx >/dev/null &&
  grep -qE '^RUN conda env create -p /azureml-envs/azureml_[0-9a-f]{64} -f /azureml-environment-setup/conda_dependencies.yml' condactx/Dockerfile"
azure_env true /usr/bin/python3.11
check "user-managed dependencies the base already has build without an executor" bash -c "
  '$AMLPKG' build --inference-config ic-true.json --model ridge:1=model.onnx -o managed.tar --executor none --tag managed:1 > managed.out 2>&1"
check "... the image names the interpreter for amlserve's workers" bash -c "
  ${P[*]} load -q -i managed.tar >/dev/null &&
  ${P[*]} image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' localhost/managed:1 | grep -qx AZUREML_PYTHON=/usr/bin/python3.11"
check "... and its workers score with the base's numpy" run_and_score localhost/managed:1 managed
check "the Dockerfile route installs nothing either, and names the interpreter" bash -c "
  '$AMLPKG' build --inference-config ic-true.json --model ridge:1=model.onnx --dockerfile managedctx >/dev/null &&
  ! grep -q '^RUN' managedctx/Dockerfile && grep -qx 'ENV AZUREML_PYTHON=\"/usr/bin/python3.11\"' managedctx/Dockerfile"
azure_env true /usr/bin/python9
check "an interpreterPath the base lacks stops the container (exit 3), so the path really is used" bash -c "
  '$AMLPKG' build --inference-config ic-true.json --model ridge:1=model.onnx -o nopy.tar --tag nopy:1 >/dev/null 2>&1 &&
  ${P[*]} load -q -i nopy.tar >/dev/null; timeout 60 ${P[*]} run --rm localhost/nopy:1 > nopy.log 2>&1; [ \$? -eq 3 ]"

# A score.py written the way Azure ML's samples write it (Model.get_model_path, inference-schema
# decorators), in an image whose Python has neither azureml nor inference-schema: the worker's
# stand-ins serve it, run() gets the parsed body by keyword, and /swagger.json comes from the decorators.
mkdir -p azure && cp "$ROOT/tests/cli/azureml/numpy_score.py" azure/
echo '{"weights": [1.0, 10.0, 100.0]}' > azure/ridge.json
{ echo "models: [{name: ridge, version: 1, path: ridge.json}]"
  echo "inference: {entry_script: numpy_score.py}"
  echo "environment: {base_image: oci-archive:$BASE}"
  echo "output: {name: azuresample, tag: '1'}"; } > azure/spec.yaml
check "an Azure-sample score.py with inference-schema decorators builds" bash -c "'$AMLPKG' build azure/spec.yaml -o azure.tar > azure.out 2>&1"
check "... and runs in podman" bash -c "${P[*]} load -q -i azure.tar >/dev/null"
azure_port=$(free_port)
azure_cid=$("${P[@]}" run -d -p "127.0.0.1:$azure_port:5001" localhost/azuresample:1)
on_exit "${P[*]} rm -f -t 0 $azure_cid"
check "... ready" wait_http "http://127.0.0.1:$azure_port/" 60
check "... run(**body) in the container: NumPy conversion, the optional parameter's default, Model.get_model_path" bash -c "
  curl -sf -H 'Content-Type: application/json' -d '{\"data\": [[1, 2, 3]]}' http://127.0.0.1:$azure_port/score |
  jq -e '.result == [642] and .scale == 2.0' >/dev/null"
check "... swagger from the decorators" bash -c "
  curl -sf http://127.0.0.1:$azure_port/swagger.json | jq -e '.definitions.ServiceInput.example == {\"data\": [[1.0, 2.0, 3.0]], \"scale\": 1.0}' >/dev/null"
