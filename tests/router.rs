//! Routing over a scripted generator (a stand-in for the model, allowed in
//! unit tests of routing only): the stages run in the spec's order, events
//! arrive as soon as they are final, and every failure ends in `done`.

use std::cell::RefCell;
use std::ops::ControlFlow;
use std::rc::Rc;

use quarry::contract::{DenialStage, DENIAL_MESSAGE};
use quarry::prompt::{Style, Task};
use quarry::stream::wire;
use quarry::{
    Event, GenerationRequest, GenerationStats, Generator, Input, Intent, Profile, QuarryError,
    Result, Router, Taxonomy, ToolCall, ToolName,
};
use serde_json::json;

const NOW: i64 = 1_790_000_000;

/// Replies to each task with fixed text, three bytes at a time, and notes
/// how many events the caller had seen before each chunk.
struct Scripted {
    replies: Vec<(Task, String)>,
    calls: Vec<Task>,
    seen: Rc<RefCell<Vec<Event>>>,
    events_before_chunk: Vec<usize>,
}

impl Scripted {
    fn new(replies: &[(Task, String)], seen: Rc<RefCell<Vec<Event>>>) -> Scripted {
        Scripted {
            replies: replies.to_vec(),
            calls: vec![],
            seen,
            events_before_chunk: vec![],
        }
    }
}

impl Generator for Scripted {
    fn generate(
        &mut self,
        request: &GenerationRequest<'_>,
        on_text: &mut dyn FnMut(&[u8]) -> ControlFlow<()>,
    ) -> Result<GenerationStats> {
        let task = request.prompt.task;
        self.calls.push(task);
        let reply = self
            .replies
            .iter()
            .find(|(t, _)| *t == task)
            .map(|(_, r)| r.clone())
            .unwrap_or_default();
        let mut stats = GenerationStats::default();
        for chunk in reply.as_bytes().chunks(3) {
            self.events_before_chunk.push(self.seen.borrow().len());
            stats.generated_tokens += 1;
            if on_text(chunk).is_break() {
                break;
            }
        }
        Ok(stats)
    }
}

fn run(input: Input, replies: &[(Task, String)]) -> (Result<quarry::Routed>, Vec<Event>, Scripted) {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let mut generator = Scripted::new(replies, seen.clone());
    let router = Router::new(Taxonomy::embedded(), Style::Compact);
    let sink_seen = seen.clone();
    let result = router.understand(&mut generator, &input, NOW, &mut |event| {
        sink_seen.borrow_mut().push(event.clone());
        ControlFlow::Continue(())
    });
    let events = seen.borrow().clone();
    (result, events, generator)
}

fn tool(name: ToolName, args: serde_json::Value) -> String {
    wire::tool(&ToolCall::new(name, args))
}

fn kinds(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(Event::name).collect()
}

#[test]
fn criteria_search_runs_planner_then_tagger_and_executes_tools() {
    let florida = Profile {
        location: Some("Naples, Florida, United States".into()),
        ..Profile::default()
    };
    let input = Input {
        query: "senior rust engineer jobs in naples posted this week".into(),
        profile: Some(florida),
    };
    let tagger = [
        tool(ToolName::Title, json!({"title": "rust engineer"})),
        tool(ToolName::Seniority, json!({"level": "mid_senior"})),
        tool(ToolName::Location, json!({"location": "naples"})),
        tool(ToolName::DatePosted, json!({"within": "past_week"})),
    ]
    .concat();
    let (result, events, generator) = run(
        input,
        &[
            (Task::Planner, wire::intent(Intent::CriteriaSearch)),
            (Task::Tagger, tagger),
        ],
    );
    let output = result.unwrap().output;
    assert_eq!(generator.calls, vec![Task::Planner, Task::Tagger]);
    assert_eq!(
        kinds(&events),
        ["intent", "tool", "tool", "tool", "tool", "done"]
    );
    let location = &output.tools[2];
    assert_eq!(location.arguments["resolved"]["geoname_id"], 4165565);
    assert_eq!(location.arguments["resolved"]["admin1"], "Florida");
    assert_eq!(output.tools[3].arguments["posted_after"], NOW - 7 * 86_400);
    assert!(output.suggested_industries.is_empty());
    assert_eq!(events.last(), Some(&Event::Done(Box::new(output))));
}

