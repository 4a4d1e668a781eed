#!/usr/bin/env python3
"""Checks that llama.cpp accepts a Quarry GGUF export and tokenizes like Quarry.

Run with the llama.cpp venv (scripts/bench/setup_llama_cpp.sh):

    $PY scripts/bench/check_gguf_compat.py --model /tmp/qwen-random-q8.gguf \
        --tokenizer ~/.cache/quarry/fixtures/qwen2-random/tied/tokenizer.json \
        --prompts scripts/bench/prompts.jsonl

1. Lists the file's header (GGUF version, key metadata, tensor names/types),
   read with a small pure-Python GGUF parser (no llama.cpp involved).
2. Loads it with llama_cpp.Llama (verbose, so llama.cpp's own load log, and
   any refusal, appears on stderr) and runs one decode step.
3. Tokenizes every prompt (plus a few awkward strings) with llama.cpp
   (add_bos=False, special=True) and with the Hugging Face `tokenizers`
   package on tokenizer.json (add_special_tokens=False) -- the library Quarry's
   tokenizer is built on -- in the reference venv, and compares ids.

Exit status 0 when the model loads and every string tokenizes identically.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys

GGML_TYPES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1",
              10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 30: "BF16"}

# Strings beyond the prompts file that stress pre-tokenization and added tokens.
EXTRA_STRINGS = [
    "<|im_start|>user\nhello<|im_end|>",
    "<|endoftext|>",
    "  leading spaces and\ttabs\n\nnewlines  ",
    "numbers 1234567 3.14159 and 2024-01-02",
    "Ünïcödé façade — naïve café, 東京の求人, 🙂👍",
    "it's they're we'll I'M DON'T",
    "<think>reasoning</think> <tool_call>{}</tool_call>",
    "<|im_start|> <|im_end|>literal <|fim_prefix|>",
]


def read_gguf_header(path: str) -> dict:
    with open(path, "rb") as f:
        def rd(fmt):
            size = struct.calcsize(fmt)
            return struct.unpack("<" + fmt, f.read(size))

        def rstr():
            (n,) = rd("Q")
            return f.read(n).decode("utf-8", errors="replace")

        scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

        def rval(t):
            if t in scalar:
                return rd(scalar[t])[0]
            if t == 8:
                return rstr()
            if t == 9:
                (et,) = rd("I")
                (n,) = rd("Q")
                return [rval(et) for _ in range(n)]
            raise ValueError(f"unknown GGUF value type {t}")

        magic = f.read(4)
        if magic != b"GGUF":
            raise ValueError(f"not a GGUF file (magic {magic!r})")
        (version,) = rd("I")
        n_tensors, n_kv = rd("QQ")
        kv = {}
        for _ in range(n_kv):
            key = rstr()
            (t,) = rd("I")
            kv[key] = rval(t)
        tensors = []
        for _ in range(n_tensors):
            name = rstr()
            (nd,) = rd("I")
            dims = list(rd("Q" * nd))
            (t,) = rd("I")
            (offset,) = rd("Q")
            tensors.append({"name": name, "dims": dims, "type": GGML_TYPES.get(t, str(t)), "offset": offset})
    return {"version": version, "kv": kv, "tensors": tensors}


REF_TOKENIZE = r"""
import json, sys, tokenizers
tok = tokenizers.Tokenizer.from_file(sys.argv[1])
texts = json.load(sys.stdin)
print(json.dumps({"version": tokenizers.__version__,
                  "ids": [tok.encode(t, add_special_tokens=False).ids for t in texts]}))
