//! Finding and loading a model: a GGUF file, a Hugging Face directory
//! (`config.json`, `model*.safetensors`, `tokenizer.json`), or the default model.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Device;
use quarry::engine::Engine;
use quarry::model::{Config, Qwen2};
use quarry::prompt::Style;
use quarry::tokenizer::Tokenizer;

/// The committed default model: the small edge model, which the browser,
/// the Worker and the Spin component also run.
pub fn default_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/quarry-q8_0.gguf")
}

/// The committed origin model: larger and more accurate, for the datacenter
/// server that the edge escalates to.
pub fn origin_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/quarry-origin-q8_0.gguf")
}

/// What `quarry serve` loads without `--model`: the origin model when the
/// checkout has it, else the default model.
pub fn serving_model() -> PathBuf {
    Some(origin_model())
        .filter(|p| p.exists())
        .unwrap_or_else(default_model)
}

/// What to load, as the CLI and server take it.
#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// A `.gguf` file or a Hugging Face model directory (default: the
    /// committed Quarry model; for `serve`, the origin model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// A `tokenizer.json` to use instead of the model's own.
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// Prompt style: `compact` (Quarry's models) or `instruct` (Qwen2.5
    /// instruct checkpoints). Default: what the model declares.
    #[arg(long, value_parser = parse_style)]
    pub style: Option<Style>,
    /// `cpu`, `cuda:N` (built with `--features cuda`) or `metal`.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

fn parse_style(name: &str) -> Result<Style, String> {
    match name {
        "compact" => Ok(Style::Compact),
        "instruct" => Ok(Style::Instruct),
        other => Err(format!("unknown style `{other}` (compact or instruct)")),
    }
}

pub fn device(name: &str) -> Result<Device, String> {
    let err = |e: candle_core::Error| format!("device `{name}`: {e}");
    match name {
        "cpu" => Ok(Device::Cpu),
        "metal" => Device::new_metal(0).map_err(err),
        cuda if cuda.starts_with("cuda") => {
            let ordinal = cuda.strip_prefix("cuda:").unwrap_or("0");
            let ordinal = ordinal
                .parse()
                .map_err(|_| format!("bad device `{name}`"))?;
            Device::new_cuda(ordinal).map_err(err)
        }
        other => Err(format!("unknown device `{other}` (cpu, cuda:N, metal)")),
    }
}

/// A Hugging Face directory's weight files, in order: `model.safetensors`
/// or its shards `model-00001-of-00002.safetensors`. Other safetensors in
/// the directory are not this model's weights (a training checkpoint may
/// sit beside it, with the same tensor names).
pub fn weight_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut shards: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name == "model.safetensors"
                || (name.starts_with("model-") && name.ends_with(".safetensors"))
        })
        .collect();
    shards.sort();
    if shards.is_empty() {
        return Err(format!(
            "{}: no model.safetensors (or model-*.safetensors shards)",
            dir.display()
        ));
    }
    Ok(shards)
}

/// Loads the model and reports how long it took.
pub fn load(args: &ModelArgs) -> Result<(Engine, std::time::Duration), String> {
    let start = Instant::now();
    let device = device(&args.device)?;
    let path = args.model.clone().unwrap_or_else(default_model);
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let tokenizer_json = args.tokenizer.as_deref().map(read).transpose()?;
    let engine = if path.is_dir() {
        let config =
            Config::from_json(&read(&path.join("config.json"))?).map_err(|e| e.to_string())?;
        let shards = weight_files(&path)?;
        let model = Qwen2::from_safetensors(config, &shards, &device).map_err(|e| e.to_string())?;
        let tokenizer = match tokenizer_json {
            Some(json) => json,
            None => read(&path.join("tokenizer.json"))?,
        };
        let tokenizer = Tokenizer::from_json(&tokenizer).map_err(|e| e.to_string())?;
        // Quarry's own directories carry their training record.
        let own = path.join("training.json").exists();
        let style = args
            .style
            .unwrap_or(if own { Style::Compact } else { Style::Instruct });
        Engine::new(model, tokenizer, style).map_err(|e| e.to_string())?
    } else {
        let bytes = read(&path).map_err(|e| {
            if args.model.is_none() {
                format!("{e} (the default model; pass --model PATH)")
            } else {
                e
            }
        })?;
        Engine::from_gguf(&bytes, tokenizer_json.as_deref(), args.style, &device)
            .map_err(|e| format!("{}: {e}", path.display()))?
    };
    let mut engine = engine;
    engine.warm_up().map_err(|e| e.to_string())?;
    Ok((engine, start.elapsed()))
}
