//! The rewriter's rules around the model: when it runs, and what a rewrite
//! must be to replace the query.

use crate::contract::{Input, MAX_QUERY_BYTES};

/// Self-reference with no profile keeps the query as it is (spec).
pub fn needs_model(input: &Input) -> bool {
    input.profile.is_some()
}

/// A rewrite becomes the tagger's input, so it obeys the query's limits.
pub fn check(rewrite: &str) -> Result<String, String> {
    let trimmed = rewrite.trim();
    if trimmed.is_empty() {
        return Err("empty rewrite".into());
    }
    if trimmed.len() > MAX_QUERY_BYTES {
        return Err(format!("rewrite longer than {MAX_QUERY_BYTES} bytes"));
    }
    Ok(trimmed.to_string())
}
