//! Training examples as token ids, the held-out split, and the order of
//! batches in each epoch.
//!
//! An example is `tokens(prefix) ++ tokens(body) ++ tokens(target) ++
//! [end_of_turn]`, prefix and body encoded apart exactly as
//! [`quarry::tokenizer::Tokenizer::encode_prompt`] does at inference. The
//! model reads every token but the last; the loss covers only the answer
//! (the target and the end-of-turn token).

use candle_core::{Device, Tensor};
use serde::Deserialize;

use crate::rng::{hash_str, Rng};

/// The tasks, in a fixed order (their index is an example's `task`).
pub const TASKS: [&str; 4] = ["planner", "rewriter", "tagger", "suggester"];

/// One line of `train.jsonl`.
#[derive(Debug, Clone, Deserialize)]
pub struct Line {
    pub task: String,
    pub prefix: String,
    pub body: String,
    pub target: String,
}

/// One tokenized example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    pub task: usize,
    pub tokens: Vec<u32>,
    /// Tokens of prefix and body: the answer starts here.
    pub prompt_len: usize,
}

impl Example {
    /// Positions the model reads (all tokens but the last).
    pub fn input_len(&self) -> usize {
        self.tokens.len() - 1
    }

    /// Tokens the loss covers (target and end-of-turn).
    pub fn answer_len(&self) -> usize {
        self.tokens.len() - self.prompt_len
    }
}

/// Parses `train.jsonl`; every line must be a known task.
pub fn read_lines(text: &str) -> Result<Vec<(Line, u64)>, String> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        let line: Line =
            serde_json::from_str(raw).map_err(|e| format!("train.jsonl line {}: {e}", i + 1))?;
        if !TASKS.contains(&line.task.as_str()) {
            return Err(format!(
                "train.jsonl line {}: unknown task `{}`",
                i + 1,
                line.task
            ));
        }
        out.push((line, hash_str(raw)));
    }
    Ok(out)
}

/// Every 50th line by content hash (2%) is held out for evaluation:
/// stable across seeds and resumes, and duplicates of a held-out line are
/// held out with it.
pub fn is_held_out(hash: u64) -> bool {
    hash.is_multiple_of(50)
}

/// The texts a tokenizer is trained on: each distinct prefix once, every
/// body and target, with ChatML markers cut out (they are special tokens;
/// merges across them would waste vocabulary).
pub fn tokenizer_texts(lines: &[(Line, u64)]) -> Vec<String> {
    let mut prefixes: Vec<&str> = lines.iter().map(|(l, _)| l.prefix.as_str()).collect();
    prefixes.sort_unstable();
    prefixes.dedup();
    let pieces = |text: &str| -> Vec<String> {
        text.split(quarry::prompt::IM_START)
            .flat_map(|p| p.split(quarry::prompt::IM_END))
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()
    };
    let mut out = Vec::with_capacity(lines.len() * 2);
    for prefix in prefixes {
        out.extend(pieces(prefix));
    }
    for (line, _) in lines {
        out.extend(pieces(&line.body));
        out.extend(pieces(&line.target));
    }
    out
}

/// Token ids for `lines`, in order, on all cores. Prefix encodings are
/// cached (there is one per task).
pub fn tokenize(
    tokenizer: &quarry::tokenizer::Tokenizer,
    lines: &[&Line],
) -> Result<Vec<Example>, String> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .max(1);
    let chunk = lines.len().div_ceil(threads).max(1);
    let end_of_turn = tokenizer.end_of_turn();
    let results: Vec<Result<Vec<Example>, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = lines
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let mut prefixes: std::collections::HashMap<&str, Vec<u32>> =
                        Default::default();
                    let mut out = Vec::with_capacity(part.len());
                    for line in part {
                        let enc = |t: &str| tokenizer.encode(t).map_err(|e| e.to_string());
                        if !prefixes.contains_key(line.prefix.as_str()) {
                            prefixes.insert(&line.prefix, enc(&line.prefix)?);
                        }
                        let mut tokens = prefixes[line.prefix.as_str()].clone();
                        tokens.extend(enc(&line.body)?);
                        let prompt_len = tokens.len();
                        tokens.extend(enc(&line.target)?);
                        tokens.push(end_of_turn);
                        let task = TASKS.iter().position(|t| *t == line.task).unwrap_or(0);
                        out.push(Example {
                            task,
                            tokens,
                            prompt_len,
                        });
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("tokenizer thread panicked".into()))
            })
            .collect()
    });
    let mut out = Vec::with_capacity(lines.len());
    for part in results {
        out.extend(part?);
    }
    Ok(out)
}

/// How batches are drawn.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Batching {
    /// Every batch from one task (drawn in proportion to the examples it has
    /// left this epoch); lengths bucketed within the task.
    Homogeneous,
    /// Tasks mixed within batches; lengths bucketed across tasks.
    Heterogeneous,
}

/// Examples per length-sorting window, in batches: large enough to cut
/// padding, small enough that batch order stays random.
const BUCKET_BATCHES: usize = 16;

/// Shuffled, length-bucketed batches of `ids` (indices into `examples`).
fn bucketed(
    examples: &[Example],
    mut ids: Vec<usize>,
    batch: usize,
    rng: &mut Rng,
) -> Vec<Vec<usize>> {
    rng.shuffle(&mut ids);
    let mut batches = Vec::with_capacity(ids.len().div_ceil(batch));
    for window in ids.chunks_mut(batch * BUCKET_BATCHES) {
        window.sort_by_key(|&i| examples[i].tokens.len());
        batches.extend(window.chunks(batch).map(<[usize]>::to_vec));
    }
    rng.shuffle(&mut batches);
    batches
}