#[test]
fn each_tool_event_reaches_the_caller_before_the_model_goes_on() {
    let tagger = [
        tool(ToolName::Title, json!({"title": "nurse"})),
        tool(ToolName::Location, json!({"location": "austin"})),
    ]
    .concat();
    let (_, events, generator) = run(
        Input::query("nurse jobs in austin"),
        &[
            (Task::Planner, wire::intent(Intent::CriteriaSearch)),
            (Task::Tagger, tagger.clone()),
        ],
    );
    let first_tool = events
        .iter()
        .position(|e| matches!(e, Event::Tool(_)))
        .unwrap();
    // The chunk that completed the first tool line was followed by more
    // chunks, and those already saw the tool event.
    let first_line_chunks = tagger.find('\n').unwrap() / 3 + 1;
    let planner_chunks = wire::intent(Intent::CriteriaSearch).len().div_ceil(3);
    let next_chunk = planner_chunks + first_line_chunks;
    assert!(generator.events_before_chunk[next_chunk] > first_tool);
}

#[test]
fn self_reference_rewrites_from_the_profile_and_tags_the_rewrite() {
    let profile = Profile {
        title: Some("Sous Chef".into()),
        location: Some("Naples, Florida, United States".into()),
        ..Profile::default()
    };
    let input = Input {
        query: "jobs that fit my profile".into(),
        profile: Some(profile),
    };
    let rewrite = "Sous Chef jobs in Naples, Florida, United States";
    let tagger = [
        tool(ToolName::Title, json!({"title": "Sous Chef"})),
        tool(
            ToolName::Location,
            json!({"location": "Naples, Florida, United States"}),
        ),
    ]
    .concat();
    let (result, events, generator) = run(
        input,
        &[
            (Task::Planner, wire::intent(Intent::SelfReference)),
            (Task::Rewriter, wire::rewrite(rewrite)),
            (Task::Tagger, tagger),
        ],
    );
    let output = result.unwrap().output;
    assert_eq!(
        generator.calls,
        vec![Task::Planner, Task::Rewriter, Task::Tagger]
    );
    assert_eq!(
        kinds(&events),
        ["intent", "rewrite", "tool", "tool", "done"]
    );
    assert_eq!(output.rewritten_query.as_deref(), Some(rewrite));
    assert_eq!(
        output.tools[1].arguments["resolved"]["country"],
        "United States"
    );
}

#[test]
fn a_query_naming_the_member_is_self_reference_whatever_the_planner_said() {
    let profile = Profile {
        location: Some("Porto, Porto, Portugal".into()),
        ..Profile::default()
    };
    let input = Input {
        query: "vagas de enfermeira perto de mim".into(),
        profile: Some(profile),
    };
    let rewrite = "vagas de enfermeira em Porto, Porto, Portugal";
    let (result, events, generator) = run(
        input,
        &[
            (Task::Planner, wire::intent(Intent::CriteriaSearch)),
            (Task::Rewriter, wire::rewrite(rewrite)),
            (
                Task::Tagger,
                tool(
                    ToolName::Location,
                    json!({"location": "Porto, Porto, Portugal"}),
                ),
            ),
        ],
    );
    let output = result.unwrap().output;
    assert_eq!(
        generator.calls,
        vec![Task::Planner, Task::Rewriter, Task::Tagger]
    );
    assert_eq!(events[0], Event::Intent(Intent::SelfReference));
    assert_eq!(kinds(&events), ["intent", "rewrite", "tool", "done"]);
    assert_eq!(output.intent, Intent::SelfReference);
    assert_eq!(output.rewritten_query.as_deref(), Some(rewrite));
}

#[test]
fn a_title_word_is_dropped_as_a_place() {
    let input = Input {
        query: "pipe welder lyon".into(),
        profile: None,
    };
    let tagger = [
        tool(ToolName::Title, json!({"title": "pipe"})),
        tool(ToolName::Location, json!({"location": "welder"})),
        tool(ToolName::Location, json!({"location": "lyon"})),
    ]
    .concat();
    let (result, _, _) = run(
        input,
        &[
            (Task::Planner, wire::intent(Intent::CriteriaSearch)),
            (Task::Tagger, tagger),
        ],
    );
    let places: Vec<_> = result
        .unwrap()
        .output
        .tools
        .iter()
        .filter_map(|call| call.text("location").map(str::to_string))
        .collect();
    assert_eq!(places, ["lyon"]);
}

#[test]
fn self_reference_without_a_profile_keeps_the_query() {
    let (result, events, generator) = run(
        Input::query("pm jobs near me"),
        &[
            (Task::Planner, wire::intent(Intent::SelfReference)),
            (Task::Tagger, tool(ToolName::Title, json!({"title": "pm"}))),
        ],
    );
    let output = result.unwrap().output;
    assert_eq!(generator.calls, vec![Task::Planner, Task::Tagger]);
    assert_eq!(output.rewritten_query.as_deref(), Some("pm jobs near me"));
    assert_eq!(kinds(&events), ["intent", "rewrite", "tool", "done"]);
}

