#!/usr/bin/env bash
# Installs the CUDA 13.0 compiler (nvcc, ptxas, nvvm, headers, runtime) from
# PyPI into ${QUARRY_TOOL_CACHE:-$HOME/.cache/quarry}/cuda, so that
# `--features cuda` builds on a machine with no CUDA toolkit and no GPU.
# Idempotent (scripts/lib/pinned_venv.sh).
#
# Prints shell assignments for the build, to be eval'ed:
#   eval "$(bash scripts/cuda/setup.sh)"
#   cargo check -p quarry-native --features cuda
# CUDA_COMPUTE_CAP defaults to 90 (H100/H200) because without a driver there
# is no nvidia-smi for candle-kernels to ask; set it to 80 for an A100.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../lib/pinned_venv.sh"
venv="$(pinned_venv cuda "$here/requirements.txt")"
cu="$(ls -d "$venv"/lib/python3*/site-packages/nvidia/cu13 | head -n1)"
[[ -x "$cu/bin/nvcc" ]] || { echo "scripts/cuda/setup.sh: no nvcc under $cu" >&2; exit 1; }
# nvcc finds cicc through nvvm/bin next to its own bin/.
cat <<VARS
export PATH="$cu/bin:\$PATH"
export CUDA_ROOT="$cu" CUDA_PATH="$cu" CUDA_HOME="$cu"
export CUDA_COMPUTE_CAP="\${CUDA_COMPUTE_CAP:-90}"
export LD_LIBRARY_PATH="$cu/lib:\${LD_LIBRARY_PATH:-}"
VARS
