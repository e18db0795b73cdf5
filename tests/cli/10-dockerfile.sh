#!/usr/bin/env bash
# amlpkg package --generate-dockerfile: the Dockerfile text (pinned by a golden
# file), its build context, byte stability, and refusing to overwrite.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples"
GOLDEN="$ROOT/tests/cli/golden"

check "package --generate-dockerfile writes a Dockerfile and a context" \
  "$AMLPKG" package "$EX/onnx-ridge/spec.yaml" --generate-dockerfile "$WORK/ctx"
check "the Dockerfile matches the golden file (make golden regenerates it)" diff -u "$GOLDEN/onnx-ridge.Dockerfile" "$WORK/ctx/Dockerfile"
check "the context holds amlserve and the model at their image paths" bash -c "
  cmp '$AMLSERVE' '$WORK/ctx/layer-1/usr/local/bin/amlserve' &&
  cmp '$EX/onnx-ridge/model.onnx' '$WORK/ctx/layer-2/var/azureml-app/azureml-models/ridge/1/model.onnx' &&
  [ -x '$WORK/ctx/layer-1/usr/local/bin/amlserve' ]"
cp -r "$EX/onnx-ridge" "$WORK/elsewhere"
# Modes in the context are the image's, whatever the checkout's umask (COPY keeps them).
chmod 0664 "$WORK/elsewhere/model.onnx"; chmod 0775 "$WORK/elsewhere"
mkdir -p "$WORK/umask-model" && cp "$EX/onnx-ridge/model.onnx" "$WORK/umask-model/" && chmod 0600 "$WORK/umask-model/model.onnx"
chmod 0700 "$WORK/umask-model"
printf 'models: [{name: ridge, version: 1, path: umask-model}]\n' > "$WORK/umask.yaml"
check "a context from group-writable or private files gets 0644 files and 0755 folders" bash -c "
  '$AMLPKG' package '$WORK/umask.yaml' --generate-dockerfile '$WORK/ctx-modes' >/dev/null &&
  [ \$(stat -c %a '$WORK/ctx-modes/layer-2/var/azureml-app/azureml-models/ridge/1/umask-model/model.onnx') = 644 ] &&
  [ \$(stat -c %a '$WORK/ctx-modes/layer-2/var/azureml-app/azureml-models/ridge/1/umask-model') = 755 ] &&
  [ \$(stat -c %a '$WORK/ctx-modes/layer-1/usr/local/bin/amlserve') = 755 ]"
check "the same spec from another folder gives the same bytes" bash -c "
  cd '$WORK' && '$AMLPKG' package elsewhere/spec.yaml --generate-dockerfile ctx2 >/dev/null && cmp ctx/Dockerfile ctx2/Dockerfile"
check_fails "an existing non-empty folder is refused, and left alone" "exists and is not empty" \
  "$AMLPKG" package "$EX/onnx-ridge/spec.yaml" --generate-dockerfile "$WORK/ctx"
check "... the earlier context is untouched" diff -u "$GOLDEN/onnx-ridge.Dockerfile" "$WORK/ctx/Dockerfile"
mkdir "$WORK/empty"
check "an empty folder is filled" "$AMLPKG" package "$EX/onnx-ridge/spec.yaml" --generate-dockerfile "$WORK/empty"
check_fails "a bad spec writes nothing" "models\[0\].path: no such file" bash -c "
  printf 'models: [{name: a, version: 1, path: nope.onnx}]\n' > '$WORK/bad.yaml' &&
  '$AMLPKG' package '$WORK/bad.yaml' --generate-dockerfile '$WORK/never'"
check "... no folder and no temporary context left" bash -c "[ ! -e '$WORK/never' ] && ! ls -A '$WORK' | grep -q amlpkg-context"

