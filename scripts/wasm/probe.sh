#!/usr/bin/env bash
# Numerics probe: the tagger's logits for the same prompts from the browser
# module (wasm32 + SIMD128, run in node) and from native (x86-64, candle's
# runtime-detected AVX2/FMA kernels). Shows why outputs can differ: Q8_0
# matmuls re-quantize activations to int8, so last-bit float differences
# between the two targets' kernels grow to ~1e-2 in the logits.
#   bash scripts/wasm/probe.sh ["query" ...]
set -euo pipefail
cd "$(dirname "$0")/../.."
# Its own variable: the native CARGO_TARGET_DIR (which CI exports) must not
# send the wasm builds, with their other profile, into the native cache.
export CARGO_TARGET_DIR="${QUARRY_WASM_TARGET_DIR:-$HOME/.cache/quarry/target-wasm}"
TOOLS="${QUARRY_TOOLS:-$HOME/.cache/quarry/tools}"
NATIVE_TARGET="${QUARRY_NATIVE_TARGET_DIR:-$HOME/.cache/quarry/target}"
[ -x "$TOOLS/bin/wasm-bindgen" ] || bash scripts/wasm/build.sh --no-opt
(cd wasm && nice -n 10 cargo build --release --target wasm32-unknown-unknown -p quarry-browser --features probe)
OUT="$NATIVE_TARGET/quarry-probe-pkg"
"$TOOLS/bin/wasm-bindgen" --target nodejs --no-typescript --out-dir "$OUT" \
  "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/quarry_browser.wasm"
# The root toolchain and lock file, so native deps are reused and identical.
TOOLCHAIN=$(awk -F'"' '/^channel/ {print $2}' rust-toolchain.toml)
cp Cargo.lock scripts/wasm/probe/Cargo.lock
(cd scripts/wasm/probe && nice -n 10 env CARGO_TARGET_DIR="$NATIVE_TARGET" cargo "+$TOOLCHAIN" build --release)
[ "$#" -gt 0 ] || set -- "jobs in naples" "jobs with fewer than 10 applicants" "data scientist"
node scripts/wasm/probe/compare.mjs "$OUT" "$NATIVE_TARGET/release/quarry-probe" models/quarry-q8_0.gguf "$@"
