#!/usr/bin/env bash
# Installs the schema validators tests/cli/37-deploy.sh uses (kubernetes-models and
# @kubernetes-models/{keda,gateway-api}, pinned by package-lock.json) into tests/deploy/node_modules.
# Run by .ci/install-deps (make deps); a no-op once installed, so tests run offline afterwards.
set -euo pipefail
cd "$(dirname "$0")"
if [ -f node_modules/.package-lock.json ] && cmp -s package-lock.json .installed-lock 2>/dev/null; then
  exit 0
fi
command -v npm >/dev/null || { echo "tests/deploy/install.sh: npm is not installed" >&2; exit 1; }
npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json .installed-lock
