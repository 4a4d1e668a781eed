//! Typed errors. Every failure a caller can trigger maps to one variant with a
//! message that names the problem; nothing in the core panics on bad input.

use thiserror::Error;

/// Everything that can go wrong in the core.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum QuarryError {
    /// The request is not valid JSON, has a wrong type, or an unknown field.
    #[error("malformed request: {0}")]
    MalformedRequest(String),
    /// The request parsed but a field breaks the contract.
    #[error("invalid `{field}`: {reason}")]
    InvalidInput { field: &'static str, reason: String },
    /// A taxonomy file could not be parsed.
    #[error("taxonomy `{file}` line {line}: {reason}")]
    Taxonomy {
        file: &'static str,
        line: usize,
        reason: String,
    },
    /// The caller stopped listening (a client went away) mid-request.
    #[error("cancelled by the caller")]
    Cancelled,
    /// A model or tokenizer file is missing, corrupt or does not fit.
    #[error("model: {0}")]
    Model(String),
    /// The model runtime failed while generating.
    #[error("generation failed: {0}")]
    Generation(String),
}

impl QuarryError {
    /// Short machine-readable code, stable across releases (used by servers
    /// to pick a status code and by clients to branch on).
    pub fn code(&self) -> &'static str {
        match self {
            QuarryError::MalformedRequest(_) => "malformed_request",
            QuarryError::InvalidInput { .. } => "invalid_input",
            QuarryError::Taxonomy { .. } => "taxonomy",
            QuarryError::Cancelled => "cancelled",
            QuarryError::Model(_) => "model",
            QuarryError::Generation(_) => "generation",
        }
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        QuarryError::InvalidInput {
            field,
            reason: reason.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, QuarryError>;
