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
    /// The request ran past its time limit (a server's deadline).
    #[error("request timed out")]
    TimedOut,
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
            QuarryError::TimedOut => "timeout",
            QuarryError::Model(_) => "model",
            QuarryError::Generation(_) => "generation",
        }
    }

    /// The HTTP status every front answers this error with: 400 for a
    /// body that does not parse, 413 for one too large, 422 for values that
    /// break the contract, 499 for a client gone, 504 for a timeout, 500
    /// for the rest.
    pub fn http_status(&self) -> u16 {
        match self {
            QuarryError::MalformedRequest(_) => 400,
            QuarryError::InvalidInput { field: "body", .. } => 413,
            QuarryError::InvalidInput { .. } => 422,
            QuarryError::Cancelled => 499,
            QuarryError::TimedOut => 504,
            QuarryError::Taxonomy { .. } | QuarryError::Model(_) | QuarryError::Generation(_) => {
                500
            }
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