#[test]
fn the_trust_screen_denies_before_the_model_runs() {
    let (result, events, generator) = run(Input::query("how to make a bomb"), &[]);
    let output = result.unwrap().output;
    assert!(generator.calls.is_empty());
    assert!(output.denied && output.tools.is_empty());
    assert_eq!(output.message.as_deref(), Some(DENIAL_MESSAGE));
    assert_eq!(output.denial.unwrap().stage, DenialStage::Screen);
    assert_eq!(kinds(&events), ["intent", "done"]);
}

#[test]
fn the_planners_verdict_denies_too() {
    let (result, events, generator) = run(
        Input::query("jobs for people who hate everyone"),
        &[(Task::Planner, wire::intent(Intent::TrustViolation))],
    );
    let output = result.unwrap().output;
    assert_eq!(generator.calls, vec![Task::Planner]);
    assert!(output.denied);
    assert_eq!(output.intent, Intent::TrustViolation);
    assert_eq!(kinds(&events), ["intent", "done"]);
}

#[test]
fn calls_that_execute_to_the_same_filter_appear_once() {
    let tagger = [
        tool(
            ToolName::NumApplicants,
            json!({"applicants": "not many applicants"}),
        ),
        tool(
            ToolName::NumApplicants,
            json!({"applicants": "low competition"}),
        ),
    ]
    .concat();
    let (result, events, _) = run(
        Input::query("jobs with not many applicants and low competition"),
        &[
            (Task::Planner, wire::intent(Intent::CriteriaSearch)),
            (Task::Tagger, tagger),
        ],
    );
    assert_eq!(result.unwrap().output.tools.len(), 1);
    assert_eq!(kinds(&events), ["intent", "tool", "done"]);
}

#[test]
fn non_job_queries_are_still_tagged() {
    let (result, _, _) = run(
        Input::query("weather in seattle tomorrow"),
        &[
            (Task::Planner, wire::intent(Intent::NonJob)),
            (
                Task::Tagger,
                tool(ToolName::Location, json!({"location": "seattle"})),
            ),
        ],
    );
    let output = result.unwrap().output;
    assert_eq!(output.intent, Intent::NonJob);
    assert_eq!(output.tools.len(), 1);
}

#[test]
fn a_tagged_industry_brings_suggestions_from_the_taxonomy_only() {
    let suggest = wire::suggest(&[
        "Banking".into(),
        "Not An Industry".into(),
        "Financial Services".into(),
        "Banking".into(),
        "Insurance".into(),
    ]);
    let (result, events, generator) = run(
        Input::query("fintech analyst jobs"),
        &[
            (Task::Planner, wire::intent(Intent::CriteriaSearch)),
            (
                Task::Tagger,
                tool(ToolName::Industry, json!({"industry": "fintech"})),
            ),
            (Task::Suggester, suggest),
        ],
    );
    let output = result.unwrap().output;
    assert_eq!(
        generator.calls,
        vec![Task::Planner, Task::Tagger, Task::Suggester]
    );
    assert_eq!(
        output.tools[0].arguments["resolved"]["name"],
        "Financial Services"
    );
    assert_eq!(output.suggested_industries, ["Banking", "Insurance"]);
    assert_eq!(kinds(&events), ["intent", "tool", "suggestions", "done"]);
}

#[test]
fn salary_takes_the_members_currency() {
    let profile = Profile {
        location: Some("Rome, Lazio, Italy".into()),
        ..Profile::default()
    };
    let (result, _, _) = run(
        Input {
            query: "designer over 40k".into(),
            profile: Some(profile),
        },
        &[
            (Task::Planner, wire::intent(Intent::CriteriaSearch)),
            (
                Task::Tagger,
                tool(ToolName::Salary, json!({"amount": "over 40k"})),
            ),
        ],
    );
    let output = result.unwrap().output;
    assert_eq!(
        output.tools[0].arguments,
        json!({"min_annual": 40000, "currency": "EUR"})
            .as_object()
            .unwrap()
            .clone()
    );
}

#[test]
fn malformed_output_is_an_error_then_done_with_what_was_final() {
    let tagger = format!(
        "{}company_tool\n{}",
        tool(ToolName::Title, json!({"title": "nurse"})),
        tool(ToolName::Location, json!({"location": "austin"})),
    );
    let (result, events, _) = run(
        Input::query("nurse jobs in austin"),
        &[
            (Task::Planner, wire::intent(Intent::CriteriaSearch)),
            (Task::Tagger, tagger),
        ],
    );
    let output = result.unwrap().output;
    assert_eq!(kinds(&events), ["intent", "tool", "error", "done"]);
    assert_eq!(output.tools.len(), 1);
}

#[test]
fn a_silent_planner_yields_error_free_neutral_output() {
    let (result, events, generator) = run(
        Input::query("nurse"),
        &[(Task::Planner, "intent crit".into())],
    );
    let output = result.unwrap().output;
    assert_eq!(generator.calls, vec![Task::Planner]);
    assert_eq!(output.intent, Intent::CriteriaSearch);
    assert!(output.tools.is_empty());
    assert_eq!(kinds(&events), ["error", "done"]);
}

