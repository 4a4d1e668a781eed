#!/usr/bin/env bash
# Creates the trainer's Python venv:
#   ${QUARRY_TOOL_CACHE:-$HOME/.cache/quarry}/venv-train
# with the pinned packages of training/requirements.txt (torch's CPU+CUDA
# wheels, ~3 GB on first download, cached by pip). Idempotent
# (scripts/lib/pinned_venv.sh). Prints the venv path.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../scripts/lib/pinned_venv.sh"
venv="$(pinned_venv venv-train "$here/requirements.txt")"
"$venv/bin/python" -c "import torch, transformers, tqdm" >&2
echo "$venv"
