//! Lexicon annotations: the spans of a query that the committed taxonomies
//! name — places, employers, industries, job titles — handed to the model in
//! its prompt, so that it need not memorise 38k places and 74k titles.
//!
//! A small model cannot know that a word it never saw is a city; a lookup
//! can, but cannot tell "jackson" the place from "jackson" the person, nor
//! tag a start-up or a typo. So the lookup proposes and the model decides:
//! each hint is written as the wire line the tagger would emit
//! (`location_tool lyon`), the model copies, corrects or ignores it, and a
//! span no lexicon knows is still taggable (the grammar allows any run of the
//! query's words). Annotation lives in the core so that every target builds
//! the same prompt.
//!
//! Matching is greedy longest-match over the query's whitespace-separated
//! words, at most [`MAX_SPAN_WORDS`] long; a span's surrounding punctuation
//! is trimmed, so a hint is always text the tagger may copy.

use crate::contract::ToolName;
use crate::taxonomy::Taxonomy;
use crate::text::key;

/// Longest span looked up: the longest useful names ("director of business
/// development", "bosnia and herzegovina") fit.
pub const MAX_SPAN_WORDS: usize = 5;

/// One annotation: `tool` may apply to `span`, which is copied from the
/// query as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    pub tool: ToolName,
    pub span: String,
}

/// Words that are never a hint alone: query glue that happens to be a
/// place code (`in` Indiana, `or` Oregon, `me` Maine), a title or an
/// employer in some list.
const GLUE: &[&str] = &[
    "a",
    "an",
    "and",
    "any",
    "as",
    "at",
    "best",
    "by",
    "de",
    "del",
    "der",
    "des",
    "die",
    "du",
    "em",
    "en",
    "for",
    "from",
    "full",
    "good",
    "hiring",
    "i",
    "im",
    "in",
    "is",
    "it",
    "ja",
    "job",
    "jobs",
    "ki",
    "la",
    "le",
    "les",
    "local",
    "me",
    "mein",
    "my",
    "near",
    "new",
    "now",
    "of",
    "on",
    "or",
    "part",
    "per",
    "position",
    "positions",
    "remote",
    "role",
    "roles",
    "the",
    "time",
    "to",
    "um",
    "un",
    "una",
    "und",
    "von",
    "with",
    "work",
    "y",
];

/// Role abbreviations that are also place codes (`PM` Saint Pierre and
/// Miquelon, `HR` Croatia, `QA` Qatar): a role unless they follow a place.
const ROLE_CODES: &[&str] = &[
    "ae", "ai", "ba", "cs", "ds", "hr", "it", "ml", "pm", "qa", "rn", "ui", "ux", "vp",
];

/// Short lower-case place codes people do write in lower case.
const LOWERCASE_PLACE_CODES: &[&str] = &["uk", "usa", "nyc", "uae", "dc", "sf", "ksa"];

/// One word of the query: byte range of its core (surrounding punctuation
/// trimmed) in the query.
#[derive(Debug, Clone, Copy)]
struct Word {
    start: usize,
    end: usize,
}

fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut offset = 0;
    for raw in text.split_inclusive(char::is_whitespace) {
        let start = offset;
        offset += raw.len();
        let punctuation = |c: char| !c.is_alphanumeric();
        let from_core = raw.trim_start_matches(punctuation);
        let core = from_core.trim_end_matches(punctuation);
        if core.is_empty() {
            continue;
        }
        let core_start = start + raw.len() - from_core.len();
        out.push(Word {
            start: core_start,
            end: core_start + core.len(),
        });
    }
    out
}

/// Whether `span` is written without lower-case letters ("NY", "PM").
fn in_capitals(span: &str) -> bool {
    !span.chars().any(char::is_lowercase)
}

/// Whether `span`, as written, may be a place code: short codes ("NY",
/// "and" = Andorra) only in capitals, after another place ("austin tx",
/// "portland or"), or when everyone writes them lower-case ("uk").
fn plausible_place(span: &str, after_place: bool) -> bool {
    let letters = span.chars().filter(|c| c.is_alphanumeric()).count();
    if letters > 3 {
        return true;
    }
    let lower = span.to_lowercase();
    if after_place {
        return letters <= 2 || in_capitals(span);
    }
    LOWERCASE_PLACE_CODES.contains(&lower.as_str())
        || (in_capitals(span) && !ROLE_CODES.contains(&lower.as_str()))
}

