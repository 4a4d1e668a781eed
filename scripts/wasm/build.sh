#!/usr/bin/env bash
# Builds the browser module into www/pkg/ and puts the default model where the
# page fetches it (www/models/). Reproducible: the wasm-bindgen CLI is pinned
# to the wasm-bindgen version in wasm/Cargo.lock and installed (once) into a
# tool cache; wasm-opt comes from npm binaryen@132 (Debian's binaryen 108
# emits modules that crash at load).
#
#   bash scripts/wasm/build.sh            # build + wasm-opt (cached per input hash)
#   bash scripts/wasm/build.sh --no-opt   # skip wasm-opt (faster iteration)
#
# Environment: QUARRY_WASM_TARGET_DIR (default ~/.cache/quarry/target-wasm, shared
# with the other wasm crates), QUARRY_TOOLS (default ~/.cache/quarry/tools).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OPT=1
for arg in "$@"; do
  case "$arg" in
    --no-opt) OPT=0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

# Its own variable: the native CARGO_TARGET_DIR (which CI exports) must not
# send the wasm builds, with their other profile, into the native cache.
export CARGO_TARGET_DIR="${QUARRY_WASM_TARGET_DIR:-$HOME/.cache/quarry/target-wasm}"
TOOLS="${QUARRY_TOOLS:-$HOME/.cache/quarry/tools}"
mkdir -p "$TOOLS"
# Heavy builds yield to interactive work on this 2-core machine.
NICE="nice -n 10"

rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || true

# --- wasm-bindgen CLI, pinned to the library version in the lock file ------
WB_VERSION=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' wasm/Cargo.lock)
[ -n "$WB_VERSION" ] || { echo "wasm-bindgen not found in wasm/Cargo.lock" >&2; exit 1; }
WB="$TOOLS/bin/wasm-bindgen"
if ! [ -x "$WB" ] || [ "$("$WB" --version | awk '{print $2}')" != "$WB_VERSION" ]; then
  echo "installing wasm-bindgen-cli $WB_VERSION into $TOOLS (~6 min cold)" >&2
  # Not --locked: one dependency locked upstream is missing from the registry.
  $NICE cargo install wasm-bindgen-cli --version "$WB_VERSION" --root "$TOOLS" --force
fi

# --- wasm-opt from npm binaryen@132 (optional) -------------------------------
WASM_OPT="$TOOLS/npm/node_modules/.bin/wasm-opt"
if [ "$OPT" = 1 ] && ! [ -x "$WASM_OPT" ]; then
  if command -v npm >/dev/null; then
    mkdir -p "$TOOLS/npm"
    npm install --prefix "$TOOLS/npm" --no-audit --no-fund --silent binaryen@132 >&2 || true
  fi
fi

# --- cargo build (SIMD128 comes from wasm/.cargo/config.toml) ---------------
t0=$(date +%s)
(cd wasm && $NICE cargo build --release --target wasm32-unknown-unknown -p quarry-browser)
RAW="$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/quarry_browser.wasm"
echo "cargo build: $(( $(date +%s) - t0 )) s" >&2

# --- bindings ---------------------------------------------------------------
PKG=www/pkg
rm -rf "$PKG"
"$WB" --target web --no-typescript --out-dir "$PKG" "$RAW"
BG="$PKG/quarry_browser_bg.wasm"

# --- wasm-opt, cached by the hash of its input (it takes minutes) -----------
if [ "$OPT" = 1 ] && [ -x "$WASM_OPT" ]; then
  CACHE="$HOME/.cache/quarry/wasm-opt"
  mkdir -p "$CACHE"
  key=$(sha256sum "$BG" | cut -c1-32)
  if ! [ -f "$CACHE/$key.wasm" ]; then
    echo "wasm-opt -O3 (a few minutes)" >&2
    t0=$(date +%s)
    $NICE "$WASM_OPT" -O3 --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int \
      --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
      "$BG" -o "$CACHE/$key.tmp.wasm"
    mv "$CACHE/$key.tmp.wasm" "$CACHE/$key.wasm"
    echo "wasm-opt: $(( $(date +%s) - t0 )) s" >&2
  fi
  cp "$CACHE/$key.wasm" "$BG"
elif [ "$OPT" = 1 ]; then
  echo "wasm-opt unavailable: shipping the unoptimized module" >&2
fi

# --- the default model, where the page fetches it ---------------------------
mkdir -p www/models
cp models/quarry-q8_0.gguf www/models/quarry-q8_0.gguf

size() { stat -c %s "$1"; }
gz() { gzip -9 -c "$1" | wc -c; }
printf 'wasm   %s: %s bytes raw, %s bytes gzip -9\n' "$BG" "$(size "$BG")" "$(gz "$BG")"
printf 'js     %s: %s bytes raw, %s bytes gzip -9\n' "$PKG/quarry_browser.js" "$(size "$PKG/quarry_browser.js")" "$(gz "$PKG/quarry_browser.js")"
printf 'model  www/models/quarry-q8_0.gguf: %s bytes raw, %s bytes gzip -9\n' "$(size www/models/quarry-q8_0.gguf)" "$(gz www/models/quarry-q8_0.gguf)"
