#!/usr/bin/env bash
# Edit only score.py and rebuild: amlpkg (environment from its cache, only the
# app layer new) vs `podman build` of the generated Dockerfile with podman's
# layer cache warm. Both start from the same Debian Python base (the one
# tests/integration/50-python-image.sh keeps; skipped without it).
source "$(dirname "$0")/lib.sh"
BASE=$(ls -t "${AMLPKG_TEST_CACHE:-/var/cache/amlpkg-tests}"/pybase-*.tar 2>/dev/null | head -1)
[ -n "$BASE" ] || { echo "SKIP code_edit bench: no Python base yet (run tests/integration/50-python-image.sh once)"; exit 0; }
command -v podman >/dev/null || { echo "SKIP code_edit bench: podman is not installed"; exit 0; }
WORK=$(mktemp -d)
# overlay where the machine supports it (the default), else vfs
DRIVER=$(podman info --format "{{.Store.GraphDriverName}}" 2>/dev/null || echo vfs)
P=(podman --root "$WORK/storage" --runroot "$WORK/run" --storage-driver "$DRIVER")
trap '"${P[@]}" rmi -af >/dev/null 2>&1; rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
cp "$ROOT/examples/python-ridge/score.py" "$ROOT/examples/python-ridge/model.onnx" .
cat > spec.yaml <<YAML
models: [{name: ridge, version: 1, path: model.onnx}]
inference: {entry_script: score.py}
environment: {base_image: "oci-archive:$BASE"}
YAML
export AMLPKG_CACHE_DIR="$WORK/cache"
ours() { "$AMLPKG" build spec.yaml -o image.tar --no-sbom; }
peer() { rm -rf ctx && "$AMLPKG" build spec.yaml --dockerfile ctx && "${P[@]}" build -q -t localhost/edit:1 ctx; }
edit() { echo "# edit $RANDOM" >> score.py; }
# Warm both: the environment in amlpkg's cache, the base and layers in podman's.
ours >/dev/null 2>&1 && peer >/dev/null 2>&1 || { echo "bench: warm-up failed" >&2; exit 1; }
t_ours=() t_peer=()
for ((i = 0; i < RUNS; i++)); do
  edit; t_ours+=("$(seconds ours)")
  edit; t_peer+=("$(seconds peer)")
done
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }
report "rebuild after editing score.py (233 MB base, podman: $DRIVER)" "$(median "${t_ours[@]}")" "$(median "${t_peer[@]}")"
