//! The training pipeline end to end on a small synthetic set: `quarry-data
//! tokenize` → `training/train.py` (a tiny model, on CPU) → GGUF export
//! (`quarry::gguf`, what `quarry export` runs) → the engine answers with the
//! exported file; a stopped run resumes where its checkpoint left off; and
//! training continues from an exported GGUF file.
//!
//!     QUARRY_TRAIN_PYTHON=$(bash training/setup.sh)/bin/python \
//!         QUARRY_REQUIRE_TRAIN=1 cargo test --release -p quarry-data --test train
//!
//! Without `QUARRY_TRAIN_PYTHON` the tests only say how to run them, unless
//! `QUARRY_REQUIRE_TRAIN` is set (CI), where a missing venv fails them.

use std::path::{Path, PathBuf};
use std::process::Command;

use std::ops::ControlFlow;

use candle_core::Device;
use quarry::engine::Engine;
use quarry::gguf::{self, Quantization};
use quarry::model::Config;
use quarry::prompt::{self, Style};
use quarry::tokenizer::Tokenizer;
use quarry::{Input, Router, Taxonomy};
use serde_json::Value;

fn python() -> Option<PathBuf> {
    let require = std::env::var_os("QUARRY_REQUIRE_TRAIN").is_some();
    match std::env::var_os("QUARRY_TRAIN_PYTHON") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            assert!(
                !require,
                "QUARRY_REQUIRE_TRAIN is set but QUARRY_TRAIN_PYTHON is not: \
                 set it to $(bash training/setup.sh)/bin/python"
            );
            eprintln!(
                "train: skipped; set QUARRY_TRAIN_PYTHON=$(bash training/setup.sh)/bin/python"
            );
            None
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `cmd` to success; its stdout and stderr.
fn run(cmd: &mut Command) -> (String, String) {
    let out = cmd.output().expect("spawn");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{cmd:?} failed:\n{stderr}");
    (String::from_utf8(out.stdout).expect("utf-8 stdout"), stderr)
}

fn quarry_data() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_quarry-data"));
    cmd.current_dir(root());
    cmd
}

/// The trainer's output directory as a Q8_0 GGUF, as `quarry export` writes it.
fn export_q8_0(run: &Path) -> Vec<u8> {
    let read = |name: &str| std::fs::read(run.join(name)).unwrap();
    let config = Config::from_json(&read("config.json")).unwrap();
    let tokenizer = Tokenizer::from_json(&read("tokenizer.json")).unwrap();
    let mut tensors: Vec<_> =
        candle_core::safetensors::load(run.join("model.safetensors"), &Device::Cpu)
            .unwrap()
            .into_iter()
            .collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = std::io::Cursor::new(Vec::new());
    gguf::write(
        &mut out,
        &config,
        &tensors,
        &tokenizer,
        Style::Compact,
        Quantization::Q8_0,
    )
    .unwrap();
    out.into_inner()
}

