#!/usr/bin/env bash
# Builds that never ship a broken image from hostile or unusual inputs: models
# that are symbolic links into a content store (DVC, git-annex, Git LFS) are
# packaged as their content, never as links to the build machine; link loops,
# FIFOs and deep nesting are refused without hanging; the packaged models are
# read back from the archive and served.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples/onnx-ridge"
cd "$WORK" || exit 1
mkdir -p store model-dir loop-dir fifo-dir
cp "$EX/model.onnx" store/0a1b2c
ln -s "$WORK/store/0a1b2c" link.onnx
cp "$EX/model.onnx" copy.onnx
ln -s "$WORK/store/0a1b2c" model-dir/model.onnx   # DVC: every file of a folder a link into the cache
spec() { printf 'models: [{name: ridge, version: 1, path: %s}]\noutput: {name: ridge, tag: "1"}\n' "$1" > "$2"; }

# layer_files ARCHIVE: "type path" of every entry of the model layer (the last one).
cat > layer_files.py <<'PY'
import io, json, sys, tarfile
t = tarfile.open(sys.argv[1])
blob = lambda d: t.extractfile("blobs/sha256/" + d[7:]).read()
m = json.loads(blob(json.loads(t.extractfile("index.json").read())["manifests"][0]["digest"]))
layer = tarfile.open(fileobj=io.BytesIO(blob(m["layers"][-1]["digest"])))
for e in layer.getmembers():
    print("link" if e.issym() or e.islnk() else "file" if e.isfile() else "dir", e.name)
if len(sys.argv) > 2:  # extract the model layer there
    layer.extractall(sys.argv[2])
PY

spec link.onnx link.yaml
check "a model file that is a symbolic link builds" "$AMLPKG" build link.yaml -o link.tar --no-sbom
check "... and the image holds the model's content, not a link" bash -c "
  '$PY' layer_files.py link.tar | grep -qx 'file var/azureml-app/azureml-models/ridge/1/link.onnx' &&
  ! '$PY' layer_files.py link.tar | grep -q '^link'"
