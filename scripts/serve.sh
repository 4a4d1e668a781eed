#!/usr/bin/env bash
# The README's main command: the committed origin model (the larger one the
# edge escalates to; the default model where a checkout lacks it) behind the
# API (HTTP, SSE, OpenAI-compatible, gRPC) and the demo page, which runs the
# small default model in the browser, on http://127.0.0.1:8080.
# Builds what is missing first: the toolchain's parts, the page's wasm module
# (first run ~15 min on 2 cores: wasm-bindgen-cli and the wasm build), the
# native binary. Extra arguments go to `quarry serve` (e.g. --addr, --workers).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
if [ ! -f www/pkg/quarry_browser_bg.wasm ] || [ ! -f www/models/quarry-q8_0.gguf ]; then
    bash scripts/wasm/build.sh
fi
exec cargo run --release -p quarry-native -- serve "$@"
