#!/usr/bin/env bash
# The browser end-to-end test: installs Chromium (Debian) and playwright-core
# (npm ci) if missing, builds the browser module and the native CLI, runs the
# JS API checks (node), then types every golden input into the demo page in
# headless Chromium and checks what it shows against the native output.
#   QUARRY_E2E_WEIGHTS=f32  both sides on F32 weights (what scripts/test.sh runs)
#   QUARRY_E2E_URL=URL      test the page of a running server (quarry serve)
#   QUARRY_ARTIFACTS=DIR    screenshots and summaries (default target/e2e/)
# Extra arguments go to build.sh (e.g. --no-opt).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/wasm/setup-browser.sh
bash scripts/wasm/build.sh "$@"
if [ -z "${QUARRY_NATIVE_BIN:-}" ]; then
  NATIVE_TARGET="${QUARRY_NATIVE_TARGET_DIR:-$HOME/.cache/quarry/target}"
  nice -n 10 env CARGO_TARGET_DIR="$NATIVE_TARGET" cargo build --release -p quarry-native
  QUARRY_NATIVE_BIN="$NATIVE_TARGET/release/quarry"
fi
node tests/e2e/api.mjs   # the JS API itself: errors, cancellation, streaming
QUARRY_NATIVE_BIN="$QUARRY_NATIVE_BIN" node tests/e2e/e2e.mjs