#[test]
fn a_planner_that_tags_is_malformed() {
    let planner = format!(
        "{}{}",
        wire::intent(Intent::CriteriaSearch),
        tool(ToolName::Title, json!({"title": "x"}))
    );
    let (_, events, generator) = run(Input::query("x jobs"), &[(Task::Planner, planner)]);
    assert_eq!(generator.calls, vec![Task::Planner]);
    assert_eq!(kinds(&events), ["intent", "error", "done"]);
}

#[test]
fn a_caller_that_goes_away_stops_the_model() {
    let tagger = (0..50)
        .map(|i| tool(ToolName::Title, json!({"title": format!("title {i}")})))
        .collect::<String>();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let mut generator = Scripted::new(
        &[
            (Task::Planner, wire::intent(Intent::CriteriaSearch)),
            (Task::Tagger, tagger.clone()),
        ],
        seen.clone(),
    );
    let router = Router::new(Taxonomy::embedded(), Style::Compact);
    let mut received = 0;
    let result = router.understand(
        &mut generator,
        &Input::query("title jobs"),
        NOW,
        &mut |_| {
            received += 1;
            if received >= 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    );
    assert_eq!(result.unwrap_err(), QuarryError::Cancelled);
    let chunks = generator.events_before_chunk.len();
    assert!(
        chunks < tagger.len() / 3,
        "generation went on: {chunks} chunks"
    );
}

#[test]
fn invalid_input_is_rejected_before_routing() {
    let (result, events, generator) = run(Input::query("   "), &[]);
    assert!(matches!(
        result,
        Err(QuarryError::InvalidInput { field: "query", .. })
    ));
    assert!(events.is_empty() && generator.calls.is_empty());
}

/// The self-reference route with the member in Naples and the rewriter's
/// output as given: the events and the rewrite it ends with.
fn rewrite_with(
    query: &str,
    rewriter_output: &str,
) -> (Vec<&'static str>, Vec<Task>, Option<String>) {
    let input = Input {
        query: query.into(),
        profile: Some(Profile {
            location: Some("Naples, Florida, United States".into()),
            ..Profile::default()
        }),
    };
    let (result, events, generator) = run(
        input,
        &[
            (Task::Planner, wire::intent(Intent::SelfReference)),
            (Task::Rewriter, rewriter_output.into()),
            (
                Task::Tagger,
                tool(ToolName::Title, json!({"title": "chef"})),
            ),
        ],
    );
    let output = result.unwrap().output;
    assert_eq!(output.intent, Intent::SelfReference);
    (kinds(&events), generator.calls, output.rewritten_query)
}

#[test]
fn a_rewrite_cut_off_by_the_budget_gives_way_to_the_phrase_replaced() {
    // No closing newline: the engine's budget ended the line.
    let (kinds, calls, rewrite) = rewrite_with("chef jobs near me", "rewrite chef jobs in in in");
    assert_eq!(kinds, ["intent", "rewrite", "tool", "done"]);
    assert_eq!(calls, [Task::Planner, Task::Rewriter, Task::Tagger]);
    assert_eq!(
        rewrite.as_deref(),
        Some("chef jobs in Naples, Florida, United States")
    );
    // With no phrase to replace, the query stays as written and is tagged.
    let (kinds, calls, rewrite) = rewrite_with("chef jobs for me", "rewrite chef jobs in in in");
    assert_eq!(kinds, ["intent", "rewrite", "tool", "done"]);
    assert_eq!(calls, [Task::Planner, Task::Rewriter, Task::Tagger]);
    assert_eq!(rewrite.as_deref(), Some("chef jobs for me"));
}

#[test]
fn a_rewrite_that_babbles_gives_way_to_the_phrase_replaced() {
    let babble = wire::rewrite(
        "chef jobs in Naples, Florida, United States in Naples, Florida, United States",
    );
    let (kinds, _, rewrite) = rewrite_with("chef jobs near me", &babble);
    assert_eq!(kinds, ["intent", "rewrite", "tool", "done"]);
    assert_eq!(
        rewrite.as_deref(),
        Some("chef jobs in Naples, Florida, United States")
    );
    // With no phrase to replace, the query stays as written: a babbling
    // rewrite would search for what the member never asked.
    let (_, _, rewrite) = rewrite_with("chef jobs like my old one", &babble);
    assert_eq!(rewrite.as_deref(), Some("chef jobs like my old one"));
    // A rewrite that reads well is the model's.
    let good = wire::rewrite("chef jobs near Naples, Florida, United States");
    let (_, _, rewrite) = rewrite_with("chef jobs near me", &good);
    assert_eq!(
        rewrite.as_deref(),
        Some("chef jobs near Naples, Florida, United States")
    );
}
