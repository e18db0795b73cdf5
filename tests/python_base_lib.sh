# The Python base image the integration tests run entry scripts on: Debian bookworm with python3, numpy
# and onnx, made by mmdebstrap from Debian's archive and kept between runs on this machine, keyed by what
# goes into it. Source after lib.sh. python_base sets BASE to the oci-archive, or prints why it cannot
# and returns 1 (the caller skips: no mmdebstrap, or no access to Debian's archive).
python_base() {
  command -v mmdebstrap >/dev/null || { echo "mmdebstrap is not installed (make deps installs it)"; return 1; }
  local pkgs=python3-minimal,python3-numpy,python3-onnx
  local store=${AMLPKG_TEST_CACHE:-/var/cache/amlpkg-tests}
  BASE="$store/pybase-$(printf 'bookworm %s mk_oci_base-1' "$pkgs" | sha256sum | cut -c1-16).tar"
  mkdir -p "$store"
  [ -s "$BASE" ] && return 0
  echo "making the Python base with mmdebstrap (about 2 minutes, once per machine)..." >&2
  if ! timeout 1200 mmdebstrap --variant=apt --mode=root --include="$pkgs" --skip=output/dev \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' bookworm "$WORK/root.tar" > "$WORK/mmdebstrap.log" 2>&1; then
    echo "mmdebstrap could not make a Debian base (no access to Debian's archive?): $(tail -1 "$WORK/mmdebstrap.log")"
    return 1
  fi
  "$PY" "$ROOT/tests/integration/mk_oci_base.py" "$WORK/root.tar" "$BASE.tmp" pybase:bookworm && mv "$BASE.tmp" "$BASE"
  rm -f "$WORK/root.tar"
  [ -s "$BASE" ]
}
