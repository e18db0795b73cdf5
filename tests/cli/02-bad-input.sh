#!/usr/bin/env bash
# Bad input: clear errors naming file, field and line; non-zero exit; nothing
# half-written, and an existing output is left untouched.
source "$(dirname "$0")/../lib.sh"
EX="$ROOT/examples/onnx-ridge"
cp "$EX/model.onnx" "$WORK/model.onnx"
spec() { printf '%s\n' "$@" > "$WORK/spec.yaml"; }

check_fails "a missing spec file is named" "nope.yaml: cannot open: No such file" "$AMLPKG" build "$WORK/nope.yaml" -o "$WORK/out.tar"

spec "models:" "  - name: ridge" "    version: 1" "    path: missing.onnx"
check_fails "a missing model path names file, line and field" "spec.yaml:4: models\[0\]\.path: no such file or directory .*missing.onnx" \
  "$AMLPKG" build "$WORK/spec.yaml" -o "$WORK/out.tar"

head -c 100 /dev/urandom > "$WORK/corrupt.onnx"
spec "models:" "  - name: ridge" "    version: 1" "    path: corrupt.onnx"
check_fails "a corrupt ONNX file is refused" "spec.yaml:2: models\[0\]\.path: .*corrupt.onnx: not a valid ONNX model" \
  "$AMLPKG" build "$WORK/spec.yaml" -o "$WORK/out.tar"

"$PY" - "$WORK/strings.onnx" <<'PYEOF'
import sys
from onnx import TensorProto, helper, save
g = helper.make_graph([helper.make_node("StringNormalizer", ["x"], ["y"], case_change_action="LOWER")], "s",
                      [helper.make_tensor_value_info("x", TensorProto.STRING, [None])],
                      [helper.make_tensor_value_info("y", TensorProto.STRING, [None])])
save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), sys.argv[1])
PYEOF
spec "models:" "  - name: text" "    version: 1" "    path: strings.onnx"
check_fails "a model with string inputs is refused at build time, not when amlserve starts" \
  "spec.yaml:2: models\[0\]\.path: .*strings.onnx: input 'x' is a string; only numeric and bool tensors can be served" \
  "$AMLPKG" build "$WORK/spec.yaml" -o "$WORK/out.tar"

# amlserve refuses a model with nothing to feed; amlpkg applies the same rule (engine_check_servable).
"$PY" - "$WORK/noinput.onnx" <<'PYEOF'
import sys
from onnx import TensorProto, helper, save
g = helper.make_graph([helper.make_node("Constant", [], ["y"], value_floats=[1.0, 2.0])], "c", [],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), sys.argv[1])
PYEOF
spec "models:" "  - name: const" "    version: 1" "    path: noinput.onnx"
check_fails "a model with no inputs is refused at build time, as amlserve refuses it" \
  "spec.yaml:2: models\[0\]\.path: .*noinput.onnx: the model has no inputs to feed" \
  "$AMLPKG" build "$WORK/spec.yaml" -o "$WORK/out.tar"
check_fails "... and amlserve refuses it with the same words" "noinput.onnx: the model has no inputs to feed" \
  "$AMLSERVE" --model-dir "$WORK/noinput.onnx" --port "$(free_port)"

spec "models:" "  - name: ridge" "    version: 1" "    path: model.onnx" "    frameworkk: onnx"
check_fails "an unknown field names line and suggests" "spec.yaml:5: models\[0\]\.frameworkk: unknown field \(did you mean 'framework'\?\)" \
  "$AMLPKG" build "$WORK/spec.yaml" -o "$WORK/out.tar"

spec "models:" "  - name: ridge" "    version: [1" "    path: model.onnx"
check_fails "malformed YAML gives line and column" "spec.yaml:[0-9]+:[0-9]+: " "$AMLPKG" build "$WORK/spec.yaml" -o "$WORK/out.tar"

spec "models:" "  - name: ridge" "    version: 1" "    path: model.onnx" "environment:" "  base_image: oci-archive:missing.tar"
check_fails "a base image that is not there is refused, naming the file" "spec.yaml:[0-9]+: environment.base_image: .*missing.tar.: No such file" \
  "$AMLPKG" build "$WORK/spec.yaml" -o "$WORK/out.tar"

check "no output and no temporary files after failures" bash -c "! ls -A '$WORK' | grep -E 'out.tar|tmp-|amlpkg-build'"

