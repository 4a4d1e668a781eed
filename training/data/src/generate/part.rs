//! Queries are assembled from parts: a piece of text and the tagger calls
//! it carries, each span recorded as a byte range of that text. Casing and
//! joining move the ranges with the text, so a gold span is always exactly
//! the words it was made from.

use std::ops::Range;

use quarry::{ToolCall, ToolName};
use serde_json::json;

/// A tagger call on a part: a span of the part's text, an enum value, or
/// no argument.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Span(&'static str, Range<usize>),
    Enum(&'static str, &'static str),
    Empty,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub tool: ToolName,
    pub arg: Arg,
}

/// What a self-reference phrase becomes in the rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seg {
    /// The marker's own query token at this index (it is a query word).
    Keep(usize),
    /// A glue word of `decode::RewriteShape`.
    Glue(&'static str),
    /// A profile value, copied whole.
    Value(Field),
    /// The member's seniority as a glue word ("senior", "junior").
    Level,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Title,
    Company,
    Location,
    /// The admin-1 part of the profile location.
    State,
    /// The country part of the profile location.
    Country,
    Industry,
    /// Every profile skill, as one list ("Python and Spark").
    Skills,
    /// The member's degree or certificate ("BA Economics").
    Education,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub text: String,
    pub calls: Vec<Call>,
    /// Set on self-reference phrases: how the rewrite replaces them.
    pub mark: Option<Vec<Seg>>,
    /// A role word ("jobs", "roles") that heads may be placed before.
    pub jobs_word: bool,
}

impl Part {
    pub fn new() -> Part {
        Part {
            text: String::new(),
            calls: Vec::new(),
            mark: None,
            jobs_word: false,
        }
    }

    /// Plain words with no call.
    pub fn plain(text: &str) -> Part {
        Part::new().word(text)
    }

    pub fn marker(text: &str, segs: Vec<Seg>) -> Part {
        let mut part = Part::plain(text);
        part.mark = Some(segs);
        part
    }

    fn space(&mut self) {
        if !self.text.is_empty() && !self.text.ends_with(' ') {
            self.text.push(' ');
        }
    }

    /// Appends words, separated from what is there by a space.
    pub fn word(mut self, text: &str) -> Part {
        if !text.is_empty() {
            self.space();
            self.text.push_str(text);
        }
        self
    }

    /// Appends text with no space ("," "?").
    pub fn raw(mut self, text: &str) -> Part {
        self.text.push_str(text);
        self
    }

    /// Appends a span that `tool` copies as argument `key`.
    pub fn span(mut self, tool: ToolName, key: &'static str, text: &str) -> Part {
        self.space();
        let start = self.text.len();
        self.text.push_str(text);
        self.calls.push(Call {
            tool,
            arg: Arg::Span(key, start..self.text.len()),
        });
        self
    }

    pub fn tag(mut self, tool: ToolName, key: &'static str, value: &'static str) -> Part {
        self.calls.push(Call {
            tool,
            arg: Arg::Enum(key, value),
        });
        self
    }

    pub fn flag(mut self, tool: ToolName) -> Part {
        self.calls.push(Call {
            tool,
            arg: Arg::Empty,
        });
        self
    }

    pub fn jobs(mut self) -> Part {
        self.jobs_word = true;
        self
    }

    /// Appends another part's text and calls (a space between).
    pub fn join(mut self, other: &Part) -> Part {
        if other.text.is_empty() {
            self.calls.extend(other.calls.iter().cloned());
            return self;
        }
        self.space();
        let offset = self.text.len();
        self.text.push_str(&other.text);
        for call in &other.calls {
            self.calls.push(shift(call, offset));
        }
        self.jobs_word |= other.jobs_word;
        self
    }

    pub fn has_calls(&self) -> bool {
        !self.calls.is_empty()
    }

