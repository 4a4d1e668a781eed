#!/usr/bin/env bash
# The project's test command (README): installs what the tests need (the
# pinned toolchain's parts; the torch venv that trains and gives the
# parity reference fixtures, and the
# OpenAI client, cached outside the clone), then runs every test of the
# workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
QUARRY_PARITY_FIXTURES="$(bash scripts/reference/fixtures.sh)"
export QUARRY_PARITY_FIXTURES QUARRY_REQUIRE_PARITY=1
QUARRY_TRAIN_PYTHON="$(bash training/setup.sh)/bin/python"
export QUARRY_TRAIN_PYTHON QUARRY_REQUIRE_TRAIN=1
QUARRY_OPENAI_PYTHON="$(bash scripts/serve/setup_openai.sh)"
export QUARRY_OPENAI_PYTHON QUARRY_REQUIRE_OPENAI=1
cargo test --workspace --release "$@"
[ "${QUARRY_E2E:-1}" = 0 ] || QUARRY_E2E_WEIGHTS="${QUARRY_E2E_WEIGHTS:-f32}" bash scripts/wasm/e2e.sh  # demo page vs native CLI in real Chromium, both on F32 weights (wasm/README.md); QUARRY_E2E=0 skips
[ "${QUARRY_EDGE:-0}" != 1 ] || bash scripts/edge/test.sh  # Worker in workerd + Spin in wasmtime serve vs native, fallback to a local origin; opt-in: cold, its tool installs and two wasm builds take ~45 min here
