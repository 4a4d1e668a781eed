#!/usr/bin/env python3
"""Trains Quarry's model: a Qwen2 decoder (Hugging Face `transformers`'
`Qwen2ForCausalLM`) from scratch on `quarry-data tokenize` output.

The token ids come from the Rust core (`quarry-data tokenize`), so prompts are
tokenized exactly as the engine tokenizes them at inference; the loss covers
only each example's answer (`ids[prompt_len:]`). On CPU the step runs under
bf16 autocast (AMX/AVX-512 BF16 through oneDNN, ~5x the candle trainer
here); on CUDA the same code runs on the GPU.

Outputs in --out: `model.safetensors` + `config.json` (Hugging Face names,
what `quarry export` and the parity test read), `tokenizer.json`,
`training.json` (the run's record: settings, throughput, loss curves), and,
for --resume, `checkpoint/` (weights, optimizer, schedule, RNG state),
rewritten atomically every --checkpoint-minutes.

Schedule: linear warm-up over the first 3% of training, then cosine decay to
10% of the peak rate; progress is the larger of step/--max-steps and
elapsed/--minutes, so a time-budgeted run ends its cosine on time on any
machine.
"""

import argparse
import json
import math
import os
import random
import shutil
import sys
import time

import torch
import transformers
from safetensors.torch import load_file
from tqdm import tqdm

TASKS = ["planner", "rewriter", "tagger", "suggester"]

# (hidden, layers, heads, kv heads, intermediate)
PRESETS = {
    "tiny": (32, 1, 2, 1, 64),
    "default": (256, 4, 4, 2, 704),
    "medium": (384, 6, 6, 2, 1024),
    "large": (512, 8, 8, 2, 1408),
}
DEFAULT_LR = {"tiny": 5e-3, "default": 2e-3, "medium": 1.5e-3, "large": 1e-3}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tokens", required=True, help="train.tokens.jsonl from `quarry-data tokenize`")
    p.add_argument("--tokenizer", default="models/tokenizer.json")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--preset", choices=sorted(PRESETS), default="default")
    p.add_argument("--minutes", type=float, default=0.0, help="time budget (0: none)")
    p.add_argument("--max-steps", type=int, default=0, help="step budget (0: none)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.0, help="peak learning rate (0: the preset's)")
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--batching", choices=["homogeneous", "heterogeneous"], default="homogeneous",
                   help="homogeneous: every batch from one task; heterogeneous: tasks mixed")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: all cores)")
    p.add_argument("--eval-every", type=int, default=500, help="steps between held-out evaluations")
    p.add_argument("--checkpoint-minutes", type=float, default=5.0)
    p.add_argument("--resume", action="store_true", help="continue from --out/checkpoint")
    p.add_argument("--init-from", default="",
                   help="start from a trained model instead of random weights: a run directory "
                        "(model.safetensors + config.json) or a GGUF file such as models/quarry-q8_0.gguf "
                        "(dequantized); --preset is then ignored")
    p.add_argument("--grow-layers", type=int, default=0,
                   help="with --init-from: deepen the model to this many layers by block "
                        "expansion (each layer followed by copies that start as the identity)")
    args = p.parse_args(argv)
    if args.minutes <= 0 and args.max_steps <= 0:
        p.error("give --minutes or --max-steps")
    if args.grow_layers and not args.init_from:
        p.error("--grow-layers needs --init-from")
    return args


def read_examples(path):
    train, held = [], []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                r = json.loads(line)
                ex = (int(r["task"]), r["ids"], int(r["prompt_len"]))
            except (ValueError, KeyError, TypeError) as e:
                sys.exit(f"train.py: {path} line {n}: {e}")
            if not (0 <= ex[0] < len(TASKS) and 0 < ex[2] < len(ex[1])):
                sys.exit(f"train.py: {path} line {n}: bad task or prompt_len")
            (held if r.get("held_out") else train).append(ex)
    if not train:
        sys.exit(f"train.py: {path} has no training examples")
    return train, held


