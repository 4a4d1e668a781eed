//! End to end on a synthetic set: a tiny model learns, resumes, exports,
//! and its GGUF files load into the engine and generate.

use std::ops::ControlFlow;
use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use quarry::engine::Engine;
use quarry::generator::{Constraint, GenerationRequest, Generator};
use quarry::model::{KvCache, Qwen2};
use quarry::prompt::{self, Style};

use super::*;

/// A small learnable set in `quarry data`'s format: planner intents keyed
/// by a word, tagger calls copying the query's title.
fn synthetic(count: usize) -> String {
    let titles = [
        "nurse", "chef", "welder", "pilot", "baker", "driver", "teacher", "analyst",
    ];
    let places = ["paris", "rome", "oslo", "lima", "austin"];
    let mut rng = crate::rng::Rng::new(3);
    let mut out = String::new();
    for i in 0..count {
        let title = titles[rng.below(titles.len())];
        let place = places[rng.below(places.len())];
        let line = |task: &str, p: &prompt::Prompt, target: &str| {
            serde_json::json!({"task": task, "prefix": p.prefix, "body": p.body, "target": target})
                .to_string()
        };
        let text = if i % 2 == 0 {
            let (query, intent) = if rng.below(2) == 0 {
                (format!("{title} jobs in {place}"), "criteria_search")
            } else {
                (format!("how to cook {title} soup"), "non_job")
            };
            line(
                "planner",
                &prompt::planner(&query, Style::Compact),
                &format!("intent {intent}\n"),
            )
        } else {
            let query = format!("{title} jobs in {place}");
            let target = format!("title_tool {title}\nlocation_tool {place}\n");
            line("tagger", &prompt::tagger(&query, Style::Compact), &target)
        };
        out.push_str(&text);
        out.push('\n');
    }
    out
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("quarry-train-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("data/train.jsonl"), synthetic(600)).unwrap();
    dir
}

fn args(dir: &std::path::Path, steps: usize) -> Args {
    Args {
        data: dir.join("data"),
        out: dir.join("out"),
        preset: Preset::Tiny,
        minutes: None,
        max_steps: Some(steps),
        batch: 16,
        lr: Some(1e-2),
        batching: Batching::Homogeneous,
        seed: 5,
        resume: false,
        vocab: 400,
        device: "cpu".into(),
        checkpoint_minutes: 5.0,
        threads: 1,
    }
}

#[test]
fn a_tiny_model_learns_resumes_and_exports_gguf_the_engine_runs() {
    let dir = scratch("e2e");
    // 100 steps, then 50 more from the checkpoint.
    let first = train(args(&dir, 100)).unwrap();
    assert_eq!(first.state.step, 100);
    let summary = train(Args {
        resume: true,
        max_steps: Some(150),
        ..args(&dir, 150)
    })
    .unwrap();
    assert_eq!(summary.state.step, 150);
    assert_eq!(
        summary.state.optimizer_step, 150,
        "moments and step restored"
    );

    let initial = summary.state.first_loss.unwrap();
    let eval = summary.final_eval_loss.unwrap();
    let train_loss = summary.state.ema.unwrap();
    assert!(
        eval < 0.5 * initial && train_loss < 0.5 * initial,
        "loss did not fall clearly: first {initial:.3}, train {train_loss:.3}, eval {eval:.3}"
    );

    let out = dir.join("out");
    for name in [
        "tokenizer.json",
        "config.json",
        "model.safetensors",
        "quarry-q8_0.gguf",
        "quarry-q4_0.gguf",
        "quarry-f32.gguf",
        "training.json",
        "train_state.json",
        "checkpoint.safetensors",
        "optimizer.safetensors",
    ] {
        assert!(out.join(name).exists(), "{name} missing");
    }
    let config = Config::from_json(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config, Preset::Tiny.config(config.vocab_size));

    // The f32 GGUF reproduces the trained model's logits.
    let map: HashMap<String, Tensor> = summary.tensors.iter().cloned().collect();
    let trained = Qwen2::from_var_builder(
        config.clone(),
        VarBuilder::from_tensors(map, DType::F32, &Device::Cpu),
        true,
    )
    .unwrap();
    let f32_bytes = std::fs::read(out.join("quarry-f32.gguf")).unwrap();
    let loaded = Qwen2::from_gguf(&f32_bytes, &Device::Cpu).unwrap();
    let tokenizer =
        Tokenizer::from_json(&std::fs::read(out.join("tokenizer.json")).unwrap()).unwrap();
    let (ids, _) = tokenizer
        .encode_prompt(&prompt::planner("nurse jobs in oslo", Style::Compact))
        .unwrap();
    let input = Tensor::new(ids.as_slice(), &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let a = trained.forward(&input, &mut KvCache::new()).unwrap();
    let b = loaded.forward(&input, &mut KvCache::new()).unwrap();
    let diff = (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(diff < 1e-4, "f32 GGUF logits differ by {diff}");

    // Both files load into the engine and generate.
    for name in ["quarry-q8_0.gguf", "quarry-q4_0.gguf", "quarry-f32.gguf"] {
        let bytes = std::fs::read(out.join(name)).unwrap();
        let mut engine = Engine::from_gguf(&bytes, None, None, &Device::Cpu).unwrap();
        assert_eq!(engine.style(), Style::Compact);
        let p = prompt::planner("nurse jobs in oslo", Style::Compact);
        let mut text = Vec::new();
        let request = GenerationRequest {
            prompt: &p,
            constraint: Constraint::Intent,
        };
        engine
            .generate(&request, &mut |bytes| {
                text.extend_from_slice(bytes);
                ControlFlow::Continue(())
            })
            .unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.starts_with("intent "), "{name}: {text:?}");
        assert_eq!(
            text, "intent criteria_search\n",
            "{name}: the trained model should get this one right"
        );
    }

    // Exporting the training directory takes the model's weights only, not
    // the checkpoint and optimizer moments kept beside them (same names).
    let exported = dir.join("exported.gguf");
    crate::export::run(crate::export::Args {
        model: out.clone(),
        out: exported.clone(),
        quant: "q8_0".into(),
        compact: true,
    })
    .unwrap();
    let tensor_count = |path: &std::path::Path| {
        let mut file = std::fs::File::open(path).unwrap();
        candle_core::quantized::gguf_file::Content::read(&mut file)
            .unwrap()
            .tensor_infos
            .len()
    };
    assert_eq!(
        tensor_count(&exported),
        tensor_count(&out.join("quarry-q8_0.gguf"))
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cuda_needs_the_feature_and_bad_devices_are_named() {
    if !cfg!(feature = "cuda") {
        assert!(parse_device("cuda:0")
            .unwrap_err()
            .contains("--features cuda"));
    }
    assert!(parse_device("tpu").unwrap_err().contains("tpu"));
    assert!(matches!(parse_device("cpu"), Ok(Device::Cpu)));
}
