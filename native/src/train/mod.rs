//! `quarry train`: Quarry's own model from scratch — a byte-level BPE
//! tokenizer and a Qwen2 decoder — on `quarry data`'s `train.jsonl`.
//!
//! The model is [`quarry::model::Qwen2`] itself, built on a `VarMap` with
//! differentiable ops, so what is trained is exactly what inference runs.
//! Outputs (in `--out`): `tokenizer.json`, `config.json`,
//! `model.safetensors` (Hugging Face names), `quarry-q8_0.gguf`,
//! `quarry-q4_0.gguf`, `quarry-f32.gguf`, `training.json`, and for `--resume`
//! `checkpoint.safetensors`, `optimizer.safetensors`, `train_state.json`.
//!
//! The schedule is a linear warm-up over the first 3% of training, then a
//! cosine decay to 10% of the peak rate. Training progress is the larger of
//! `step / --max-steps` and `elapsed / --minutes`, so a time-budgeted run
//! ends its cosine on time whatever the machine's speed.

mod batch;
mod optim;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use quarry::gguf::{self, Quantization};
use quarry::model::{Config, KvCache, Qwen2};
use quarry::prompt::Style;
use quarry::tokenizer::Tokenizer;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub use batch::Batching;
use batch::{Example, TASKS};
use optim::{learning_rate, AdamW};

/// Model sizes.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// A smoke-test model (hidden 32, one layer): seconds per hundred steps.
    Tiny,
    /// Sized to train in about 80 minutes on two CPU cores (about 4M
    /// parameters, a ~4 MB Q8_0 GGUF).
    Default,
    /// A GPU-sized model (hidden 512, 8 layers, about 26M parameters).
    Large,
}

impl Preset {
    pub fn config(self, vocab_size: usize) -> Config {
        // (hidden, layers, heads, kv heads, intermediate)
        let (h, l, heads, kv, i) = match self {
            Preset::Tiny => (32, 1, 2, 1, 64),
            Preset::Default => (256, 4, 4, 2, 704),
            Preset::Large => (512, 8, 8, 4, 1408),
        };
        Config {
            vocab_size,
            hidden_size: h,
            intermediate_size: i,
            num_hidden_layers: l,
            num_attention_heads: heads,
            num_key_value_heads: kv,
            max_position_embeddings: 512,
            rope_theta: 10_000.0,
            rms_norm_eps: 1e-6,
            tie_word_embeddings: true,
            rope_parameters: None,
            rope_scaling: None,
        }
    }

    pub fn default_lr(self) -> f64 {
        match self {
            Preset::Tiny => 5e-3,
            Preset::Default => 2e-3,
            Preset::Large => 1e-3,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Preset::Tiny => "tiny",
            Preset::Default => "default",
            Preset::Large => "large",
        }
    }
}

/// Options of `quarry train`.
#[derive(clap::Args, Debug, Clone, Serialize, Deserialize)]
pub struct Args {
    /// Directory with `quarry data`'s `train.jsonl` (2% of it is held out
    /// for evaluation loss).
    #[arg(long)]
    pub data: PathBuf,
    /// Output directory (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value_t = Preset::Default)]
    pub preset: Preset,
    /// Wall-clock budget of the training loop; the schedule ends on time.
    /// Without --minutes and --max-steps: 80.
    #[arg(long)]
    pub minutes: Option<f64>,
    /// Stop after this many optimizer steps.
    #[arg(long)]
    pub max_steps: Option<usize>,
    /// Examples per batch.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Peak learning rate (default: the preset's).
    #[arg(long)]
    pub lr: Option<f64>,
    #[arg(long, value_enum, default_value_t = Batching::Homogeneous)]
    pub batching: Batching,
    /// Seeds initialisation, the held-in order and batching.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Continue from `--out`'s checkpoint (weights, optimizer moments, step,
    /// data position and schedule).
    #[arg(long)]
    pub resume: bool,
    /// Tokenizer vocabulary when one is trained (at most 8000).
    #[arg(long, default_value_t = 4096)]
    pub vocab: usize,
    /// `cpu`, or `cuda:N` in a binary built with `--features cuda`.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Minutes between checkpoints.
    #[arg(long, default_value_t = 5.0)]
    pub checkpoint_minutes: f64,
    /// Threads of candle's element-wise pool (matrix products use every
    /// core regardless). Its workers spin-wait, so more than one thread
    /// halves throughput when anything else shares the cores; the
    /// `CANDLE_NUM_THREADS` environment variable overrides this.
    #[arg(long, default_value_t = 1)]
    #[serde(default = "one")]
    pub threads: usize,
}

