#!/usr/bin/env bash
# ONNX models whose weights live in external data files beside them (what
# onnx.save_model(..., save_as_external_data=True) and large-model exporters
# write): served by amlserve, packaged as a folder by amlpkg, and refused with
# a clear message when the data is missing, short or outside the model folder.
source "$(dirname "$0")/../lib.sh"
cd "$WORK" || exit 1
if ! "$PY" -c 'import onnx, numpy' 2>/dev/null; then
  skip "python3-onnx and python3-numpy are needed to write the models"; exit 0
fi

# make.py DIR LOCATION: y = x @ W + b with W and b stored as external data at LOCATION.
cat > make.py <<'PY'
import sys, numpy as np, onnx
from onnx import helper, numpy_helper, TensorProto
d, location = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(7)
W = rng.standard_normal((4, 3)).astype(np.float32)
b = rng.standard_normal(3).astype(np.float32)
g = helper.make_graph(
    [helper.make_node("MatMul", ["x", "W"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["y"])], "ext",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
    [numpy_helper.from_array(W, "W"), numpy_helper.from_array(b, "b")])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
onnx.save_model(m, d + "/model.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
                location=location, size_threshold=0)
x = np.arange(8, dtype=np.float32).reshape(2, 4) / 8
np.save(d + "/expected.npy", x @ W + b)
print(x.tolist())
PY
mkdir -p ext/sub
x=$("$PY" make.py ext weights.bin)
check "the model keeps its weights outside the .onnx file" bash -c "test -s ext/weights.bin && [ \$(stat -c %s ext/model.onnx) -lt 400 ]"

port=$(free_port)
AZUREML_MODEL_DIR="$WORK/ext" "$AMLSERVE" --port "$port" --host 127.0.0.1 --quiet > server.log 2>&1 &
pid=$!
on_exit "kill $pid"
wait_http "http://127.0.0.1:$port/" 20
curl -s -X POST -H 'Content-Type: application/json' -d "{\"data\": $x}" "http://127.0.0.1:$port/score" > got.json
check "amlserve scores it with the external weights" "$PY" -c "
import json, numpy as np
got = np.array(json.load(open('got.json')), dtype=np.float32).reshape(2, 3)
assert np.allclose(got, np.load('ext/expected.npy'), rtol=1e-5, atol=1e-6), got"
kill "$pid"; wait "$pid" 2>/dev/null

# amlpkg packages the model folder, data file included, and the image's layer holds both.
printf 'models:\n  - {name: ext, version: 1, path: ext}\n' > spec.yaml
check "amlpkg builds a package from the model folder" "$AMLPKG" build spec.yaml -o ext.tar --no-cache
check "... whose model layer holds the data file" bash -c "
  tar -xOf ext.tar index.json >/dev/null && $PY - <<'PY'
import json, tarfile, io
t = tarfile.open('ext.tar')
blob = lambda d: t.extractfile('blobs/sha256/' + d[7:]).read()
m = json.loads(blob(json.loads(t.extractfile('index.json').read())['manifests'][0]['digest']))
names = set()
for l in m['layers']:
    names |= set(tarfile.open(fileobj=io.BytesIO(blob(l['digest']))).getnames())
assert 'var/azureml-app/azureml-models/ext/1/ext/weights.bin' in names, sorted(names)
PY"

# A single .onnx file whose data lives beside it: the build says to package the folder.
mkdir -p lone && cp ext/model.onnx lone/
printf 'models:\n  - {name: ext, version: 1, path: lone/model.onnx}\n' > lone.yaml
check_fails "data that is missing is named (file, initializer, path)" \
  "lone.yaml:2: models\[0\].path: .*model.onnx: initializer 'W': external data '.*lone/weights.bin'" \
  "$AMLPKG" build lone.yaml -o lone.tar --no-cache
check "... and nothing is written" test ! -e lone.tar

head -c 20 ext/weights.bin > short.bin
mkdir -p short && cp ext/model.onnx short/ && cp short.bin short/weights.bin
printf 'models:\n  - {name: ext, version: 1, path: short}\n' > short.yaml
check_fails "a data file too short is refused" "external data .*weights.bin' holds 20 bytes" \
  "$AMLPKG" build short.yaml -o short.tar --no-cache

mkdir -p escape/models && "$PY" make.py escape/models ../outside.bin >/dev/null 2>&1
printf 'models:\n  - {name: ext, version: 1, path: escape/models}\n' > escape.yaml
check_fails "a location outside the model folder is refused" \
  "external data location '../outside.bin' must be a relative path inside the model's directory" \
  "$AMLPKG" build escape.yaml -o escape.tar --no-cache
AZUREML_MODEL_DIR="$WORK/escape/models" "$AMLSERVE" --port "$(free_port)" > escape.log 2>&1
check "... and amlserve will not start on it (exit 3)" bash -c "[ $? = 3 ] && grep -q 'must be a relative path' escape.log"