# A failing build never touches an existing output.
spec "models:" "  - name: ridge" "    version: 1" "    path: model.onnx"
"$AMLPKG" build "$WORK/spec.yaml" -o "$WORK/good.tar" >/dev/null
sum=$(sha256sum < "$WORK/good.tar")
check_fails "a missing runtime binary is reported" "amlserve runtime not found" \
  "$AMLPKG" build "$WORK/spec.yaml" -o "$WORK/good.tar" --runtime "$WORK/no-such-amlserve"
check "the earlier output is unchanged" test "$(sha256sum < "$WORK/good.tar")" = "$sum"
mkdir "$WORK/ro" && chmod 555 "$WORK/ro"
if [ "$(id -u)" -ne 0 ]; then
  check_fails "an unwritable output directory is reported" "cannot create a temporary directory" \
    "$AMLPKG" build "$WORK/spec.yaml" -o "$WORK/ro/x.tar"
else
  skip "unwritable output directory: running as root, permissions do not apply"
fi
check_exit "usage errors exit 2" 2 "$AMLPKG" build
check_fails "unknown commands are refused" "unknown command 'frobnicate'" "$AMLPKG" frobnicate
check_fails "unsupported formats are refused" "format 'tarball' is not one of oci-archive, docker-archive, oci-layout" "$AMLPKG" build "$WORK/spec.yaml" --format tarball
# An output path that is a directory is refused and left as it was (a regular file is exchanged
# into place; nothing else ever is).
mkdir -p "$WORK/outdir/inside" && echo keep > "$WORK/outdir/inside/file"
check_fails "an output that is a directory is refused" "outdir: cannot rename the finished file into place" \
  "$AMLPKG" build "$ROOT/examples/onnx-ridge/spec.yaml" -o "$WORK/outdir"
check "... and the directory is untouched, no temporary file left beside it" bash -c "
  test -d '$WORK/outdir' && grep -qx keep '$WORK/outdir/inside/file' && ! ls -a '$WORK' | grep -q 'outdir.tmp-'"

# A full file system: the output is refused with the reason, the old output stays, nothing is left
# behind; a cache on a full file system degrades to building without keeping, and stays consistent.
mkdir -p "$WORK/full" "$WORK/enospc/model"
if mount -t tmpfs -o size=4m tmpfs "$WORK/full" 2>/dev/null; then
  on_exit "umount '$WORK/full'"
  head -c $((8 * 1024 * 1024)) /dev/urandom > "$WORK/enospc/model/weights.bin"
  cp "$ROOT/examples/onnx-ridge/model.onnx" "$WORK/enospc/model/"
  printf 'models:\n  - name: big\n    version: 1\n    path: model\n' > "$WORK/enospc/spec.yaml"
  echo previous > "$WORK/full/out.tar"
  check_fails "an output on a full file system fails with the reason" "No space left on device" \
    env AMLPKG_CACHE_DIR="$WORK/enospc/cache" "$AMLPKG" build "$WORK/enospc/spec.yaml" -o "$WORK/full/out.tar"
  check "... the previous output is untouched and no staging file is left" bash -c "
    grep -qx previous '$WORK/full/out.tar' && test \$(ls -A '$WORK/full' | wc -l) -eq 1"
  rm -f "$WORK/full/out.tar"
  check "a cache on a full file system: the build still succeeds" \
    env AMLPKG_CACHE_DIR="$WORK/full/cache" "$AMLPKG" build "$WORK/enospc/spec.yaml" -o "$WORK/enospc/out.tar"
  check "... and the cache verifies clean" bash -c "AMLPKG_CACHE_DIR='$WORK/full/cache' '$AMLPKG' cache verify | grep -q ' 0 corrupt'"
else
  skip "full file system: cannot mount a tmpfs here (needs root in a mount namespace that allows it)"
fi

# The command line: short usage errors, suggestions, help for one command.
check_exit "an unknown option is a usage error" 2 "$AMLPKG" build --bogus
check "... that prints the usage line and where the options are, not the whole help" bash -c "
  '$AMLPKG' build --bogus 2>&1 >/dev/null | grep -q \"run 'amlpkg build --help'\" && [ \$('$AMLPKG' build --bogus 2>&1 | wc -l) -le 3 ]"
check_fails "a misspelt command gets a suggestion" "did you mean 'build'" "$AMLPKG" biuld
check "amlpkg help CMD shows that command's help" bash -c "'$AMLPKG' help push | head -1 | grep -q '^usage: amlpkg push'"
check_exit "amlpkg help of an unknown command is a usage error" 2 "$AMLPKG" help nosuch
