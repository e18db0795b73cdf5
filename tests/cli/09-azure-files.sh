#!/usr/bin/env bash
# Azure ML's own files instead of a spec: inferenceconfig.json (or YAML),
# deploymentconfig.json and --model NAME:VERSION=PATH, for serve and profile.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples"
mkdir -p "$WORK/proj/src" && cp "$EX/python-ridge/score.py" "$WORK/proj/src/" && cd "$WORK/proj"
MODEL="ridge:1=$EX/onnx-ridge/model.onnx"

cat > inferenceconfig.json <<'JSON'
{
  "entryScript": "score.py",
  "runtime": "python",
  "condaFile": null,
  "extraDockerfileSteps": null,
  "sourceDirectory": "src",
  "enableGpu": false,
  "baseImage": null,
  "baseImageRegistry": null
}
JSON
cat > deploymentconfig.json <<'JSON'
{"computeType": "AKS", "authEnabled": true,
 "keys": {"primaryKey": "primary-key-1", "secondaryKey": "secondary-key-2"},
 "scoringTimeoutMs": 5000, "maxConcurrentRequestsPerContainer": 4, "maxQueueWaitMs": 500,
 "autoScaler": {"autoscaleEnabled": true, "minReplicas": 1, "maxReplicas": 4, "targetUtilization": 50},
 "containerResourceRequirements": {"cpu": 0.5, "memoryInGB": 1.0}, "sslEnabled": false}
JSON

"$AMLPKG" serve --inference-config inferenceconfig.json --deployment-config deploymentconfig.json --model "$MODEL" \
  --port 0 --python /usr/bin/python3 > "$WORK/serve.out" 2> "$WORK/serve.err" &
spid=$!
on_exit "kill $spid; wait $spid"
started() { local d=$((SECONDS + 30)); while [ $SECONDS -lt $d ]; do grep -q 'Press Ctrl-C' "$WORK/serve.out" && return 0; kill -0 $spid || return 1; sleep 0.1; done; return 1; }
check "serve takes inferenceconfig.json + deploymentconfig.json + --model" started
port=$(grep -o 'Scoring URI: http://127.0.0.1:[0-9]*' "$WORK/serve.out" | grep -o '[0-9]*$')
check "the deployment config's keys are in force (AKS: auth on)" grep -q 'Primary key: primary-key-1' "$WORK/serve.out"
code=$(curl -s -o "$WORK/out" -w '%{http_code}' -H 'Authorization: Bearer secondary-key-2' --data @"$EX/python-ridge/sample-request.json" "http://127.0.0.1:$port/score")
check "the entry script, found in sourceDirectory, answers with the secondary key" bash -c "[ $code = 200 ] && '$PY' '$ROOT/tests/expected_scores.py' '$EX/onnx-ridge/model.onnx' '$EX/python-ridge/sample-request.json' '$WORK/out'"
check "no key: 401" test "$(curl -s -o /dev/null -w '%{http_code}' --data @"$EX/python-ridge/sample-request.json" "http://127.0.0.1:$port/score")" = 401
kill -INT $spid; wait $spid
check "serve stops on Ctrl-C with exit 0" test $? = 0

(tr -d '\n' < "$EX/python-ridge/sample-request.json"; echo) > req.jsonl
check "profile takes the same files; the autoscaler target and max concurrency size the replicas" bash -c "
  '$AMLPKG' profile --inference-config inferenceconfig.json --deployment-config deploymentconfig.json --model '$MODEL' \
    --python /usr/bin/python3 --input req.jsonl --requests 200 --json |
  jq -e '.totalQueries == 200 and .errorQueries == 0 and .targetUtilization == 0.5 and .maxConcurrentRequestsPerContainer == 4'"

