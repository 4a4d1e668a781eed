//! Parity with Hugging Face `transformers`: Quarry's Qwen2 and tokenizer
//! against fixtures written by `scripts/reference/make_fixture.py` (random
//! weights, the real Qwen2.5/Qwen3 tokenizer, logits and greedy tokens from
//! `Qwen2ForCausalLM`).
//!
//!     QUARRY_PARITY_FIXTURES=$(bash scripts/reference/fixtures.sh) \
//!         QUARRY_REQUIRE_PARITY=1 cargo test --release --test parity -- --nocapture
//!
//! Without `QUARRY_PARITY_FIXTURES` the test only says how to run it, unless
//! `QUARRY_REQUIRE_PARITY` is set (CI), where missing fixtures fail it.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use quarry::model::{Config, KvCache, Qwen2};
use quarry::prompt::{Prompt, Task};
use quarry::tokenizer::Tokenizer;
use serde_json::Value;

/// Largest absolute logit difference accepted (float32 CPU kernels differ
/// in summation order only).
const TOLERANCE: f32 = 1e-4;

fn fixture_dirs() -> Option<Vec<PathBuf>> {
    let require = std::env::var_os("QUARRY_REQUIRE_PARITY").is_some();
    let Some(root) = std::env::var_os("QUARRY_PARITY_FIXTURES") else {
        assert!(
            !require,
            "QUARRY_REQUIRE_PARITY is set but QUARRY_PARITY_FIXTURES is not: \
             set QUARRY_PARITY_FIXTURES (bash scripts/reference/fixtures.sh)"
        );
        eprintln!(
            "parity: skipped; set QUARRY_PARITY_FIXTURES (bash scripts/reference/fixtures.sh)"
        );
        return None;
    };
    let root = PathBuf::from(root);
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("QUARRY_PARITY_FIXTURES={}: {e}", root.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.join("reference.json").is_file())
        .collect();
    dirs.sort();
    assert!(
        !dirs.is_empty(),
        "no fixture (a folder with reference.json) under {}",
        root.display()
    );
    Some(dirs)
}

fn read_json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn u32s(v: &Value) -> Vec<u32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("id") as u32)
        .collect()
}

fn argmax(row: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &x) in row.iter().enumerate() {
        if x > row[best] {
            best = i;
        }
    }
    best as u32
}

fn max_abs_diff(ours: &[f32], reference: &Value) -> f32 {
    let reference = reference.as_array().expect("logit row");
    assert_eq!(ours.len(), reference.len(), "logit row length");
    ours.iter()
        .zip(reference)
        .map(|(&a, b)| (a - b.as_f64().expect("logit") as f32).abs())
        .fold(0.0, f32::max)
}

/// The rotary base as `transformers` reads the file: v5 writes
/// `rope_parameters.rope_theta`, v4 a top-level `rope_theta`.
fn transformers_rope_theta(config: &Value) -> Option<f64> {
    config
        .pointer("/rope_parameters/rope_theta")
        .or_else(|| config.get("rope_theta"))
        .and_then(Value::as_f64)
}

