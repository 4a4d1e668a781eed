#!/usr/bin/env bash
# Builds `quarry` with `--features cuda` (release) on a machine with no GPU
# and no driver, for the device machine, which has the driver and CUDA's
# libraries but no Rust toolchain and no network, so the binary is built
# here and carried there (scripts/cuda/device-check.sh runs it).
#
#   bash scripts/cuda/build.sh        # -> .cuda/quarry (git-ignored)
#
# Linking: candle links cudarc dynamically against libcuda (the driver),
# libnvrtc, libcurand, libcublas and libcublasLt, and its kernels against
# libcudart (which PyPI's runtime package has). None of the five is needed to
# link beyond its name and symbols, so the link uses stubs, like the CUDA
# toolkit's own lib64/stubs: shared objects that carry each real library's
# soname and define the symbols the binary uses as empty functions. At run
# time the loader finds the real libraries by soname. The symbols are
# learned from the first link's "undefined symbol" errors and kept, so later
# builds link at once. The stubs never leave this machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
eval "$(bash scripts/cuda/setup.sh)"
export CARGO_TARGET_DIR="${QUARRY_CUDA_TARGET_DIR:-$HOME/.cache/quarry/target-cuda}"
stubs="$CARGO_TARGET_DIR/cuda-stubs"
symbols="$stubs/symbols.txt"
mkdir -p "$stubs"
touch "$symbols"
# The sonames of CUDA 13's libraries, as the device machine has them.
libs=(cuda nvrtc curand cublas cublasLt)
declare -A soname=([cuda]=libcuda.so.1 [nvrtc]=libnvrtc.so.13 [curand]=libcurand.so.10
    [cublas]=libcublas.so.13 [cublasLt]=libcublasLt.so.13)

library_of() {
    case "$1" in
        cublasLt*) echo cublasLt ;;
        cublas*) echo cublas ;;
        curand*) echo curand ;;
        nvrtc*) echo nvrtc ;;
        cu*) echo cuda ;;
        *) return 1 ;;
    esac
}

make_stubs() {
    for lib in "${libs[@]}"; do
        {
            echo "/* Link-time stub of ${soname[$lib]}; the real library is loaded at run time. */"
            awk -v l="$lib" '$1 == l { print "void " $2 "(void) {}" }' "$symbols" | sort -u
        } >"$stubs/$lib.c"
        cc -shared -fPIC -o "$stubs/lib$lib.so" -Wl,-soname,"${soname[$lib]}" "$stubs/$lib.c"
    done
}

build() {
    # lld stops after 20 errors unless told otherwise: every missing symbol
    # is wanted at once.
    RUSTFLAGS="-L native=$stubs -C link-arg=-Wl,--error-limit=0 ${RUSTFLAGS:-}" \
        cargo build --release -p quarry-native --features cuda 2>&1 | tee "$stubs/build.log" >&2
}

make_stubs
# candle-kernels also links the CUDA runtime; its real library is in the
# PyPI runtime package, under its soname only.
ln -sf "$CUDA_ROOT/lib/libcudart.so.13" "$stubs/libcudart.so"
for attempt in 1 2 3; do
    build && break
    # Learn the missing symbols from the linker's complaints, then relink.
    before="$(wc -l <"$symbols")"
    { grep -oE "undefined (symbol|reference to)[: \`']+[A-Za-z_][A-Za-z0-9_]*" "$stubs/build.log" || true; } \
        | grep -oE "[A-Za-z_][A-Za-z0-9_]*$" | sort -u | while read -r symbol; do
        if lib="$(library_of "$symbol")"; then echo "$lib $symbol"; fi
    done >>"$symbols"
    sort -u -o "$symbols" "$symbols"
    learned=$(($(wc -l <"$symbols") - before))
    if [[ $learned -eq 0 || $attempt -eq 3 ]]; then
        echo "scripts/cuda/build.sh: the build failed (see above)" >&2
        exit 1
    fi
    echo "scripts/cuda/build.sh: $learned CUDA symbols stubbed; relinking" >&2
    make_stubs
done
mkdir -p .cuda
cp "$CARGO_TARGET_DIR/release/quarry" .cuda/quarry
echo "scripts/cuda/build.sh: .cuda/quarry ($(du -h .cuda/quarry | cut -f1)) needs at run time:" >&2
readelf -d .cuda/quarry | grep NEEDED | grep -E "cuda|nvrtc|curand|cublas" >&2 || true
