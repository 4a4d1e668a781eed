#!/usr/bin/env bash
# The GPU check, run on the device machine (one H200) over a copy of this
# tree. That machine has the driver and CUDA's libraries (in its Python
# packages) but no Rust toolchain and no network, so the CUDA binary is
# built here first and carried:
#
#   bash scripts/cuda/build.sh                        # here: .cuda/quarry
#   run: bash scripts/cuda/device-check.sh            # there, carry [".cuda"], timeout_s 540
#
# Steps, each timed, for the default (edge) model and the origin model:
#   1. the GPU and driver (nvidia-smi), and the binary's CUDA libraries found;
#   2. `quarry parity --device cuda:0`: CPU and CUDA logits over 32 dev
#      queries' prompts; f32 within the transformers parity tolerance (1e-4),
#      and the quantized model's top-token agreement;
#   3. `quarry bench --device cuda:0`: load time, p50/p95, queries/s;
#   4. `quarry loadtest --device cuda:0` at concurrency 1, 8 and 32.
# Prints one summary at the end, also written to $OUT/device-check.txt when
# $OUT is set (the device tool fetches it). Fails if any step fails; the
# steps after a failure still run, so one run says everything. Budget: about
# 3 minutes on a warm H200, well under the 8 minutes allowed.
set -uo pipefail
cd "$(dirname "$0")/../.."
bin="${QUARRY_CUDA_BIN:-.cuda/quarry}"
# QUARRY_DEVICE=cpu with a CPU build checks this script itself anywhere.
device="${QUARRY_DEVICE:-cuda:0}"
out="${OUT:-/tmp/quarry-device-check}"
mkdir -p "$out"
summary="$out/device-check.txt"
: >"$summary"
failed=0
note() { echo "$*" | tee -a "$summary"; }
step() {  # step NAME COMMAND...: runs, times, keeps the last lines for the summary
    local name="$1"; shift
    local log="$out/$name.log" start=$SECONDS
    echo "== $name: $*"
    if "$@" 2>&1 | tee "$log"; then
        note "ok   $name ($((SECONDS - start)) s)"
    else
        failed=1
        note "FAIL $name ($((SECONDS - start)) s)"
    fi
    grep -E "^parity:|p50|queries/s|load" "$log" | tail -n 12 | sed 's/^/     /' >>"$summary"
}

[[ -x "$bin" ]] || { echo "device-check: no $bin (build it with scripts/cuda/build.sh, then carry .cuda)" >&2; exit 1; }
# libcuda comes from the driver's mount; the CUDA runtime, cuBLAS, cuRAND and
# NVRTC from the image's Python packages (nvidia-cuda-runtime, nvidia-cublas,
# nvidia-curand, nvidia-cuda-nvrtc).
libdirs="$(python3 - <<'PY'
import glob, os, site, sys
wanted = ["libcuda.so.1", "libcudart.so.13", "libnvrtc.so.13", "libcurand.so.10", "libcublas.so.13",
          "libcublasLt.so.13"]
roots = ["/usr/local/nvidia/lib64", "/usr/local/nvidia/lib", "/usr/lib/x86_64-linux-gnu",
         "/usr/local/cuda/lib64", *site.getsitepackages(), sys.prefix]
found = []
for name in wanted:
    for root in roots:
        hits = glob.glob(os.path.join(root, "**", name), recursive=True) if "site-packages" in root or root == sys.prefix \
            else [p for p in [os.path.join(root, name)] if os.path.exists(p)]
        if hits:
            d = os.path.dirname(hits[0])
            if d not in found:
                found.append(d)
            break
print(":".join(found))
PY
)"
export LD_LIBRARY_PATH="$libdirs:${LD_LIBRARY_PATH:-}"
note "device-check $(date -u +%FT%TZ) on $(hostname)"
note "$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -n1)"
if ldd "$bin" | grep -q "not found"; then
    failed=1
    note "FAIL libraries: $(ldd "$bin" | grep 'not found' | tr -s ' \t' ' ')"
else
    note "ok   libraries: $(ldd "$bin" | grep -oE 'lib(cuda|cudart|nvrtc|curand|cublas|cublasLt)\.so[.0-9]* => [^ ]+' | tr '\n' ' ')"
fi

models=(models/quarry-q8_0.gguf)
[[ -f models/quarry-origin-q8_0.gguf ]] && models+=(models/quarry-origin-q8_0.gguf)
for model in "${models[@]}"; do
    name="$(basename "$model" .gguf)"
    step "parity-$name" "$bin" parity --model "$model" --device "$device" --data tests/data/dev.jsonl --limit 32
    step "bench-$name" "$bin" bench --model "$model" --device "$device" --data tests/data/dev.jsonl --limit 100
    step "loadtest-$name" "$bin" loadtest --model "$model" --device "$device" --concurrency 1,8,32 \
        --requests 300 --max-seconds 30
done

echo
echo "== summary"
cat "$summary"
exit "$failed"
