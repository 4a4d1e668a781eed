#!/usr/bin/env bash
# Reproduces a Quarry model end to end: generate data from the taxonomies,
# tokenize it with the engine's own code, train (training/train.py), export
# the GGUF files the engine ships, and score the result on the dev set.
#
#   bash training/train.sh OUT [train.py options…]
#   bash training/train.sh "$HOME/.cache/quarry/runs/default" --minutes 75   # the default model's first stage (models/README.md: the recipe)
#   bash training/train.sh /tmp/smoke --preset tiny --max-steps 100           # a smoke run
#
# Environment: QUARRY_EXAMPLES (training samples, default 200000),
# QUARRY_SEED (data seed, default 1), QUARRY_BIN and QUARRY_DATA_BIN (built
# `quarry` and `quarry-data`; else they are built here). Re-running with
# --resume continues the training step from OUT/run/checkpoint; the data
# step is skipped when OUT/data is complete.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: bash training/train.sh OUT [train.py options…]}"
shift
examples="${QUARRY_EXAMPLES:-200000}"
seed="${QUARRY_SEED:-1}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/quarry/target}"
if [[ -z "${QUARRY_BIN:-}" || -z "${QUARRY_DATA_BIN:-}" ]]; then
    cargo build --release -p quarry-native -p quarry-data >&2
    QUARRY_BIN="$CARGO_TARGET_DIR/release/quarry"
    QUARRY_DATA_BIN="$CARGO_TARGET_DIR/release/quarry-data"
fi
python="$(bash training/setup.sh)/bin/python"
mkdir -p "$out"

stamp="$out/data/.complete-$seed-$examples-$(git rev-parse --short HEAD 2>/dev/null || echo local)"
if [[ ! -f "$stamp" ]]; then
    echo "== data: $examples samples, seed $seed" >&2
    rm -rf "$out/data"
    "$QUARRY_DATA_BIN" generate --out "$out/data" --seed "$seed" --examples "$examples"
    "$QUARRY_DATA_BIN" tokenize --data "$out/data/train.jsonl" --tokenizer models/tokenizer.json \
        --out "$out/data/train.tokens.jsonl"
    touch "$stamp"
fi

echo "== train" >&2
"$python" training/train.py --tokens "$out/data/train.tokens.jsonl" \
    --tokenizer models/tokenizer.json --out "$out/run" "$@"

echo "== export" >&2
for quant in q8_0 q4_0 f32; do
    "$QUARRY_BIN" export --model "$out/run" --out "$out/run/quarry-$quant.gguf" --quant "$quant" --compact
done

echo "== eval (dev set, Q8_0)" >&2
"$QUARRY_BIN" eval --model "$out/run/quarry-q8_0.gguf" --data tests/data/dev.jsonl \
    --predictions "$out/run/dev-predictions.jsonl" | tee "$out/run/dev-eval.txt"
"$QUARRY_BIN" eval --model "$out/run/quarry-q8_0.gguf" --data "$out/data/test.jsonl" \
    | tee "$out/run/generated-test-eval.txt"
