#!/usr/bin/env bash
# Creates the Python venv that produces the transformers reference fixtures:
#   ${QUARRY_TOOL_CACHE:-$HOME/.cache/quarry}/venv-reference
# with the pinned packages of requirements.txt. Idempotent: a marker file in
# the venv holds the hash of requirements.txt (and of this script) and the
# install is skipped while it matches. Prints the venv path last.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${QUARRY_TOOL_CACHE:-$HOME/.cache/quarry}"
venv="$cache/venv-reference"
marker="$venv/.quarry-requirements-hash"
python="${QUARRY_PYTHON:-python3}"

hash="$(cat "$here/requirements.txt" "$here/setup.sh" | sha256sum | cut -d' ' -f1)"
if [[ -f "$marker" && "$(cat "$marker")" == "$hash" && -x "$venv/bin/python" ]]; then
    echo "setup: reference venv up to date ($venv)" >&2
    echo "$venv"
    exit 0
fi

start=$SECONDS
echo "setup: creating $venv with $("$python" --version 2>&1)" >&2
rm -rf "$venv"
mkdir -p "$cache"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
echo "setup: installing pinned packages (torch + its CUDA wheels are ~3 GB on first download)" >&2
"$venv/bin/python" -m pip install --disable-pip-version-check --progress-bar off \
    -r "$here/requirements.txt" >&2
echo "setup: checking torch and a transformers Qwen2 forward pass on CPU" >&2
"$venv/bin/python" - >&2 <<'PY'
import torch, transformers
assert float(torch.zeros(2) @ torch.ones(2)) == 0.0
cfg = transformers.Qwen2Config(vocab_size=32, hidden_size=16, intermediate_size=32,
    num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1)
model = transformers.Qwen2ForCausalLM(cfg).eval()
with torch.no_grad():
    out = model(torch.tensor([[1, 2, 3]])).logits
assert out.shape == (1, 3, 32), out.shape
print(f"setup: torch {torch.__version__}, transformers {transformers.__version__}, ok")
PY
echo "$hash" > "$marker"
echo "setup: done in $((SECONDS - start))s" >&2
echo "$venv"
