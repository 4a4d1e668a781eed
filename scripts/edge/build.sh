#!/usr/bin/env bash
# Builds the edge artefacts (model bundled in each):
#   wasm/worker/build/{index.js,index_bg.wasm}   Cloudflare Worker (worker-build)
#   wasm/spin/build/quarry_spin.wasm             Spin / WASIp3 HTTP component
#
#   bash scripts/edge/build.sh [worker|spin|all]     (default: all)
#
# Tools come from scripts/edge/setup.sh (pinned, cached outside the clone).
# wasm-opt runs only when QUARRY_EDGE_WASM_OPT points at npm binaryen's
# wasm-opt (about 5 CPU-minutes); otherwise worker-build runs with --no-opt.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
WHAT="${1:-all}"
edge_env="$(bash scripts/edge/setup.sh)"  # an assignment, so a failed setup stops here
eval "$edge_env"
# Its own variable: the native CARGO_TARGET_DIR (which CI exports) must not
# send the wasm builds, with their other profile, into the native cache.
export CARGO_TARGET_DIR="${QUARRY_WASM_TARGET_DIR:-$HOME/.cache/quarry/target-wasm}"
rustup target add wasm32-unknown-unknown wasm32-wasip2 >/dev/null 2>&1 || true

if [ "$WHAT" = all ] || [ "$WHAT" = worker ]; then
  t0=$(date +%s)
  OPT_ARGS=(--no-opt)
  if [ -n "${QUARRY_EDGE_WASM_OPT:-}" ]; then OPT_ARGS=(); export WASM_OPT_BIN="$QUARRY_EDGE_WASM_OPT"; fi
  # worker-build runs cargo (release, wasm32-unknown-unknown, with the
  # workspace's simd128 flags), wasm-bindgen, then esbuild for the shim.
  (cd wasm/worker && nice -n 10 "$WORKER_BUILD_BIN" --release "${OPT_ARGS[@]}")
  echo "edge build: worker in $(( $(date +%s) - t0 )) s" >&2
  ls -l wasm/worker/build/index.js wasm/worker/build/index_bg.wasm >&2
fi

if [ "$WHAT" = all ] || [ "$WHAT" = spin ]; then
  t0=$(date +%s)
  # SIMD128 for candle's wasm kernels; wasmtime (and Spin) support it.
  (cd wasm && CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS="-C target-feature=+simd128" \
    nice -n 10 cargo build --release --target wasm32-wasip2 -p quarry-spin)
  mkdir -p wasm/spin/build
  cp "$CARGO_TARGET_DIR/wasm32-wasip2/release/quarry_spin.wasm" wasm/spin/build/quarry_spin.wasm
  # Precompile for wasmtime once (Cranelift takes a while on 2 cores);
  # the tests serve the .cwasm with --allow-precompiled.
  "$WASMTIME_BIN" compile -Wcomponent-model-async -o wasm/spin/build/quarry_spin.cwasm wasm/spin/build/quarry_spin.wasm
  echo "edge build: spin in $(( $(date +%s) - t0 )) s" >&2
  ls -l wasm/spin/build/ >&2
fi
