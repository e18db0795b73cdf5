# Shared by the conda tests, sourced after lib.sh (needs PY, WORK, on_exit, free_port, wait_http).

# need_podman_conda: the conda tests that run images need podman, cph (conda-package-handling) and the
# Python base (python_base_lib.sh, sourced first): skips the test (exit 0, saying which is missing) without
# them, else sets BASE.
need_podman_conda() {
  command -v podman >/dev/null || { skip "podman is not installed (make deps installs it)"; exit 0; }
  command -v cph >/dev/null || { skip "cph is not installed (conda-package-handling; make deps installs it)"; exit 0; }
  local why
  why=$(python_base) || { skip "$why"; exit 0; }
  python_base >/dev/null
}

# serve_conda_channel PKG...: builds the channel $WORK/channels/main from the package descriptions
# (tests/conda_channel.py: real .conda / .tar.bz2 files made by cph), serves $WORK/channels over loopback
# HTTP (tests/range_server.py, given the options in the array RANGE_SERVER_OPTS; stopped on exit) and
# sets URL to the channel. A channel that cannot be built or served fails the test.
serve_conda_channel() {
  "$PY" "$ROOT/tests/conda_channel.py" "$WORK/channels" main "$@" || { fail "the channel is built with cph"; exit 1; }
  local port srv
  port=$(free_port)
  "$PY" "$ROOT/tests/range_server.py" "$WORK/channels" "$port" ${RANGE_SERVER_OPTS[@]+"${RANGE_SERVER_OPTS[@]}"} &
  srv=$!
  on_exit "kill $srv; wait $srv 2>/dev/null"
  wait_http "http://127.0.0.1:$port/main/noarch/repodata.json" 20 || { fail "the channel is served"; exit 1; }
  URL=http://127.0.0.1:$port/main
}

# plain_base: base.tar, an oci-archive base without an engine or Python: one layer with /etc/base-release.
plain_base() {
  mkdir -p rootfs/etc && echo base > rootfs/etc/base-release && tar -C rootfs -cf root.tar etc &&
    "$PY" "$ROOT/tests/integration/mk_oci_base.py" root.tar base.tar base:1 || { fail "the base is made"; exit 1; }
}

# conda_spec NAME DEP...: NAME.yml (the channel at $URL, the dependencies), NAME.lock (amlpkg lock) and
# NAME.yaml, a spec building model m.onnx on oci-archive:base.tar with that environment.
conda_spec() {
  local n=$1; shift
  { echo "channels: [$URL]"; echo "dependencies:"; for d in "$@"; do echo "  - $d"; done; } > "$n.yml"
  "$AMLPKG" lock "$n.yml" -o "$n.lock" 2>/dev/null
  printf 'models: [{name: m, version: 1, path: m.onnx}]\nenvironment:\n  base_image: oci-archive:base.tar\n  conda_file: %s.yml\n  lock_file: %s.lock\noutput: {name: %s, tag: "1"}\n' "$n" "$n" "$n" > "$n.yaml"
}
