//! The streaming parser: model output text in, contract events out.
//!
//! # Wire format
//!
//! Every stage of the model writes lines of `<keyword> <payload>`:
//!
//! ```text
//! intent self_reference
//! rewrite Sous Chef jobs in naples
//! title_tool sous chef
//! location_tool naples
//! easy_apply_tool
//! suggest ["Restaurants","Hospitality"]
//! ```
//!
//! `intent` takes a bare intent name, `rewrite` the rewritten query as plain
//! text, a tool name its one argument as plain text (none for argument-less
//! tools; [`ToolName::wire_argument`] names it) and `suggest` a JSON array of
//! industry names. Copied text is written exactly as the prompt writes it,
//! after one space, so a copied word is the same token as in the prompt:
//! copying is then the attention pattern a small model learns first, where
//! quoting (`"naples` against ` naples`) made every word a different token.
//! Lines are short and self-delimiting, so a piece is final at its newline
//! and tools can run while the model goes on.
//! The order is fixed: intent, then rewrite (self-reference only), then
//! tools, then suggestions; anything else is malformed.
//!
//! The parser buffers bytes, so a chunk may end anywhere: inside a UTF-8
//! character, a JSON escape or a keyword. After the first malformed line it
//! reports one `error` event and ignores the rest, keeping what was final.

use serde_json::Value;

use crate::contract::{Event, Intent, ToolCall, ToolName};

/// A longer line cannot come from a valid output; stop buffering.
pub const MAX_LINE_BYTES: usize = 4096;

const INTENT: &str = "intent";
const REWRITE: &str = "rewrite";
const SUGGEST: &str = "suggest";

/// Where in the fixed order of pieces the output is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Start,
    Intent,
    Rewrite,
    Tools,
    Suggestions,
}

/// Incremental parser over the model's output; see the module docs.
#[derive(Debug)]
pub struct StreamParser {
    line: Vec<u8>,
    stage: Stage,
    intent: Option<Intent>,
    tools: Vec<ToolCall>,
    failed: bool,
}

impl Default for StreamParser {
    fn default() -> Self {
        StreamParser::new()
    }
}

impl StreamParser {
    pub fn new() -> StreamParser {
        StreamParser {
            line: Vec::new(),
            stage: Stage::Start,
            intent: None,
            tools: Vec::new(),
            failed: false,
        }
    }

