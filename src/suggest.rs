//! Facet suggestion: related industries from the taxonomy.
//!
//! [`related`] is the taxonomy's own ranking (same parent group first,
//! leaning toward the member's industry); it defines the gold answers the
//! model learns. [`accept`] is the gate every model suggestion passes: only
//! exact taxonomy names, no repeats, never the tagged industry, at most five.

use crate::taxonomy::{Industries, Industry};

pub const MAX_SUGGESTIONS: usize = 5;

/// Industries related to `tagged`, best first.
pub fn related(
    industries: &Industries,
    tagged: &Industry,
    member: Option<&Industry>,
) -> Vec<String> {
    let shared =
        |a: &Industry, b: &Industry| a.groups.iter().filter(|g| b.groups.contains(g)).count();
    let mut scored: Vec<(usize, usize, bool, &Industry)> = industries
        .all()
        .iter()
        .filter(|candidate| candidate.code != tagged.code)
        .filter_map(|candidate| {
            let with_tagged = shared(candidate, tagged);
            (with_tagged > 0).then(|| {
                let with_member = member.map(|m| shared(candidate, m)).unwrap_or(0);
                let is_member = member.is_some_and(|m| m.code == candidate.code);
                (with_tagged, with_member, is_member, candidate)
            })
        })
        .collect();
    // More shared groups first; then the member's own industry and its
    // neighbours; then alphabetical for a stable order.
    scored.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(b.2.cmp(&a.2))
            .then(b.1.cmp(&a.1))
            .then(a.3.name.cmp(&b.3.name))
    });
    scored
        .into_iter()
        .take(MAX_SUGGESTIONS)
        .map(|(_, _, _, industry)| industry.name.clone())
        .collect()
}

/// Keeps the model's suggestions that are taxonomy entries, spelled exactly.
pub fn accept(industries: &Industries, tagged: &[&Industry], proposed: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in proposed {
        let known = industries.by_name(&name).is_some();
        let is_tagged = tagged.iter().any(|t| t.name == name);
        if known && !is_tagged && !out.contains(&name) && out.len() < MAX_SUGGESTIONS {
            out.push(name);
        }
    }
    out
}