ln -s copy.onnx name.onnx 2>/dev/null; cp copy.onnx plain-name.onnx
spec plain-name.onnx plain.yaml
"$AMLPKG" build plain.yaml -o plain.tar --no-sbom >/dev/null 2>&1
check "... the same layer as the file itself would give" bash -c "
  [ \"\$('$PY' layer_files.py link.tar | sed 's/link.onnx/X/')\" = \"\$('$PY' layer_files.py plain.tar | sed 's/plain-name.onnx/X/')\" ]"

spec model-dir dir.yaml
check "a model folder whose files are links into a cache builds" "$AMLPKG" build dir.yaml -o dir.tar --no-sbom
check "... with every file as content" bash -c "
  '$PY' layer_files.py dir.tar | grep -qx 'file var/azureml-app/azureml-models/ridge/1/model-dir/model.onnx' &&
  ! '$PY' layer_files.py dir.tar | grep -q '^link'"
mkdir -p served
"$PY" layer_files.py dir.tar served >/dev/null
port=$(free_port)
AZUREML_MODEL_DIR="$WORK/served/var/azureml-app/azureml-models/ridge/1" "$AMLSERVE" --port "$port" --host 127.0.0.1 \
  --quiet > serve.log 2>&1 &
pid=$!
on_exit "kill $pid; wait $pid"
check "... and amlserve serves the model read back from the archive" wait_http "http://127.0.0.1:$port/"
check "... and scores it" bash -c "curl -sf -d @'$EX/sample-request.json' 'http://127.0.0.1:$port/score' | grep -q '\\['"

cp "$EX/model.onnx" loop-dir/model.onnx
ln -s .. loop-dir/up
spec loop-dir loop.yaml
check_fails "a link back to a folder above it is refused, naming it" "loop-dir/up.*loops back" \
  timeout 60 "$AMLPKG" build loop.yaml -o loop.tar --no-sbom
check "... and nothing is written" test ! -e loop.tar

cp "$EX/model.onnx" fifo-dir/model.onnx
mkfifo fifo-dir/weights.bin
ln -s weights.bin fifo-dir/link-to-fifo
spec fifo-dir fifo.yaml
check_fails "a FIFO in a model folder is refused, without hanging" "weights.bin.*FIFO|only regular files" \
  timeout 60 "$AMLPKG" build fifo.yaml -o fifo.tar --no-sbom
mkfifo fifo.onnx
spec fifo.onnx fifo2.yaml
check_fails "a FIFO as the model is refused, without hanging" "fifo.onnx.*(not a regular file|neither a file nor a directory)" \
  timeout 60 "$AMLPKG" build fifo2.yaml -o fifo2.tar --no-sbom

ln -s "$WORK/nowhere.onnx" dangling.onnx
spec dangling.onnx dangling.yaml
check_fails "a dangling model link is refused, naming it" "dangling.onnx" \
  timeout 60 "$AMLPKG" build dangling.yaml -o dangling.tar --no-sbom

# amlserve walks model folders with the same rules.
mkdir -p iso && cp -P -r loop-dir iso/
AZUREML_MODEL_DIR="$WORK/iso/loop-dir" timeout 30 "$AMLSERVE" --port "$(free_port)" --host 127.0.0.1 > loop-serve.log 2>&1
rc=$?
check "amlserve refuses a model folder with a link loop at once (exit 3, naming it)" bash -c "
  [ $rc = 3 ] && grep -q 'loops back' loop-serve.log"
mkdir -p fifo-serve && mkfifo fifo-serve/model.onnx
AZUREML_MODEL_DIR="$WORK/fifo-serve" timeout 30 "$AMLSERVE" --port "$(free_port)" --host 127.0.0.1 > fifo-serve.log 2>&1
rc=$?
check "amlserve refuses a FIFO as a model instead of hanging (exit 3)" bash -c "
  [ $rc = 3 ] && grep -q 'not a regular file' fifo-serve.log"

# YAML: nesting and size limits before libyaml's quadratic cases.
"$PY" -c "open('deep.yaml','w').write('models: ' + '['*200000)"
check_fails "200 KB of '[' is refused at once, naming the line and column" "deep.yaml:1:[0-9]+: nested deeper than 64 levels" \
  timeout 20 "$AMLPKG" build deep.yaml -o deep.tar
"$PY" -c "open('wide.yaml','w').write('a: [' + '1,'*250000 + '1]\n')"
check_fails "a file of more than 200000 values is refused" "wide.yaml:1:[0-9]+: more than 200000 values" \
  timeout 20 "$AMLPKG" build wide.yaml -o wide.tar
"$PY" -c "open('ok.yaml','w').write('models: [{name: ridge, version: 1, path: copy.onnx}]\nservice: {env: {A: ' + '['*60 + ']'*60 + '}}\n')"
check_fails "nesting within the limit is read as before (and refused for what it is)" "ok.yaml:2" \
  timeout 20 "$AMLPKG" build ok.yaml -o ok.tar

# A FIFO nobody writes to, named as a file amlpkg reads, is read as empty, never waited on
# (timeout only guards the suite against the old hang).
mkfifo "$WORK/env-fifo.yml" "$WORK/deploy-fifo.json"
check_fails "a FIFO as the environment file of amlpkg lock is refused, not waited on" "env-fifo.yml: the file is empty" \
  timeout 60 "$AMLPKG" lock "$WORK/env-fifo.yml"
check_fails "a FIFO as --deployment-config is refused, not waited on" "deploy-fifo.json: the file is empty" \
  timeout 60 "$AMLPKG" deploy "$ROOT/examples/onnx-ridge/spec.yaml" --deployment-config "$WORK/deploy-fifo.json" \
  --image "r.example/x@sha256:$(printf '0%.0s' {1..64})" -o "$WORK/fifo-deploy"
