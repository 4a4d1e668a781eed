//! `quarry bench`: speed figures on a query file (a benchmark, not a test).
//!
//! Candle runs each matrix product on the calling thread when it is given
//! one thread, so the bench pins that (`RAYON_NUM_THREADS=1`) and measures
//! single-stream latency with one worker, then throughput with one worker
//! per core. The raw section times prefill and greedy decoding without a
//! grammar on the same prompts, which is what llama.cpp is compared on.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use candle_core::Tensor;
use quarry::engine::Engine;
use quarry::model::KvCache;
use quarry::{GenerationStats, Input, Router, Taxonomy};
use serde_json::Value;

use crate::load::{load, ModelArgs};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// JSONL of inputs (`{"query", "profile"}`) or labelled examples
    /// (`{"input": …}`, as in tests/data/dev.jsonl).
    #[arg(long)]
    pub data: PathBuf,
    /// Use at most this many queries.
    #[arg(long, default_value_t = 200)]
    pub limit: usize,
    /// Tokens to generate per prompt in the raw (unconstrained) section.
    #[arg(long, default_value_t = 24)]
    pub new_tokens: usize,
    /// Also run llama.cpp on the same GGUF and prompts
    /// (`bash scripts/bench/setup_llama_cpp.sh` installs it).
    #[arg(long)]
    pub llama_cpp: bool,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Inputs from a JSONL file of inputs or of labelled examples
/// (`{"input": …}`), at most `limit`.
pub fn read_inputs(path: &std::path::Path, limit: usize) -> Result<Vec<Input>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .take(limit)
        .enumerate()
        .map(|(i, line)| {
            let value: Value =
                serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1))?;
            let input = value.get("input").cloned().unwrap_or(value);
            serde_json::from_value(input).map_err(|e| format!("line {}: {e}", i + 1))
        })
        .collect()
}

pub fn percentile(sorted_ms: &[f64], q: f64) -> f64 {
    if sorted_ms.is_empty() {
        return f64::NAN;
    }
    sorted_ms[((sorted_ms.len() - 1) as f64 * q).round() as usize]
}

/// Runs every input once; returns per-query latencies and summed counts.
fn run_all(
    engine: &mut Engine,
    inputs: &[Input],
) -> Result<(Vec<f64>, GenerationStats, Duration), String> {
    let router = Router::new(Taxonomy::embedded(), engine.style());
    let mut latencies = Vec::with_capacity(inputs.len());
    let mut stats = GenerationStats::default();
    let start = Instant::now();
    for input in inputs {
        let t = Instant::now();
        let routed = router
            .understand(engine, input, 1_790_000_000, &mut |_| {
                ControlFlow::Continue(())
            })
            .map_err(|e| format!("{:?}: {e}", input.query))?;
        latencies.push(t.elapsed().as_secs_f64() * 1e3);
        stats.add(&routed.stats);
    }
    Ok((latencies, stats, start.elapsed()))
}