cat > inferenceconfig.yml <<'YAML'
entryScript: src/score.py
runtime: python
YAML
check "a YAML inference config works too (entryScript relative to the file without sourceDirectory)" bash -c "
  '$AMLPKG' profile --inference-config inferenceconfig.yml --model '$MODEL' --python /usr/bin/python3 \
    --input req.jsonl --requests 20 --json | jq -e '.errorQueries == 0'"

# --- bad input: file, line and Azure's key
bad() { printf '%s\n' "$@" > bad.json; }
bad '{"entryScirpt": "score.py"}'
check_fails "a misspelt key: line and did-you-mean" "bad.json:1: entryScirpt: unknown field \(did you mean 'entryScript'\?\)" \
  "$AMLPKG" serve --inference-config bad.json --model "$MODEL"
bad '{' '  "runtime": "python"' '}'
check_fails "entryScript is required" "bad.json:1: entryScript: required field is missing" \
  "$AMLPKG" serve --inference-config bad.json --model "$MODEL"
bad '{"entryScript": "score.py",' ' "sourceDirectory": "nowhere"}'
check_fails "a missing sourceDirectory is named with its line" "bad.json:2: sourceDirectory: no such directory" \
  "$AMLPKG" serve --inference-config bad.json --model "$MODEL"
bad '{"entryScript": "src/score.py", "runtime": "spark-py"}'
check_fails "spark-py is refused" "bad.json:[0-9]+: runtime: only python is supported" "$AMLPKG" serve --inference-config bad.json --model "$MODEL"
bad '{"entryScript": "src/score.py", "entryScript": "x.py"}'
check_fails "a key given twice is refused" "duplicate field" "$AMLPKG" serve --inference-config bad.json --model "$MODEL"
bad '{"entryScript": "src/score.py", "runtime": "python"'
check_fails "malformed JSON gives line and column" "bad.json:[0-9]+:[0-9]+: " "$AMLPKG" serve --inference-config bad.json --model "$MODEL"
check_fails "--model without a version" "--model 'ridge=.*': expected NAME:VERSION=PATH" \
  "$AMLPKG" serve --inference-config inferenceconfig.json --model "ridge=$EX/onnx-ridge/model.onnx"
check_fails "--model with a bad name" "'-ridge' is not a valid model name" \
  "$AMLPKG" serve --inference-config inferenceconfig.json --model "-ridge:1=$EX/onnx-ridge/model.onnx"
check_fails "--model with a missing file" "no such file or directory '/nonexistent.onnx'" \
  "$AMLPKG" serve --inference-config inferenceconfig.json --model "ridge:1=/nonexistent.onnx"
check_exit "--inference-config without --model is a usage error" 2 "$AMLPKG" serve --inference-config inferenceconfig.json
check_exit "a SPEC and --inference-config together is a usage error" 2 \
  "$AMLPKG" serve "$EX/onnx-ridge/spec.yaml" --inference-config inferenceconfig.json --model "$MODEL"
printf '{"port": 8080}\n' > dc.json
check_fails "deploymentconfig needs computeType" "dc.json:1: computeType: required field is missing" \
  "$AMLPKG" serve --inference-config inferenceconfig.json --model "$MODEL" --deployment-config dc.json
printf '{"computeType": "AKS", "tokenAuthEnabled": true}\n' > dc.json
check_fails "token auth is refused, not ignored" "dc.json:1: tokenAuthEnabled: Azure.s tokens come from Azure" \
  "$AMLPKG" serve --inference-config inferenceconfig.json --model "$MODEL" --deployment-config dc.json
printf '{"computeType": "ACI",\n "keys": {"primaryKey": "k"}}\n' > dc.json
check_fails "keys with auth off (ACI's default) are a contradiction" "dc.json:2: keys: keys are given but authEnabled is false" \
  "$AMLPKG" serve --inference-config inferenceconfig.json --model "$MODEL" --deployment-config dc.json
printf '{"computeType": "AKS", "scoringTimeoutMs": "soon"}\n' > dc.json
check_fails "a non-number timeout names the key" "dc.json:1: scoringTimeoutMs: expected an integer" \
  "$AMLPKG" serve --inference-config inferenceconfig.json --model "$MODEL" --deployment-config dc.json