def epoch_batches(examples, batch, mode, rng):
    """Shuffled batches, length-bucketed in windows of 16 batches (less
    padding, order still random); homogeneous draws each batch from one task
    in proportion to what that task has left."""

    def bucketed(ids):
        rng.shuffle(ids)
        out = []
        for w in range(0, len(ids), batch * 16):
            window = sorted(ids[w:w + batch * 16], key=lambda i: len(examples[i][1]))
            out.extend(window[k:k + batch] for k in range(0, len(window), batch))
        rng.shuffle(out)
        return out

    if mode == "heterogeneous":
        return bucketed(list(range(len(examples))))
    per_task = [bucketed([i for i, e in enumerate(examples) if e[0] == t]) for t in range(len(TASKS))]
    left = [sum(len(b) for b in bs) for bs in per_task]
    out = []
    while sum(left):
        pick = rng.randrange(sum(left))
        for t, n in enumerate(left):
            if pick < n:
                break
            pick -= n
        b = per_task[t].pop()
        left[t] -= len(b)
        out.append(b)
    return out


def collate(examples, ids, device):
    """Inputs are every token but the last; labels the next token, -100
    outside the answer and on padding."""
    rows = [examples[i] for i in ids]
    width = max(len(r[1]) for r in rows) - 1
    inputs = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    tokens = answer = 0
    for k, (_, seq, prompt_len) in enumerate(rows):
        n = len(seq) - 1
        inputs[k, :n] = torch.tensor(seq[:-1])
        mask[k, :n] = 1
        labels[k, prompt_len - 1:n] = torch.tensor(seq[prompt_len:])
        tokens += n
        answer += len(seq) - prompt_len
    return inputs.to(device), labels.to(device), mask.to(device), tokens, answer


def loss_of(model, inputs, labels, mask, autocast):
    with autocast():
        logits = model(input_ids=inputs, attention_mask=mask).logits
    return torch.nn.functional.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100
    )


@torch.no_grad()
def held_out_loss(model, held, batch, device, autocast):
    """Mean answer-token loss on the held-out examples, overall and by task."""
    model.eval()
    sums, counts = [0.0] * len(TASKS), [0] * len(TASKS)
    for t in range(len(TASKS)):
        ids = [i for i, e in enumerate(held) if e[0] == t]
        for k in range(0, len(ids), batch):
            inputs, labels, mask, _, _ = collate(held, ids[k:k + batch], device)
            n = int((labels != -100).sum())
            sums[t] += float(loss_of(model, inputs, labels, mask, autocast)) * n
            counts[t] += n
    model.train()
    by_task = {TASKS[t]: sums[t] / counts[t] for t in range(len(TASKS)) if counts[t]}
    return sum(sums) / max(1, sum(counts)), by_task


def learning_rate(progress, peak):
    warmup = 0.03
    if progress < warmup:
        return peak * max(progress, 1e-3) / warmup
    cos = 0.5 * (1 + math.cos(math.pi * min(1.0, (progress - warmup) / (1 - warmup))))
    return peak * (0.1 + 0.9 * cos)


def save_checkpoint(out, model, optimizer, state):
    """Writes checkpoint.tmp/ and renames it over checkpoint/: a run stopped
    mid-write keeps the previous checkpoint."""
    tmp, final = os.path.join(out, "checkpoint.tmp"), os.path.join(out, "checkpoint")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    torch.save({"optimizer": optimizer.state_dict(), "torch_rng": torch.get_rng_state()},
               os.path.join(tmp, "optimizer.pt"))
    with open(os.path.join(tmp, "state.json"), "w") as f:
        json.dump(state, f)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)


def qwen2_config(**shape):
    """A Qwen2 configuration with what every Quarry model shares (SwiGLU, full
    attention, no dropout); `shape` gives its sizes and token ids."""
    return transformers.Qwen2Config(hidden_act="silu", use_sliding_window=False, attention_dropout=0.0,
                                    initializer_range=0.02, **shape)


# GGUF tensor names (llama.cpp's, as `quarry export` writes them) to Hugging Face's.
GGUF_TO_HF = [("token_embd", "embed_tokens"), ("blk.", "layers."), ("attn_q", "self_attn.q_proj"),
              ("attn_k", "self_attn.k_proj"), ("attn_v", "self_attn.v_proj"),
              ("attn_output", "self_attn.o_proj"), ("ffn_gate", "mlp.gate_proj"), ("ffn_up", "mlp.up_proj"),
              ("ffn_down", "mlp.down_proj"), ("attn_norm", "input_layernorm"),
              ("ffn_norm", "post_attention_layernorm")]


