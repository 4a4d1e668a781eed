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

impl Constraint<'_> {
    /// A copy that owns its data, for handing a request to another thread
    /// (a server's batching loop).
    pub fn to_owned(&self) -> OwnedConstraint {
        match *self {
            Constraint::Intent => OwnedConstraint::Intent,
            Constraint::Rewrite { query, profile } => OwnedConstraint::Rewrite {
                query: query.to_string(),
                profile: profile.clone(),
            },
            Constraint::Tools { source } => OwnedConstraint::Tools {
                source: source.to_string(),
            },
            Constraint::Suggestions { names } => OwnedConstraint::Suggestions {
                names: names.iter().map(|n| n.to_string()).collect(),
            },
        }
    }
}

/// [`Constraint`] with owned data; [`OwnedConstraint::with`] lends it back.
#[derive(Debug, Clone)]
pub enum OwnedConstraint {
    Intent,
    Rewrite { query: String, profile: Profile },
    Tools { source: String },
    Suggestions { names: Vec<String> },
}

impl OwnedConstraint {
    /// Calls `f` with the borrowed form.
    pub fn with<R>(&self, f: impl FnOnce(Constraint<'_>) -> R) -> R {
        match self {
            OwnedConstraint::Intent => f(Constraint::Intent),
            OwnedConstraint::Rewrite { query, profile } => {
                f(Constraint::Rewrite { query, profile })
            }
            OwnedConstraint::Tools { source } => f(Constraint::Tools { source }),
            OwnedConstraint::Suggestions { names } => {
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                f(Constraint::Suggestions { names: &names })
            }
        }
    }
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

impl GenerationStats {
    /// Tokens the model chose freely (not forced by the grammar).
    pub fn free_tokens(&self) -> usize {
        self.generated_tokens.saturating_sub(self.forced_tokens)
    }

    /// The model's confidence in its output: the geometric mean of the
    /// probabilities it gave its free choices (forced tokens carry no
    /// information). 1.0 when it chose nothing (a denial by the screen).
    /// Rounded to four decimals, so it reads well and survives JSON exactly.
    pub fn confidence(&self) -> f64 {
        let raw = match self.free_tokens() {
            0 => 1.0,
            free => (self.free_logprob / free as f64).exp().clamp(0.0, 1.0),
        };
        (raw * 10_000.0).round() / 10_000.0
    }

    pub fn add(&mut self, other: &GenerationStats) {
        self.prompt_tokens += other.prompt_tokens;
        self.generated_tokens += other.generated_tokens;
        self.forced_tokens += other.forced_tokens;
        self.free_logprob += other.free_logprob;
    }
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