# Service settings and samples become ENV lines and a samples COPY, safely quoted.
mkdir -p "$WORK/svc" && cp "$EX/onnx-ridge/model.onnx" "$EX/onnx-ridge/sample-request.json" "$WORK/svc/"
cat > "$WORK/svc/spec.yaml" <<'YAML'
models: [{name: ridge, version: 1, path: model.onnx}]
service:
  workers: 2
  cors: {origins: ["https://a.example.com", "https://b.example.com"]}
  input_sample: sample-request.json
YAML
check "a spec with service settings generates" "$AMLPKG" package "$WORK/svc/spec.yaml" --generate-dockerfile "$WORK/svcctx"
check "... with its settings as ENV" bash -c "grep -qx 'ENV WORKER_COUNT=\"2\"' '$WORK/svcctx/Dockerfile' &&
  grep -qx 'ENV AML_CORS_ORIGINS=\"https://a.example.com,https://b.example.com\"' '$WORK/svcctx/Dockerfile'"
check "... and the sample copied before the models" bash -c "
  grep '^# amlpkg:' '$WORK/svcctx/Dockerfile' | sed -n 2p | grep -q 'service samples' &&
  cmp '$WORK/svc/sample-request.json' '$WORK/svcctx/layer-2/var/azureml-app/input_sample.json'"
check "build --dockerfile is the same as package --generate-dockerfile" bash -c "
  '$AMLPKG' build '$EX/onnx-ridge/spec.yaml' --dockerfile '$WORK/viabuild' >/dev/null &&
  '$AMLPKG' package '$EX/onnx-ridge/spec.yaml' --generate-dockerfile='$WORK/viapkg' >/dev/null &&
  cmp '$WORK/viabuild/Dockerfile' '$WORK/viapkg/Dockerfile'"
check_exit "--dockerfile with --format is a usage error" 2 \
  "$AMLPKG" build "$EX/onnx-ridge/spec.yaml" --dockerfile "$WORK/x" --format docker-archive
check "package without --generate-dockerfile builds an image like build" bash -c "
  '$AMLPKG' package '$EX/onnx-ridge/spec.yaml' -o '$WORK/pkg.tar' | tail -1 | grep -q '^sha256:'"