def from_gguf(path):
    """A Qwen2 GGUF file (a committed Quarry model) as a full-precision model
    to train on: its weights dequantized, its shape from its metadata. A
    run's checkpoints live outside the clone and may be gone; the committed
    file is always there to continue from."""
    import gguf  # only this path needs it
    try:
        reader = gguf.GGUFReader(path)
    except (OSError, ValueError, IndexError) as e:
        sys.exit(f"train.py: {path}: not a readable GGUF file ({e})")

    def field(key):
        f = reader.fields.get(key)
        if f is None:
            sys.exit(f"train.py: {path}: no `{key}` (not a Qwen2 GGUF file)")
        return f.contents()

    if field("general.architecture") != "qwen2":
        sys.exit(f"train.py: {path}: architecture {field('general.architecture')!r}, not qwen2")
    weights = {}
    for t in reader.tensors:
        name = "lm_head.weight" if t.name == "output.weight" else (
            "model.norm.weight" if t.name == "output_norm.weight" else "model." + t.name)
        for ggml, hf in GGUF_TO_HF:
            name = name.replace(ggml, hf)
        array = gguf.quants.dequantize(t.data, t.tensor_type)
        weights[name] = torch.from_numpy(array.reshape([int(d) for d in reversed(t.shape)]).copy())
    eos = int(field("tokenizer.ggml.eos_token_id"))
    bos = reader.fields.get("tokenizer.ggml.bos_token_id")
    config = qwen2_config(
        vocab_size=len(field("tokenizer.ggml.tokens")),
        hidden_size=int(field("qwen2.embedding_length")),
        intermediate_size=int(field("qwen2.feed_forward_length")),
        num_hidden_layers=int(field("qwen2.block_count")),
        num_attention_heads=int(field("qwen2.attention.head_count")),
        num_key_value_heads=int(field("qwen2.attention.head_count_kv")),
        max_position_embeddings=int(field("qwen2.context_length")),
        rope_theta=float(field("qwen2.rope.freq_base")),
        # GGUF stores it as f32; 7 digits give back the value that was written (1e-06).
        rms_norm_eps=float(f'{float(field("qwen2.attention.layer_norm_rms_epsilon")):.7g}'),
        tie_word_embeddings="lm_head.weight" not in weights,
        bos_token_id=int(bos.contents()) if bos is not None else None, eos_token_id=eos)
    model = transformers.Qwen2ForCausalLM(config)
    missing, unexpected = model.load_state_dict(weights, strict=False)
    missing = [m for m in missing if not (m == "lm_head.weight" and config.tie_word_embeddings)]
    if missing or unexpected:
        sys.exit(f"train.py: {path}: missing {missing}, unexpected {unexpected}")
    if config.tie_word_embeddings:
        model.tie_weights()
    return model


def pretrained(path):
    """A trained model to start from: a run directory (model.safetensors +
    config.json) or a GGUF file."""
    if str(path).endswith(".gguf"):
        return from_gguf(path)
    return transformers.Qwen2ForCausalLM.from_pretrained(path, dtype=torch.float32)


def block_expanded(model_dir, layers):
    """The model in `model_dir`, deepened to `layers` layers by block
    expansion (LLaMA Pro, Wu et al. 2024): each layer is followed by copies
    of itself whose output projections (`o_proj`, `down_proj`) are zero, so
    each copy adds nothing to the residual stream and the deeper model
    computes exactly what the trained one did. Training then grows the
    copies from there, instead of relearning from random weights what the
    smaller model already knows."""
    base = pretrained(model_dir)
    old = base.config.num_hidden_layers
    if layers < old or layers % old:
        sys.exit(f"train.py: --grow-layers {layers} must be a multiple of the model's {old} layers")
    factor = layers // old
    config = transformers.Qwen2Config.from_dict(base.config.to_dict())
    config.num_hidden_layers = layers
    config.layer_types = None
    config = transformers.Qwen2Config.from_dict(config.to_dict())
    grown = transformers.Qwen2ForCausalLM(config)
    weights = {}
    for name, tensor in base.state_dict().items():
        if not name.startswith("model.layers."):
            weights[name] = tensor
            continue
        index, rest = name[len("model.layers."):].split(".", 1)
        for copy in range(factor):
            t = tensor.clone()
            if copy and rest in ("self_attn.o_proj.weight", "mlp.down_proj.weight"):
                t.zero_()
            weights[f"model.layers.{int(index) * factor + copy}.{rest}"] = t
    grown.load_state_dict(weights, strict=True)
    return grown