/// The tools a span may be, in wire order.
fn tools_for(taxonomy: &Taxonomy, span: &str, after_place: bool) -> Vec<ToolName> {
    let k = key(span);
    // "part time", "new jobs": glue however many words of it.
    if k.split(' ').all(|w| GLUE.contains(&w)) {
        return Vec::new();
    }
    let short = k.chars().count() <= 2 && !in_capitals(span);
    let mut tools = Vec::new();
    if !short && taxonomy.titles.canonical(span).is_some() {
        tools.push(ToolName::Title);
    }
    if !short && taxonomy.companies.canonical(span).is_some() {
        tools.push(ToolName::Company);
    }
    if taxonomy.gazetteer.lookup(span).next().is_some() && plausible_place(span, after_place) {
        tools.push(ToolName::Location);
    }
    if !short && taxonomy.industries.named(span).is_some() {
        tools.push(ToolName::Industry);
    }
    tools
}

/// The hints for `text` against the embedded taxonomy, in query order.
pub fn annotate(text: &str) -> Vec<Hint> {
    annotate_with(Taxonomy::embedded(), text)
}

/// [`annotate`] against any taxonomy.
pub fn annotate_with(taxonomy: &Taxonomy, text: &str) -> Vec<Hint> {
    let words = words(text);
    let mut hints = Vec::new();
    let mut after_place = false;
    let mut i = 0;
    while i < words.len() {
        let longest = MAX_SPAN_WORDS.min(words.len() - i);
        let found = (1..=longest).rev().find_map(|len| {
            let span = &text[words[i].start..words[i + len - 1].end];
            let tools = tools_for(taxonomy, span, after_place);
            (!tools.is_empty()).then_some((len, span, tools))
        });
        match found {
            Some((len, span, tools)) => {
                after_place = tools.contains(&ToolName::Location);
                hints.extend(tools.into_iter().map(|tool| Hint {
                    tool,
                    span: span.to_string(),
                }));
                i += len;
            }
            None => {
                after_place = false;
                i += 1;
            }
        }
    }
    hints
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(text: &str) -> Vec<(String, String)> {
        annotate(text)
            .into_iter()
            .map(|h| (h.tool.as_str().to_string(), h.span))
            .collect()
    }

    fn has(text: &str, tool: &str, span: &str) -> bool {
        spans(text).contains(&(tool.to_string(), span.to_string()))
    }

    #[test]
    fn finds_places_titles_employers_and_industries() {
        assert!(has("pipe welder lyon", "location_tool", "lyon"));
        assert!(has(
            "registered nurse jobs in Boston",
            "title_tool",
            "registered nurse"
        ));
        assert!(has(
            "registered nurse jobs in Boston",
            "location_tool",
            "Boston"
        ));
        assert!(has("software engineer at Google", "company_tool", "Google"));
        assert!(has("aerospace jobs", "industry_tool", "aerospace"));
    }

    #[test]
    fn prefers_the_longest_span_and_trims_punctuation() {
        assert!(has("jobs in new york, remote", "location_tool", "new york"));
        assert!(!has("jobs in new york, remote", "location_tool", "york"));
        assert!(has("(Berlin)", "location_tool", "Berlin"));
    }

    #[test]
    fn glue_words_and_lower_case_codes_are_not_places() {
        // `in` is Indiana, `or` Oregon, `and` Andorra's ISO code.
        let hints = spans("nurse or doctor jobs in and around leeds");
        assert!(hints
            .iter()
            .all(|(_, s)| s != "in" && s != "or" && s != "and"));
        assert!(has("nurse jobs in leeds", "location_tool", "leeds"));
        // Capitals, or right after a place, make a code plausible.
        assert!(has("nurse jobs NY", "location_tool", "NY"));
        assert!(has("welder austin tx", "location_tool", "tx"));
        assert!(has("accountant jobs uk", "location_tool", "uk"));
        assert!(!has("Sr PM at Amazon", "location_tool", "PM"));
        assert!(spans("part time cashier")
            .iter()
            .all(|(_, s)| s != "part time"));
    }

    #[test]
    fn every_hint_is_text_of_the_query() {
        for text in [
            "Sr. Data Scientist — München!",
            "  café   manager,paris  ",
            "ñandú",
        ] {
            for hint in annotate(text) {
                assert!(text.contains(&hint.span), "{hint:?} in {text:?}");
                assert_eq!(hint.span.trim(), hint.span);
            }
        }
    }
}
