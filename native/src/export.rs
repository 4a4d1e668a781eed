//! `quarry export`: a Hugging Face checkpoint to a GGUF file.

use std::path::PathBuf;

use candle_core::Device;
use quarry::gguf::{self, Quantization};
use quarry::model::Config;
use quarry::prompt::Style;
use quarry::tokenizer::Tokenizer;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A directory with `config.json`, `model*.safetensors` and `tokenizer.json`.
    #[arg(long)]
    pub model: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
    /// f32, f16, q8_0, q4_0 or q4_k.
    #[arg(long, default_value = "q8_0")]
    pub quant: String,
    /// Declare the compact prompt style (Quarry's own models).
    #[arg(long)]
    pub compact: bool,
}

pub fn run(args: Args) -> Result<(), String> {
    let read = |name: &str| {
        let path = args.model.join(name);
        std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))
    };
    let quantization = Quantization::parse(&args.quant)
        .ok_or_else(|| format!("unknown quantization `{}`", args.quant))?;
    let config = Config::from_json(&read("config.json")?).map_err(|e| e.to_string())?;
    let tokenizer = Tokenizer::from_json(&read("tokenizer.json")?).map_err(|e| e.to_string())?;
    let mut tensors = Vec::new();
    for shard in crate::load::weight_files(&args.model)? {
        let loaded = candle_core::safetensors::load(&shard, &Device::Cpu)
            .map_err(|e| format!("{}: {e}", shard.display()))?;
        let mut loaded: Vec<_> = loaded.into_iter().collect();
        loaded.sort_by(|a, b| a.0.cmp(&b.0));
        tensors.extend(loaded);
    }
    let style = if args.compact {
        Style::Compact
    } else {
        Style::Instruct
    };
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?,
    );
    gguf::write(
        &mut file,
        &config,
        &tensors,
        &tokenizer,
        style,
        quantization,
    )
    .map_err(|e| e.to_string())?;
    drop(file);
    let bytes = std::fs::metadata(&args.out).map(|m| m.len()).unwrap_or(0);
    println!(
        "{}: {bytes} bytes ({} tensors, {})",
        args.out.display(),
        tensors.len(),
        args.quant
    );
    Ok(())
}
