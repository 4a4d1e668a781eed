//! `quarry-data tokenize`: `quarry-data generate`'s `train.jsonl` as token ids for the
//! trainer (`training/train.py`), encoded by the core's own tokenizer code
//! exactly as the engine encodes prompts at inference, so the trainer never
//! re-implements the prompt's tokenization.
//!
//! An example is `tokens(prefix) ++ tokens(body) ++ tokens(target) ++
//! [end_of_turn]`, prefix and body encoded apart as
//! [`quarry::tokenizer::Tokenizer::encode_prompt`] does. Output: one line
//! per example, `{"task", "ids", "prompt_len", "held_out"}`; the loss covers
//! `ids[prompt_len..]` (the target and the end-of-turn token).

use std::io::Write;
use std::path::PathBuf;

use quarry::prompt::{Prompt, Task};
use quarry::tokenizer::Tokenizer;
use serde::Deserialize;

use crate::rng::hash_str;

/// An example's `task` is its index in [`Task::ALL`].

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// `train.jsonl` from `quarry-data generate`.
    #[arg(long)]
    pub data: PathBuf,
    /// The tokenizer the model uses.
    #[arg(long, default_value = "models/tokenizer.json")]
    pub tokenizer: PathBuf,
    /// Where to write the token ids (JSONL).
    #[arg(long)]
    pub out: PathBuf,
}

/// One line of `train.jsonl`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Line {
    pub task: String,
    pub prefix: String,
    pub body: String,
    pub target: String,
}

/// Every 50th line by content hash (2%) is held out for evaluation: stable
/// across seeds and resumes, and duplicates of a held-out line go with it.
pub fn is_held_out(raw_line: &str) -> bool {
    hash_str(raw_line).is_multiple_of(50)
}

/// Token ids of one example and where its answer starts. The prompt goes
/// through [`Tokenizer::encode_prompt`], the engine's own path.
pub fn encode(tokenizer: &Tokenizer, task: Task, line: &Line) -> Result<(Vec<u32>, usize), String> {
    let prompt = Prompt {
        task,
        prefix: line.prefix.clone(),
        body: line.body.clone(),
    };
    let (mut ids, _) = tokenizer
        .encode_prompt(&prompt)
        .map_err(|e| e.to_string())?;
    let prompt_len = ids.len();
    ids.extend(tokenizer.encode(&line.target).map_err(|e| e.to_string())?);
    ids.push(tokenizer.end_of_turn());
    Ok((ids, prompt_len))
}

pub fn run(args: Args) -> Result<(), String> {
    let read = |p: &PathBuf| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let tokenizer = Tokenizer::from_json(&read(&args.tokenizer)?).map_err(|e| e.to_string())?;
    let text = String::from_utf8(read(&args.data)?)
        .map_err(|_| format!("{}: not UTF-8", args.data.display()))?;
    let file =
        std::fs::File::create(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let (mut examples, mut held_out, mut tokens) = (0usize, 0usize, 0usize);
    for (i, raw) in text.lines().enumerate() {
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        let at = |e: String| format!("{} line {}: {e}", args.data.display(), i + 1);
        let line: Line = serde_json::from_str(raw).map_err(|e| at(e.to_string()))?;
        let task = Task::ALL
            .iter()
            .position(|t| t.as_str() == line.task)
            .ok_or_else(|| at(format!("unknown task `{}`", line.task)))?;
        let (ids, prompt_len) = encode(&tokenizer, Task::ALL[task], &line).map_err(at)?;
        let held = is_held_out(raw);
        let record = serde_json::json!({
            "task": task, "ids": ids, "prompt_len": prompt_len, "held_out": held,
        });
        writeln!(out, "{record}").map_err(|e| e.to_string())?;
        examples += 1;
        held_out += usize::from(held);
        tokens += ids.len();
        if examples.is_multiple_of(10_000) {
            eprintln!("tokenize: {examples} examples");
        }
    }
    out.flush().map_err(|e| e.to_string())?;
    eprintln!(
        "tokenize: {examples} examples ({held_out} held out), {tokens} tokens, {:.1} per example -> {}",
        tokens as f64 / examples.max(1) as f64,
        args.out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use quarry::prompt::{self, Style};

    fn tokenizer() -> Tokenizer {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/tokenizer.json");
        Tokenizer::from_json(&std::fs::read(path).unwrap()).unwrap()
    }

    #[test]
    fn prompt_tokens_are_the_engines_and_the_answer_ends_the_turn() {
        let tokenizer = tokenizer();
        let p = prompt::tagger("nurse jobs in oslo", Style::Compact);
        let line = Line {
            task: "tagger".into(),
            prefix: p.prefix.clone(),
            body: p.body.clone(),
            target: "title_tool nurse\nlocation_tool oslo\n".into(),
        };
        let (ids, prompt_len) = encode(&tokenizer, Task::Tagger, &line).unwrap();
        let (engine_ids, _) = tokenizer.encode_prompt(&p).unwrap();
        assert_eq!(&ids[..prompt_len], &engine_ids[..]);
        assert_eq!(*ids.last().unwrap(), tokenizer.end_of_turn());
        let answer = tokenizer.decode(&ids[prompt_len..ids.len() - 1]).unwrap();
        assert_eq!(answer, line.target);
    }

    #[test]
    fn held_out_is_a_stable_two_percent() {
        let lines: Vec<String> = (0..20_000).map(|i| format!("{{\"i\":{i}}}")).collect();
        let held = lines.iter().filter(|l| is_held_out(l)).count();
        assert!((300..500).contains(&held), "{held}");
        assert_eq!(is_held_out(&lines[7]), is_held_out(&lines[7].clone()));
    }
}
