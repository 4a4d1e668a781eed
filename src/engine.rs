//! The model runtime behind [`Generator`]: a [`Qwen2`] model, its tokenizer
//! and the constrained [`Decoder`].
//!
//! Per call it clones the task's cached prompt prefix (computed once per
//! process), runs the request's own tokens, then decodes greedily under the
//! stage's grammar. Tokens the grammar forces are fed to the model in one
//! forward pass; only free choices cost a step each. Every token's bytes go
//! to the caller as soon as they are chosen, so the router's parser and
//! tools run while decoding goes on.

use std::collections::HashMap;
use std::ops::ControlFlow;

use candle_core::{Device, Tensor};
use llguidance::toktrie::TokTrie;

use crate::decode::Decoder;
use crate::error::{QuarryError, Result};
use crate::generator::{GenerationRequest, GenerationStats, Generator};
use crate::model::{model_err, KvCache, Qwen2};
use crate::prompt::{Prompt, Style, Task};
use crate::tokenizer::Tokenizer;

/// Longest output per stage, in tokens; a stage that runs past it is cut
/// off and the parser reports the truncated piece.
///
/// Planner and suggester grammars are bounded, and these budgets cover
/// their longest output even at one byte per token (five taxonomy names).
/// A rewrite is bounded by its shape ([`crate::decode::RewriteShape`]); its
/// budget holds the longest rewrite in the training data (156 bytes) even
/// at one byte per token, and one that runs past it is a model babbling,
/// which the router replaces ([`crate::rewriter::settle`]) rather than wait
/// for. Only the tagger's list of calls is open-ended.
pub fn max_new_tokens(task: Task) -> usize {
    match task {
        Task::Planner => 32,
        Task::Rewriter => 192,
        Task::Tagger => 256,
        Task::Suggester => 400,
    }
}

/// A loaded model, ready to generate.
pub struct Engine {
    model: Qwen2,
    tokenizer: Tokenizer,
    decoder: Decoder,
    style: Style,
    prefixes: HashMap<String, KvCache>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", self.model.config())
            .field("style", &self.style)
            .finish()
    }
}

impl Engine {
    pub fn new(model: Qwen2, tokenizer: Tokenizer, style: Style) -> Result<Engine> {
        let decoder = Decoder::new(&tokenizer, model.config().vocab_size)?;
        Ok(Engine {
            model,
            tokenizer,
            decoder,
            style,
            prefixes: HashMap::new(),
        })
    }

    /// Loads a GGUF file; its embedded tokenizer is used unless one is
    /// given, and the prompt style it declares unless one is given.
    pub fn from_gguf(
        bytes: &[u8],
        tokenizer_json: Option<&[u8]>,
        style: Option<Style>,
        device: &Device,
    ) -> Result<Engine> {
        let mut reader = std::io::Cursor::new(bytes);
        let content = candle_core::quantized::gguf_file::Content::read(&mut reader)
            .map_err(model_err("gguf"))?;
        let style = style.unwrap_or_else(|| crate::gguf::prompt_style(&content));
        let tokenizer = match tokenizer_json {
            Some(json) => Tokenizer::from_json(json)?,
            None => Tokenizer::from_gguf(&content.metadata)?,
        };
        let model = Qwen2::from_gguf(bytes, device)?;
        Engine::new(model, tokenizer, style)
    }

    pub fn model(&self) -> &Qwen2 {
        &self.model
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The prompt style the model expects; the router must use the same.
    pub fn style(&self) -> Style {
        self.style
    }

    /// Computes every task's prefix cache now rather than on first use.
    pub fn warm_up(&mut self) -> Result<()> {
        for task in Task::ALL {
            let prompt = crate::prompt::render_empty(task, self.style);
            self.prefix_cache(&prompt)?;
        }
        Ok(())
    }

    /// The KV cache of `prompt`'s prefix, computed once per distinct prefix.
    fn prefix_cache(&mut self, prompt: &Prompt) -> Result<KvCache> {
        let prefix = prompt.prefix.as_str();
        if let Some(cache) = self.prefixes.get(prefix) {
            return Ok(cache.clone());
        }
        let tokens = self.tokenizer.encode_prefix(prompt)?;
        let mut cache = KvCache::new();
        self.model
            .forward_last(&self.token_tensor(&tokens)?, &mut cache)?;
        self.prefixes.insert(prefix.to_string(), cache.clone());
        Ok(cache)
    }

    fn token_tensor(&self, tokens: &[u32]) -> Result<Tensor> {
        Tensor::new(tokens, self.model.device())
            .and_then(|t| t.unsqueeze(0))
            .map_err(model_err("tokens"))
    }
}

/// One generation in progress: its grammar state, KV cache and the logits
/// for its next choice. [`Engine::step`] advances many at once.
pub struct Sequence {
    matcher: llguidance::Matcher,
    cache: KvCache,
    logits: Vec<f32>,
    /// Tokens chosen but not yet run through the model.
    pending: Vec<u32>,
    stats: GenerationStats,
    limit: usize,
    finished: bool,
}

impl Sequence {
    pub fn finished(&self) -> bool {
        self.finished
    }