    /// Feeds one chunk; returns the events that became final with it.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Event> {
        let mut events = Vec::new();
        for &byte in chunk {
            if self.failed {
                break;
            }
            if byte == b'\n' {
                let line = std::mem::take(&mut self.line);
                self.parse_line(&line, &mut events);
            } else if self.line.len() >= MAX_LINE_BYTES {
                self.fail(
                    &mut events,
                    format!("line longer than {MAX_LINE_BYTES} bytes"),
                );
            } else {
                self.line.push(byte);
            }
        }
        events
    }

    /// Ends the stream. Every piece ends with its newline, so a last line
    /// without one was cut off (plain text cannot tell a whole span from a
    /// cut one) and is an error.
    pub fn finish(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        if !self.failed && !self.line.trim_ascii().is_empty() {
            let line = String::from_utf8_lossy(&self.line).into_owned();
            self.fail(
                &mut events,
                format!("output cut off at `{}`", truncate(&line, 80)),
            );
        }
        events
    }

    /// Ends a stage whose last piece may be cut off without failing the
    /// stream (a rewrite that ran past its budget, which the router
    /// replaces): drops the unfinished line.
    pub fn abandon_line(&mut self) {
        self.line.clear();
    }

    /// Whether a malformed piece was seen (after which input is ignored).
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// The intent, once final.
    pub fn intent(&self) -> Option<Intent> {
        self.intent
    }

    /// Replaces the final intent that later pieces are checked against:
    /// the planner's rule ([`crate::planner::settle`]) may correct the
    /// model's, and a rewrite must then be accepted.
    pub fn correct_intent(&mut self, intent: Intent) {
        if self.intent.is_some() {
            self.intent = Some(intent);
        }
    }

    fn fail(&mut self, events: &mut Vec<Event>, message: String) {
        self.failed = true;
        self.line.clear();
        events.push(Event::Error(message));
    }

    fn parse_line(&mut self, raw: &[u8], events: &mut Vec<Event>) {
        let line = match std::str::from_utf8(raw) {
            Ok(line) => line.trim(),
            Err(_) => return self.fail(events, "model output is not valid UTF-8".into()),
        };
        if line.is_empty() {
            return;
        }
        match self.parse_piece(line) {
            Ok(Some(event)) => events.push(event),
            Ok(None) => {}
            Err(message) => self.fail(events, message),
        }
    }

    fn parse_piece(&mut self, line: &str) -> Result<Option<Event>, String> {
        let (keyword, payload) = line.split_once(' ').unwrap_or((line, ""));
        let payload = payload.trim();
        let quoted = || format!("`{}`", truncate(line, 80));
        match keyword {
            INTENT => {
                self.advance(Stage::Intent, keyword)?;
                let intent = Intent::parse(payload)
                    .ok_or_else(|| format!("unknown intent in {}", quoted()))?;
                self.intent = Some(intent);
                Ok(Some(Event::Intent(intent)))
            }
            REWRITE => {
                if self.intent != Some(Intent::SelfReference) {
                    return Err(format!("rewrite without self-reference: {}", quoted()));
                }
                self.advance(Stage::Rewrite, keyword)?;
                if payload.is_empty() {
                    return Err(format!("empty rewrite: {}", quoted()));
                }
                Ok(Some(Event::Rewrite(payload.to_string())))
            }
            SUGGEST => {
                self.advance(Stage::Suggestions, keyword)?;
                let names: Vec<String> = serde_json::from_str(payload)
                    .map_err(|e| format!("bad suggestions {}: {e}", quoted()))?;
                Ok(Some(Event::Suggestions(names)))
            }
            tool => {
                let name =
                    ToolName::parse(tool).ok_or_else(|| format!("unknown piece {}", quoted()))?;
                self.advance(Stage::Tools, keyword)?;
                let arguments = match (name.wire_argument(), payload) {
                    (None, "") => serde_json::json!({}),
                    (Some(key), argument) if !argument.is_empty() => {
                        serde_json::json!({ key: argument })
                    }
                    (None, _) => return Err(format!("{tool} takes no argument: {}", quoted())),
                    (Some(_), _) => return Err(format!("{tool} without its argument")),
                };
                let call = ToolCall::new(name, arguments);
                // A tool appears once per distinct value.
                if self.tools.contains(&call) {
                    return Ok(None);
                }
                self.tools.push(call.clone());
                Ok(Some(Event::Tool(call)))
            }
        }
    }

    /// Moves to `next`, enforcing the fixed order (tools may repeat).
    fn advance(&mut self, next: Stage, keyword: &str) -> Result<(), String> {
        let allowed = match next {
            Stage::Intent => self.stage == Stage::Start,
            Stage::Tools => {
                matches!(self.stage, Stage::Intent | Stage::Rewrite | Stage::Tools)
                    && self.intent != Some(Intent::TrustViolation)
            }
            _ => self.stage < next && self.stage != Stage::Start,
        };
        if !allowed {
            return Err(format!("`{keyword}` out of order"));
        }
        self.stage = next;
        Ok(())
    }
}

/// Parses a whole output at once (convenience for tests and batch tools).
pub fn parse_all(text: &[u8]) -> Vec<Event> {
    let mut parser = StreamParser::new();
    let mut events = parser.push(text);
    events.extend(parser.finish());
    events
}

/// Writers for the wire format: the inverse of the parser, used by data
/// generation (gold targets) and by tests.
pub mod wire {
    use super::*;

    pub fn intent(intent: Intent) -> String {
        format!("{INTENT} {}\n", intent.as_str())
    }

    /// `text` holds no newline (the rewriter's grammar cannot write one).
    pub fn rewrite(text: &str) -> String {
        format!("{REWRITE} {text}\n")
    }

