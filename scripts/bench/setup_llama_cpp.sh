#!/usr/bin/env bash
# Build the llama.cpp baseline used by scripts/bench/llama_cpp_bench.py.
#
# Creates a venv at ${QUARRY_TOOL_CACHE:-$HOME/.cache/quarry}/venv-llama-cpp and
# pip-installs the pinned llama-cpp-python (scripts/bench/requirements.txt),
# which compiles its vendored llama.cpp from the sdist: CPU only, tuned for the
# build machine (-march=native), no BLAS/CUDA/Metal/Vulkan, no llava/mtmd.
#
# Idempotent: a marker in the venv records a hash of the requirement files, the
# CMake flags and the Python version; when it matches (and llama_cpp imports),
# the script does nothing.  Set QUARRY_LLAMA_CPP_FORCE=1 to rebuild anyway.
#
# Needs: python3 (>=3.9, with venv), a C/C++ compiler.  cmake and ninja come
# from PyPI (requirements-build.txt); if no compiler is found and we are root
# on Debian/Ubuntu, build-essential is installed with apt-get.
#
# Prints the venv's python path on the last line of stdout; progress and the
# build log go to stderr (the full log is also kept in $VENV/build.log).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${QUARRY_TOOL_CACHE:-$HOME/.cache/quarry}"
venv="$cache/venv-llama-cpp"
req="$here/requirements.txt"
req_build="$here/requirements-build.txt"
python="${PYTHON:-python3}"
jobs="${QUARRY_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}"

# CPU-only, native-arch build.  LLAVA_BUILD=OFF skips the multimodal (mtmd)
# library we do not use; it roughly halves the compile.
cmake_args="-DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DGGML_CPU=ON -DGGML_BLAS=OFF -DGGML_CUDA=OFF -DGGML_HIP=OFF -DGGML_METAL=OFF -DGGML_VULKAN=OFF -DGGML_OPENCL=OFF -DGGML_SYCL=OFF -DGGML_RPC=OFF -DLLAVA_BUILD=OFF -DLLAMA_CURL=OFF"

# ggml's AMX kernels (compiled in by -march=native on CPUs with AMX, e.g. this
# Sapphire Rapids VM) segfault in ggml_backend_amx_mul_mat on Q8_0 files
# (known upstream: ggml-org/llama.cpp#20824).  Compile them out; the AVX-512
# kernels and the weight repacking (REPACK) stay.  GCC honours -mno-* over
# -march=native whatever the order.  CFLAGS/CXXFLAGS seed CMAKE_<LANG>_FLAGS.
isa_flags=""
if [[ "$(uname -m)" == x86_64 ]] && echo 'int main(void){return 0;}' |
    cc -x c -mno-amx-tile -mno-amx-int8 -mno-amx-bf16 -o /dev/null - 2>/dev/null; then
    isa_flags="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
fi

log() { printf '[setup_llama_cpp %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

py_version="$("$python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
want_hash="$(
    {
        cat "$req" "$req_build"
        echo "CMAKE_ARGS=$cmake_args"
        echo "ISA_FLAGS=$isa_flags"
        echo "python=$py_version"
    } | sha256sum | cut -d' ' -f1
)"
marker="$venv/.quarry-llama-cpp-requirements.sha256"

if [[ "${QUARRY_LLAMA_CPP_FORCE:-0}" != 1 && -f "$marker" && "$(cat "$marker")" == "$want_hash" ]] &&
    "$venv/bin/python" -c 'import llama_cpp' 2>/dev/null; then
    log "up to date: $venv (hash ${want_hash:0:12})"
    echo "$venv/bin/python"
    exit 0
fi

# --- compiler -----------------------------------------------------------------
if ! command -v cc >/dev/null || ! command -v c++ >/dev/null; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
        log "no C/C++ compiler found: apt-get install build-essential"
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq build-essential >&2
    else
        log "ERROR: need a C and C++ compiler (cc, c++); install build-essential"
        exit 1
    fi
fi
log "compilers: $(cc --version | head -1) / $(c++ --version | head -1)"

# --- venv + build tools ---------------------------------------------------------
start=$(date +%s)
if [[ -d "$venv" ]]; then
    log "requirements changed or install incomplete: recreating $venv"
    rm -rf "$venv"
fi
mkdir -p "$cache"
log "creating venv $venv with $python ($py_version)"
"$python" -m venv "$venv"
vpy="$venv/bin/python"
export PATH="$venv/bin:$PATH"   # so scikit-build-core finds the pinned cmake/ninja
log "installing build tools (requirements-build.txt)"
"$vpy" -m pip install --quiet -r "$req_build" >&2
log "cmake $("$venv/bin/cmake" --version | head -1 | awk '{print $3}'), ninja $("$venv/bin/ninja" --version)"

# --- llama-cpp-python (compiles llama.cpp) ----------------------------------------
export CMAKE_ARGS="$cmake_args"
export CFLAGS="${CFLAGS:+$CFLAGS }$isa_flags"
export CXXFLAGS="${CXXFLAGS:+$CXXFLAGS }$isa_flags"
export CMAKE_BUILD_PARALLEL_LEVEL="$jobs"
export FORCE_CMAKE=1
log "building llama-cpp-python from sdist with $jobs jobs; CMAKE_ARGS=$CMAKE_ARGS; CFLAGS/CXXFLAGS+=$isa_flags"
log "this takes several minutes on 2 cores; compiler progress follows"
build_start=$(date +%s)
build_log="$venv/build.log"
# -v streams the CMake/ninja output; keep every line in build.log and show the
# progress lines ([n/m] from ninja, pip's own status) on stderr.
set +e
"$vpy" -m pip install -v --no-build-isolation --no-binary llama-cpp-python \
    --no-cache-dir -r "$req" 2>&1 |
    tee "$build_log" |
    awk '
        /^[[:space:]]*\[[0-9]+\/[0-9]+\]/ {          # ninja progress: show step + source file
            step = $1; src = ""
            for (i = 2; i < NF; i++) if ($i == "-c") src = $(i + 1)
            if (src == "") { line = $0; sub(/^[[:space:]]*\[[0-9]+\/[0-9]+\][[:space:]]*/, "", line); src = substr(line, 1, 100) }
            n = split(src, parts, "/"); print step, parts[n]; fflush(); next
        }
        /^(Collecting|Building|Created wheel|Successfully|ERROR|error:)|CMake Error|-- (The C|Including CPU|x86 detected|Adding CPU|ggml version|ggml commit)/ { print; fflush() }
    ' >&2
status=${PIPESTATUS[0]}
set -e
build_end=$(date +%s)
if [[ $status != 0 ]]; then
    log "ERROR: pip install failed (exit $status); last lines of $build_log:"
    tail -n 40 "$build_log" >&2
    exit "$status"
fi

version="$("$vpy" -c 'import llama_cpp; print(llama_cpp.__version__)')"
system_info="$("$vpy" -c 'import llama_cpp; print(llama_cpp.llama_print_system_info().decode())')"
echo "$want_hash" > "$marker"
log "llama-cpp-python $version built in $((build_end - build_start)) s (setup total $((build_end - start)) s)"
log "system info: $system_info"
echo "$vpy"
