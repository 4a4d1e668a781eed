//! `quarry eval`: the core's scorer over the engine's outputs.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Instant;

use quarry::eval::{read_examples, Scorer};
use quarry::{Router, Taxonomy};

use crate::load::{load, ModelArgs};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A labelled JSONL set (`tests/data/dev.jsonl` format).
    #[arg(long)]
    pub data: PathBuf,
    /// Also write every prediction, one JSON line per example.
    #[arg(long)]
    pub predictions: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// The fixed "now" for evaluation, so date cut-offs are reproducible.
const EVAL_NOW: i64 = 1_790_000_000;

pub fn run(args: Args) -> Result<(), String> {
    let text =
        std::fs::read_to_string(&args.data).map_err(|e| format!("{}: {e}", args.data.display()))?;
    let examples = read_examples(&text).map_err(|e| format!("{}: {e}", args.data.display()))?;
    let (mut engine, load_time) = load(&args.model)?;
    eprintln!(
        "eval: model loaded in {:.0} ms; {} examples",
        load_time.as_secs_f64() * 1e3,
        examples.len()
    );
    let router = Router::new(Taxonomy::embedded(), engine.style());
    let mut scorer = Scorer::new();
    let mut predictions = Vec::with_capacity(examples.len());
    let start = Instant::now();
    for (done, example) in examples.iter().enumerate() {
        let routed = router
            .understand(&mut engine, &example.input, EVAL_NOW, &mut |_| {
                ControlFlow::Continue(())
            })
            .map_err(|e| format!("{}: {e}", example.id))?;
        scorer.add(example, &routed.output);
        predictions.push(quarry::contract::to_json(&routed.output));
        if (done + 1) % 50 == 0 || done + 1 == examples.len() {
            let rate = (done + 1) as f64 / start.elapsed().as_secs_f64();
            eprintln!(
                "eval: {}/{} ({rate:.1} queries/s)",
                done + 1,
                examples.len()
            );
        }
    }
    if let Some(path) = &args.predictions {
        std::fs::write(path, predictions.join("\n") + "\n")
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    print!("{scorer}");
    Ok(())
}
