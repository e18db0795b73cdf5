#!/usr/bin/env bash
# The output archive's start (blobs/ and the base's layers) is written on another core while the build runs
# (archive_prefill.h), and the archive finished around it: the same bytes whether the environment came from
# the cache (prefilled with all its layers), was built now (the base's only) or without a cache; the order
# is the manifest's; a model bigger than the rest of the image is still the file the archive is built around
# (not copied); a build that fails leaves neither the output nor a temporary file; skopeo and umoci read it.
source "$(dirname "$0")/../lib.sh"
MK="$ROOT/tests/mkbase.py"
cd "$WORK" || exit 1
BUSYBOX=$(command -v busybox || true)
if [ -z "$BUSYBOX" ] || ! file -L "$BUSYBOX" | grep -q 'statically linked'; then
  skip "busybox-static is not installed (make deps installs it)"; exit 0
fi
mkdir -p rootfs/bin
cp "$BUSYBOX" rootfs/bin/busybox
head -c 3000000 /dev/urandom > rootfs/bin/blob # a base bigger than the small model below
"$PY" "$MK" layer busybox bb.tar rootfs
"$PY" "$MK" layout base-layout bb.tar --gzip
tar cf base.tar -C base-layout oci-layout index.json blobs
base_layer=$(jq -r '.manifests[0].digest' base-layout/index.json | cut -c8- | xargs -I{} jq -r '.layers[0].digest' base-layout/blobs/sha256/{})
spec() { # NAME MODEL
  printf 'models:\n  - name: m\n    version: 1\n    path: %s\nenvironment:\n  base_image: oci-archive:base.tar\noutput: {name: prefill, tag: "1"}\n' "$2" > "$1"
}
cp "$ROOT/examples/onnx-ridge/model.onnx" small.onnx
spec small.yaml small.onnx
members() { tar -tf "$1" | tr '\n' ' '; }

check "builds FROM the base (environment built now: the base's layers prefilled)" "$AMLPKG" build small.yaml -o cold.tar
check "... again (environment from the cache: all its layers prefilled)" "$AMLPKG" build small.yaml -o warm.tar
check "... and without a cache" "$AMLPKG" build small.yaml -o nocache.tar --no-cache
check "the three archives are the same bytes" test "$(sha256sum < cold.tar)" = "$(sha256sum < warm.tar)" -a \
  "$(sha256sum < cold.tar)" = "$(sha256sum < nocache.tar)"
manifest=$(tar -xOf cold.tar index.json | jq -r '.manifests[0].digest')
order=$(tar -xOf cold.tar "blobs/sha256/${manifest#sha256:}" | jq -r '.layers[].digest | "blobs/sha256/" + .[7:]' | tr '\n' ' ')
check "order: blobs/, blobs/sha256/, the layers as the manifest lists them (the base's first), then the JSON" \
  test "$(members cold.tar)" = "blobs blobs/sha256 ${order}oci-layout index.json $(tar -tf cold.tar | tail -2 | tr '\n' ' ')"
check "... the base's layer is the first blob" test "$(tar -tf cold.tar | sed -n 3p)" = "blobs/sha256/${base_layer#sha256:}"
check "... and the last member is the manifest" test "$(tar -tf cold.tar | tail -1)" = "blobs/sha256/${manifest#sha256:}"
check "skopeo reads it, with the digest build printed" \
  bash -c "skopeo inspect --raw oci-archive:cold.tar | sha256sum | grep -q '^${manifest#sha256:} '"
check "umoci unpacks it (every blob whole, the base's files there)" bash -c "mkdir lay && tar -xf cold.tar -C lay &&
  umoci unpack --rootless --image lay:prefill:1 bundle >/dev/null && cmp bundle/rootfs/bin/blob rootfs/bin/blob"
n_layers=$(echo "$order" | wc -w)
check "a docker-archive builds, manifest.json right after the layers" bash -c \
  "'$AMLPKG' build small.yaml -o d.tar --format docker-archive >/dev/null 2>&1 && test \"\$(tar -tf d.tar | sed -n $((n_layers + 3))p)\" = manifest.json"

# A model bigger than the rest of the image (32 MB: more than the base and an ASan build's runtime): the
# archive is built around its layer file (its first member), not around the prefilled base.
head -c 32000000 /dev/urandom > big.bin
"$PY" - big.onnx <<'PY'
import sys, numpy as np, onnx
from onnx import helper, TensorProto, numpy_helper
w = np.frombuffer(open("big.bin", "rb").read()[: 2000 * 4000 * 4], dtype=np.float32).reshape(2000, 4000).copy()
w[~np.isfinite(w)] = 0
g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "big",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2000])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4000])], [numpy_helper.from_array(w, "w")])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), sys.argv[1])
PY
spec big.yaml big.onnx
check "a model bigger than the rest builds" "$AMLPKG" build big.yaml -o big.tar
big_manifest=$(tar -xOf big.tar index.json | jq -r '.manifests[0].digest')
model_layer=$(tar -xOf big.tar "blobs/sha256/${big_manifest#sha256:}" | jq -r '.layers | max_by(.size) | .digest')
check "... and its layer is the archive's first member (the file the archive was built around)" \
  test "$(tar -tf big.tar | head -1)" = "blobs/sha256/${model_layer#sha256:}"
check "... the same bytes from the cache" bash -c "'$AMLPKG' build big.yaml -o big2.tar >/dev/null 2>&1 && cmp big.tar big2.tar"

# A build that fails after the prefill started: nothing at the target, no temporary file beside it.
mkdir out
check_fails "--check with another digest fails" "built manifest digest is" "$AMLPKG" build small.yaml -o out/x.tar \
  --check sha256:0000000000000000000000000000000000000000000000000000000000000000
check "... leaving the output folder empty" test -z "$(ls -A out)"
