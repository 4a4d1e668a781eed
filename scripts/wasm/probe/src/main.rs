//! Prints the tagger prompt's last-position logits for each query argument,
//! one JSON array per line: the native half of scripts/wasm/probe.sh.
//!   quarry-probe MODEL.gguf QUERY...
//! (`CANDLE_DEQUANTIZE_ALL=1` makes candle load the matrices as F32.)
use candle_core::{Device, Tensor};
use quarry::engine::Engine;
use quarry::model::KvCache;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let model = args
        .next()
        .ok_or("usage: quarry-probe MODEL.gguf QUERY...")?;
    let engine = Engine::from_gguf(&std::fs::read(model)?, None, None, &Device::Cpu)?;
    for query in args {
        let prompt = quarry::prompt::tagger(&query, engine.style());
        let (ids, _) = engine.tokenizer().encode_prompt(&prompt)?;
        let tokens = Tensor::new(ids.as_slice(), &Device::Cpu)?.unsqueeze(0)?;
        let logits = engine
            .model()
            .forward_last(&tokens, &mut KvCache::new())?
            .flatten_all()?
            .to_vec1::<f32>()?;
        println!("{}", serde_json::to_string(&logits)?);
    }
    Ok(())
}