    /// `call` holds the tagger's wire argument (see [`crate::tools`]).
    pub fn tool(call: &ToolCall) -> String {
        let argument = call.name.wire_argument().and_then(|key| call.text(key));
        match argument {
            Some(argument) => format!("{} {argument}\n", call.name.as_str()),
            None => format!("{}\n", call.name.as_str()),
        }
    }

    pub fn suggest(names: &[String]) -> String {
        format!("{SUGGEST} {}\n", Value::from(names.to_vec()))
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> String {
        let mut out = wire::intent(Intent::SelfReference);
        out += &wire::rewrite("Sous Chef jobs in Napoli \"centro\" ☕");
        out += &wire::tool(&ToolCall::new(
            ToolName::Title,
            json!({"title": "sous chef"}),
        ));
        out += &wire::tool(&ToolCall::new(ToolName::EasyApply, json!({})));
        out += &wire::suggest(&["Restaurants".into(), "Food & Beverages".into()]);
        out
    }

    #[test]
    fn parses_every_piece_in_order() {
        let events = parse_all(sample().as_bytes());
        assert_eq!(events.len(), 5);
        assert_eq!(events[0], Event::Intent(Intent::SelfReference));
        assert_eq!(
            events[1],
            Event::Rewrite("Sous Chef jobs in Napoli \"centro\" ☕".into())
        );
        assert!(matches!(&events[2], Event::Tool(c) if c.name == ToolName::Title));
        assert!(matches!(&events[4], Event::Suggestions(s) if s.len() == 2));
    }

    #[test]
    fn a_piece_is_emitted_at_its_newline() {
        let mut parser = StreamParser::new();
        assert!(parser.push(b"intent criteria_sea").is_empty());
        assert_eq!(
            parser.push(b"rch\ntitle_tool nu"),
            vec![Event::Intent(Intent::CriteriaSearch)]
        );
        let events = parser.push(b"rse\n");
        assert_eq!(
            events,
            vec![Event::Tool(ToolCall::new(
                ToolName::Title,
                json!({"title": "nurse"})
            ))]
        );
    }

    #[test]
    fn truncated_output_keeps_what_was_final() {
        let text = "intent criteria_search\ntitle_tool nurse\ncompany_tool goo";
        let events = parse_all(text.as_bytes());
        assert_eq!(events.len(), 3);
        assert!(matches!(events[2], Event::Error(_)));
    }

    #[test]
    fn out_of_order_and_unknown_pieces_are_errors() {
        for bad in [
            "title_tool x\n",
            "intent criteria_search\nrewrite x\n",
            "intent self_reference\nrewrite\n",
            "intent criteria_search\nintent non_job\n",
            "intent trust_violation\ntitle_tool x\n",
            "intent criteria_search\nsuggest []\ntitle_tool x\n",
            "intent criteria_search\nweather_tool\n",
            "intent criteria_search\ntitle_tool\n",
            "intent criteria_search\neasy_apply_tool now\n",
            "intent maybe\n",
        ] {
            let events = parse_all(bad.as_bytes());
            assert!(
                matches!(events.last(), Some(Event::Error(_))),
                "{bad:?} gave {events:?}"
            );
            assert_eq!(
                events
                    .iter()
                    .filter(|e| matches!(e, Event::Error(_)))
                    .count(),
                1
            );
        }
    }

    #[test]
    fn duplicate_tool_calls_are_dropped() {
        let text = "intent criteria_search\ntitle_tool nurse\ntitle_tool nurse\n";
        assert_eq!(parse_all(text.as_bytes()).len(), 2);
    }

    #[test]
    fn overlong_lines_stop_buffering() {
        let mut parser = StreamParser::new();
        let events = parser.push(&vec![b'a'; MAX_LINE_BYTES + 10]);
        assert!(matches!(events.as_slice(), [Event::Error(_)]));
        assert!(parser.failed());
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let events = parse_all(b"intent criteria_search\ntitle_tool \xff\n");
        assert!(matches!(events.last(), Some(Event::Error(_))));
    }
}
