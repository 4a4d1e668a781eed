//! `quarry understand`: one query, a stream of events, or JSONL in and out.

use std::io::{BufRead, Write};
use std::ops::ControlFlow;
use std::path::PathBuf;

use quarry::contract::to_json;
use quarry::engine::Engine;
use quarry::{Input, Profile, QuarryError, Router, Taxonomy};
use serde_json::json;

use crate::load::{load, ModelArgs};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The query (omit with --jsonl).
    pub query: Option<String>,
    /// A JSON file with the member's profile.
    #[arg(long)]
    pub profile: Option<PathBuf>,
    /// Print one JSON event per line as each becomes final.
    #[arg(long)]
    pub stream: bool,
    /// Read `{"query": …, "profile": …}` lines from stdin; write one output
    /// (or `{"error": …}`) per line, in order.
    #[arg(long, conflicts_with_all = ["query", "profile"])]
    pub jsonl: bool,
    #[command(flatten)]
    pub model: ModelArgs,
}

pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub fn run(args: Args) -> Result<(), String> {
    if !args.jsonl && args.query.is_none() {
        return Err("give a query, or --jsonl to read lines from stdin".into());
    }
    let (mut engine, _) = load(&args.model)?;
    let router = Router::new(Taxonomy::embedded(), engine.style());
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.jsonl {
        let stdin = std::io::stdin();
        for (number, line) in stdin.lock().split(b'\n').enumerate() {
            let line = line.map_err(|e| format!("stdin: {e}"))?;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let answer = Input::from_json(&line)
                .and_then(|input| understand(&router, &mut engine, &input, args.stream, &mut out));
            let text = match answer {
                Ok(output) => output,
                Err(e) => json!({"error": {"code": e.code(), "message": e.to_string()}, "line": number + 1}).to_string(),
            };
            if !args.stream {
                writeln!(out, "{text}").map_err(|e| e.to_string())?;
            }
        }
        return Ok(());
    }
    let profile = match &args.profile {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let profile: Profile =
                serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            Some(profile)
        }
        None => None,
    };
    let input = Input {
        query: args.query.unwrap_or_default(),
        profile,
    };
    let output = understand(&router, &mut engine, &input, args.stream, &mut out)
        .map_err(|e| e.to_string())?;
    if !args.stream {
        writeln!(out, "{output}").map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Routes one input; with `stream`, writes each event as it comes.
fn understand(
    router: &Router<'_>,
    engine: &mut Engine,
    input: &Input,
    stream: bool,
    out: &mut impl Write,
) -> Result<String, QuarryError> {
    let routed = router.understand(engine, input, now_unix(), &mut |event| {
        if stream
            && writeln!(out, "{}", to_json(event))
                .and_then(|_| out.flush())
                .is_err()
        {
            // stdout closed (a pipe's reader went away): stop generating.
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    })?;
    Ok(to_json(&routed.output))
}