fn one() -> usize {
    1
}

type R<T> = Result<T, String>;

macro_rules! ctx {
    ($context:expr) => {
        |e| format!("{}: {e}", $context)
    };
}

const WARMUP: f64 = 0.03;
const LR_FLOOR: f64 = 0.1;
const WEIGHT_DECAY: f64 = 0.1;
const CLIP_NORM: f64 = 1.0;
const LOG_EVERY: usize = 20;
/// Held-out examples scored at each periodic evaluation (all at the end).
const EVAL_SUBSET: usize = 512;
/// Periodic evaluations over the run.
const EVALS: usize = 10;
/// Steps whose speed the start-up probe measures.
const PROBE_STEPS: usize = 10;
const MAX_VOCAB: usize = 8000;

/// A point of the loss curve.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LossPoint {
    pub step: usize,
    /// Mean loss of the steps since the previous point.
    pub loss: f64,
    pub ema: f64,
    pub lr: f64,
    pub elapsed_s: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalPoint {
    pub step: usize,
    pub loss: f64,
    pub examples: usize,
}

/// Everything `--resume` needs besides the weights and moments.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainState {
    pub step: usize,
    pub epoch: usize,
    pub batch_in_epoch: usize,
    /// Wall time of the training loop so far (the schedule's clock).
    pub elapsed_s: f64,
    /// Time spent in optimizer steps only (for tokens/s).
    pub step_time_s: f64,
    pub tokens: u64,
    pub answer_tokens: u64,
    pub optimizer_step: usize,
    pub seed: u64,
    /// A hash of `train.jsonl`: resuming on other data would silently
    /// change the batch order.
    #[serde(default)]
    pub data_hash: u64,
    pub preset: Preset,
    pub peak_lr: f64,
    pub config: Config,
    pub args: Args,
    pub ema: Option<f64>,
    /// The first step's loss (the untrained model's).
    #[serde(default)]
    pub first_loss: Option<f64>,
    pub losses: Vec<LossPoint>,
    pub evals: Vec<EvalPoint>,
}

/// What a finished run reports (also written to `training.json`).
#[derive(Debug, Clone)]
#[cfg_attr(not(test), allow(dead_code))]
pub struct Summary {
    pub state: TrainState,
    /// The trained weights by Hugging Face name.
    pub tensors: Vec<(String, Tensor)>,
    pub final_eval_loss: Option<f64>,
    pub training_json: serde_json::Value,
}

pub fn run(args: Args) -> Result<(), String> {
    // Must precede candle's first parallel op (the pool is created once).
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", args.threads.max(1).to_string());
    }
    let summary = train(args)?;
    let mut shown = summary.training_json.clone();
    if let Some(map) = shown.as_object_mut() {
        map.remove("loss_curve");
        map.remove("eval_curve");
        map.remove("config");
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&shown).unwrap_or_default()
    );
    Ok(())
}

fn parse_device(spec: &str) -> R<Device> {
    let spec = spec.trim().to_ascii_lowercase();
    if spec == "cpu" {
        return Ok(Device::Cpu);
    }
    if let Some(rest) = spec.strip_prefix("cuda") {
        let ordinal = match rest.strip_prefix(':') {
            Some(n) => n
                .parse::<usize>()
                .map_err(|_| format!("bad device `{spec}`: expected cuda:N"))?,
            None if rest.is_empty() => 0,
            None => return Err(format!("bad device `{spec}`: expected cpu or cuda:N")),
        };
        if !cfg!(feature = "cuda") {
            return Err(format!(
                "device `{spec}`: this binary was built without CUDA; rebuild with \
                 `cargo build --release -p quarry-native --features cuda`"
            ));
        }
        return Device::new_cuda(ordinal).map_err(ctx!(format!("device `{spec}`")));
    }
    Err(format!("bad device `{spec}`: expected cpu or cuda:N"))
}

fn hardware(device: &Device) -> String {
    match device {
        Device::Cpu => {
            let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
            let model = cpuinfo
                .lines()
                .find_map(|l| {
                    l.strip_prefix("model name")
                        .map(|r| r.trim_start_matches([' ', '\t', ':']).to_string())
                })
                .unwrap_or_else(|| std::env::consts::ARCH.to_string());
            format!(
                "{model}, {} threads (CPU)",
                candle_core::utils::get_num_threads()
            )
        }
        other => format!("{other:?}"),
    }
}

