//! Tokenizers: a Hugging Face `tokenizer.json`, or the byte-level BPE that a
//! GGUF file embeds (rebuilt here into the same form), so that Quarry's own
//! models and real Qwen2.5 checkpoints tokenize through one code path.

use std::collections::HashMap;
use std::sync::Arc;

use candle_core::quantized::gguf_file;
use serde_json::{json, Value};

use crate::error::{QuarryError, Result};
use crate::prompt::{Piece, Prompt, IM_END};

/// Qwen2's pre-tokenizer split (also used by Quarry's own tokenizer, so
/// GGUF files can declare `tokenizer.ggml.pre = qwen2`).
pub const QWEN2_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

fn tok_err(context: &str) -> impl Fn(tokenizers::Error) -> QuarryError + '_ {
    move |e| QuarryError::Model(format!("tokenizer {context}: {e}"))
}

/// A tokenizer with what decoding needs: the end-of-turn token and the
/// `tokenizer.json` form (for llguidance and GGUF export).
///
/// Text is always encoded as plain text ([`Tokenizer::encode`]): control
/// tokens come only from a prompt's template ([`Tokenizer::encode_prompt`]).
#[derive(Clone)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    json: Arc<Value>,
    end_of_turn: u32,
    /// Ids of the special added tokens (`<|endoftext|>`, `<|im_start|>`,
    /// `<|im_end|>`, ...), sorted: plain text never yields one.
    control: Vec<u32>,
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
        let mut control: Vec<u32> = inner
            .get_added_tokens_decoder()
            .into_iter()
            .filter(|(_, token)| token.special)
            .map(|(id, _)| id)
            .collect();
        control.push(end_of_turn);
        control.extend(inner.token_to_id(crate::prompt::IM_START));
        control.sort_unstable();
        control.dedup();
        Ok(Tokenizer {
            inner,
            json: Arc::new(json),
            end_of_turn,
            control,
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

    /// Token ids for `text` as plain text: no added token is matched in it,
    /// so a control token's spelling (`<|im_end|>`, `<|endoftext|>`, nested
    /// or whole) yields the ordinary tokens of its characters and never the
    /// control token. For text that spells no added token the ids are the
    /// ones `tokenizer.json` gives (normalizer, pre-tokenizer and BPE alike).
    /// Fails, rather than return one, if plain text ever came out as a
    /// special token.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        use tokenizers::{Model, Normalizer, OffsetType, PreTokenizedString, PreTokenizer};
        // `tokenizers::Tokenizer::encode` without its first step, the split
        // on added tokens; with no added tokens to split on, the same steps.
        let err = tok_err("encode");
        let mut pretokenized = PreTokenizedString::from(text);
        if let Some(normalizer) = self.inner.get_normalizer() {
            pretokenized
                .normalize(|s| normalizer.normalize(s))
                .map_err(&err)?;
        }
        if let Some(pre_tokenizer) = self.inner.get_pre_tokenizer() {
            pre_tokenizer
                .pre_tokenize(&mut pretokenized)
                .map_err(&err)?;
        }
        let model = self.inner.get_model();
        pretokenized
            .tokenize(|s| model.tokenize(s.get()))
            .map_err(&err)?;
        let ids = pretokenized
            .into_encoding(None, 0, OffsetType::None)
            .map_err(&err)?
            .get_ids()
            .to_vec();
        if let Some(id) = ids.iter().find(|id| self.control.binary_search(id).is_ok()) {
            return Err(QuarryError::Model(format!(
                "tokenizer encodes plain text as control token {id}"
            )));
        }
        Ok(ids)
    }

    /// A prompt's tokens and how many of them are its fixed prefix. Prefix
    /// and body are encoded apart, in training as in inference, so the
    /// prefix's tokens (and KV cache) are the same for every request. The
    /// template's ChatML markers become their control tokens; everything
    /// else, the whole request included (query, profile values, hints,
    /// industries), goes through [`Tokenizer::encode`] as plain text, so no
    /// control token can come from it whatever it contains.
    pub fn encode_prompt(&self, prompt: &Prompt) -> Result<(Vec<u32>, usize)> {
        let mut tokens = self.encode_prefix(prompt)?;
        let prefix_len = tokens.len();
        tokens.extend(self.encode_body(prompt)?);
        Ok((tokens, prefix_len))
    }

    /// The prefix's tokens (see [`Tokenizer::encode_prompt`]).
    pub fn encode_prefix(&self, prompt: &Prompt) -> Result<Vec<u32>> {
        self.encode_pieces("prefix", prompt.prefix_pieces())
    }

    /// The body's tokens (see [`Tokenizer::encode_prompt`]).
    pub fn encode_body(&self, prompt: &Prompt) -> Result<Vec<u32>> {
        self.encode_pieces("body", prompt.body_pieces())
    }

    fn encode_pieces(&self, part: &str, pieces: Option<Vec<Piece<'_>>>) -> Result<Vec<u32>> {
        let pieces = pieces.ok_or_else(|| {
            QuarryError::Generation(format!("the prompt's {part} is not the ChatML template's"))
        })?;
        let mut ids = Vec::new();
        for piece in pieces {
            match piece {
                Piece::Text(text) => ids.extend(self.encode(text)?),
                Piece::Control(token) => ids.push(self.token_id(token).ok_or_else(|| {
                    QuarryError::Model(format!("tokenizer has no `{token}` token"))
                })?),
            }
        }
        Ok(ids)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A byte-level tokenizer with no merges whose first four tokens are
    /// added ones: the three ChatML specials and a plain added token (as a
    /// GGUF file's user-defined tokens become).
    fn with_added_tokens() -> Tokenizer {
        use tokenizers::pre_tokenizers::byte_level::ByteLevel;
        let mut tokens: Vec<String> = SPECIAL_TOKENS.iter().map(|t| t.to_string()).collect();
        tokens.push("<tool_call>".into());
        let mut alphabet: Vec<String> = ByteLevel::alphabet()
            .into_iter()
            .map(|c| c.to_string())
            .collect();
        alphabet.sort();
        tokens.extend(alphabet);
        let types: Vec<i32> = (0..tokens.len())
            .map(|i| match i {
                0..=2 => 3,
                3 => 4,
                _ => 1,
            })
            .collect();
        let json = tokenizer_json(&tokens, &types, &[]);
        Tokenizer::from_json(&serde_json::to_vec(&json).unwrap()).unwrap()
    }

    #[test]
    fn plain_text_matches_no_added_token() {
        let tokenizer = with_added_tokens();
        assert_eq!(tokenizer.control, [0, 1, 2]);
        let text = "a<|im_end|>b<tool_call><|endoftext|><|im_<|im_start|>start|>";
        // `tokenizers` alone matches added tokens anywhere in the text.
        let matched = tokenizer.inner.encode(text, false).unwrap();
        assert!([0, 1, 2, 3].iter().all(|id| matched.get_ids().contains(id)));
        let ids = tokenizer.encode(text).unwrap();
        assert!(ids.iter().all(|&id| id > 3), "{ids:?}");
        assert_eq!(tokenizer.decode(&ids).unwrap(), text);
    }

    #[test]
    fn only_the_templates_markers_are_control_tokens() {
        let tokenizer = with_added_tokens();
        let prompt =
            crate::prompt::suggester("<|im_end|>", Some("<tool_call>"), Default::default());
        let (ids, prefix_len) = tokenizer.encode_prompt(&prompt).unwrap();
        let controls: Vec<(usize, u32)> = ids
            .iter()
            .copied()
            .enumerate()
            .filter(|&(_, id)| id <= 3)
            .collect();
        let n = ids.len();
        // `<|im_start|>system\nsuggest<|im_end|>\n<|im_start|>user\n` and
        // `...<|im_end|>\n<|im_start|>assistant\n`, one token a character.
        let end = n - "\nassistant\n".len() - 2;
        assert_eq!(controls, [(0, 1), (15, 2), (17, 1), (end, 2), (end + 2, 1)]);
        assert_eq!(prefix_len, 23);
        assert_eq!(tokenizer.decode(&ids).unwrap(), prompt.text());
        let mut tampered = prompt.clone();
        tampered.body.push('x');
        assert!(tokenizer.encode_prompt(&tampered).is_err());
    }
}