# An environment that needs an engine: base image, Docker step, conda file; the Python app.
CONDA="$ROOT/examples/azureml-conda"
check "a conda environment spec writes its Dockerfile" "$AMLPKG" build "$CONDA/spec.yaml" --dockerfile "$WORK/conda"
check "... matching the golden file" diff -u "$GOLDEN/azureml-conda.Dockerfile" "$WORK/conda/Dockerfile"
check "... FROM the base, the environment steps before any of our COPYs" bash -c "
  [ \"\$(awk '/^(FROM|RUN|COPY)/ {print \$1}' '$WORK/conda/Dockerfile' | head -5 | tr '\n' ' ')\" = 'FROM RUN COPY RUN COPY ' ] &&
  awk '/^COPY/ {print \$2}' '$WORK/conda/Dockerfile' | sed -n 2p | grep -q 'layer-1/' && [ -x '$WORK/conda/layer-1/usr/local/bin/amlserve' ]"
check "... the conda file copied byte for byte into the context" cmp "$CONDA/conda.yml" "$WORK/conda/azureml-environment-setup/conda_dependencies.yml"
check "... the entry script at the app root, named by AZUREML_ENTRY_SCRIPT" bash -c "
  cmp '$ROOT/examples/python-ridge/score.py' '$WORK/conda/layer-2/var/azureml-app/score.py' && grep -qx 'ENV AZUREML_ENTRY_SCRIPT=\"score.py\"' '$WORK/conda/Dockerfile'"
check "... the base's PATH kept behind the conda environment's" grep -qE '^ENV PATH="/azureml-envs/azureml_[0-9a-f]{64}/bin:\$PATH"$' "$WORK/conda/Dockerfile"
check_fails "without an executor the build says what needs an engine and what to do" \
  "environment: environment.docker_steps \(1 step\), the conda environment \(3 conda and 1 pip dependencies\) must run in a container.*--dockerfile DIR" \
  "$AMLPKG" build "$CONDA/spec.yaml" -o "$WORK/never.tar" --executor none
# An inline conda mapping is written out as a conda file a real YAML reader accepts, entries as written.
mkdir -p "$WORK/inline" && cp "$ROOT/examples/onnx-ridge/model.onnx" "$ROOT/examples/python-ridge/score.py" "$WORK/inline/"
cat > "$WORK/inline/spec.yaml" <<'YAML'
models: [{name: ridge, version: 1, path: model.onnx}]
inference: {entry_script: score.py}
environment:
  base_image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04
  conda:
    channels: [conda-forge]
    dependencies: ["python=3.11", "numpy >=1.24", {pip: ["onnx==1.14.1", "--extra-index-url https://example.com/simple"]}]
    variables: {OMP_NUM_THREADS: "1"}
YAML
check "an inline conda environment generates" "$AMLPKG" build "$WORK/inline/spec.yaml" --dockerfile "$WORK/inline-ctx"
check "... its conda file reads back as the same environment" "$PY" -c '
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
assert d["channels"] == ["conda-forge"], d
assert d["dependencies"][:2] == ["python=3.11", "numpy >=1.24"], d
assert d["dependencies"][2]["pip"] == ["--extra-index-url https://example.com/simple", "onnx==1.14.1"], d
assert d["variables"] == {"OMP_NUM_THREADS": "1"}, d' "$WORK/inline-ctx/azureml-environment-setup/conda_dependencies.yml"
cat > "$WORK/inline/scratch.yaml" <<'YAML'
models: [{name: ridge, version: 1, path: model.onnx}]
environment:
  base_image: scratch
  docker_steps: ["RUN echo hi"]
YAML
check_fails "Docker steps on an explicit scratch (no shell) are refused up front" "scratch.yaml:[0-9]+: environment: .*need a base image with a shell" \
  "$AMLPKG" build "$WORK/inline/scratch.yaml" --dockerfile "$WORK/never-ctx"
printf 'models: [{name: ridge, version: 1, path: model.onnx}]\nenvironment:\n  docker_steps: ["RUN echo hi"]\n' > "$WORK/inline/nobase.yaml"
check "Docker steps and no base image start FROM Azure ML's default CPU image, never refused" bash -c "
  '$AMLPKG' build '$WORK/inline/nobase.yaml' --dockerfile '$WORK/nobase-ctx' >/dev/null &&
  grep -qx 'FROM mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04' '$WORK/nobase-ctx/Dockerfile'"

# The source directory goes to the app root minus what .amlignore (else .gitignore) excludes.
mkdir -p "$WORK/app/src/pkg" "$WORK/app/src/data" "$WORK/app/src/.git" "$WORK/app/src/logs"
cp "$ROOT/examples/python-ridge/score.py" "$WORK/app/src/"
cp "$ROOT/examples/onnx-ridge/model.onnx" "$WORK/app/"
echo 'x = 1' > "$WORK/app/src/pkg/util.py"; echo big > "$WORK/app/src/data/train.csv"; echo ref > "$WORK/app/src/.git/HEAD"
echo a > "$WORK/app/src/logs/run.log"; echo b > "$WORK/app/src/keep.log"; echo c > "$WORK/app/src/debug.log"
printf '# what Azure ML would not upload\ndata/\n*.log\n!keep.log\n/pkg/*.pyc\n' > "$WORK/app/src/.amlignore"
echo 'pkg/' > "$WORK/app/src/.gitignore"   # .amlignore wins: pkg/ stays
cat > "$WORK/app/spec.yaml" <<'YAML'
models: [{name: ridge, version: 1, path: model.onnx}]
inference: {entry_script: src/score.py, source_directory: src}
environment: {base_image: "localhost/python:3.11"}
YAML
check "a source directory with .amlignore generates" "$AMLPKG" build "$WORK/app/spec.yaml" --dockerfile "$WORK/appctx"
check "... the app layer holds exactly the files .amlignore lets through" bash -c "
  cd '$WORK/appctx/layer-2/var/azureml-app' && [ \"\$(find . -type f | sort | tr '\n' ' ')\" = './.amlignore ./.gitignore ./keep.log ./pkg/util.py ./score.py ' ]"
check "... AZUREML_ENTRY_SCRIPT is relative to the app root, the source dir on sys.path" bash -c "
  grep -qx 'ENV AZUREML_ENTRY_SCRIPT=\"score.py\"' '$WORK/appctx/Dockerfile' && grep -qx 'ENV AZUREML_SOURCE_DIRECTORY=\"/var/azureml-app\"' '$WORK/appctx/Dockerfile'"
rm "$WORK/app/src/.amlignore"
check "without .amlignore, .gitignore decides (and .git never goes in)" bash -c "
  '$AMLPKG' build '$WORK/app/spec.yaml' --dockerfile '$WORK/appctx2' >/dev/null && cd '$WORK/appctx2/layer-2/var/azureml-app' &&
  [ ! -e pkg ] && [ ! -e .git ] && [ -f data/train.csv ] && [ -f score.py ]"

# Nothing from a spec can add an instruction: values are escaped, comments cleaned, names validated.
mkdir -p "$WORK/inj" && cp "$ROOT/examples/onnx-ridge/model.onnx" "$WORK/inj/"
printf 'def init():\n    pass\ndef run(raw):\n    return raw\n' > "$WORK/inj/$(printf 'evil\nRUN touch pwned.py')"
cat > "$WORK/inj/spec.yaml" <<'YAML'
models: [{name: ridge, version: 1, path: model.onnx}]
inference: {entry_script: "evil\nRUN touch pwned.py"}
environment:
  base_image: localhost/python:3.11
  env:
    TRICKY: "a\"b\\c $(touch /x) ${HOME} `id`\nRUN touch /pwned"
service:
  cors: {origins: ["https://a.example.com"]}
YAML
check "a spec full of quotes, newlines, \$() and backslashes generates" "$AMLPKG" build "$WORK/inj/spec.yaml" --dockerfile "$WORK/injctx"
check "... with no instruction but ours: RUN appears nowhere" bash -c "! grep -q '^RUN' '$WORK/injctx/Dockerfile'"
check "... the value escaped inside one ENV line" grep -qxF 'ENV TRICKY="a\"b\\c \$(touch /x) \${HOME} `id`\nRUN touch /pwned"' "$WORK/injctx/Dockerfile"
check "... the file name's newline neutralised in the layer comment" grep -qx '# amlpkg: app evil?RUN touch pwned.py' "$WORK/injctx/Dockerfile"
printf 'models: [{name: ridge, version: 1, path: model.onnx}]\nenvironment:\n  base_image: "debian\\nRUN touch /pwned"\n' > "$WORK/inj/base.yaml"
check_fails "a base image with a newline is refused" "base.yaml:3: environment.base_image: 'debian" \
  "$AMLPKG" build "$WORK/inj/base.yaml" --dockerfile "$WORK/never-inj"
printf 'models: [{name: ridge, version: 1, path: model.onnx}]\nenvironment:\n  env: {"BAD NAME": x}\n' > "$WORK/inj/name.yaml"
check_fails "an environment variable name that is not a name is refused" "environment.env" \
  "$AMLPKG" build "$WORK/inj/name.yaml" --dockerfile "$WORK/never-inj"

# The GPU/CUDA variant (templates/Dockerfile.gpu.in), pinned by its golden file.
GPU="$ROOT/examples/gpu-ridge"
check "a GPU spec writes its Dockerfile" "$AMLPKG" build "$GPU/spec.yaml" --dockerfile "$WORK/gpu"
check "... matching the golden file" diff -u "$GOLDEN/gpu-ridge.Dockerfile" "$WORK/gpu/Dockerfile"
check "... FROM Azure ML's default GPU image, with the NVIDIA runtime's variables and CUDA's libraries first" bash -c "
  grep -qx 'FROM mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.3-cudnn8-ubuntu20.04' '$WORK/gpu/Dockerfile' &&
  grep -qx 'ENV NVIDIA_VISIBLE_DEVICES=\"all\"' '$WORK/gpu/Dockerfile' &&
  grep -qx 'ENV NVIDIA_DRIVER_CAPABILITIES=\"compute,utility\"' '$WORK/gpu/Dockerfile' &&
  grep -qx 'ENV NVIDIA_REQUIRE_CUDA=\"cuda>=11.3\"' '$WORK/gpu/Dockerfile' &&
  grep -qxF 'ENV LD_LIBRARY_PATH=\"/usr/local/cuda/lib64:/usr/local/nvidia/lib:/usr/local/nvidia/lib64\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}\"' '$WORK/gpu/Dockerfile' &&
  grep -qx 'LABEL \"com.amlpkg.gpu\"=\"cuda\"' '$WORK/gpu/Dockerfile'"
check "... and a CPU spec keeps the CPU template" bash -c "! grep -q 'NVIDIA\|GPU' '$WORK/ctx/Dockerfile'"
mkdir -p "$WORK/gpu2" && cp "$EX/onnx-ridge/model.onnx" "$WORK/gpu2/"
printf 'models: [{name: ridge, version: 1, path: model.onnx}]\nenvironment:\n  gpu: {enabled: true, cuda_version: "12.1"}\n' > "$WORK/gpu2/spec.yaml"
check_fails "another CUDA version without a base image is refused, naming the field" \
  "spec.yaml:3: environment.gpu.cuda_version: '12.1': the default GPU base image .* has CUDA 11.3; set environment.base_image" \
  "$AMLPKG" build "$WORK/gpu2/spec.yaml" --dockerfile "$WORK/never-gpu"
printf 'models: [{name: ridge, version: 1, path: model.onnx}]\nenvironment:\n  base_image: localhost/cuda:12.1\n  gpu: {enabled: true, cuda_version: "12.1"}\n  env: {LD_LIBRARY_PATH: /opt/mine}\n' > "$WORK/gpu2/spec.yaml"
check "... with one it is the base; a spec's own LD_LIBRARY_PATH is kept as written" bash -c "
  '$AMLPKG' build '$WORK/gpu2/spec.yaml' --dockerfile '$WORK/gpu2ctx' >/dev/null &&
  grep -qx 'FROM localhost/cuda:12.1' '$WORK/gpu2ctx/Dockerfile' && grep -qx 'ENV NVIDIA_REQUIRE_CUDA=\"cuda>=12.1\"' '$WORK/gpu2ctx/Dockerfile' &&
  [ \"\$(grep -c '^ENV LD_LIBRARY_PATH=' '$WORK/gpu2ctx/Dockerfile')\" = 1 ] && grep -qx 'ENV LD_LIBRARY_PATH=\"/opt/mine\"' '$WORK/gpu2ctx/Dockerfile'"

# The same injection attempts through the GPU template.
sed 's/^  base_image: localhost\/python:3.11$/  base_image: localhost\/python:3.11\n  gpu: {enabled: true, cuda_version: "11.3"}/' "$WORK/inj/spec.yaml" > "$WORK/inj/gpu.yaml"
check "a GPU spec full of quotes, newlines, \$() and backslashes generates from the GPU template" bash -c "
  '$AMLPKG' build '$WORK/inj/gpu.yaml' --dockerfile '$WORK/injgpu' >/dev/null && grep -q '^ENV NVIDIA_VISIBLE_DEVICES=' '$WORK/injgpu/Dockerfile'"
check "... with no instruction but ours: RUN appears nowhere" bash -c "! grep -q '^RUN' '$WORK/injgpu/Dockerfile'"
check "... the value escaped inside one ENV line" grep -qxF 'ENV TRICKY="a\"b\\c \$(touch /x) \${HOME} `id`\nRUN touch /pwned"' "$WORK/injgpu/Dockerfile"
check "... the file name's newline neutralised in the layer comment" grep -qx '# amlpkg: app evil?RUN touch pwned.py' "$WORK/injgpu/Dockerfile"
printf 'models: [{name: ridge, version: 1, path: model.onnx}]\nenvironment:\n  base_image: localhost/cuda:1\n  gpu: {enabled: true, cuda_version: "11.3\\nRUN touch /pwned"}\n' > "$WORK/inj/cuda.yaml"
check_fails "a CUDA version with a newline is refused (it would reach ENV, LABEL and a comment)" \
  "cuda.yaml:4: environment.gpu.cuda_version: '11.3" "$AMLPKG" build "$WORK/inj/cuda.yaml" --dockerfile "$WORK/never-inj"
printf '{"entryScript": "score.py", "enableGpu": true, "baseImage": "localhost/cuda:1", "cudaVersion": "11.3\\"\\nRUN touch /pwned"}\n' > "$WORK/inj/cuda.json"
check_fails "... and so is one in inferenceconfig.json" "cuda.json:1: cudaVersion: not a version such as '11.3'" \
  "$AMLPKG" build --inference-config "$WORK/inj/cuda.json" --model "ridge:1=$WORK/inj/model.onnx" --dockerfile "$WORK/never-inj"
# Azure's interpreterPath reaches ENV AZUREML_PYTHON: escaped like every value.
cp "$ROOT/examples/python-ridge/score.py" "$WORK/inj/score.py"
printf '{"entryScript": "score.py", "environment": {"python": {"userManagedDependencies": true, "interpreterPath": "/usr/bin/py\\"\\nRUN touch /pwned $(id) \\\\"}, "docker": {"baseImage": "localhost/python:3.11"}}}\n' > "$WORK/inj/interp.json"
cat > "$WORK/inj/interp.want" <<'LINE'
ENV AZUREML_PYTHON="/usr/bin/py\"\nRUN touch /pwned \$(id) \\"
LINE
check "an interpreterPath with a quote, newline, \$() and backslash stays inside one ENV line" bash -c "
  '$AMLPKG' build --inference-config '$WORK/inj/interp.json' --model 'ridge:1=$WORK/inj/model.onnx' --dockerfile '$WORK/injinterp' >/dev/null &&
  ! grep -q '^RUN' '$WORK/injinterp/Dockerfile' && grep -qxFf '$WORK/inj/interp.want' '$WORK/injinterp/Dockerfile'"
# A label value from outside the spec: --git-labels takes the origin URL, which may hold anything.
mkdir -p "$WORK/gitinj" && cp "$ROOT/examples/onnx-ridge/model.onnx" "$WORK/gitinj/"
printf 'models: [{name: ridge, version: 1, path: model.onnx}]\n' > "$WORK/gitinj/cpu.yaml"
printf 'models: [{name: ridge, version: 1, path: model.onnx}]\nenvironment: {gpu: {enabled: true}}\n' > "$WORK/gitinj/gpu.yaml"
git -C "$WORK/gitinj" init -q && git -C "$WORK/gitinj" add . &&
  git -C "$WORK/gitinj" -c user.email=t@example.com -c user.name=t commit -qm spec &&
  git -C "$WORK/gitinj" config remote.origin.url "$(printf 'https://example.com/r"$(id)\\\nRUN touch /pwned')"
cat > "$WORK/gitinj/want" <<'LINE'
LABEL "org.opencontainers.image.source"="https://example.com/r\"\$(id)\\\nRUN touch /pwned"
LINE
for t in cpu gpu; do
  check "a label from a hostile origin URL stays inside one LABEL line ($t template)" bash -c "
    '$AMLPKG' build '$WORK/gitinj/$t.yaml' --git-labels --dockerfile '$WORK/gitinj/$t-ctx' >/dev/null &&
    ! grep -q '^RUN' '$WORK/gitinj/$t-ctx/Dockerfile' && grep -qxFf '$WORK/gitinj/want' '$WORK/gitinj/$t-ctx/Dockerfile'"
done