def main(argv=None):
    args = parse_args(argv)
    started = time.time()
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else ("cpu" if args.device == "auto" else args.device))
    if device.type == "cpu":
        torch.set_num_threads(args.threads or os.cpu_count() or 1)
    torch.manual_seed(args.seed)

    with open(args.tokenizer) as f:
        tokenizer = json.load(f)
    vocab = 1 + max([*tokenizer["model"]["vocab"].values(),
                     *(t["id"] for t in tokenizer.get("added_tokens", []))])
    end_of_turn = next(t["id"] for t in tokenizer["added_tokens"] if t["content"] == "<|im_end|>")
    hidden, layers, heads, kv, inter = PRESETS[args.preset]
    config = qwen2_config(
        vocab_size=vocab, hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=kv, max_position_embeddings=512,
        rope_theta=10000.0, rms_norm_eps=1e-6, tie_word_embeddings=True,
        bos_token_id=0, eos_token_id=end_of_turn)
    examples, held = read_examples(args.tokens)
    os.makedirs(args.out, exist_ok=True)
    ckpt = os.path.join(args.out, "checkpoint")
    peak = args.lr or DEFAULT_LR[args.preset]

    state = {"step": 0, "epoch": 0, "batch_in_epoch": 0, "elapsed_s": 0.0, "tokens": 0,
             "answer_tokens": 0, "loss_curve": [], "eval_curve": [], "first_loss": None}
    if args.resume and os.path.isdir(ckpt):
        model = transformers.Qwen2ForCausalLM.from_pretrained(ckpt, dtype=torch.float32)
        with open(os.path.join(ckpt, "state.json")) as f:
            state = json.load(f)
        extra = torch.load(os.path.join(ckpt, "optimizer.pt"), weights_only=False)
    else:
        if args.resume:
            print(f"train.py: no checkpoint in {args.out}; starting fresh", file=sys.stderr)
        if args.init_from:
            model = (block_expanded(args.init_from, args.grow_layers) if args.grow_layers else
                     pretrained(args.init_from))
        else:
            model = transformers.Qwen2ForCausalLM(config)
        extra = None
    config = model.config
    model.to(device).train()
    params = sum(p.numel() for p in model.parameters())
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=peak, betas=(0.9, 0.95), eps=1e-8)
    if extra is not None:
        optimizer.load_state_dict(extra["optimizer"])
        torch.set_rng_state(extra["torch_rng"])

    dtype = torch.bfloat16
    autocast = lambda: torch.autocast(device.type, dtype=dtype)  # noqa: E731
    budget_s = args.minutes * 60
    progress_of = lambda step, elapsed: max(  # noqa: E731
        step / args.max_steps if args.max_steps else 0.0, elapsed / budget_s if budget_s else 0.0)

    grown = f", grown to {args.grow_layers} layers" if args.grow_layers else ""
    print(f"train.py: {params:,} parameters ({args.init_from or args.preset}{grown}), {len(examples):,} examples "
          f"({len(held):,} held out), batching {args.batching}, device {device}, "
          f"peak lr {peak}, resumed at step {state['step']}", file=sys.stderr)
    bar = tqdm(total=args.max_steps or None, initial=state["step"], unit="step",
               dynamic_ncols=True, mininterval=2.0, file=sys.stderr)
    elapsed0, loop_start, last_ckpt = state["elapsed_s"], time.time(), time.time()
    ema = None
    epoch_rng = random.Random(args.seed * 1_000_003 + state["epoch"])
    batches = epoch_batches(examples, args.batch, args.batching, epoch_rng)
    window_tokens, window_start = 0, time.time()
    tokens_per_s = 0.0
    while True:
        elapsed = elapsed0 + time.time() - loop_start
        progress = progress_of(state["step"], elapsed)
        if progress >= 1.0:
            break
        if state["batch_in_epoch"] >= len(batches):
            state["epoch"] += 1
            state["batch_in_epoch"] = 0
            epoch_rng = random.Random(args.seed * 1_000_003 + state["epoch"])
            batches = epoch_batches(examples, args.batch, args.batching, epoch_rng)
        ids = batches[state["batch_in_epoch"]]
        state["batch_in_epoch"] += 1
        lr = learning_rate(progress, peak)
        for g in optimizer.param_groups:
            g["lr"] = lr
        inputs, labels, mask, tokens, answer = collate(examples, ids, device)
        loss = loss_of(model, inputs, labels, mask, autocast)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        value = float(loss.detach())
        if not math.isfinite(value):
            sys.exit(f"train.py: loss is {value} at step {state['step']}")
        state["first_loss"] = state["first_loss"] or value
        ema = value if ema is None else 0.98 * ema + 0.02 * value
        state["step"] += 1
        state["tokens"] += tokens
        state["answer_tokens"] += answer
        window_tokens += tokens
        if time.time() - window_start >= 5.0:
            tokens_per_s = window_tokens / (time.time() - window_start)
            window_tokens, window_start = 0, time.time()
        if state["step"] % 20 == 0:
            state["loss_curve"].append([state["step"], round(ema, 4)])
        bar.update(1)
        bar.set_postfix_str(f"loss {ema:.3f} lr {lr:.2e} {tokens_per_s:,.0f} tok/s "
                            f"{100 * progress:.1f}% epoch {state['epoch']}", refresh=False)
        if held and state["step"] % args.eval_every == 0:
            total, by_task = held_out_loss(model, held, 64, device, autocast)
            state["eval_curve"].append([state["step"], round(total, 4)])
            bar.write(f"step {state['step']}: held-out loss {total:.3f} "
                      + " ".join(f"{t} {v:.3f}" for t, v in by_task.items()), file=sys.stderr)
        if time.time() - last_ckpt >= args.checkpoint_minutes * 60:
            state["elapsed_s"] = elapsed0 + time.time() - loop_start
            save_checkpoint(args.out, model, optimizer, dict(state))
            last_ckpt = time.time()
    bar.close()
    state["elapsed_s"] = elapsed0 + time.time() - loop_start
    save_checkpoint(args.out, model, optimizer, dict(state))

    total, by_task = held_out_loss(model, held, 64, device, autocast) if held else (None, {})
    model.save_pretrained(args.out, safe_serialization=True)
    # Check the weights we wrote read back (a truncated file must fail here).
    load_file(os.path.join(args.out, "model.safetensors"))
    shutil.copyfile(args.tokenizer, os.path.join(args.out, "tokenizer.json"))
    record = {
        "trainer": "training/train.py (transformers Qwen2ForCausalLM)",
        "torch": torch.__version__, "transformers": transformers.__version__,
        "preset": None if args.init_from else args.preset, "init_from": args.init_from or None,
        "grow_layers": args.grow_layers or None, "parameters": params, "config": config.to_diff_dict(),
        "device": str(device), "threads": torch.get_num_threads() if device.type == "cpu" else None,
        "autocast": "bfloat16", "batching": args.batching, "batch": args.batch, "peak_lr": peak,
        "seed": args.seed, "steps": state["step"], "epochs": state["step"] / max(1, len(batches)),
        "tokens_trained": state["tokens"], "answer_tokens_trained": state["answer_tokens"],
        "train_loop_s": state["elapsed_s"], "wall_s": time.time() - started,
        "tokens_per_s": state["tokens"] / max(1e-9, state["elapsed_s"]),
        "first_loss": state["first_loss"], "final_train_loss_ema": ema,
        "final_eval_loss": total, "final_eval_loss_by_task": by_task,
        "train_examples": len(examples), "eval_examples": len(held),
        "loss_curve": state["loss_curve"], "eval_curve": state["eval_curve"],
    }
    with open(os.path.join(args.out, "training.json"), "w") as f:
        json.dump(record, f, indent=1)
    print(f"train.py: {state['step']} steps, {state['tokens']:,} tokens in "
          f"{state['elapsed_s'] / 60:.1f} min ({record['tokens_per_s']:,.0f} tokens/s), "
          f"held-out loss {total if total is None else round(total, 3)} {json.dumps({k: round(v, 3) for k, v in by_task.items()})}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