fn write_json(path: &Path, value: &impl Serialize) -> R<()> {
    let text = serde_json::to_string_pretty(value).map_err(ctx!(path.display()))?;
    // Write then rename, so a crash never leaves half a file.
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text + "\n").map_err(ctx!(tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(ctx!(path.display()))
}

/// The tokenizer in `out`, trained on `texts` first if absent.
fn tokenizer(out: &Path, texts: impl FnOnce() -> Vec<String>, vocab: usize) -> R<Tokenizer> {
    let path = out.join("tokenizer.json");
    if path.exists() {
        let bytes = std::fs::read(&path).map_err(ctx!(path.display()))?;
        let tokenizer = Tokenizer::from_json(&bytes).map_err(ctx!(path.display()))?;
        eprintln!(
            "train: tokenizer {} ({} tokens)",
            path.display(),
            tokenizer.vocab_size()
        );
        return Ok(tokenizer);
    }
    if !(300..=MAX_VOCAB).contains(&vocab) {
        return Err(format!("--vocab {vocab}: must be within 300..={MAX_VOCAB}"));
    }
    let start = Instant::now();
    let texts = texts();
    let tokenizer =
        quarry::tokenizer::train_bpe(texts.iter(), vocab).map_err(ctx!("tokenizer training"))?;
    let json = serde_json::to_string(tokenizer.json()).map_err(ctx!("tokenizer"))?;
    std::fs::write(&path, json).map_err(ctx!(path.display()))?;
    eprintln!(
        "train: trained a {}-token BPE tokenizer on {} texts in {:.1} s -> {}",
        tokenizer.vocab_size(),
        texts.len(),
        start.elapsed().as_secs_f64(),
        path.display()
    );
    Ok(tokenizer)
}

/// Fresh weights, reproducible by seed: matrices normal(0, 0.02), output
/// projections of residual branches scaled by 1/sqrt(2 × layers) (GPT-2),
/// norms one, biases zero (as built).
fn initialise(varmap: &VarMap, config: &Config, seed: u64) -> R<()> {
    let mut rng = crate::rng::Rng::new(seed ^ 0x1a17);
    let data = varmap
        .data()
        .lock()
        .map_err(|_| "varmap lock poisoned".to_string())?;
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    let residual = 0.02 / (2.0 * config.num_hidden_layers as f64).sqrt();
    for name in names {
        let var = &data[name];
        if var.rank() < 2 {
            continue;
        }
        let stdev = if name.ends_with("o_proj.weight") || name.ends_with("down_proj.weight") {
            residual
        } else {
            0.02
        };
        let values = rng.normals(var.elem_count(), stdev);
        let t = Tensor::from_vec(values, var.shape(), var.device()).map_err(ctx!(name))?;
        var.set(&t).map_err(ctx!(name))?;
    }
    Ok(())
}

/// The model's tensors by Hugging Face name, on the CPU, sorted.
fn named_tensors(varmap: &VarMap) -> R<Vec<(String, Tensor)>> {
    let data = varmap
        .data()
        .lock()
        .map_err(|_| "varmap lock poisoned".to_string())?;
    let mut out: Vec<(String, Tensor)> = data
        .iter()
        .map(|(k, v)| {
            Ok((
                k.clone(),
                v.as_tensor().to_device(&Device::Cpu).map_err(ctx!(k))?,
            ))
        })
        .collect::<R<_>>()?;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Mean answer-token loss over `ids`, overall and per task (in
/// length-sorted batches of one task each).
fn eval_loss(
    model: &Qwen2,
    examples: &[Example],
    ids: &[usize],
    batch: usize,
    pad: u32,
    device: &Device,
) -> R<(f64, Vec<Option<f64>>)> {
    let (mut sum, mut count) = (0.0f64, 0usize);
    let mut per_task = vec![None; TASKS.len()];
    for (task, slot) in per_task.iter_mut().enumerate() {
        let mut ids: Vec<usize> = ids
            .iter()
            .copied()
            .filter(|&i| examples[i].task == task)
            .collect();
        ids.sort_by_key(|&i| examples[i].tokens.len());
        let (mut task_sum, mut task_count) = (0.0f64, 0usize);
        for chunk in ids.chunks(batch.max(1)) {
            let b = batch::make_batch(examples, chunk, pad, device).map_err(ctx!("eval batch"))?;
            let loss = batch_loss(model, &b)?;
            task_sum += f64::from(loss.to_scalar::<f32>().map_err(ctx!("eval loss"))?)
                * b.answer_tokens as f64;
            task_count += b.answer_tokens;
        }
        if task_count > 0 {
            *slot = Some(task_sum / task_count as f64);
        }
        sum += task_sum;
        count += task_count;
    }
    Ok((
        if count == 0 {
            f64::NAN
        } else {
            sum / count as f64
        },
        per_task,
    ))
}

/// Mean cross-entropy of the batch's answer tokens: logits are computed
/// for every position and only the scored ones are gathered.
fn batch_loss(model: &Qwen2, b: &batch::Batch) -> R<Tensor> {
    let logits = model
        .forward(&b.inputs, &mut KvCache::new())
        .map_err(|e| e.to_string())?;
    let inner = || -> candle_core::Result<Tensor> {
        let (bsz, len, vocab) = logits.dims3()?;
        let picked = logits
            .reshape((bsz * len, vocab))?
            .index_select(&b.positions, 0)?;
        candle_nn::loss::cross_entropy(&picked, &b.targets)
    };
    inner().map_err(ctx!("loss"))
}

fn fmt_duration(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

pub fn train(mut args: Args) -> R<Summary> {
    let wall = Instant::now();
    let device = parse_device(&args.device)?;
    std::fs::create_dir_all(&args.out).map_err(ctx!(args.out.display()))?;
    let state_path = args.out.join("train_state.json");
    let checkpoint_path = args.out.join("checkpoint.safetensors");
    let optimizer_path = args.out.join("optimizer.safetensors");

    // On resume, what defines the run (and its schedule) comes from the
    // saved state; only the stopping limits may change.
    let resumed: Option<TrainState> = if args.resume {
        let text = std::fs::read_to_string(&state_path)
            .map_err(|e| format!("--resume: {}: {e}", state_path.display()))?;
        let state: TrainState = serde_json::from_str(&text).map_err(ctx!(state_path.display()))?;
        let saved = &state.args;
        let (minutes, max_steps) = (
            args.minutes.or(saved.minutes),
            args.max_steps.or(saved.max_steps),
        );
        args = Args {
            minutes,
            max_steps,
            resume: true,
            device: args.device.clone(),
            data: args.data.clone(),
            out: args.out.clone(),
            ..saved.clone()
        };
        eprintln!(
            "train: resuming at step {} (epoch {}, {:.0} s of training done)",
            state.step, state.epoch, state.elapsed_s
        );
        Some(state)
    } else {
        None
    };
    if args.minutes.is_none() && args.max_steps.is_none() {
        args.minutes = Some(80.0);
    }
    if args.batch == 0 {
        return Err("--batch must be positive".into());
    }

    // Data and tokenizer.
    let train_path = args.data.join("train.jsonl");
    let text = std::fs::read_to_string(&train_path).map_err(ctx!(train_path.display()))?;
    let lines = batch::read_lines(&text)?;
    let data_hash = crate::rng::hash_str(&text);
    drop(text);
    if let Some(state) = &resumed {
        if state.data_hash != data_hash {
            eprintln!(
                "train: warning: {} changed since the checkpoint; the batch order will differ",
                train_path.display()
            );
        }
    }
    if lines.is_empty() {
        return Err(format!("{}: no examples", train_path.display()));
    }
    let tokenizer = tokenizer(&args.out, || batch::tokenizer_texts(&lines), args.vocab)?;
    let (held, kept): (Vec<_>, Vec<_>) = lines.iter().partition(|(_, h)| batch::is_held_out(*h));
    let kept: Vec<&batch::Line> = kept.iter().map(|(l, _)| l).collect();
    let held: Vec<&batch::Line> = held.iter().map(|(l, _)| l).collect();
    let start = Instant::now();
    let mut train_set = batch::tokenize(&tokenizer, &kept)?;
    let mut eval_set = batch::tokenize(&tokenizer, &held)?;

    let preset = args.preset;
    let config = match &resumed {
        Some(state) => state.config.clone(),
        None => preset.config(tokenizer.vocab_size()),
    };
    if config.vocab_size < tokenizer.vocab_size() {
        return Err(format!(
            "the tokenizer has {} tokens but the model {}",
            tokenizer.vocab_size(),
            config.vocab_size
        ));
    }
    let limit = config.max_position_embeddings;
    let before = train_set.len() + eval_set.len();
    train_set.retain(|e| e.tokens.len() <= limit && e.prompt_len >= 1);
    eval_set.retain(|e| e.tokens.len() <= limit && e.prompt_len >= 1);
    let dropped = before - train_set.len() - eval_set.len();
    if train_set.is_empty() {
        return Err("no training examples fit the model's context".into());
    }
    let all: Vec<&Example> = train_set.iter().chain(&eval_set).collect();
    let avg_tokens = all.iter().map(|e| e.tokens.len()).sum::<usize>() as f64 / all.len() as f64;
    let avg_answer = all.iter().map(|e| e.answer_len()).sum::<usize>() as f64 / all.len() as f64;
    let epoch_tokens: usize = train_set.iter().map(Example::input_len).sum();
    let per_task: Vec<String> = TASKS
        .iter()
        .enumerate()
        .map(|(t, name)| {
            format!(
                "{name} {}",
                train_set.iter().filter(|e| e.task == t).count()
            )
        })
        .collect();
    eprintln!(
        "train: {} training / {} held-out examples ({}) tokenized in {:.1} s; {avg_tokens:.1} tokens per example \
         ({avg_answer:.1} scored), {epoch_tokens} input tokens per epoch{}",
        train_set.len(),
        eval_set.len(),
        per_task.join(", "),
        start.elapsed().as_secs_f64(),
        if dropped > 0 { format!("; {dropped} longer than {limit} tokens dropped") } else { String::new() }
    );

    // Model and optimizer.
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
    let model = Qwen2::from_var_builder(config.clone(), vb, true).map_err(|e| e.to_string())?;
    let mut named: Vec<(String, candle_core::Var)> = {
        let data = varmap
            .data()
            .lock()
            .map_err(|_| "varmap lock poisoned".to_string())?;
        data.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let counted: usize = named.iter().map(|(_, v)| v.elem_count()).sum();
    if counted != config.parameter_count() {
        eprintln!(
            "train: warning: {counted} parameters built, Config::parameter_count says {}",
            config.parameter_count()
        );
    }
    let peak_lr = match &resumed {
        Some(state) => state.peak_lr,
        None => args.lr.unwrap_or(preset.default_lr()),
    };
    let mut opt = AdamW::new(named, WEIGHT_DECAY, 0.9, 0.95).map_err(ctx!("optimizer"))?;
    let mut state = match resumed {
        Some(state) => {
            let mut vm = varmap.clone();
            vm.load(&checkpoint_path)
                .map_err(ctx!(checkpoint_path.display()))?;
            match candle_core::safetensors::load(&optimizer_path, &device) {
                Ok(moments) => opt.load_state(moments, state.optimizer_step).map_err(ctx!(optimizer_path.display()))?,
                Err(e) => eprintln!(
                    "train: warning: {}: {e}; AdamW moments restart from zero (expect a brief loss bump)",
                    optimizer_path.display()
                ),
            }
            state
        }
        None => {
            initialise(&varmap, &config, args.seed)?;
            TrainState {
                step: 0,
                epoch: 0,
                batch_in_epoch: 0,
                elapsed_s: 0.0,
                step_time_s: 0.0,
                tokens: 0,
                answer_tokens: 0,
                optimizer_step: 0,
                seed: args.seed,
                data_hash,
                preset,
                peak_lr,
                config: config.clone(),
                args: args.clone(),
                ema: None,
                first_loss: None,
                losses: Vec::new(),
                evals: Vec::new(),
            }
        }
    };
    state.args = args.clone();
    let hardware = hardware(&device);
    eprintln!(
        "train: preset {} — hidden {}, {} layers, {} heads ({} kv), intermediate {}, vocab {}: {} parameters; \
         batch {}, {:?} batching, peak lr {peak_lr}, {}; {hardware}",
        preset.name(),
        config.hidden_size,
        config.num_hidden_layers,
        config.num_attention_heads,
        config.num_key_value_heads,
        config.intermediate_size,
        config.vocab_size,
        config.parameter_count(),
        args.batch,
        args.batching,
        [args.minutes.map(|m| format!("{m} min")), args.max_steps.map(|s| format!("max {s} steps"))]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", "),
    );

    let pad = tokenizer.end_of_turn();
    let eval_subset: Vec<usize> = {
        let stride = eval_set.len().div_ceil(EVAL_SUBSET).max(1);
        (0..eval_set.len()).step_by(stride).collect()
    };
    let budget = args.minutes.map(|m| m * 60.0);
    let max_steps = args.max_steps;
    let progress = |step: usize, elapsed: f64| -> f64 {
        let by_steps = max_steps.map_or(0.0, |m| step as f64 / m.max(1) as f64);
        let by_time = budget.map_or(0.0, |b| elapsed / b.max(1e-9));
        by_steps.max(by_time)
    };

    let loop_start = Instant::now();
    let elapsed0 = state.elapsed_s;
    let elapsed = || elapsed0 + loop_start.elapsed().as_secs_f64();
    let mut batches = batch::epoch_batches(
        &train_set,
        args.batch,
        args.batching,
        args.seed,
        state.epoch,
    );
    let mut last_checkpoint = Instant::now();
    let (mut window_loss, mut window_steps) = (0.0f64, 0usize);
    let (mut window_tokens, mut window_time) = (0u64, 0.0f64);
    let (mut probe_tokens, mut probe_time, mut probe_steps) = (0u64, 0.0f64, 0usize);
    let mut next_eval = ((progress(state.step, elapsed0) * EVALS as f64).floor() as usize + 1)
        as f64
        / EVALS as f64;
    let mut last_eval: Option<f64> = state.evals.last().map(|e| e.loss);
    let first_step = state.step;
    // Per-phase step times on stderr, for profiling.
    let timing = std::env::var_os("QUARRY_TRAIN_TIMING").is_some();

    loop {
        let p = progress(state.step, elapsed());
        if p >= 1.0 {
            break;
        }
        if state.batch_in_epoch >= batches.len() {
            state.epoch += 1;
            state.batch_in_epoch = 0;
            batches = batch::epoch_batches(
                &train_set,
                args.batch,
                args.batching,
                args.seed,
                state.epoch,
            );
        }
        // In step mode the rate of step s is set by s + 1 (no zero-rate step).
        let lr = learning_rate(
            p.max(progress(state.step + 1, 0.0)),
            peak_lr,
            WARMUP,
            LR_FLOOR,
        );
        let t0 = Instant::now();
        let b = batch::make_batch(&train_set, &batches[state.batch_in_epoch], pad, &device)
            .map_err(ctx!("batch"))?;
        let t_fwd = Instant::now();
        let loss = batch_loss(&model, &b)?;
        let t_bwd = Instant::now();
        let grads = loss.backward().map_err(ctx!("backward"))?;
        let t_opt = Instant::now();
        let norm = opt.grad_norm(&grads).map_err(ctx!("gradient norm"))?;
        let loss_value = f64::from(loss.to_scalar::<f32>().map_err(ctx!("loss"))?);
        if !loss_value.is_finite() || !norm.is_finite() {
            return Err(format!(
                "step {}: loss {loss_value}, gradient norm {norm}: diverged (try a lower --lr)",
                state.step
            ));
        }
        let scale = if norm > CLIP_NORM {
            CLIP_NORM / norm
        } else {
            1.0
        };
        opt.step(&grads, lr, scale)
            .map_err(ctx!("optimizer step"))?;
        drop(grads);
        let dt = t0.elapsed().as_secs_f64();
        if timing {
            eprintln!(
                "timing: batch {:.3} s, forward {:.3} s, backward {:.3} s, optimizer {:.3} s ({} x {})",
                (t_fwd - t0).as_secs_f64(),
                (t_bwd - t_fwd).as_secs_f64(),
                (t_opt - t_bwd).as_secs_f64(),
                t_opt.elapsed().as_secs_f64(),
                b.inputs.dim(0).unwrap_or(0),
                b.inputs.dim(1).unwrap_or(0),
            );
        }

        state.step += 1;
        state.batch_in_epoch += 1;
        state.optimizer_step = opt.step_t;
        state.tokens += b.tokens as u64;
        state.answer_tokens += b.answer_tokens as u64;
        state.step_time_s += dt;
        state.first_loss.get_or_insert(loss_value);
        state.ema = Some(match state.ema {
            None => loss_value,
            Some(e) => 0.95 * e + 0.05 * loss_value,
        });
        window_loss += loss_value;
        window_steps += 1;
        window_tokens += b.tokens as u64;
        window_time += dt;

        // The probe: the first steps' speed, and the run it implies.
        if state.step - first_step > 1 && probe_steps < PROBE_STEPS {
            probe_tokens += b.tokens as u64;
            probe_time += dt;
            probe_steps += 1;
            if probe_steps == PROBE_STEPS {
                let rate = probe_tokens as f64 / probe_time;
                let per_step = probe_time / probe_steps as f64;
                let planned = match (budget, max_steps) {
                    (Some(b), Some(m)) => {
                        ((b - elapsed0) / per_step).min((m - first_step) as f64) as usize
                            + first_step
                    }
                    (Some(b), None) => ((b - elapsed0) / per_step) as usize + first_step,
                    (None, Some(m)) => m,
                    (None, None) => 0,
                };
                eprintln!(
                    "train: probe: {rate:.0} tokens/s, {per_step:.3} s/step over {PROBE_STEPS} steps -> about {planned} steps \
                     ({:.2} epochs)",
                    planned as f64 * state.tokens as f64 / state.step.max(1) as f64 / epoch_tokens.max(1) as f64
                );
            }
        }

        let now = elapsed();
        let p = progress(state.step, now);
        let finished = p >= 1.0;
        if p >= next_eval && !finished && !eval_subset.is_empty() {
            let (loss, _) = eval_loss(&model, &eval_set, &eval_subset, args.batch, pad, &device)?;
            state.evals.push(EvalPoint {
                step: state.step,
                loss,
                examples: eval_subset.len(),
            });
            last_eval = Some(loss);
            next_eval = ((p * EVALS as f64).floor() + 1.0) / EVALS as f64;
        }
        if state.step.is_multiple_of(LOG_EVERY) || finished {
            let ema = state.ema.unwrap_or(f64::NAN);
            state.losses.push(LossPoint {
                step: state.step,
                loss: window_loss / window_steps.max(1) as f64,
                ema,
                lr,
                elapsed_s: now,
            });
            let total = if p > 0.0 {
                (state.step as f64 / p).round() as usize
            } else {
                0
            };
            let eta = if p > 0.0 {
                (now - elapsed0) * (1.0 - p) / (p - progress(first_step, elapsed0)).max(1e-9)
            } else {
                0.0
            };
            eprintln!(
                "step {}/{total} epoch {:.2} loss {ema:.4} eval {} lr {lr:.2e} tok/s {:.0} elapsed {} eta {}",
                state.step,
                state.tokens as f64 / epoch_tokens.max(1) as f64,
                last_eval.map_or("-".to_string(), |l| format!("{l:.4}")),
                window_tokens as f64 / window_time.max(1e-9),
                fmt_duration(now),
                fmt_duration(eta),
            );
            window_loss = 0.0;
            window_steps = 0;
            window_tokens = 0;
            window_time = 0.0;
        }
        if last_checkpoint.elapsed().as_secs_f64() >= args.checkpoint_minutes * 60.0 && !finished {
            state.elapsed_s = elapsed();
            save_checkpoint(&varmap, &opt, &state, &args.out)?;
            last_checkpoint = Instant::now();
        }
    }
    state.elapsed_s = elapsed();
    save_checkpoint(&varmap, &opt, &state, &args.out)?;

    // Final evaluation on the whole held-out set.
    let (final_eval, per_task) = if eval_set.is_empty() {
        (None, vec![None; TASKS.len()])
    } else {
        let all: Vec<usize> = (0..eval_set.len()).collect();
        let (loss, per_task) = eval_loss(&model, &eval_set, &all, args.batch, pad, &device)?;
        state.evals.push(EvalPoint {
            step: state.step,
            loss,
            examples: all.len(),
        });
        write_json(&state_path, &state)?;
        (Some(loss), per_task)
    };
    let per_task: serde_json::Map<String, serde_json::Value> = TASKS
        .iter()
        .zip(&per_task)
        .map(|(t, l)| (t.to_string(), json!(l)))
        .collect();
    eprintln!(
        "train: final held-out loss {} ({})",
        final_eval.map_or("-".into(), |l| format!("{l:.4}")),
        per_task
            .iter()
            .map(|(t, l)| format!(
                "{t} {}",
                l.as_f64().map_or("-".into(), |l| format!("{l:.4}"))
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );

    // Exports.
    let tensors = named_tensors(&varmap)?;
    let files = export(&args.out, &config, &tensors, &tokenizer)?;
    let training_json = json!({
        "preset": preset.name(),
        "parameters": config.parameter_count(),
        "config": config,
        "steps": state.step,
        "epochs": state.tokens as f64 / epoch_tokens.max(1) as f64,
        "tokens_trained": state.tokens,
        "answer_tokens_trained": state.answer_tokens,
        "tokens_per_s": state.tokens as f64 / state.step_time_s.max(1e-9),
        "train_loop_s": state.elapsed_s,
        "wall_s": wall.elapsed().as_secs_f64(),
        "hardware": hardware,
        "device": args.device,
        "first_loss": state.first_loss,
        // The mean of the last logged window (the EMA lags).
        "final_train_loss": state.losses.last().map(|l| l.loss),
        "final_train_loss_ema": state.ema,
        "final_eval_loss": final_eval,
        "final_eval_loss_by_task": per_task,
        "eval_examples": eval_set.len(),
        "train_examples": train_set.len(),
        "avg_tokens_per_example": avg_tokens,
        "avg_answer_tokens_per_example": avg_answer,
        "vocab_size": tokenizer.vocab_size(),
        "batching": args.batching,
        "batch": args.batch,
        "peak_lr": peak_lr,
        "seed": args.seed,
        "resumed": args.resume,
        "files": files,
        "loss_curve": state.losses.iter().map(|l| json!([l.step, l.ema])).collect::<Vec<_>>(),
        "eval_curve": state.evals.iter().map(|e| json!([e.step, e.loss])).collect::<Vec<_>>(),
    });
    write_json(&args.out.join("training.json"), &training_json)?;
    Ok(Summary {
        state,
        tensors,
        final_eval_loss: final_eval,
        training_json,
    })
}

fn save_checkpoint(varmap: &VarMap, opt: &AdamW, state: &TrainState, out: &Path) -> R<()> {
    let path = out.join("checkpoint.safetensors");
    let tmp = out.join("checkpoint.safetensors.tmp");
    varmap.save(&tmp).map_err(ctx!(tmp.display()))?;
    std::fs::rename(&tmp, &path).map_err(ctx!(path.display()))?;
    let path = out.join("optimizer.safetensors");
    let tmp = out.join("optimizer.safetensors.tmp");
    candle_core::safetensors::save(&opt.state(), &tmp).map_err(ctx!(tmp.display()))?;
    std::fs::rename(&tmp, &path).map_err(ctx!(path.display()))?;
    write_json(&out.join("train_state.json"), state)
}

/// `config.json`, `model.safetensors` and both GGUF files; returns their
/// sizes by name.
pub fn export(
    out: &Path,
    config: &Config,
    tensors: &[(String, Tensor)],
    tokenizer: &Tokenizer,
) -> R<serde_json::Value> {
    let mut hf = serde_json::to_value(config).map_err(ctx!("config"))?;
    if let Some(map) = hf.as_object_mut() {
        map.insert("architectures".into(), json!(["Qwen2ForCausalLM"]));
        map.insert("model_type".into(), json!("qwen2"));
        map.insert("hidden_act".into(), json!("silu"));
        map.insert("torch_dtype".into(), json!("float32"));
        map.insert("use_sliding_window".into(), json!(false));
        map.insert("attention_dropout".into(), json!(0.0));
        map.insert("initializer_range".into(), json!(0.02));
        map.insert("eos_token_id".into(), json!(tokenizer.end_of_turn()));
        if let Some(bos) = tokenizer.token_id("<|endoftext|>") {
            map.insert("bos_token_id".into(), json!(bos));
        }
    }
    write_json(&out.join("config.json"), &hf)?;
    let map: HashMap<String, Tensor> = tensors.iter().cloned().collect();
    let st = out.join("model.safetensors");
    candle_core::safetensors::save(&map, &st).map_err(ctx!(st.display()))?;
    for (name, quant) in [
        ("quarry-q8_0.gguf", Quantization::Q8_0),
        ("quarry-q4_0.gguf", Quantization::Q4_0),
        ("quarry-f32.gguf", Quantization::F32),
    ] {
        let path = out.join(name);
        let mut file =
            std::io::BufWriter::new(std::fs::File::create(&path).map_err(ctx!(path.display()))?);
        gguf::write(&mut file, config, tensors, tokenizer, Style::Compact, quant)
            .map_err(ctx!(path.display()))?;
        std::io::Write::flush(&mut file).map_err(ctx!(path.display()))?;
    }
    let size = |name: &str| {
        std::fs::metadata(out.join(name))
            .map(|m| m.len())
            .unwrap_or(0)
    };
    let names = [
        "tokenizer.json",
        "config.json",
        "model.safetensors",
        "quarry-q8_0.gguf",
        "quarry-q4_0.gguf",
        "quarry-f32.gguf",
        "checkpoint.safetensors",
    ];
    Ok(names
        .iter()
        .map(|n| (n.to_string(), json!(size(n))))
        .collect::<serde_json::Map<_, _>>()
        .into())
}
