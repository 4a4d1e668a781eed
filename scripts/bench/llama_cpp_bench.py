#!/usr/bin/env python3
"""llama.cpp baseline for Quarry's Qwen2 runtime (same GGUF, same prompts).

Run it with the venv made by scripts/bench/setup_llama_cpp.sh:

    PY=$(scripts/bench/setup_llama_cpp.sh | tail -n1)
    $PY scripts/bench/llama_cpp_bench.py --model /tmp/qwen-random-q8.gguf \
        --prompts scripts/bench/prompts.jsonl --new-tokens 16 --threads 2

For every line {"prompt": "..."} of the prompts file (ChatML special tokens
such as <|im_start|> are parsed as special tokens, no BOS is added):
  (a) prompt evaluation: llm.reset(); llm.eval(tokens)  (one batched decode)
  (b) greedy generation of exactly --new-tokens (N) tokens: N steps of
      "argmax over the last position's logits, then eval() that one token"
      (N single-token decodes, like llama-bench's tg); EOS does NOT stop it,
      so every engine generates the same number of tokens.
The first prompt is run once untimed as a warm-up.  Per-query time is (a)+(b).

Prints ONE JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import sys
import time


def log(msg: str) -> None:
    print(f"[llama_cpp_bench] {msg}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolation percentile (same as numpy's default)."""
    if not values:
        return float("nan")
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def read_prompts(path: str) -> list[str]:
    prompts = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            obj = json.loads(line)
            if not isinstance(obj, dict) or not isinstance(obj.get("prompt"), str):
                raise SystemExit(f"{path}:{lineno}: expected {{\"prompt\": \"...\"}}")
            prompts.append(obj["prompt"])
    if not prompts:
        raise SystemExit(f"{path}: no prompts")
    return prompts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="GGUF file")
    ap.add_argument("--prompts", required=True, help='JSONL file, one {"prompt": "..."} per line')
    ap.add_argument("--new-tokens", type=int, required=True, help="tokens generated per prompt (EOS ignored)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--n-ctx", type=int, default=1024)
    ap.add_argument("--n-batch", type=int, default=512)
    ap.add_argument("--no-extra-bufts", action="store_true",
                    help="load weights without ggml's extra CPU buffer types (AMX, weight repacking); "
                         "a workaround for builds that still have the AMX kernels compiled in")
    ap.add_argument("--dump-tokens", metavar="FILE",
                    help="also write each prompt's token ids and generated ids as JSONL (for cross-checks)")
    args = ap.parse_args()
    if args.new_tokens < 0:
        ap.error("--new-tokens must be >= 0")

    import llama_cpp
    import numpy as np

    prompts = read_prompts(args.prompts)

    if args.no_extra_bufts:
        # Llama() takes no option for it: patch the defaults it starts from.
        default_params = llama_cpp.llama_cpp.llama_model_default_params

        def model_params_without_extra_bufts():
            params = default_params()
            params.use_extra_bufts = False
            return params

        llama_cpp.llama_cpp.llama_model_default_params = model_params_without_extra_bufts

    t0 = time.perf_counter()
    llm = llama_cpp.Llama(
        model_path=args.model,
        n_ctx=args.n_ctx,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        n_batch=args.n_batch,
        verbose=False,
        logits_all=False,
    )
    load_ms = (time.perf_counter() - t0) * 1e3
    n_vocab = llm.n_vocab()
    log(f"loaded {args.model} in {load_ms:.1f} ms: llama-cpp-python {llama_cpp.__version__}, "
        f"n_vocab={n_vocab}, threads={args.threads}, extra_bufts={not args.no_extra_bufts}")
    log(f"system info: {llama_cpp.llama_print_system_info().decode().strip()}")
    log(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    meta = getattr(llm, "metadata", {}) or {}
    log("arch={} tokenizer={}/{} name={}".format(
        meta.get("general.architecture"), meta.get("tokenizer.ggml.model"),
        meta.get("tokenizer.ggml.pre"), meta.get("general.name")))

    # With logits_all=False, Llama.eval() does not copy logits into llm.scores
    # (llama-cpp-python >= 0.3 samples inside llama.cpp), so read the last
    # position's logits straight from the context: a zero-copy view, argmax'd.
    get_logits_ith = llama_cpp.llama_get_logits_ith

    def argmax_last() -> int:
        ptr = get_logits_ith(llm.ctx, -1)
        row = np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)), shape=(n_vocab,))
        return int(row.argmax())

    tokenized = [llm.tokenize(p.encode("utf-8"), add_bos=False, special=True) for p in prompts]
    for i, toks in enumerate(tokenized):
        if len(toks) + args.new_tokens > args.n_ctx:
            raise SystemExit(f"prompt {i}: {len(toks)} tokens + {args.new_tokens} new > n_ctx {args.n_ctx}")
        if not toks:
            raise SystemExit(f"prompt {i}: tokenizes to nothing")

    def run_query(toks: list[int]) -> tuple[float, float, list[int]]:
        t_a = time.perf_counter()
        llm.reset()
        llm.eval(toks)
        t_b = time.perf_counter()
        out: list[int] = []
        # Each generated token = argmax of the current last-position logits +
        # one single-token eval() of it (what a KV-cache decoder does per step,
        # and what llama-bench's "tg" measures): N tokens = N evals.
        for _ in range(args.new_tokens):
            tok = argmax_last()
            out.append(tok)
            llm.eval([tok])
        t_c = time.perf_counter()
        return t_b - t_a, t_c - t_b, out

    log(f"warm-up on prompt 0 ({len(tokenized[0])} tokens)")
    run_query(tokenized[0])

    prompt_s = gen_s = 0.0
    per_query_ms: list[float] = []
    dumps = []
    for i, toks in enumerate(tokenized):
        p_s, g_s, out = run_query(toks)
        prompt_s += p_s
        gen_s += g_s
        per_query_ms.append((p_s + g_s) * 1e3)
        dumps.append({"prompt_tokens": toks, "generated": out})
        log(f"query {i}: {len(toks)} prompt tokens in {p_s * 1e3:.2f} ms, "
            f"{len(out)} new in {g_s * 1e3:.2f} ms")

    if args.dump_tokens:
        with open(args.dump_tokens, "w", encoding="utf-8") as f:
            for d in dumps:
                f.write(json.dumps(d) + "\n")

    prompt_tokens = sum(len(t) for t in tokenized)
    generated = args.new_tokens * len(tokenized)
    result = {
        "engine": "llama.cpp",
        "version": f"llama-cpp-python {llama_cpp.__version__}",
        "threads": args.threads,
        "load_ms": round(load_ms, 3),
        "prompts": len(tokenized),
        "prompt_tokens": prompt_tokens,
        "prompt_tokens_per_s": round(prompt_tokens / prompt_s, 3) if prompt_s > 0 else None,
        "generated_tokens": generated,
        "generated_tokens_per_s": round(generated / gen_s, 3) if gen_s > 0 else None,
        "per_query_ms_p50": round(percentile(per_query_ms, 50), 3),
        "per_query_ms_p95": round(percentile(per_query_ms, 95), 3),
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
