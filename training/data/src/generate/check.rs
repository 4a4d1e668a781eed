//! Checks every sample against what inference can produce: targets parse
//! as the wire format, spans are whole words of their source (as the
//! tagger's `substring_words` grammar demands), rewrites have the
//! grammar's shape (`decode::RewriteShape`), and tool calls execute.

use quarry::contract::{Event, Intent, Profile, ToolCall, ToolName};
use quarry::decode::{span_source, RewriteShape};
use quarry::stream::{parse_all, wire};
use quarry::tools::{execute, parse_salary, ToolContext};
use quarry::Taxonomy;

/// llguidance's word chunks: runs of whitespace, of word characters, of
/// anything else.
#[derive(PartialEq, Clone, Copy)]
enum Class {
    Space,
    Word,
    Other,
}

fn class(c: char) -> Class {
    if c.is_whitespace() {
        Class::Space
    } else if c.is_alphanumeric() || c == '_' {
        Class::Word
    } else {
        Class::Other
    }
}

fn boundary(text: &str, at: usize) -> bool {
    if at == 0 || at == text.len() {
        return true;
    }
    let before = text[..at].chars().next_back().map(class);
    let after = text[at..].chars().next().map(class);
    before != after
}

/// Whether `span` is a contiguous run of whole chunks of `source` (after
/// the grammar blanks quotes and backslashes), with no outer whitespace.
pub fn word_aligned(source: &str, span: &str) -> bool {
    if span.is_empty()
        || span.trim() != span
        || span.contains(['"', '\\'])
        || span.chars().any(char::is_control)
    {
        return false;
    }
    let text = span_source(source);
    text.match_indices(span)
        .any(|(at, _)| boundary(&text, at) && boundary(&text, at + span.len()))
}

fn events_ok(text: &str) -> Result<Vec<Event>, String> {
    let events = parse_all(text.as_bytes());
    if let Some(Event::Error(e)) = events.iter().find(|e| matches!(e, Event::Error(_))) {
        return Err(format!("does not parse: {e}"));
    }
    Ok(events)
}

pub fn planner(intent: Intent, target: &str) -> Result<(), String> {
    let events = events_ok(target)?;
    if events != [Event::Intent(intent)] {
        return Err(format!("planner target gives {events:?}"));
    }
    Ok(())
}

pub fn rewriter(query: &str, profile: &Profile, rewrite: &str, target: &str) -> Result<(), String> {
    let events = events_ok(&(wire::intent(Intent::SelfReference) + target))?;
    if events.get(1) != Some(&Event::Rewrite(rewrite.to_string())) || events.len() != 2 {
        return Err(format!("rewriter target gives {events:?}"));
    }
    quarry::rewriter::check(rewrite)?;
    if rewrite.trim() != rewrite {
        return Err("rewrite has outer whitespace".into());
    }
    if !RewriteShape::new(query, profile).admits(rewrite) {
        return Err(format!(
            "rewrite `{rewrite}` does not have the grammar's shape"
        ));
    }
    Ok(())
}

/// The tagger target for `calls` on `source`; checks spans and execution.
pub fn tagger(
    taxonomy: &Taxonomy,
    intent: Intent,
    source: &str,
    profile: Option<&Profile>,
    calls: &[ToolCall],
    target: &str,
    now: i64,
) -> Result<Vec<ToolCall>, String> {
    let mut prefix = wire::intent(intent);
    if intent == Intent::SelfReference {
        prefix += &wire::rewrite(source);
    }
    let events = events_ok(&(prefix + target))?;
    let tools: Vec<&ToolCall> = events
        .iter()
        .filter_map(|e| match e {
            Event::Tool(call) => Some(call),
            _ => None,
        })
        .collect();
    if tools.len() != calls.len() || tools.iter().zip(calls).any(|(a, b)| *a != b) {
        return Err(format!("tagger target gives {tools:?}, wanted {calls:?}"));
    }
    let ctx = ToolContext::new(taxonomy, profile, source, now);
    let mut executed = Vec::with_capacity(calls.len());
    for call in calls {
        if let Some(key) = call
            .name
            .wire_argument()
            .filter(|_| call.name.copies_span())
        {
            let span = call
                .text(key)
                .ok_or_else(|| format!("{} without `{key}`", call.name.as_str()))?;
            if !word_aligned(source, span) {
                return Err(format!("span `{span}` is not whole words of `{source}`"));
            }
            let readable =
                span.chars().any(|c| ('1'..='9').contains(&c)) && parse_salary(span).is_some();
            if call.name == ToolName::Salary && !readable {
                return Err(format!("salary span `{span}` has no amount"));
            }
        }
        executed.push(execute(call, &ctx).map_err(|e| format!("{e} ({call:?})"))?);
    }
    Ok(executed)
}

pub fn suggester(names: &[String], target: &str) -> Result<(), String> {
    let events = events_ok(&(wire::intent(Intent::CriteriaSearch) + target))?;
    if events.get(1) != Some(&Event::Suggestions(names.to_vec())) {
        return Err(format!("suggester target gives {events:?}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_follows_llguidance_words() {
        assert!(word_aligned("Sr. QA Eng - Dallas", "QA Eng"));
        assert!(word_aligned("Sr. QA Eng - Dallas", "Sr."));
        assert!(word_aligned("salesforce admin remote $100k+", "$100k+"));
        assert!(word_aligned("ux designer jobs near me, hybrid", "me"));
        assert!(!word_aligned("sofware enginer jobs", "sofware engine"));
        assert!(!word_aligned("nurse jobs", "nurse "));
        assert!(word_aligned("say \"nurse\" jobs", "nurse"));
        assert!(!word_aligned("say \"nurse\" jobs", "\"nurse\""));
    }
}
