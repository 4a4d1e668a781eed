#!/usr/bin/env bash
# Browser benchmark: model load time and per-query p50/p95 in headless
# Chromium. Arguments go to tests/e2e/bench.mjs (--data FILE, --loads N, --limit N).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/wasm/setup-browser.sh
[ -f www/pkg/quarry_browser_bg.wasm ] && [ -f www/models/quarry-q8_0.gguf ] || bash scripts/wasm/build.sh
node tests/e2e/bench.mjs "$@"
