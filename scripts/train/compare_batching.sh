#!/usr/bin/env bash
# The paper's comparison: homogeneous batching (each batch from one task)
# against heterogeneous (tasks mixed within a batch), at the same budget,
# seed, data and tokenizer, then both scored by `quarry eval`.
#
#   bash scripts/train/compare_batching.sh RUNS MINUTES [TOKENIZER]
#
# RUNS holds `data/` (from `quarry data`); each arm trains into
# RUNS/batching-<arm>/ and writes its tables to RUNS/batching-<arm>/eval-*.txt.
# TOKENIZER (a tokenizer.json) is shared by both arms; without it the first
# arm trains one and the second reuses it.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:?usage: compare_batching.sh RUNS MINUTES [TOKENIZER]}
minutes=${2:?usage: compare_batching.sh RUNS MINUTES [TOKENIZER]}
tokenizer=${3:-}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/quarry/target}
cargo build --release -p quarry-native
quarry=$CARGO_TARGET_DIR/release/quarry

for arm in homogeneous heterogeneous; do
    out=$runs/batching-$arm
    mkdir -p "$out"
    if [[ -n $tokenizer ]]; then cp "$tokenizer" "$out/tokenizer.json"; fi
    "$quarry" train --data "$runs/data" --out "$out" --preset default \
        --minutes "$minutes" --batching "$arm" 2>&1 | tee "$out/train.log"
    tokenizer=$out/tokenizer.json
done
for arm in homogeneous heterogeneous; do
    out=$runs/batching-$arm
    "$quarry" eval --model "$out/quarry-q8_0.gguf" --data tests/data/dev.jsonl | tee "$out/eval-dev.txt"
    "$quarry" eval --model "$out/quarry-q8_0.gguf" --data "$runs/data/test.jsonl" | tee "$out/eval-test.txt"
done
