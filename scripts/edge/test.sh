#!/usr/bin/env bash
# The edge suite: installs the pinned tools (idempotent), builds the Worker
# and the Spin component, builds the native binary (the origin and the
# parity reference), runs quarry-edge's unit tests, then the end-to-end
# tests in workerd and wasmtime serve (tests/edge/edge_test.py).
# Exits non-zero on any failure.
#
#   bash scripts/edge/test.sh [worker] [spin]
set -euo pipefail
cd "$(dirname "$0")/../.."
edge_env="$(bash scripts/edge/setup.sh)"  # an assignment, so a failed setup stops here
eval "$edge_env"
bash scripts/edge/build.sh "${EDGE_BUILD:-all}"

NATIVE_TARGET="${QUARRY_NATIVE_TARGET_DIR:-$HOME/.cache/quarry/target}"
CARGO_TARGET_DIR="$NATIVE_TARGET" nice -n 10 cargo build --release -p quarry-native
export QUARRY_BIN="$NATIVE_TARGET/release/quarry"

# The shared logic's unit tests run natively (the same code the artefacts run).
(cd wasm && CARGO_TARGET_DIR="${QUARRY_EDGE_NATIVE_TARGET_DIR:-$HOME/.cache/quarry/target-edge-native}" nice -n 10 cargo test -p quarry-edge)

# Native's reference answers (CLI and origin) on candle's AVX2 Q8_0 kernel:
# on AVX-512 VNNI CPUs candle otherwise picks a repacked VNNI kernel whose
# rounding differs from every other path, wasm's included, and flips 2 of
# the 50 golden decisions (tests/edge/edge_test.py). MISTRALRS_FORCE_AVX2=0
# compares against native's default kernel instead.
export MISTRALRS_FORCE_AVX2="${MISTRALRS_FORCE_AVX2:-1}"
# Even on that kernel, wasm's Q8_0 path and native's round differently, and
# greedy decoding follows the drift at a near-tie: with the seventh-stage
# model, golden 48 ("café manager jobs in zürich 🚀") ends its industry span
# at "café" natively and at "café manager" in wasm, where native's logits
# are 9.376 ("\n") against 9.305 (" manager"). One such flip in 50 is
# allowed; every other decision, and every other check, must still match.
export QUARRY_EDGE_ALLOWED_DECISION_DIFFS="${QUARRY_EDGE_ALLOWED_DECISION_DIFFS:-1}"
python3 tests/edge/edge_test.py "$@"
