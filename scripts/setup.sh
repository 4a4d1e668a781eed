#!/usr/bin/env bash
# Installs what building and testing Quarry needs on a fresh machine: the
# pinned toolchain's components and the two wasm targets the core must build
# for. Idempotent; safe to run before every build.
set -euo pipefail
cd "$(dirname "$0")/.."
toolchain=$(sed -n 's/^channel = "\(.*\)"/\1/p' rust-toolchain.toml)
rustup toolchain install "$toolchain" --profile minimal --component rustfmt,clippy
rustup target add --toolchain "$toolchain" wasm32-unknown-unknown wasm32-wasip2