pub fn run(args: Args) -> Result<(), String> {
    let inputs = read_inputs(&args.data, args.limit)?;
    if inputs.is_empty() {
        return Err("no queries".into());
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let (mut engine, load_time) = load(&args.model)?;
    println!(
        "machine: {cores} cores; candle threads per worker: {}",
        candle_core::utils::get_num_threads()
    );
    let config = engine.model().config();
    println!(
        "model: {} parameters (hidden {}, {} layers, vocab {})",
        config.parameter_count(),
        config.hidden_size,
        config.num_hidden_layers,
        config.vocab_size
    );
    println!(
        "model load (read + parse + prefix caches): {:.1} ms",
        load_time.as_secs_f64() * 1e3
    );

    // Warm-up pass, then single-stream.
    run_all(&mut engine, &inputs[..inputs.len().min(5)])?;
    let (mut latencies, stats, wall) = run_all(&mut engine, &inputs)?;
    latencies.sort_by(f64::total_cmp);
    println!("\nfull pipeline, 1 worker ({} queries):", inputs.len());
    println!(
        "  latency p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms; {:.1} queries/s",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.95),
        percentile(&latencies, 0.99),
        inputs.len() as f64 / wall.as_secs_f64()
    );
    let secs = wall.as_secs_f64();
    println!(
        "  prompt tokens {} ({:.0}/s incl. cached prefixes), generated {} ({:.0}/s), forced {:.1}% of generated",
        stats.prompt_tokens,
        stats.prompt_tokens as f64 / secs,
        stats.generated_tokens,
        stats.generated_tokens as f64 / secs,
        100.0 * stats.forced_tokens as f64 / stats.generated_tokens.max(1) as f64
    );

    // Throughput: one worker per core, each with its own engine, loaded and
    // warmed before the clock starts.
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(cores + 1));
    let workers: Vec<_> = (0..cores)
        .map(|w| {
            let (args, barrier) = (args.model.clone(), barrier.clone());
            let share: Vec<Input> = inputs.iter().skip(w).step_by(cores).cloned().collect();
            std::thread::spawn(move || -> Result<usize, String> {
                let loaded = load(&args).and_then(|(mut engine, _)| {
                    run_all(&mut engine, &share[..share.len().min(3)])?;
                    Ok(engine)
                });
                barrier.wait();
                let mut engine = loaded?;
                run_all(&mut engine, &share)?;
                Ok(share.len())
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let mut done = 0;
    for worker in workers {
        done += worker
            .join()
            .map_err(|_| "a worker panicked".to_string())??;
    }
    println!(
        "full pipeline, {cores} workers: {:.1} queries/s",
        done as f64 / start.elapsed().as_secs_f64()
    );

    raw(&mut engine, &inputs, &args)
}

/// Prefill + greedy decoding without a grammar: the model's own speed.
fn raw(engine: &mut Engine, inputs: &[Input], args: &Args) -> Result<(), String> {
    let prompts: Vec<quarry::prompt::Prompt> = inputs
        .iter()
        .map(|i| quarry::prompt::tagger(&i.query, engine.style()))
        .collect();
    let device = engine.model().device().clone();
    let err = |e: candle_core::Error| e.to_string();
    let (mut prefill_tokens, mut prefill_time, mut decode_time) = (0usize, 0f64, 0f64);
    let mut per_query = Vec::new();
    for prompt in &prompts {
        let (tokens, _) = engine
            .tokenizer()
            .encode_prompt(prompt)
            .map_err(|e| e.to_string())?;
        let mut cache = KvCache::new();
        let t = Instant::now();
        let input = Tensor::new(tokens.as_slice(), &device)
            .and_then(|t| t.unsqueeze(0))
            .map_err(err)?;
        let mut logits = engine
            .model()
            .forward_last(&input, &mut cache)
            .map_err(|e| e.to_string())?;
        let prefill = t.elapsed().as_secs_f64();
        let t = Instant::now();
        for _ in 0..args.new_tokens {
            let next = logits
                .argmax(candle_core::D::Minus1)
                .and_then(|t| t.to_vec1::<u32>())
                .map_err(err)?;
            let input = Tensor::new(next.as_slice(), &device)
                .and_then(|t| t.unsqueeze(0))
                .map_err(err)?;
            logits = engine
                .model()
                .forward_last(&input, &mut cache)
                .map_err(|e| e.to_string())?;
        }
        let decode = t.elapsed().as_secs_f64();
        prefill_tokens += tokens.len();
        prefill_time += prefill;
        decode_time += decode;
        per_query.push((prefill + decode) * 1e3);
    }
    per_query.sort_by(f64::total_cmp);
    let generated = args.new_tokens * prompts.len();
    println!(
        "\nraw model, 1 thread, {} prompts, {} new tokens each (no grammar):",
        prompts.len(),
        args.new_tokens
    );
    println!(
        "  quarry (candle): prefill {:.0} tokens/s, decode {:.0} tokens/s, per query p50 {:.1} ms, p95 {:.1} ms",
        prefill_tokens as f64 / prefill_time,
        generated as f64 / decode_time,
        percentile(&per_query, 0.5),
        percentile(&per_query, 0.95)
    );
    if args.llama_cpp {
        // llama.cpp reads the prompts' text (the benchmark's own queries).
        let texts: Vec<String> = prompts.iter().map(|p| p.text()).collect();
        llama_cpp(
            args,
            &texts,
            prefill_tokens as f64 / prefill_time,
            generated as f64 / decode_time,
        )?;
    }
    Ok(())
}

fn llama_cpp(
    args: &Args,
    prompts: &[String],
    our_prefill: f64,
    our_decode: f64,
) -> Result<(), String> {
    let model = args
        .model
        .model
        .clone()
        .unwrap_or_else(crate::load::default_model);
    if model.is_dir() {
        return Err("--llama-cpp needs a .gguf model".into());
    }
    let cache = std::env::var("QUARRY_TOOL_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/quarry")
        });
    let python = cache.join("venv-llama-cpp/bin/python");
    if !python.exists() {
        return Err("llama.cpp is not installed: bash scripts/bench/setup_llama_cpp.sh".into());
    }
    let prompts_file =
        std::env::temp_dir().join(format!("quarry-bench-prompts-{}.jsonl", std::process::id()));
    let lines: Vec<String> = prompts
        .iter()
        .map(|p| serde_json::json!({ "prompt": p }).to_string())
        .collect();
    std::fs::write(&prompts_file, lines.join("\n") + "\n").map_err(|e| e.to_string())?;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scripts/bench/llama_cpp_bench.py");
    let output = std::process::Command::new(python)
        .arg(script)
        .arg("--model")
        .arg(&model)
        .arg("--prompts")
        .arg(&prompts_file)
        .arg("--new-tokens")
        .arg(args.new_tokens.to_string())
        .arg("--threads")
        .arg("1")
        .output()
        .map_err(|e| format!("llama.cpp bench: {e}"))?;
    let _ = std::fs::remove_file(&prompts_file);
    if !output.status.success() {
        return Err(format!(
            "llama.cpp bench failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let result: Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("llama.cpp bench output: {e}"))?;
    let theirs = |key: &str| result[key].as_f64().unwrap_or(f64::NAN);
    println!(
        "  llama.cpp {}: prefill {:.0} tokens/s, decode {:.0} tokens/s, per query p50 {:.1} ms, p95 {:.1} ms",
        result["version"].as_str().unwrap_or("?"),
        theirs("prompt_tokens_per_s"),
        theirs("generated_tokens_per_s"),
        theirs("per_query_ms_p50"),
        theirs("per_query_ms_p95")
    );
    println!(
        "  quarry / llama.cpp speed: prefill {:.2}x, decode {:.2}x",
        our_prefill / theirs("prompt_tokens_per_s"),
        our_decode / theirs("generated_tokens_per_s")
    );
    Ok(())
}
