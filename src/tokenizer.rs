//! Tokenizers: a Hugging Face `tokenizer.json`, or the byte-level BPE that a
//! GGUF file embeds (rebuilt here into the same form), so that Quarry's own
//! models and real Qwen2.5 checkpoints tokenize through one code path.

use std::collections::HashMap;

use candle_core::quantized::gguf_file;
use serde_json::{json, Value};

use crate::error::{QuarryError, Result};
use crate::prompt::{Prompt, IM_END};

/// Qwen2's pre-tokenizer split (also used by Quarry's own tokenizer, so
/// GGUF files can declare `tokenizer.ggml.pre = qwen2`).
pub const QWEN2_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

fn tok_err(context: &str) -> impl Fn(tokenizers::Error) -> QuarryError + '_ {
    move |e| QuarryError::Model(format!("tokenizer {context}: {e}"))
}

/// A tokenizer with what decoding needs: the end-of-turn token and the
/// `tokenizer.json` form (for llguidance and GGUF export).
#[derive(Clone)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    json: Value,
    end_of_turn: u32,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("vocab_size", &self.vocab_size())
            .field("end_of_turn", &self.end_of_turn)
            .finish()
    }
}

impl Tokenizer {
    /// Parses a `tokenizer.json`. It must be byte-level (every UTF-8 input
    /// round-trips) and know ChatML's `<|im_end|>`.
    pub fn from_json(bytes: &[u8]) -> Result<Tokenizer> {
        let json: Value = serde_json::from_slice(bytes)
            .map_err(|e| QuarryError::Model(format!("tokenizer.json: {e}")))?;
        let inner = tokenizers::Tokenizer::from_bytes(bytes).map_err(tok_err("tokenizer.json"))?;
        let end_of_turn = inner
            .token_to_id(IM_END)
            .ok_or_else(|| QuarryError::Model(format!("tokenizer has no `{IM_END}` token")))?;
        Ok(Tokenizer {
            inner,
            json,
            end_of_turn,
        })
    }

    /// Rebuilds the tokenizer a `gpt2`-style GGUF file embeds.
    pub fn from_gguf(metadata: &HashMap<String, gguf_file::Value>) -> Result<Tokenizer> {
        let get = |key: &str| {
            metadata
                .get(key)
                .ok_or_else(|| QuarryError::Model(format!("gguf lacks {key}")))
        };
        let model = get("tokenizer.ggml.model")?
            .to_string()
            .map_err(crate::model::model_err("tokenizer.ggml.model"))?;
        if model != "gpt2" {
            return Err(QuarryError::Model(format!(
                "gguf tokenizer `{model}` is not byte-level BPE (gpt2)"
            )));
        }
        let strings = |key: &str| -> Result<Vec<String>> {
            get(key)?
                .to_vec()
                .map_err(crate::model::model_err(key))?
                .iter()
                .map(|v| v.to_string().cloned().map_err(crate::model::model_err(key)))
                .collect()
        };
        let tokens = strings("tokenizer.ggml.tokens")?;
        let merges = strings("tokenizer.ggml.merges")?;
        let types: Vec<i32> = match metadata.get("tokenizer.ggml.token_type") {
            Some(v) => v
                .to_vec()
                .map_err(crate::model::model_err("token_type"))?
                .iter()
                .map(|t| t.to_i32().unwrap_or(1))
                .collect(),
            None => vec![1; tokens.len()],
        };
        let json = tokenizer_json(&tokens, &types, &merges);
        let bytes = serde_json::to_vec(&json).map_err(|e| QuarryError::Model(e.to_string()))?;
        Tokenizer::from_json(&bytes)
    }

    /// Token ids for `text`; ChatML markers in it become their special tokens.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self.inner.encode(text, false).map_err(tok_err("encode"))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// A prompt's tokens and how many of them are its fixed prefix. Prefix
    /// and body are encoded apart, in training as in inference, so the
    /// prefix's tokens (and KV cache) are the same for every request.
    pub fn encode_prompt(&self, prompt: &Prompt) -> Result<(Vec<u32>, usize)> {
        let mut tokens = self.encode(&prompt.prefix)?;
        let prefix_len = tokens.len();
        tokens.extend(self.encode(&prompt.body)?);
        Ok((tokens, prefix_len))
    }

    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner.decode(ids, false).map_err(tok_err("decode"))
    }

    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    pub fn end_of_turn(&self) -> u32 {
        self.end_of_turn
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The `tokenizer.json` form.
    pub fn json(&self) -> &Value {
        &self.json
    }

    pub(crate) fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }
}

/// The special tokens of Quarry's own tokenizers, ids 0, 1, 2.
pub const SPECIAL_TOKENS: [&str; 3] = ["<|endoftext|>", crate::prompt::IM_START, IM_END];

/// Trains a byte-level BPE tokenizer (Qwen2's pre-tokenizer, ChatML special
/// tokens) on `texts`. Any UTF-8 text round-trips: the 256 byte symbols are
/// always in the vocabulary.
pub fn train_bpe<S: AsRef<str> + Send>(
    texts: impl Iterator<Item = S> + Send,
    vocab_size: usize,
) -> Result<Tokenizer> {
    use tokenizers::models::bpe::BpeTrainer;
    use tokenizers::models::TrainerWrapper;
    use tokenizers::pre_tokenizers::byte_level::ByteLevel;
    use tokenizers::AddedToken;

    let base = tokenizer_json(&[], &[], &[]);
    let mut inner =
        tokenizers::Tokenizer::from_bytes(serde_json::to_vec(&base).unwrap_or_default())
            .map_err(tok_err("base"))?;
    let specials = SPECIAL_TOKENS
        .iter()
        .map(|t| AddedToken::from(*t, true))
        .collect();
    let mut trainer: TrainerWrapper = BpeTrainer::builder()
        .vocab_size(vocab_size)
        .min_frequency(2)
        .show_progress(false)
        .special_tokens(specials)
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .build()
        .into();
    inner
        .train(&mut trainer, texts)
        .map_err(tok_err("training"))?;
    let json = inner.to_string(false).map_err(tok_err("serialize"))?;
    Tokenizer::from_json(json.as_bytes())
}

/// A Qwen2-style `tokenizer.json` from a vocabulary and merges. Control
/// tokens (GGUF type 3) become special added tokens, user-defined ones
/// (type 4) plain added tokens.
pub fn tokenizer_json(tokens: &[String], types: &[i32], merges: &[String]) -> Value {
    let vocab: serde_json::Map<String, Value> = tokens
        .iter()
        .enumerate()
        .map(|(id, t)| (t.clone(), json!(id)))
        .collect();
    let added: Vec<Value> = tokens
        .iter()
        .enumerate()
        .filter_map(|(id, content)| {
            let kind = types.get(id).copied();
            matches!(kind, Some(3 | 4)).then(|| {
                json!({"id": id, "content": content, "single_word": false, "lstrip": false,
                       "rstrip": false, "normalized": false, "special": kind == Some(3)})
            })
        })
        .collect();
    let byte_level = json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false});
    json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN2_SPLIT}, "behavior": "Isolated", "invert": false},
            byte_level,
        ]},
        "post_processor": byte_level,
        "decoder": byte_level,
        "model": {"type": "BPE", "dropout": null, "unk_token": null,
                  "continuing_subword_prefix": "", "end_of_word_suffix": "",
                  "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                  "vocab": vocab, "merges": merges},
    })
}
