//! `quarry eval`: the core's scorer over the engine's outputs.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Instant;

use quarry::eval::{read_examples, Example, Scorer};
use quarry::tools::{execute, ToolContext};
use quarry::{lexicon, Output, Router, Taxonomy, ToolCall};
use serde_json::json;

use crate::load::{load, ModelArgs};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A labelled JSONL set (`tests/data/dev.jsonl` format).
    #[arg(long)]
    pub data: PathBuf,
    /// Also write every prediction, one JSON line per example.
    #[arg(long)]
    pub predictions: Option<PathBuf>,
    /// Score a baseline with no model instead: `lexicon` calls a tool for
    /// every lexicon hint of the query (`quarry::lexicon`, longest match
    /// against the embedded taxonomies), as `criteria_search`. What the
    /// model must beat.
    #[arg(long, value_parser = ["lexicon"])]
    pub baseline: Option<String>,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// The fixed "now" for evaluation, so date cut-offs are reproducible.
const EVAL_NOW: i64 = 1_790_000_000;

pub fn run(args: Args) -> Result<(), String> {
    let text =
        std::fs::read_to_string(&args.data).map_err(|e| format!("{}: {e}", args.data.display()))?;
    let examples = read_examples(&text).map_err(|e| format!("{}: {e}", args.data.display()))?;
    if args.baseline.is_some() {
        let mut scorer = Scorer::new();
        for example in &examples {
            scorer.add(example, &lexicon_baseline(example));
        }
        print!("{scorer}");
        return Ok(());
    }
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

/// The lexicon baseline's answer: every hint of the query as a tool call,
/// executed as the router would (places resolved, the profile breaking
/// ties), one call per distinct value.
fn lexicon_baseline(example: &Example) -> Output {
    let query = example.input.query.trim();
    let taxonomy = Taxonomy::embedded();
    let context = ToolContext::new(taxonomy, example.input.profile.as_ref(), query, EVAL_NOW);
    let mut output = Output::searching(query);
    for hint in lexicon::annotate(query) {
        let Some(key) = hint.tool.wire_argument() else {
            continue;
        };
        let call = ToolCall::new(hint.tool, json!({ key: hint.span }));
        if let Ok(executed) = execute(&call, &context) {
            if !output.tools.contains(&executed) {
                output.tools.push(executed);
            }
        }
    }
    output
}