# No base image: Azure ML's default CPU image, as Azure uses it (tests/integration/55 pulls it from a mirror).
check "build takes the same files: the Dockerfile route starts FROM Azure ML's default CPU image" bash -c "
  '$AMLPKG' build --inference-config inferenceconfig.json --model '$MODEL' --dockerfile '$WORK/default-ctx' >/dev/null &&
  grep -qx 'FROM mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04' '$WORK/default-ctx/Dockerfile'"
printf '[[registry]]\nprefix = "mcr.microsoft.com"\n[[registry.mirror]]\nlocation = "127.0.0.1:1"\n' > "$WORK/down.conf"
check_fails "... and the daemonless route pulls it, through the registries.conf mirror first" \
  "pull mcr.microsoft.com: cannot reach the registry" \
  env AMLPKG_RETRY_BASE_MS=1 AMLPKG_REGISTRIES_CONF="$WORK/down.conf" "$AMLPKG" build --inference-config inferenceconfig.json \
  --model "$MODEL" -o "$WORK/never.tar" --no-cache
check "... writing nothing" test ! -e "$WORK/never.tar"

# The environment keys of inferenceconfig.json become the environment.
printf 'channels: [conda-forge]\ndependencies:\n  - numpy>=1.24\n  - pip:\n      - onnx==1.14.1\n' > myenv.yml
cat > envconfig.json <<'JSON'
{"entryScript": "score.py", "runtime": "python", "sourceDirectory": "src", "condaFile": "myenv.yml",
 "extraDockerfileSteps": "RUN apt-get update && apt-get install -y libgomp1\nENV OMP_NUM_THREADS=1",
 "baseImage": "mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.3-cudnn8-ubuntu20.04", "enableGpu": true,
 "cudaVersion": "11.3", "baseImageRegistry": null, "environment": null}
JSON
check "condaFile, baseImage, extraDockerfileSteps, enableGpu and cudaVersion become the environment" bash -c "
  '$AMLPKG' build --inference-config envconfig.json --model '$MODEL' --dockerfile '$WORK/envctx' >/dev/null &&
  grep -qx 'FROM mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.3-cudnn8-ubuntu20.04' '$WORK/envctx/Dockerfile' &&
  grep -qx 'RUN apt-get update && apt-get install -y libgomp1' '$WORK/envctx/Dockerfile' &&
  grep -q '^RUN conda env create -p /azureml-envs/azureml_' '$WORK/envctx/Dockerfile' &&
  grep -qx 'ENV NVIDIA_REQUIRE_CUDA=\"cuda>=11.3\"' '$WORK/envctx/Dockerfile' &&
  cmp myenv.yml '$WORK/envctx/azureml-environment-setup/conda_dependencies.yml'"
check_fails "without an executor the build names the steps the environment needs" \
  "envconfig.json:1: environment: environment.docker_steps \(1 step\), the conda environment \(1 conda and 1 pip dependencies\) must run in a container" \
  "$AMLPKG" build --inference-config envconfig.json --model "$MODEL" -o "$WORK/never.tar" --executor none
printf '{"entryScript": "src/score.py",\n "environment": {"name": "my-env", "version": "3"}}\n' > registered.json
check_fails "a registered environment reference is refused with what to give instead" \
  "registered.json:2: environment: a registered environment \(name and version\) lives in Azure; give its definition" \
  "$AMLPKG" serve --inference-config registered.json --model "$MODEL"
printf '{"entryScript": "src/score.py", "baseImageRegistry": {"address": "x.azurecr.io", "username": "u", "password": "p"}}\n' > reg.json
check_fails "registry credentials in the config are refused, pointing to AMLPKG_REGISTRY_AUTH" "baseImageRegistry: .*AMLPKG_REGISTRY_AUTH" \
  "$AMLPKG" serve --inference-config reg.json --model "$MODEL"
