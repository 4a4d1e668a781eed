//! `quarry parity`: the same model's logits on the CPU and on another
//! device (a CUDA or Metal build), over the planner and tagger prompts of a
//! labelled set's queries, every position.
//!
//! Two comparisons:
//! - **f32**: every matrix dequantized to f32 on both devices, so the
//!   arithmetic is the same up to summation order; held to the tolerance of
//!   the transformers parity test (`tests/parity.rs`), and the command fails
//!   past it;
//! - **as shipped**: the file's own quantized matrices, run by each device's
//!   quantized kernels, which round differently (the CPU quantizes
//!   activations to 8 bits, a GPU may not); reported as the largest
//!   difference and the share of positions whose top token agrees.

use std::path::PathBuf;
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use quarry::engine::Engine;
use quarry::model::{KvCache, Qwen2};
use quarry::prompt::{self, Style};
use quarry::tokenizer::Tokenizer;

use crate::load::{default_model, device};

/// Largest absolute logit difference allowed between the f32 runs: the
/// transformers parity test's tolerance.
pub const TOLERANCE: f32 = 1e-4;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A `.gguf` model (default: the committed default model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// The device compared with the CPU: `cuda:N` or `metal` (`cpu`
    /// compares the CPU with itself, which checks this command).
    #[arg(long, default_value = "cuda:0")]
    pub device: String,
    /// Labelled JSONL whose queries give the prompts.
    #[arg(long, default_value = "tests/data/dev.jsonl")]
    pub data: PathBuf,
    /// Queries to use (each gives a planner and a tagger prompt).
    #[arg(long, default_value_t = 32)]
    pub limit: usize,
}

/// How far apart two devices' logits are.
#[derive(Debug, Default)]
struct Gap {
    max_abs: f32,
    positions: usize,
    same_top: usize,
}

impl Gap {
    fn add(&mut self, a: &[Vec<f32>], b: &[Vec<f32>]) {
        for (ra, rb) in a.iter().zip(b) {
            let diff = ra
                .iter()
                .zip(rb)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max);
            self.max_abs = self.max_abs.max(diff);
            self.positions += 1;
            self.same_top += usize::from(argmax(ra) == argmax(rb));
        }
    }

    fn same_top_share(&self) -> f64 {
        self.same_top as f64 / self.positions.max(1) as f64
    }
}

fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 {
                (i, v)
            } else {
                best
            }
        })
        .0
}

/// Every position's logits, on the CPU, as `[seq][vocab]`.
fn logits(model: &Qwen2, ids: &[u32]) -> Result<Vec<Vec<f32>>, String> {
    let err = |e: candle_core::Error| e.to_string();
    let tokens = Tensor::new(ids, model.device())
        .and_then(|t| t.unsqueeze(0))
        .map_err(err)?;
    let out = model
        .forward(&tokens, &mut KvCache::new())
        .map_err(|e| e.to_string())?;
    out.squeeze(0)
        .and_then(|t| t.to_dtype(DType::F32))
        .and_then(|t| t.to_device(&Device::Cpu))
        .and_then(|t| t.to_vec2::<f32>())
        .map_err(err)
}

fn prompts(
    data: &PathBuf,
    limit: usize,
    tokenizer: &Tokenizer,
    style: Style,
) -> Result<Vec<Vec<u32>>, String> {
    let text = std::fs::read_to_string(data).map_err(|e| format!("{}: {e}", data.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        if out.len() >= 2 * limit {
            break;
        }
        let row: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("{}:{}: {e}", data.display(), n + 1))?;
        let query = row["input"]["query"]
            .as_str()
            .ok_or_else(|| format!("{}:{}: no input.query", data.display(), n + 1))?;
        let hints = quarry::lexicon::annotate(query);
        for prompt in [
            prompt::planner_with_hints(query, &hints, style),
            prompt::tagger_with_hints(query, &hints, style),
        ] {
            let (ids, _) = tokenizer
                .encode_prompt(&prompt)
                .map_err(|e| e.to_string())?;
            out.push(ids);
        }
    }
    if out.is_empty() {
        return Err(format!("{}: no queries", data.display()));
    }
    Ok(out)
}

pub fn run(args: Args) -> Result<(), String> {
    let path = args.model.clone().unwrap_or_else(default_model);
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let other = device(&args.device)?;
    let engine = Engine::from_gguf(&bytes, None, None, &Device::Cpu)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let prompts = prompts(&args.data, args.limit, engine.tokenizer(), engine.style())?;
    let tokens: usize = prompts.iter().map(Vec::len).sum();
    let load = |dequantized: bool, device: &Device| {
        if dequantized {
            Qwen2::from_gguf_dequantized(&bytes, device)
        } else {
            Qwen2::from_gguf(&bytes, device)
        }
        .map_err(|e| format!("{} on {device:?}: {e}", path.display()))
    };
    println!(
        "parity: {} on cpu and {}: {} prompts, {tokens} positions",
        path.display(),
        args.device,
        prompts.len()
    );
    let mut f32_gap = Gap::default();
    for (label, dequantized) in [("f32", true), ("as shipped", false)] {
        let (cpu, dev) = (load(dequantized, &Device::Cpu)?, load(dequantized, &other)?);
        let mut gap = Gap::default();
        let (mut cpu_s, mut dev_s) = (0.0, 0.0);
        for ids in &prompts {
            let start = Instant::now();
            let a = logits(&cpu, ids)?;
            cpu_s += start.elapsed().as_secs_f64();
            let start = Instant::now();
            let b = logits(&dev, ids)?;
            dev_s += start.elapsed().as_secs_f64();
            gap.add(&a, &b);
        }
        println!(
            "parity: {label:>10}: max abs logit diff {:.3e}, same top token at {}/{} positions ({:.2}%); \
             prefill {:.1} ms/prompt on cpu, {:.1} ms/prompt on {}",
            gap.max_abs,
            gap.same_top,
            gap.positions,
            100.0 * gap.same_top_share(),
            1000.0 * cpu_s / prompts.len() as f64,
            1000.0 * dev_s / prompts.len() as f64,
            args.device,
        );
        if dequantized {
            f32_gap = gap;
        }
    }
    if f32_gap.max_abs > TOLERANCE {
        return Err(format!(
            "parity: f32 logits differ by {:.3e} > {TOLERANCE:e} between cpu and {}",
            f32_gap.max_abs, args.device
        ));
    }
    println!("parity: ok (f32 within {TOLERANCE:e})");
    Ok(())
}
