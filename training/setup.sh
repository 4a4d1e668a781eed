#!/usr/bin/env bash
# Creates the trainer's Python venv:
#   ${QUARRY_TOOL_CACHE:-$HOME/.cache/quarry}/venv-train
# with the pinned packages of training/requirements.txt (torch's CPU+CUDA
# wheels, ~3 GB on first download, cached by pip). Idempotent: a marker
# holds the hash of requirements.txt and this script. Prints the venv path.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${QUARRY_TOOL_CACHE:-$HOME/.cache/quarry}"
venv="$cache/venv-train"
marker="$venv/.quarry-requirements-hash"
python="${QUARRY_PYTHON:-python3}"

hash="$(cat "$here/requirements.txt" "$here/setup.sh" | sha256sum | cut -d' ' -f1)"
if [[ -f "$marker" && "$(cat "$marker")" == "$hash" && -x "$venv/bin/python" ]]; then
    echo "$venv"
    exit 0
fi
echo "training/setup.sh: creating $venv" >&2
rm -rf "$venv"
mkdir -p "$cache"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
"$venv/bin/python" -m pip install --disable-pip-version-check --progress-bar off \
    -r "$here/requirements.txt" >&2
"$venv/bin/python" -c "import torch, transformers, tqdm; print('training/setup.sh: torch', torch.__version__, 'transformers', transformers.__version__)" >&2
echo "$hash" > "$marker"
echo "$venv"