    /// Re-cases the text char by char, moving span ranges along.
    pub fn recase(&mut self, style: Case, first_of_query: bool) {
        if style == Case::Natural && !first_of_query {
            return;
        }
        let mut out = String::with_capacity(self.text.len());
        // New offset of every old char boundary.
        let mut at = vec![0usize; self.text.len() + 1];
        let mut prev: Option<char> = None;
        let mut seen_letter = false;
        for (i, c) in self.text.char_indices() {
            at[i] = out.len();
            let word_start = prev.is_none_or(|p| !p.is_alphanumeric() && p != '\'' && p != '’');
            match style {
                Case::Lower => out.extend(c.to_lowercase()),
                Case::Upper => out.extend(c.to_uppercase()),
                Case::Title if word_start => out.extend(c.to_uppercase()),
                Case::Title => out.push(c),
                Case::Natural | Case::Sentence => {
                    if first_of_query && !seen_letter && c.is_alphabetic() {
                        out.extend(c.to_uppercase())
                    } else {
                        out.push(c)
                    }
                }
            }
            if c.is_alphabetic() {
                seen_letter = true;
            }
            prev = Some(c);
        }
        at[self.text.len()] = out.len();
        for call in &mut self.calls {
            if let Arg::Span(_, range) = &mut call.arg {
                *range = at[range.start]..at[range.end];
            }
        }
        self.text = out;
    }
}

fn shift(call: &Call, offset: usize) -> Call {
    let arg = match &call.arg {
        Arg::Span(key, r) => Arg::Span(key, r.start + offset..r.end + offset),
        other => other.clone(),
    };
    Call {
        tool: call.tool,
        arg,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// Entities as spelled in the taxonomy, filler lower-case.
    Natural,
    Lower,
    Title,
    Upper,
    /// Natural, with the query's first letter capitalised.
    Sentence,
}

/// A finished text with its model-side calls, in text order.
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    pub text: String,
    pub calls: Vec<ToolCall>,
}

/// Joins parts; `seps[i]` goes between part i and i+1 (default a space).
pub fn assemble(parts: &[Part], seps: &[String]) -> Built {
    let mut joined = Part::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            let sep = seps.get(i - 1).map(String::as_str).unwrap_or(" ");
            // ", " attaches to the previous word; " - " keeps its spaces. A
            // comma after a symbol ("80k €,") would glue onto the symbol's
            // word chunk and cut a span ending there, so it becomes a space.
            let glued = sep.trim_end();
            let after_symbol = joined
                .text
                .chars()
                .next_back()
                .is_some_and(|c| !c.is_alphanumeric());
            if !after_symbol || glued.starts_with(' ') {
                joined.text.push_str(glued);
            }
        }
        joined = joined.join(part);
    }
    build(&joined)
}

/// The model-side calls of a part over its own text.
pub fn build(part: &Part) -> Built {
    let calls = part
        .calls
        .iter()
        .map(|call| {
            let arguments = match &call.arg {
                Arg::Span(key, r) => json!({ *key: &part.text[r.clone()] }),
                Arg::Enum(key, value) => json!({ *key: value }),
                Arg::Empty => json!({}),
            };
            ToolCall::new(call.tool, arguments)
        })
        .collect::<Vec<_>>();
    // A tool appears once per distinct value.
    let mut unique: Vec<ToolCall> = Vec::with_capacity(calls.len());
    for call in calls {
        if !unique.contains(&call) {
            unique.push(call);
        }
    }
    Built {
        text: part.text.clone(),
        calls: unique,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_follow_casing_and_joining() {
        let mut a = Part::new()
            .tag(ToolName::Seniority, "level", "mid_senior")
            .word("Senior")
            .span(ToolName::Title, "title", "Data Scientist");
        let mut b = Part::new()
            .word("in")
            .span(ToolName::Location, "location", "İstanbul");
        a.recase(Case::Lower, true);
        b.recase(Case::Lower, false);
        let built = assemble(&[a, b], &[", ".to_string()]);
        assert_eq!(built.text, "senior data scientist, in i̇stanbul");
        assert_eq!(built.calls[1].text("title"), Some("data scientist"));
        assert_eq!(built.calls[2].text("location"), Some("i̇stanbul"));
        let mut c = Part::new()
            .word("(")
            .raw("remote)")
            .span(ToolName::Title, "title", "pm");
        c.recase(Case::Title, true);
        assert_eq!(c.text, "(Remote) Pm");
        assert_eq!(build(&c).calls[0].text("title"), Some("Pm"));
    }
}
