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

use crate::decode::{Decoder, MAX_REWRITE_CHARS};
use crate::error::Result;
use crate::generator::{GenerationRequest, GenerationStats, Generator};
use crate::model::{model_err, KvCache, Qwen2};
use crate::prompt::{Style, Task};
use crate::tokenizer::Tokenizer;

/// Longest output per stage, in tokens; a stage that runs past it is cut
/// off and the parser reports the truncated piece.
///
/// Planner, rewriter and suggester grammars are bounded, and these budgets
/// cover their longest output even at one byte per token (a rewrite of
/// [`MAX_REWRITE_CHARS`] four-byte characters; five taxonomy names). Only the
/// tagger's list of calls is open-ended.
pub fn max_new_tokens(task: Task) -> usize {
    match task {
        Task::Planner => 32,
        Task::Rewriter => 4 * MAX_REWRITE_CHARS + 16,
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
        f.debug_struct("Engine").field("config", self.model.config()).field("style", &self.style).finish()
    }
}

impl Engine {
    pub fn new(model: Qwen2, tokenizer: Tokenizer, style: Style) -> Result<Engine> {
        let decoder = Decoder::new(&tokenizer, model.config().vocab_size)?;
        Ok(Engine { model, tokenizer, decoder, style, prefixes: HashMap::new() })
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
            self.prefix_cache(&prompt.prefix)?;
        }
        Ok(())
    }

    fn prefix_cache(&mut self, prefix: &str) -> Result<KvCache> {
        if let Some(cache) = self.prefixes.get(prefix) {
            return Ok(cache.clone());
        }
        let tokens = self.tokenizer.encode(prefix)?;
        let mut cache = KvCache::new();
        self.model.forward_last(&self.token_tensor(&tokens)?, &mut cache)?;
        self.prefixes.insert(prefix.to_string(), cache.clone());
        Ok(cache)
    }

    fn token_tensor(&self, tokens: &[u32]) -> Result<Tensor> {
        Tensor::new(tokens, self.model.device())
            .and_then(|t| t.unsqueeze(0))
            .map_err(model_err("tokens"))
    }

    fn step(&self, tokens: &[u32], cache: &mut KvCache) -> Result<Vec<f32>> {
        let logits = self.model.forward_last(&self.token_tensor(tokens)?, cache)?;
        logits
            .squeeze(0)
            .and_then(|l| l.to_dtype(candle_core::DType::F32))
            .and_then(|l| l.to_vec1::<f32>())
            .map_err(model_err("logits"))
    }
}

impl Generator for Engine {
    fn generate(
        &mut self,
        request: &GenerationRequest<'_>,
        on_text: &mut dyn FnMut(&[u8]) -> ControlFlow<()>,
    ) -> Result<GenerationStats> {
        let prompt = request.prompt;
        let mut cache = self.prefix_cache(&prompt.prefix)?;
        let body = self.tokenizer.encode(&prompt.body)?;
        let mut stats = GenerationStats {
            prompt_tokens: cache.len() + body.len(),
            ..GenerationStats::default()
        };
        let mut logits = self.step(&body, &mut cache)?;
        let mut matcher = self.decoder.matcher(&request.constraint)?;
        let end_of_turn = self.tokenizer.end_of_turn();
        let limit = max_new_tokens(prompt.task);
        // A decoder failure ends generation rather than the request: the
        // parser then reports the unfinished piece as an `error` event.
        while stats.generated_tokens < limit && !matcher.is_stopped() {
            let forced = matcher.compute_ff_tokens();
            let (tokens, free) = if forced.is_empty() {
                let Ok(mask) = matcher.compute_mask() else { break };
                let Some((token, logprob)) = best_allowed(&logits, |t| mask.is_allowed(t)) else {
                    break;
                };
                if token == end_of_turn {
                    break;
                }
                stats.free_logprob += logprob;
                (vec![token], true)
            } else {
                (forced, false)
            };
            if matcher.consume_tokens(&tokens).is_err() {
                break;
            }
            stats.generated_tokens += tokens.len();
            if !free {
                stats.forced_tokens += tokens.len();
            }
            let bytes = self.decoder.trie().decode(&tokens);
            if on_text(&bytes).is_break() {
                break;
            }
            if matcher.is_stopped() {
                break;
            }
            logits = self.step(&tokens, &mut cache)?;
        }
        Ok(stats)
    }
}

/// The allowed token with the highest logit, and its log-probability under
/// the model's unconstrained distribution (what confidence is built from).
fn best_allowed(logits: &[f32], allowed: impl Fn(u32) -> bool) -> Option<(u32, f64)> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let log_sum = logits.iter().map(|&l| ((l - max) as f64).exp()).sum::<f64>().ln() + max as f64;
    let (token, logit) = logits
        .iter()
        .enumerate()
        .filter(|(t, _)| allowed(*t as u32))
        .max_by(|a, b| a.1.total_cmp(b.1))?;
    Some((token as u32, *logit as f64 - log_sum))
}