/// A small learnable set in `quarry-data generate`'s format, rendered by the core's
/// own prompt layer (with its lexicon hints): planner intents keyed by
/// wording, tagger calls copying the query's title and place.
fn synthetic(count: usize) -> String {
    let titles = [
        "nurse", "chef", "welder", "pilot", "baker", "driver", "teacher", "analyst",
    ];
    let places = ["paris", "rome", "oslo", "lima", "austin"];
    let mut out = String::new();
    for i in 0..count {
        let title = titles[(i * 7 + i / 3) % titles.len()];
        let place = places[(i * 3 + i / 5) % places.len()];
        let line = |task: &str, p: &prompt::Prompt, target: &str| {
            serde_json::json!({"task": task, "prefix": p.prefix, "body": p.body, "target": target})
                .to_string()
        };
        let text = if i % 2 == 0 {
            let (query, intent) = if i % 4 == 0 {
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

/// A scratch directory holding the synthetic set, tokenized.
fn tokenized(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("quarry-train-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("train.jsonl"), synthetic(800)).unwrap();
    run(quarry_data()
        .args(["tokenize", "--data"])
        .arg(dir.join("train.jsonl"))
        .arg("--out")
        .arg(dir.join("tokens.jsonl")));
    dir
}

/// The trainer on the tokenized set in `dir`, writing to `dir/out`.
fn trainer(python: &Path, dir: &Path, out: &str) -> Command {
    let mut command = Command::new(python);
    command
        .current_dir(root())
        .arg("training/train.py")
        .arg("--tokens")
        .arg(dir.join("tokens.jsonl"))
        .arg("--out")
        .arg(dir.join(out));
    command
}

/// Runs the trainer; its log.
fn train(python: &Path, dir: &Path, out: &str, extra: &[&str]) -> String {
    run(trainer(python, dir, out)
        .args([
            "--preset",
            "tiny",
            "--batch",
            "16",
            "--lr",
            "1e-2",
            "--threads",
            "1",
        ])
        .args(extra))
    .1
}

/// Runs one step of the trainer with arguments it must refuse; its stderr.
fn train_refused(python: &Path, dir: &Path, extra: &[&str]) -> String {
    let out = trainer(python, dir, "refused")
        .args(["--max-steps", "1", "--threads", "1"])
        .args(extra)
        .output()
        .unwrap();
    assert!(!out.status.success(), "train.py accepted {extra:?}");
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn record(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path.join("training.json")).unwrap()).unwrap()
}

#[test]
fn a_tiny_model_learns_exports_and_answers_through_the_engine() {
    let Some(python) = python() else { return };
    let dir = tokenized("learn");
    train(
        &python,
        &dir,
        "run",
        &["--max-steps", "400", "--eval-every", "100"],
    );
    let rec = record(&dir.join("run"));
    let first = rec["first_loss"].as_f64().unwrap();
    let last = rec["final_train_loss_ema"].as_f64().unwrap();
    assert!(
        last < first / 2.0,
        "training loss {last} did not fall from {first}"
    );
    assert_eq!(rec["steps"], 400);

    let mut engine =
        Engine::from_gguf(&export_q8_0(&dir.join("run")), None, None, &Device::Cpu).unwrap();
    let router = Router::new(Taxonomy::embedded(), engine.style());
    let input = Input {
        query: "nurse jobs in oslo".into(),
        profile: None,
    };
    let routed = router
        .understand(&mut engine, &input, 0, &mut |_| ControlFlow::Continue(()))
        .unwrap();
    let output = serde_json::to_value(&routed.output).unwrap();
    assert_eq!(output["intent"], "criteria_search", "{output}");
    let tools: Vec<String> = output["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| format!("{} {}", t["name"].as_str().unwrap(), t["arguments"]))
        .collect();
    assert!(
        tools
            .iter()
            .any(|t| t.starts_with("title_tool") && t.contains("nurse")),
        "{tools:?}"
    );
    assert!(
        tools
            .iter()
            .any(|t| t.starts_with("location_tool") && t.contains("oslo")),
        "{tools:?}"
    );
}

#[test]
fn a_stopped_run_resumes_from_its_checkpoint() {
    let Some(python) = python() else { return };
    let dir = tokenized("resume");
    train(&python, &dir, "run", &["--max-steps", "30"]);
    assert_eq!(record(&dir.join("run"))["steps"], 30);
    let log = train(&python, &dir, "run", &["--max-steps", "60", "--resume"]);
    assert!(log.contains("resumed at step 30"), "{log}");
    let rec = record(&dir.join("run"));
    assert_eq!(rec["steps"], 60);
    // The loss curve continues the first run's rather than starting over.
    let curve = rec["loss_curve"].as_array().unwrap();
    assert_eq!(curve.first().unwrap()[0], 20);
    assert_eq!(curve.last().unwrap()[0], 60);
}

/// Logits of every position of `ids` from a trainer's output directory.
fn logits(run: &Path, ids: &[u32]) -> Vec<f32> {
    let config = Config::from_json(&std::fs::read(run.join("config.json")).unwrap()).unwrap();
    let model = quarry::model::Qwen2::from_safetensors(
        config,
        &[run.join("model.safetensors")],
        &Device::Cpu,
    )
    .unwrap();
    let tokens = candle_core::Tensor::new(ids, &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let out = model
        .forward(&tokens, &mut quarry::model::KvCache::new())
        .unwrap();
    out.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

#[test]
fn a_grown_model_starts_from_what_the_smaller_one_computes() {
    let Some(python) = python() else { return };
    let dir = tokenized("grow");
    train(&python, &dir, "small", &["--max-steps", "40"]);
    // One step at a negligible rate: the grown model as block expansion made it.
    let small = dir.join("small");
    let log = train(
        &python,
        &dir,
        "grown",
        &[
            "--init-from",
            small.to_str().unwrap(),
            "--grow-layers",
            "3",
            "--max-steps",
            "1",
            "--lr",
            "1e-12",
        ],
    );
    assert!(log.contains("grown to 3 layers"), "{log}");
    let grown = dir.join("grown");
    let rec = record(&grown);
    assert_eq!(rec["config"]["num_hidden_layers"], 3, "{rec}");
    assert_eq!(rec["grow_layers"], 3);
    let tokenizer =
        Tokenizer::from_json(&std::fs::read(grown.join("tokenizer.json")).unwrap()).unwrap();
    let (ids, _) = tokenizer
        .encode_prompt(&prompt::tagger("welder jobs in lima", Style::Compact))
        .unwrap();
    let (a, b) = (logits(&small, &ids), logits(&grown, &ids));
    assert_eq!(a.len(), b.len());
    let diff = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(diff < 1e-4, "grown model's logits differ by {diff}");
    // Growing by a factor the layers do not divide is refused clearly.
    let stderr = train_refused(
        &python,
        &dir,
        &["--init-from", grown.to_str().unwrap(), "--grow-layers", "4"],
    );
    assert!(stderr.contains("must be a multiple"), "{stderr}");
}

#[test]
fn training_continues_from_an_exported_gguf_file() {
    let Some(python) = python() else { return };
    let dir = tokenized("gguf");
    train(&python, &dir, "small", &["--max-steps", "40"]);
    let exported = export_q8_0(&dir.join("small"));
    let file = dir.join("small-q8_0.gguf");
    std::fs::write(&file, &exported).unwrap();
    // One step at a negligible rate: the model as read from the file.
    train(
        &python,
        &dir,
        "continued",
        &[
            "--init-from",
            file.to_str().unwrap(),
            "--max-steps",
            "1",
            "--lr",
            "1e-12",
        ],
    );
    // Q8_0 dequantized and quantized again is the same file, so nothing
    // was lost or renamed on the way through the trainer.
    assert!(
        export_q8_0(&dir.join("continued")) == exported,
        "the continued model, exported, differs from the file it started from"
    );
    // A file that is not GGUF is refused with its name.
    let bad = dir.join("bad.gguf");
    std::fs::write(&bad, b"not a model").unwrap();
    let stderr = train_refused(&python, &dir, &["--init-from", bad.to_str().unwrap()]);
    assert!(
        stderr.contains("bad.gguf") && stderr.contains("GGUF"),
        "{stderr}"
    );
}
