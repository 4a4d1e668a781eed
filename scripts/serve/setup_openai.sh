#!/usr/bin/env bash
# Installs the official OpenAI Python client (pinned) into a venv cached
# outside the clone, for the test that points it at `quarry serve`.
# Idempotent. Prints the venv's python on stdout.
set -euo pipefail
cache="${QUARRY_TOOL_CACHE:-$HOME/.cache/quarry}"
venv="$cache/venv-openai"
pin="openai==3.57.0"
if ! "$venv/bin/python" -c "import openai, sys; sys.exit(openai.__version__ != '${pin#*==}')" 2>/dev/null; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$pin" >&2
fi
echo "$venv/bin/python"
