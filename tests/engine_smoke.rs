use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use quarry::engine::Engine;
use quarry::model::{Config, Qwen2};
use quarry::prompt::Style;
use quarry::{Input, Router, Taxonomy};

#[test]
fn smoke() {
    let texts: Vec<String> = include_str!("data/dev.jsonl").lines().map(|l| l.to_string()).collect();
    let t0 = std::time::Instant::now();
    let tokenizer = quarry::tokenizer::train_bpe(texts.iter(), 2000).unwrap();
    println!("tokenizer {} in {:?}", tokenizer.vocab_size(), t0.elapsed());
    let config = Config { vocab_size: tokenizer.vocab_size(), hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2,
        num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 512, rope_theta: 10000.0, rms_norm_eps: 1e-6, tie_word_embeddings: true };
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let model = Qwen2::from_var_builder(config, vb, false).unwrap();
    let mut engine = Engine::new(model, tokenizer, Style::Compact).unwrap();
    let router = Router::new(Taxonomy::embedded(), Style::Compact);
    for q in ["senior rust engineer jobs in naples posted this week", "PM jobs that fit my profile", "weather in seattle"] {
        let t = std::time::Instant::now();
        let out = router.understand(&mut engine, &Input::query(q), 0, &mut |e| { println!("  {e:?}"); std::ops::ControlFlow::Continue(()) });
        println!("{q}: {:?} {:?}", t.elapsed(), out.map(|r| r.stats));
    }
}

#[test]
fn raw() {
    use quarry::{Generator, GenerationRequest, Constraint};
    let texts: Vec<String> = include_str!("data/dev.jsonl").lines().map(|l| l.to_string()).collect();
    let tokenizer = quarry::tokenizer::train_bpe(texts.iter(), 2000).unwrap();
    let config = Config { vocab_size: tokenizer.vocab_size(), hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2,
        num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 512, rope_theta: 10000.0, rms_norm_eps: 1e-6, tie_word_embeddings: true };
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let model = Qwen2::from_var_builder(config, vb, false).unwrap();
    let mut engine = Engine::new(model, tokenizer, Style::Compact).unwrap();
    let prompt = quarry::prompt::tagger("weather in seattle", Style::Compact);
    let mut text = Vec::new();
    engine.generate(&GenerationRequest { prompt: &prompt, constraint: Constraint::Tools { source: "weather in seattle" } }, &mut |b| { text.extend_from_slice(b); std::ops::ControlFlow::Continue(()) }).unwrap();
    println!("RAW {:?}", String::from_utf8_lossy(&text));
    println!("{}", quarry::decode::grammar(&Constraint::Tools { source: "weather in seattle" }));
}
