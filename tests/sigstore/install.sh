#!/usr/bin/env bash
# Installs sigstore-js (@sigstore/bundle, @sigstore/verify, pinned by package-lock.json) into
# tests/sigstore/node_modules: the independent verifier tests/cli/36-sign-bundle.sh and
# tests/integration/66-sign-referrers.sh run on amlpkg's bundles. Run by .ci/install-deps (make deps);
# a no-op once installed, so tests run offline afterwards.
set -euo pipefail
cd "$(dirname "$0")"
if [ -f node_modules/.package-lock.json ] && cmp -s package-lock.json .installed-lock 2>/dev/null; then
  exit 0
fi
command -v npm >/dev/null || { echo "tests/sigstore/install.sh: npm is not installed" >&2; exit 1; }
npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json .installed-lock
