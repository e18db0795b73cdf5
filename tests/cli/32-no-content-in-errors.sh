#!/usr/bin/env bash
# No file content is ever quoted in an error (issue 18: a spec whose condaFile named /etc/shadow
# printed its first line). Every reader of a file a spec or a flag names (the spec itself, conda_file,
# lock_file, model paths, Azure's inferenceconfig.json and its condaFile, deploymentconfig.json, an
# endpoint file) is pointed at files holding a marker, in shapes that reach each kind of error (plain
# text, /etc/shadow-like lines, unknown keys, JSON, YAML and JSON syntax errors, bad package specs,
# channels and versions, NUL bytes); the marker never appears on stdout or stderr.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples/onnx-ridge"
cd "$WORK" || exit 1
cp "$EX/model.onnx" model.onnx
printf 'def init():\n    pass\n\ndef run(data):\n    return data\n' > score.py
M=SECRET-CANARY-1234
mkdir c
printf '%s\n' "$M" > c/plain
printf 'root:%s:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n' "$M" > c/shadow
printf '%s: x\n' "$M" > c/key
printf 'dependencies: [python]\n%s: 1\n' "$M" > c/key2
printf '{"%s": 1}' "$M" > c/json-key
printf '{"entryScript": "score.py", "%s": 1}' "$M" > c/json-key2
printf -- '- %s\n' "$M" > c/list
printf 'dependencies: ["%s >=>= 1"]\n' "$M" > c/dep
printf 'dependencies: ["numpy %s"]\n' "$M" > c/version
printf 'dependencies: ["numpy[%s=1]"]\n' "$M" > c/bracket
printf 'dependencies:\n  - python=3.11\n  - pip:\n    - "%s ==="\n    - "-r %s"\n' "$M" "$M" > c/pip
printf 'channels: ["a %s"]\ndependencies: [python]\n' "$M" > c/channel
printf 'dependencies:\n  - %s: [a]\n' "$M" > c/entry
printf '\x00\x01%s\n' "$M" > c/binary
printf '"%s' "$M" > c/unterminated
printf '{"a": %s}' "$M" > c/json-token
printf '[%s' "$M" > c/flow
printf "'%s" "$M" > c/quote
printf 'a: &x %s\nb: *y\n' "$M" > c/alias
printf '%%YAML 9.9 %s\n---\na\n' "$M" > c/directive
printf 'x: !%s y\n' "$M" > c/tag
printf 'computeType: %s\nautoScaler: {maxReplicas: %s}\nenableGpu: %s\n' "$M" "$M" "$M" > c/values
printf '{"entryScript": "score.py", "runtime": "%s", "cudaVersion": "%s", "enableGpu": "%s"}' "$M" "$M" "$M" \
  > c/json-values
printf '{"entryScript": "score.py", "baseImage": "a %s", "environmentVariables": {"%s-x": "1"}}' "$M" "$M" \
  > c/json-env
printf '# amlpkg-input: sha256:%064d\n# platform: linux-64\n@EXPLICIT\n%s\nhttps://x/%s.conda#00\n' 0 "$M" "$M" > c/lock
SHAPES=$(ls c)
IMAGE="example.com/ridge@sha256:$(printf '%064d' 0)"

# leaks READER COMMAND-TEMPLATE: runs the template (F replaced by each canary file) and passes
# when the marker appears in none of the outputs.
leaks() {
  local reader=$1 template=$2 bad="" f
  for f in $SHAPES; do
    rm -rf out.tar dd
    cp "c/$f" canary.onnx
    printf 'models: [{name: ridge, version: 1, path: model.onnx}]\nenvironment:\n  conda_file: c/%s\n' "$f" > s-conda.yaml
    printf 'models: [{name: ridge, version: 1, path: model.onnx}]\nenvironment:\n  conda: {channels: [conda-forge], dependencies: [python=3.11]}\n  lock_file: c/%s\n' "$f" > s-lock.yaml
    printf 'models: [{name: ridge, version: 1, path: c/%s}]\n' "$f" > s-model.yaml
    printf '{"entryScript": "score.py", "condaFile": "c/%s"}' "$f" > inf-conda.json
    timeout 60 bash -c "${template//F/c/$f}" > run.out 2>&1 < /dev/null
    grep -aq "$M" run.out && bad="$bad $f"
  done
  if [ -z "$bad" ]; then pass "$reader: the marker never appears ($(echo $SHAPES | wc -w) files)"
  else fail "$reader: the marker appears for:$bad"; grep -a "$M" run.out | head -3 | sed 's/^/    /'; fi
}
BUILD_ARGS="-o out.tar --no-sbom --executor none --no-cache"
leaks "the spec itself" "'$AMLPKG' build F $BUILD_ARGS; '$AMLPKG' hash F"
leaks "environment.conda_file" "'$AMLPKG' hash s-conda.yaml; '$AMLPKG' build s-conda.yaml $BUILD_ARGS"
leaks "environment.lock_file" "'$AMLPKG' hash s-lock.yaml; '$AMLPKG' build s-lock.yaml $BUILD_ARGS"
leaks "a model path (as it is, and named .onnx)" \
  "'$AMLPKG' build s-model.yaml $BUILD_ARGS; '$AMLPKG' build --inference-config inf-conda.json --model ridge:1=canary.onnx $BUILD_ARGS"
leaks "--inference-config (inferenceconfig.json)" "'$AMLPKG' build --inference-config F --model ridge:1=model.onnx $BUILD_ARGS"
leaks "inferenceconfig.json's condaFile" "'$AMLPKG' build --inference-config inf-conda.json --model ridge:1=model.onnx $BUILD_ARGS"
leaks "--deployment-config (deploymentconfig.json)" "'$AMLPKG' deploy '$EX/spec.yaml' --deployment-config F --image $IMAGE -o dd"
leaks "--endpoint" "'$AMLPKG' deploy '$EX/spec.yaml' --endpoint F -o dd"
leaks "amlpkg lock's conda file" "'$AMLPKG' lock s-conda.yaml -o lock.txt"