/// The batches of one epoch, in order, determined by (seed, epoch).
pub fn epoch_batches(
    examples: &[Example],
    batch: usize,
    mode: Batching,
    seed: u64,
    epoch: usize,
) -> Vec<Vec<usize>> {
    let mut rng = Rng::new(seed ^ (epoch as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let batch = batch.max(1);
    match mode {
        Batching::Heterogeneous => {
            bucketed(examples, (0..examples.len()).collect(), batch, &mut rng)
        }
        Batching::Homogeneous => {
            let mut per_task: Vec<std::collections::VecDeque<Vec<usize>>> = (0..TASKS.len())
                .map(|task| {
                    let ids = (0..examples.len())
                        .filter(|&i| examples[i].task == task)
                        .collect();
                    bucketed(examples, ids, batch, &mut rng).into()
                })
                .collect();
            let mut left: Vec<usize> = per_task
                .iter()
                .map(|b| b.iter().map(Vec::len).sum())
                .collect();
            let mut out = Vec::new();
            loop {
                let total: usize = left.iter().sum();
                if total == 0 {
                    break;
                }
                let mut pick = rng.below(total);
                let task = left
                    .iter()
                    .position(|&n| {
                        if pick < n {
                            true
                        } else {
                            pick -= n;
                            false
                        }
                    })
                    .unwrap_or(0);
                let next = per_task[task].pop_front().unwrap_or_default();
                left[task] -= next.len();
                out.push(next);
            }
            out
        }
    }
}

/// One batch as tensors: right-padded inputs `[batch, len]`, the flat
/// positions (`row * len + column`) whose next token is scored, and those
/// tokens. Padding lies after each sequence, so the causal mask keeps it
/// from affecting any scored position.
pub struct Batch {
    pub inputs: Tensor,
    pub positions: Tensor,
    pub targets: Tensor,
    /// Real (unpadded) input tokens.
    pub tokens: usize,
    /// Scored tokens.
    pub answer_tokens: usize,
}

pub fn make_batch(
    examples: &[Example],
    ids: &[usize],
    pad: u32,
    device: &Device,
) -> candle_core::Result<Batch> {
    let len = ids
        .iter()
        .map(|&i| examples[i].input_len())
        .max()
        .unwrap_or(1)
        .max(1);
    let mut inputs = vec![pad; ids.len() * len];
    let mut positions = Vec::new();
    let mut targets = Vec::new();
    let mut tokens = 0;
    for (row, &i) in ids.iter().enumerate() {
        let ex = &examples[i];
        let n = ex.input_len();
        inputs[row * len..row * len + n].copy_from_slice(&ex.tokens[..n]);
        tokens += n;
        for t in ex.prompt_len - 1..n {
            positions.push((row * len + t) as u32);
            targets.push(ex.tokens[t + 1]);
        }
    }
    let answer_tokens = targets.len();
    Ok(Batch {
        inputs: Tensor::from_vec(inputs, (ids.len(), len), device)?,
        positions: Tensor::from_vec(positions, answer_tokens, device)?,
        targets: Tensor::from_vec(targets, answer_tokens, device)?,
        tokens,
        answer_tokens,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(task: usize, len: usize, prompt_len: usize) -> Example {
        Example {
            task,
            tokens: (0..len as u32).collect(),
            prompt_len,
        }
    }

    #[test]
    fn homogeneous_batches_hold_one_task_and_cover_the_epoch_once() {
        let examples: Vec<Example> = (0..200).map(|i| ex(i % 4, 5 + i % 13, 3)).collect();
        let batches = epoch_batches(&examples, 8, Batching::Homogeneous, 7, 0);
        let mut seen: Vec<usize> = batches.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..200).collect::<Vec<_>>());
        for b in &batches {
            assert!(b.iter().all(|&i| examples[i].task == examples[b[0]].task));
        }
        // Deterministic by (seed, epoch); another epoch is another order.
        assert_eq!(
            batches,
            epoch_batches(&examples, 8, Batching::Homogeneous, 7, 0)
        );
        assert_ne!(
            batches,
            epoch_batches(&examples, 8, Batching::Homogeneous, 7, 1)
        );
        let mixed = epoch_batches(&examples, 8, Batching::Heterogeneous, 7, 0);
        assert!(mixed
            .iter()
            .any(|b| b.iter().any(|&i| examples[i].task != examples[b[0]].task)));
    }

    #[test]
    fn batches_score_only_answers_and_pad_on_the_right() {
        let examples = vec![ex(0, 6, 4), ex(0, 4, 2)];
        let b = make_batch(&examples, &[0, 1], 99, &Device::Cpu).unwrap();
        assert_eq!(
            b.inputs.to_vec2::<u32>().unwrap(),
            vec![vec![0, 1, 2, 3, 4], vec![0, 1, 2, 99, 99]]
        );
        // Row 0 predicts tokens 4, 5 from positions 3, 4; row 1 tokens 2, 3
        // from positions 1, 2 (flat 6, 7).
        assert_eq!(b.positions.to_vec1::<u32>().unwrap(), vec![3, 4, 6, 7]);
        assert_eq!(b.targets.to_vec1::<u32>().unwrap(), vec![4, 5, 2, 3]);
        assert_eq!((b.tokens, b.answer_tokens), (8, 4));
    }
}