printf '{"entryScript": "src/score.py", "condaFile": "missing.yml"}\n' > noconda.json
check_fails "a missing condaFile is named with its line" "noconda.json:1: condaFile: no such file" \
  "$AMLPKG" serve --inference-config noconda.json --model "$MODEL"

# Environment definitions: Environment.save_to_directory's folder, or inline under "environment".
mkdir -p savedenv
cat > savedenv/azureml_environment.json <<'JSON'
{"name": "ridge-env", "version": null, "environmentVariables": {"EXAMPLE_ENV_VAR": "EXAMPLE_VALUE"},
 "python": {"userManagedDependencies": false, "interpreterPath": "python", "condaDependenciesFile": null,
            "baseCondaEnvironment": null},
 "docker": {"enabled": false, "baseImage": null, "baseDockerfile": null, "sharedVolumes": true, "shmSize": "2g",
            "arguments": [], "baseImageRegistry": {"address": null, "username": null, "password": null}},
 "spark": {"repositories": [], "packages": [], "precachePackages": true}, "inferencingStackVersion": null}
JSON
printf 'dependencies:\n  - python=3.11\n  - numpy\n' > savedenv/conda_dependencies.yml
printf 'FROM mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:20230509.v1\nRUN echo from-the-base-dockerfile\n' > savedenv/BaseDockerfile
printf '{"entryScript": "src/score.py"}\n' > plain.json
check "--environment-dir reads what Environment.save_to_directory wrote" bash -c "
  '$AMLPKG' build --inference-config plain.json --environment-dir savedenv --model '$MODEL' --dockerfile '$WORK/savedctx' >/dev/null &&
  grep -qx 'FROM mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:20230509.v1' '$WORK/savedctx/Dockerfile' &&
  grep -qx 'RUN echo from-the-base-dockerfile' '$WORK/savedctx/Dockerfile' &&
  grep -qx 'ENV EXAMPLE_ENV_VAR=\"EXAMPLE_VALUE\"' '$WORK/savedctx/Dockerfile' &&
  cmp savedenv/conda_dependencies.yml '$WORK/savedctx/azureml-environment-setup/conda_dependencies.yml'"
cat > inline.json <<'JSON'
{"entryScript": "src/score.py",
 "environment": {"name": "inline-env", "environmentVariables": {"MODE": "fast"},
   "python": {"userManagedDependencies": false, "condaDependencies": {"dependencies": ["numpy>=1.24", {"pip": ["onnx"]}]}},
   "docker": {"baseImage": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04"}}}
JSON
check "an inline environment definition works the same" bash -c "
  '$AMLPKG' build --inference-config inline.json --model '$MODEL' --dockerfile '$WORK/inlinectx' >/dev/null &&
  grep -qx 'FROM mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04' '$WORK/inlinectx/Dockerfile' &&
  grep -qx 'ENV MODE=\"fast\"' '$WORK/inlinectx/Dockerfile' && grep -q '^RUN conda env create' '$WORK/inlinectx/Dockerfile'"
printf '{"entryScript": "src/score.py", "baseImage": "x", "environment": {"docker": {"baseImage": "y"}}}\n' > both.json
check_fails "environment with baseImage beside it is refused, as Azure does" "both.json:1: baseImage: must be empty when environment is set" \
  "$AMLPKG" serve --inference-config both.json --model "$MODEL"
printf 'FROM a AS build\nRUN x\nFROM b\n' > savedenv/BaseDockerfile
check_fails "a multi-stage base Dockerfile is refused with its line" "BaseDockerfile:[13]: " \
  "$AMLPKG" serve --inference-config plain.json --environment-dir savedenv --model "$MODEL"
check_exit "--environment-dir with a SPEC is a usage error" 2 "$AMLPKG" serve "$EX/onnx-ridge/spec.yaml" --environment-dir savedenv
