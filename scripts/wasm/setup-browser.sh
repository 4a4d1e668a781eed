#!/usr/bin/env bash
# Idempotent: Debian's Chromium and the pinned playwright-core (npm ci).
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! [ -x /usr/bin/chromium ]; then
  echo "installing chromium (apt, ~2 min)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y chromium >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y chromium >/dev/null; }
fi
# npm ci only when the lock file changed since the last install.
stamp=tests/e2e/node_modules/.quarry-lock
if ! cmp -s tests/e2e/package-lock.json "$stamp" 2>/dev/null; then
  (cd tests/e2e && npm ci --no-audit --no-fund --silent)
  cp tests/e2e/package-lock.json "$stamp"
fi