"""


def main() -> int:
    default_cache = os.environ.get("QUARRY_TOOL_CACHE", os.path.expanduser("~/.cache/quarry"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokenizer", required=True, help="the tokenizer.json the GGUF was exported from")
    ap.add_argument("--prompts", required=True)
    ap.add_argument("--reference-python", default=os.path.join(default_cache, "venv-train", "bin", "python"),
                    help="a python with the `tokenizers` package")
    args = ap.parse_args()
    ok = True

    # 1. header
    hdr = read_gguf_header(args.model)
    kv = hdr["kv"]
    print(f"== {args.model}: GGUF v{hdr['version']}, {len(kv)} metadata keys, {len(hdr['tensors'])} tensors")
    for k, v in kv.items():
        if isinstance(v, list):
            print(f"  {k}: array[{len(v)}] {v[:3]!r}...")
        elif isinstance(v, str) and len(v) > 80:
            print(f"  {k}: {v[:80]!r}...")
        else:
            print(f"  {k}: {v!r}")
    types = {}
    for t in hdr["tensors"]:
        types.setdefault(t["type"], []).append(t["name"])
    for ty, names in sorted(types.items()):
        print(f"  tensors {ty}: {len(names)} ({', '.join(names[:6])}{', ...' if len(names) > 6 else ''})")
    token_types = kv.get("tokenizer.ggml.token_type", [])
    counts = {}
    for tt in token_types:
        counts[tt] = counts.get(tt, 0) + 1
    print(f"  token types (1 normal, 3 control, 4 user-defined, 5 unused): {dict(sorted(counts.items()))}")

    # 2. load with llama.cpp
    import llama_cpp

    print(f"== loading with llama-cpp-python {llama_cpp.__version__} (llama.cpp log on stderr)", flush=True)
    try:
        llm = llama_cpp.Llama(model_path=args.model, n_ctx=256, n_threads=1, verbose=True, logits_all=False)
    except Exception as e:  # llama.cpp's reason is in its stderr log above
        print(f"!! llama.cpp REFUSED the file: {type(e).__name__}: {e}")
        return 1
    print(f"  loaded: n_vocab={llm.n_vocab()} n_embd={llm.n_embd()} "
          f"bos={llm.token_bos()} eos={llm.token_eos()}")
    print(f"  system info: {llama_cpp.llama_print_system_info().decode()}")

    # 3. tokenization
    with open(args.prompts, encoding="utf-8") as f:
        texts = [json.loads(l)["prompt"] for l in f if l.strip()]
    texts += EXTRA_STRINGS
    ours = [llm.tokenize(t.encode("utf-8"), add_bos=False, special=True) for t in texts]
    proc = subprocess.run([args.reference_python, "-c", REF_TOKENIZE, args.tokenizer],
                          input=json.dumps(texts), capture_output=True, text=True, check=True)
    ref = json.loads(proc.stdout)
    print(f"== tokenization: llama.cpp vs tokenizers {ref['version']} ({len(texts)} strings)")
    mismatches = 0
    for i, (t, a, b) in enumerate(zip(texts, ours, ref["ids"])):
        same = a == b
        mismatches += not same
        print(f"  [{'ok' if same else 'DIFF'}] #{i} {len(a)} tokens: {t[:60]!r}")
        if not same:
            print(f"      llama.cpp : {a}")
            print(f"      tokenizers: {b}")
            print(f"      llama.cpp pieces : {[llm.detokenize([x], special=True).decode('utf-8', 'replace') for x in a]}")
    n_prompts = len(texts) - len(EXTRA_STRINGS)
    prompt_mismatch = sum(ours[i] != ref["ids"][i] for i in range(n_prompts))
    print(f"  prompts file: {n_prompts - prompt_mismatch}/{n_prompts} identical; "
          f"extra strings: {len(EXTRA_STRINGS) - (mismatches - prompt_mismatch)}/{len(EXTRA_STRINGS)} identical")
    ok &= mismatches == 0

    # one decode step, to be sure the graph runs
    llm.reset()
    llm.eval(ours[0])
    print(f"  decode of prompt 0 ok ({len(ours[0])} tokens)")
    return 0 if ok else 2


if __name__ == "__main__":
    sys.exit(main())
