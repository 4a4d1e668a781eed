#!/usr/bin/env bash
# One training stage on a lent GPU machine (the device tool), run over a copy
# of this tree. That machine has PyTorch and `transformers` but no Rust
# toolchain and no network, so the binaries are built here and carried in
# .cuda/ (scripts/cuda/build.sh writes .cuda/quarry, for the device check;
# copy the CPU build's quarry there as quarry-cpu, and quarry-data; each may
# be xz-compressed), and `gguf` travels as a wheel in .whl/
# (device README):
#
#   run: bash training/gpu-stage.sh NAME="train.py options" …   # carry [".cuda", ".whl"]
#
# Steps, within QUARRY_DEADLINE_S seconds of the start (default 540):
#   1. data: QUARRY_SHARDS generator processes at once (seeds
#      QUARRY_SEED+1…), QUARRY_SHARD_EXAMPLES samples each, tokenized with
#      the engine's tokenizer, joined into one training file;
#   2. train: every NAME at once on the one GPU (each a train.py run with
#      its options; small models leave the GPU mostly idle, so several runs
#      share it at little cost each), for the time left before the deadline
#      less what loading, exporting and packing take;
#   3. export: each run's Q8_0 and Q4_0 GGUF, packed with its training
#      record as $OUT/NAME.tar.
# What comes back: $OUT/stage.log, NAME.log and NAME.tar for each run, and
# device-check.txt (the device tool returns at most 8 files).
# scripts/cuda/device-check.sh can run beside it (QUARRY_WITH_CHECK=1).
# Anywhere else it is a smoke test of itself: QUARRY_SHARDS=2
# QUARRY_SHARD_EXAMPLES=2000 QUARRY_DEADLINE_S=120 QUARRY_PYTHON=<venv>/bin/python
# QUARRY_BIN=… QUARRY_DATA_BIN=… bash training/gpu-stage.sh a="--preset tiny".
set -uo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
deadline="${QUARRY_DEADLINE_S:-540}"
out="${OUT:-/tmp/quarry-gpu-stage}"
work="${QUARRY_WORK:-/tmp/quarry-gpu-work}"
bin="${QUARRY_BIN:-.cuda/quarry-cpu}"  # exports; a CPU build needs no CUDA libraries
data_bin="${QUARRY_DATA_BIN:-.cuda/quarry-data}"
python="${QUARRY_PYTHON:-python3}"
shards="${QUARRY_SHARDS:-12}"
per_shard="${QUARRY_SHARD_EXAMPLES:-120000}"
seed="${QUARRY_SEED:-100}"
(($# > 0)) || { echo "usage: bash training/gpu-stage.sh NAME=\"train.py options\" …" >&2; exit 2; }
mkdir -p "$out" "$work"
log() { echo "[$((SECONDS - start)) s] $*" | tee -a "$out/stage.log" >&2; }

# Binaries travel xz-compressed (the tree that travels holds at most 64 MiB).
for packed in .cuda/*.xz; do
    [[ -f "$packed" ]] || continue
    "$python" -c "import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], 'wb'))" \
        "$packed" "${packed%.xz}" && chmod +x "${packed%.xz}"
done
if [[ -d .whl ]] && ls .whl/*.whl >/dev/null 2>&1; then
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
log "$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -n1)"
log "$("$python" -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__, "cuda", torch.cuda.is_available())' 2>&1)"

check_pid=
if [[ "${QUARRY_WITH_CHECK:-0}" == 1 ]]; then
    OUT=/tmp/quarry-device-check bash scripts/cuda/device-check.sh >"$work/device-check.out" 2>&1 &
    check_pid=$!
fi

log "data: $shards shards of $per_shard samples"
rm -rf "$work/data"
pids=()
for s in $(seq 1 "$shards"); do
    (
        "$data_bin" generate --out "$work/data/$s" --seed $((seed + s)) --examples "$per_shard" \
            --test-examples 200 --threads 1 >"$work/data-$s.log" 2>&1 &&
            "$data_bin" tokenize --data "$work/data/$s/train.jsonl" --tokenizer models/tokenizer.json \
                --out "$work/data/$s/train.tokens.jsonl" >>"$work/data-$s.log" 2>&1
    ) &
    pids+=($!)
done
# A failed shard is reported and left out; the stage goes on with the rest.
for k in "${!pids[@]}"; do
    wait "${pids[$k]}" || { log "data: shard $((k + 1)) failed:"; tail -n 12 "$work/data-$((k + 1)).log" | tee -a "$out/stage.log" >&2; rm -f "$work/data/$((k + 1))/train.tokens.jsonl"; }
done
cat "$work"/data/*/train.tokens.jsonl >"$work/train.tokens.jsonl" || exit 1
log "data: $(wc -l <"$work/train.tokens.jsonl") tokenized samples"

# Loading the samples, the final held-out pass, saving, exporting and packing.
reserve="${QUARRY_RESERVE_S:-100}"
minutes=$(awk -v left=$((deadline - (SECONDS - start) - reserve)) 'BEGIN { printf "%.2f", (left > 30 ? left : 30) / 60 }')
log "train: $# runs for $minutes min each"
names=()
pids=()
for spec in "$@"; do
    name="${spec%%=*}"
    opts="${spec#*=}"
    names+=("$name")
    # shellcheck disable=SC2086 # opts is a list of train.py options
    OMP_NUM_THREADS=2 PYTHONUNBUFFERED=1 "$python" training/train.py --tokens "$work/train.tokens.jsonl" \
        --tokenizer models/tokenizer.json --out "$work/runs/$name" --minutes "$minutes" \
        --eval-every 4000 --checkpoint-minutes 100 $opts >"$out/$name.log" 2>&1 &
    pids+=($!)
done
failed=0
for k in "${!pids[@]}"; do
    if wait "${pids[$k]}"; then
        log "train ${names[$k]}: $(grep -a '^train.py: .* steps' "$out/${names[$k]}.log" | tail -n1)"
    else
        failed=1
        log "train ${names[$k]}: FAILED"
        tail -n 5 "$out/${names[$k]}.log" | tr '\r' '\n' | tail -n 5 >&2
    fi
done

for name in "${names[@]}"; do
    run="$work/runs/$name"
    [[ -f "$run/model.safetensors" ]] || continue
    files=(training.json config.json)
    for quant in q8_0 q4_0; do
        if "$bin" export --model "$run" --out "$run/quarry-$quant.gguf" --quant "$quant" --compact >/dev/null; then
            files+=("quarry-$quant.gguf")
        else
            failed=1
        fi
    done
    # A returned file holds at most 16 MB: a larger model comes back as Q8_0
    # alone; one that could not be exported, as bf16 weights to export here.
    if [[ ! -f "$run/quarry-q8_0.gguf" ]]; then
        "$python" -c "import sys, torch; from safetensors.torch import load_file, save_file; \
save_file({k: v.to(torch.bfloat16) for k, v in load_file(sys.argv[1]).items()}, sys.argv[2])" \
            "$run/model.safetensors" "$run/model.bf16.safetensors" && files+=(model.bf16.safetensors)
    elif (($(du -cb "$run"/quarry-q*.gguf | tail -n1 | cut -f1) > 15500000)); then
        files=("${files[@]/quarry-q4_0.gguf/}")
    fi
    # shellcheck disable=SC2068 # an emptied entry drops out
    tar -C "$run" -cf "$out/$name.tar" ${files[@]} && log "packed $name.tar: ${files[*]}"
done

if [[ -n "$check_pid" ]]; then
    wait "$check_pid" || { failed=1; tail -n 30 "$work/device-check.out" >>"$out/stage.log"; }
    cp /tmp/quarry-device-check/device-check.txt "$out/" 2>/dev/null
    log "device check: $(grep -c '^ok' "$out/device-check.txt" 2>/dev/null) ok, $(grep -c '^FAIL' "$out/device-check.txt" 2>/dev/null) failed"
fi
log "done"
exit "$failed"