    pub fn stats(&self) -> GenerationStats {
        self.stats
    }

    /// Stops the sequence (its caller went away).
    pub fn cancel(&mut self) {
        self.finished = true;
    }
}

impl Engine {
    /// Starts a generation on the task's cached prefix. The request's own
    /// tokens run in the next [`Engine::step`], batched with other work.
    pub fn start(&mut self, request: &GenerationRequest<'_>) -> Result<Sequence> {
        let prompt = request.prompt;
        let cache = self.prefix_cache(prompt)?;
        // The request's text is plain text here: only the template's
        // markers become control tokens (see `Tokenizer::encode_prompt`).
        let body = self.tokenizer.encode_body(prompt)?;
        if body.is_empty() {
            return Err(QuarryError::Generation(
                "a prompt with an empty body".into(),
            ));
        }
        let stats = GenerationStats {
            prompt_tokens: cache.len() + body.len(),
            ..GenerationStats::default()
        };
        // The output stops where the model's positions end, as at its
        // budget (a long profile on a short-context model).
        let room = self
            .model
            .max_positions()
            .saturating_sub(stats.prompt_tokens);
        if room == 0 {
            return Err(QuarryError::Generation(format!(
                "a prompt of {} tokens fills the model's {} positions",
                stats.prompt_tokens,
                self.model.max_positions()
            )));
        }
        Ok(Sequence {
            matcher: self.decoder.matcher(&request.constraint)?,
            cache,
            logits: Vec::new(),
            pending: body,
            stats,
            limit: max_new_tokens(prompt.task).min(room),
            finished: false,
        })
    }

