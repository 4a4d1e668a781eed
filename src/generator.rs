//! The seam between routing and the model runtime. The engine implements
//! [`Generator`] with a real model and constrained decoding; the router
//! needs nothing else from it.

use std::ops::ControlFlow;

use crate::contract::Profile;
use crate::error::Result;
use crate::prompt::Prompt;

/// What the decoder must enforce for one stage, beyond the wire format.
#[derive(Debug, Clone, Copy)]
pub enum Constraint<'a> {
    /// One `intent` line.
    Intent,
    /// One `rewrite` line whose text is built from the query's words and the
    /// profile's values.
    Rewrite {
        query: &'a str,
        profile: &'a Profile,
    },
    /// Tool lines whose text arguments are substrings of `source`.
    Tools { source: &'a str },
    /// One `suggest` line whose names come from `names`.
    Suggestions { names: &'a [&'a str] },
}

/// One call of the model.
#[derive(Debug, Clone, Copy)]
pub struct GenerationRequest<'a> {
    pub prompt: &'a Prompt,
    pub constraint: Constraint<'a>,
}

/// Counts a generator reports for one call (for confidence and benchmarks).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GenerationStats {
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    pub forced_tokens: usize,
    /// Sum of log-probabilities of the freely chosen tokens.
    pub free_logprob: f64,
}

/// A model that completes prompts, streaming its text.
pub trait Generator {
    /// Completes `request.prompt`, handing text to `on_text` as it is made
    /// (chunks may split UTF-8 characters). When `on_text` breaks, the
    /// generator stops early and returns what it has counted so far.
    fn generate(
        &mut self,
        request: &GenerationRequest<'_>,
        on_text: &mut dyn FnMut(&[u8]) -> ControlFlow<()>,
    ) -> Result<GenerationStats>;
}
