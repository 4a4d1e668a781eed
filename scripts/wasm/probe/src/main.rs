//! Prints the tagger prompt's last-position logits for each query argument,
//! one JSON array per line: the native half of scripts/wasm/probe.sh.
//!   quarry-probe MODEL.gguf [--f32 CONFIG.json] QUERY...
//! With `--f32`, the weights are dequantized to F32 first.
use candle_core::{Device, Tensor};
use quarry::engine::Engine;
use quarry::model::KvCache;

mod f32_model;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        return Err("usage: quarry-probe MODEL.gguf [--f32 CONFIG.json] QUERY...".into());
    }
    let gguf = std::fs::read(args.remove(0))?;
    let engine = Engine::from_gguf(&gguf, None, None, &Device::Cpu)?;
    let f32_model = if args.first().map(String::as_str) == Some("--f32") {
        let config = std::fs::read(args.get(1).ok_or("--f32 needs a config.json")?)?;
        args.drain(..2);
        Some(f32_model::f32_model(&gguf, &config)?)
    } else {
        None
    };
    let model = f32_model.as_ref().unwrap_or(engine.model());
    for query in args {
        let prompt = quarry::prompt::tagger(&query, engine.style());
        let (ids, _) = engine.tokenizer().encode_prompt(&prompt)?;
        let tokens = Tensor::new(ids.as_slice(), &Device::Cpu)?.unsqueeze(0)?;
        let logits = model
            .forward_last(&tokens, &mut KvCache::new())?
            .flatten_all()?
            .to_vec1::<f32>()?;
        println!("{}", serde_json::to_string(&logits)?);
    }
    Ok(())
}