fn check_fixture(dir: &Path) {
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    let reference = read_json(&dir.join("reference.json"));
    let config_json = read_json(&dir.join("config.json"));
    let config = Config::from_json(&std::fs::read(dir.join("config.json")).expect("config.json"))
        .expect("config.json as quarry::model::Config");
    eprintln!(
        "parity[{name}]: transformers {}, torch {}, vocab {}, tie_word_embeddings {}",
        reference["versions"]["transformers"],
        reference["versions"]["torch"],
        config.vocab_size,
        config.tie_word_embeddings
    );
    assert_eq!(
        config.tie_word_embeddings,
        reference["tie_word_embeddings"].as_bool().unwrap(),
        "tie_word_embeddings"
    );
    let theta = transformers_rope_theta(&config_json).expect("rope theta in config.json");
    assert_eq!(
        config.rope_theta, theta,
        "config.json's rope theta (as transformers reads it) is {theta}, Config parsed {}",
        config.rope_theta
    );

    let model = Qwen2::from_safetensors(
        config.clone(),
        &[dir.join("model.safetensors")],
        &Device::Cpu,
    )
    .expect("load model.safetensors");
    let tokenizer_bytes = std::fs::read(dir.join("tokenizer.json")).expect("tokenizer.json");
    let tokenizer = Tokenizer::from_json(&tokenizer_bytes).expect("tokenizer");
    assert_eq!(
        tokenizer.vocab_size(),
        config.vocab_size,
        "tokenizer vocabulary vs config"
    );

    let mut worst = 0f32;
    for (n, prompt) in reference["prompts"].as_array().unwrap().iter().enumerate() {
        let text = prompt["text"].as_str().unwrap();
        let ids = u32s(&prompt["ids"]);
        // A ChatML prompt, encoded as the engine encodes one: the fixture's
        // markers are the template's.
        let user_turn = "<|im_start|>user\n";
        let split = text.find(user_turn).expect("a ChatML prompt") + user_turn.len();
        let chatml = Prompt {
            task: Task::Planner,
            prefix: text[..split].to_string(),
            body: text[split..].to_string(),
        };
        assert_eq!(
            tokenizer.encode_prompt(&chatml).unwrap().0,
            ids,
            "[{name} #{n}] token ids of {text:?}"
        );

        // Full forward pass, fresh cache.
        let input = Tensor::new(ids.as_slice(), &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let mut cache = KvCache::new();
        let logits = model.forward(&input, &mut cache).unwrap();
        assert_eq!(logits.dims(), &[1, ids.len(), config.vocab_size]);
        let rows: Vec<Vec<f32>> = logits.squeeze(0).unwrap().to_vec2().unwrap();
        let argmaxes: Vec<u32> = rows.iter().map(|r| argmax(r)).collect();
        let expected_argmax = u32s(&prompt["argmax"]);
        for (pos, (ours, theirs)) in argmaxes.iter().zip(&expected_argmax).enumerate() {
            assert_eq!(
                ours, theirs,
                "[{name} #{n}] argmax at position {pos} (transformers' top-2 margin {})",
                prompt["argmax_margins"][pos]
            );
        }
        let mut diff = 0f32;
        for (pos, row) in prompt["logit_positions"]
            .as_array()
            .unwrap()
            .iter()
            .zip(prompt["logits"].as_array().unwrap())
        {
            let pos = pos.as_u64().unwrap() as usize;
            let d = max_abs_diff(&rows[pos], row);
            assert!(
                d <= TOLERANCE,
                "[{name} #{n}] logits at position {pos}: max abs diff {d:e} > {TOLERANCE:e}"
            );
            diff = diff.max(d);
        }

        // Greedy decoding with the KV cache: the prompt, then one token at a time.
        let mut cache = KvCache::new();
        let mut last = model
            .forward_last(&input, &mut cache)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let last_diff = max_abs_diff(&last, prompt["logits"].as_array().unwrap().last().unwrap());
        assert!(
            last_diff <= TOLERANCE,
            "[{name} #{n}] forward_last: max abs diff {last_diff:e}"
        );
        let expected = u32s(&prompt["generated"]);
        let mut generated = Vec::with_capacity(expected.len());
        for _ in 0..expected.len() {
            let next = argmax(&last);
            generated.push(next);
            let step = Tensor::new(&[next], &Device::Cpu)
                .unwrap()
                .unsqueeze(0)
                .unwrap();
            last = model
                .forward_last(&step, &mut cache)
                .unwrap()
                .squeeze(0)
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
        }
        assert_eq!(cache.len(), ids.len() + expected.len());
        assert_eq!(
            generated, expected,
            "[{name} #{n}] greedy tokens (transformers' top-2 margins {})",
            prompt["generated_margins"]
        );
        eprintln!(
            "parity[{name}] #{n}: {} tokens, argmax {}/{} equal, max abs logit diff {diff:.3e} (forward_last {last_diff:.3e}), {} greedy tokens equal — {:?}",
            ids.len(),
            argmaxes.len(),
            expected_argmax.len(),
            generated.len(),
            prompt["query"].as_str().unwrap()
        );
        worst = worst.max(diff).max(last_diff);
    }
    eprintln!(
        "parity[{name}]: max abs logit diff over all prompts {worst:.3e} (tolerance {TOLERANCE:e})"
    );
}

#[test]
fn qwen2_matches_transformers() {
    let Some(dirs) = fixture_dirs() else { return };
    for dir in dirs {
        check_fixture(&dir);
    }
}
