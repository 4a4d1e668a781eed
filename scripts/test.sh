#!/usr/bin/env bash
# The project's test command (README): sets up the toolchain, then runs
# every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
cargo test --workspace --release "$@"
