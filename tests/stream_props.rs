//! Properties of the streaming parser: chunking never changes the events,
//! a cut-off output keeps what was final and ends in one error, and no input
//! makes it panic.

use proptest::prelude::*;
use quarry::stream::{parse_all, wire, StreamParser};
use quarry::{Event, Intent, ToolCall, ToolName};
use serde_json::json;

/// Text with the characters that break naive parsers: quotes, backslashes,
/// newlines, multi-byte UTF-8 and JSON escapes.
fn tricky_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("\"".to_string()),
            Just("\\".to_string()),
            Just("\n".to_string()),
            Just("\\u00e9".to_string()),
            Just("é".to_string()),
            Just("☕".to_string()),
            Just("𝄞".to_string()),
            Just(" ".to_string()),
            "[a-z]{1,6}",
        ],
        1..8,
    )
    .prop_map(|parts| parts.concat())
}

/// What a wire line can carry as plain text: one line, trimmed, not empty
/// (the grammars guarantee this of every copied span and rewrite).
fn line_text() -> impl Strategy<Value = String> {
    tricky_text()
        .prop_map(|t| t.replace('\n', " ").trim().to_string())
        .prop_filter("a wire argument is not empty", |t| !t.is_empty())
}

fn tool_call() -> impl Strategy<Value = ToolCall> {
    prop_oneof![
        line_text().prop_map(|t| ToolCall::new(ToolName::Title, json!({ "title": t }))),
        line_text().prop_map(|t| ToolCall::new(ToolName::Location, json!({ "location": t }))),
        line_text().prop_map(|t| ToolCall::new(ToolName::Salary, json!({ "amount": t }))),
        Just(ToolCall::new(ToolName::EasyApply, json!({}))),
        Just(ToolCall::new(
            ToolName::Seniority,
            json!({"level": "mid_senior"})
        )),
    ]
}

/// A valid model output and the events it must produce.
fn valid_output() -> impl Strategy<Value = (String, Vec<Event>)> {
    (
        prop::sample::select(vec![
            Intent::CriteriaSearch,
            Intent::SelfReference,
            Intent::NonJob,
        ]),
        line_text(),
        proptest::collection::vec(tool_call(), 0..6),
        proptest::option::of(proptest::collection::vec(tricky_text(), 0..4)),
    )
        .prop_map(|(intent, rewrite, tools, suggestions)| {
            let mut text = wire::intent(intent);
            let mut events = vec![Event::Intent(intent)];
            if intent == Intent::SelfReference {
                text += &wire::rewrite(&rewrite);
                events.push(Event::Rewrite(rewrite));
            }
            let mut seen = Vec::new();
            for call in tools {
                text += &wire::tool(&call);
                if !seen.contains(&call) {
                    seen.push(call.clone());
                    events.push(Event::Tool(call));
                }
            }
            if let Some(names) = suggestions {
                text += &wire::suggest(&names);
                events.push(Event::Suggestions(names));
            }
            (text, events)
        })
}

fn parse_in_chunks(text: &[u8], cuts: &[usize]) -> Vec<Event> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (text.len() + 1)).collect();
    cuts.sort_unstable();
    let mut parser = StreamParser::new();
    let mut events = Vec::new();
    let mut start = 0;
    for cut in cuts {
        events.extend(parser.push(&text[start..cut]));
        start = cut;
    }
    events.extend(parser.push(&text[start..]));
    events.extend(parser.finish());
    events
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_chunking_gives_the_events_of_the_whole((text, expected) in valid_output(),
                                                  cuts in proptest::collection::vec(any::<usize>(), 0..40)) {
        let whole = parse_all(text.as_bytes());
        prop_assert_eq!(&whole, &expected);
        prop_assert_eq!(parse_in_chunks(text.as_bytes(), &cuts), expected);
    }

    #[test]
    fn a_cut_off_output_keeps_what_was_final((text, expected) in valid_output(), cut in any::<usize>()) {
        let bytes = text.as_bytes();
        let cut = cut % (bytes.len() + 1);
        let events = parse_all(&bytes[..cut]);
        let errors = events.iter().filter(|e| matches!(e, Event::Error(_))).count();
        prop_assert!(errors <= 1);
        let pieces: Vec<&Event> = events.iter().filter(|e| !matches!(e, Event::Error(_))).collect();
        // What came out is the start of what the whole output gives…
        prop_assert!(pieces.len() <= expected.len());
        for (got, want) in pieces.iter().zip(&expected) {
            prop_assert_eq!(*got, want);
        }
        // …and holds exactly the pieces whose line was complete: plain text
        // cannot tell a whole span from a cut one, so a line needs its newline.
        let complete = bytes[..cut].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let from_complete_lines = parse_all(&bytes[..complete]).len();
        prop_assert_eq!(pieces.len(), from_complete_lines);

        // A cut that leaves half a piece is reported, not guessed at.
        if pieces.len() == from_complete_lines && complete < cut {
            let partial = std::str::from_utf8(&bytes[complete..cut]).map(str::trim).unwrap_or("x");
            // Silence is right only for a repeat of an earlier (dropped) line.
            let repeat = text[..complete].lines().any(|line| line.trim() == partial);
            prop_assert!(errors == 1 || partial.is_empty() || repeat, "{:?}", partial);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600),
                                   cuts in proptest::collection::vec(any::<usize>(), 0..10)) {
        let events = parse_in_chunks(&bytes, &cuts);
        prop_assert!(events.iter().filter(|e| matches!(e, Event::Error(_))).count() <= 1);
    }

    #[test]
    fn line_noise_after_a_valid_prefix_never_panics((text, _) in valid_output(),
                                                   noise in "[ -~\n]{0,80}") {
        let events = parse_all(format!("{text}{noise}").as_bytes());
        prop_assert!(events.iter().filter(|e| matches!(e, Event::Error(_))).count() <= 1);
    }
}