    /// Advances every unfinished sequence by one decision (the tokens the
    /// grammar forces, or one free token; a new sequence's prompt first)
    /// and returns the bytes each chose. Whatever the sequences need run
    /// through the model goes in one packed forward pass.
    pub fn step(&mut self, sequences: &mut [&mut Sequence]) -> Result<Vec<Vec<u8>>> {
        let end_of_turn = self.tokenizer.end_of_turn();
        let mut texts = vec![Vec::new(); sequences.len()];
        for (seq, text) in sequences.iter_mut().zip(texts.iter_mut()) {
            // A sequence without logits still has its prompt pending.
            if seq.finished || seq.logits.is_empty() {
                continue;
            }
            if let Some(tokens) = decide(seq, end_of_turn, self.decoder.trie()) {
                *text = self.decoder.trie().decode(&tokens);
                seq.pending = tokens;
            }
        }
        let runs: Vec<usize> = (0..sequences.len())
            .filter(|&i| !sequences[i].finished && !sequences[i].pending.is_empty())
            .collect();
        if runs.is_empty() {
            return Ok(texts);
        }
        let pending: Vec<Vec<u32>> = runs
            .iter()
            .map(|&i| std::mem::take(&mut sequences[i].pending))
            .collect();
        let segments: Vec<&[u32]> = pending.iter().map(Vec::as_slice).collect();
        let mut caches: Vec<KvCache> = runs
            .iter()
            .map(|&i| std::mem::take(&mut sequences[i].cache))
            .collect();
        let logits = self.model.forward_packed(&segments, &mut caches);
        for (&i, cache) in runs.iter().zip(caches) {
            sequences[i].cache = cache;
        }
        let logits = logits?
            .to_dtype(candle_core::DType::F32)
            .map_err(model_err("logits"))?;
        for (row, &i) in runs.iter().enumerate() {
            sequences[i].logits = logits
                .get(row)
                .and_then(|l| l.to_vec1::<f32>())
                .map_err(model_err("logits"))?;
        }
        Ok(texts)
    }
}

/// Chooses a sequence's next tokens from its grammar and logits, or
/// finishes it. A decoder failure finishes the sequence rather than the
/// request: the parser then reports the unfinished piece.
fn decide(seq: &mut Sequence, end_of_turn: u32, trie: &TokTrie) -> Option<Vec<u32>> {
    if seq.stats.generated_tokens >= seq.limit || seq.matcher.is_stopped() {
        seq.finished = true;
        return None;
    }
    let mut forced = seq.matcher.compute_ff_tokens();
    let (tokens, free) = if forced.is_empty() {
        let chosen = likely_allowed(seq, end_of_turn, trie).or_else(|| {
            let mask = seq.matcher.compute_mask().ok()?;
            best_allowed(&seq.logits, |t| mask.is_allowed(t))
        });
        match chosen {
            Some((token, logprob)) if token != end_of_turn => {
                seq.stats.free_logprob += logprob;
                (vec![token], true)
            }
            _ => {
                seq.finished = true;
                return None;
            }
        }
    } else {
        // A forced run stops at the budget too: the model has no positions
        // past it.
        forced.truncate(seq.limit - seq.stats.generated_tokens);
        (forced, false)
    };
    if seq.matcher.consume_tokens(&tokens).is_err() {
        seq.finished = true;
        return None;
    }
    seq.stats.generated_tokens += tokens.len();
    if !free {
        seq.stats.forced_tokens += tokens.len();
    }
    if seq.matcher.is_stopped() {
        // The grammar is complete: no forward pass is needed for these.
        seq.finished = true;
    }
    Some(tokens)
}

impl Generator for Engine {
    fn generate(
        &mut self,
        request: &GenerationRequest<'_>,
        on_text: &mut dyn FnMut(&[u8]) -> ControlFlow<()>,
    ) -> Result<GenerationStats> {
        let mut seq = self.start(request)?;
        while !seq.finished() {
            let text = self.step(&mut [&mut seq])?.pop().unwrap_or_default();
            if !text.is_empty() && on_text(&text).is_break() {
                seq.cancel();
            }
        }
        Ok(seq.stats())
    }
}

/// How many of the model's top tokens [`likely_allowed`] tries before the
/// whole mask is computed.
const TOP_CANDIDATES: usize = 4;

/// The grammar's choice without its whole mask: the model's top tokens, in
/// order, checked one at a time. The first one the grammar accepts is the
/// allowed token with the highest logit, the same answer the mask gives,
/// at the cost of a few token checks instead of a walk over the vocabulary
/// (usually the model already wants what the grammar allows).
fn likely_allowed(seq: &mut Sequence, end_of_turn: u32, trie: &TokTrie) -> Option<(u32, f64)> {
    let mut top: Vec<(u32, f32)> = Vec::with_capacity(TOP_CANDIDATES + 1);
    for (token, &logit) in seq.logits.iter().enumerate() {
        let candidate = top.len() < TOP_CANDIDATES || logit > top[top.len() - 1].1;
        // A padding id has no bytes: a check would pass it, the mask never.
        if candidate && !trie.token(token as u32).is_empty() {
            let at = top.partition_point(|&(_, l)| l >= logit);
            top.insert(at, (token as u32, logit));
            top.truncate(TOP_CANDIDATES);
        }
    }
    let token = top.into_iter().map(|(t, _)| t).find(|&t| {
        if t == end_of_turn {
            seq.matcher.is_accepting().unwrap_or(false)
        } else {
            seq.matcher.validate_tokens(&[t]).is_ok_and(|n| n == 1)
        }
    })?;
    best_allowed(&seq.logits, |t| t == token)
}

/// The allowed token with the highest logit, and its log-probability under
/// the model's unconstrained distribution (what confidence is built from).
fn best_allowed(logits: &[f32], allowed: impl Fn(u32) -> bool) -> Option<(u32, f64)> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let log_sum = logits
        .iter()
        .map(|&l| ((l - max) as f64).exp())
        .sum::<f64>()
        .ln()
        + max as f64;
    let (token, logit) = logits
        .iter()
        .enumerate()
        .filter(|(t, _)| allowed(*t as u32))
        .max_by(|a, b| a.1.total_cmp(b.1))?;
    Some((token as u32, *logit as f64 - log_sum))
}
