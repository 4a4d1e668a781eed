#!/usr/bin/env bash
# Installs what building and testing Quarry needs on a fresh machine: the
# pinned toolchain, its rustfmt and clippy, and the two wasm targets the core
# must build for. Idempotent: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
toolchain=$(sed -n 's/^channel = "\(.*\)"/\1/p' rust-toolchain.toml)
if ! rustup toolchain list | grep -q "^$toolchain"; then
    rustup toolchain install "$toolchain" --profile minimal
fi
installed_components=$(rustup component list --installed --toolchain "$toolchain")
for component in rustfmt clippy; do
    grep -q "^$component" <<<"$installed_components" || rustup component add --toolchain "$toolchain" "$component"
done
installed_targets=$(rustup target list --installed --toolchain "$toolchain")
for target in wasm32-unknown-unknown wasm32-wasip2; do
    grep -qx "$target" <<<"$installed_targets" || rustup target add --toolchain "$toolchain" "$target"
done
