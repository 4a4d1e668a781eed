//! Routing: trust screen → planner (the model, then [`planner::settle`]) →
//! rewriter (self-reference) → tagger → suggester, over any [`Generator`].
//!
//! Every stage's text goes through one [`StreamParser`], so the order of the
//! pieces is enforced in one place, and every event reaches the caller the
//! moment it is final: a tool is executed (a place resolved, a salary read)
//! as soon as its line ends, while the model goes on generating.

use std::ops::ControlFlow;

use crate::contract::{Denial, DenialStage, Event, Input, Intent, Output, ToolCall, ToolName};
use crate::error::{QuarryError, Result};
use crate::generator::{Constraint, GenerationRequest, GenerationStats, Generator};
use crate::prompt::{self, Prompt, Style};
use crate::stream::StreamParser;
use crate::taxonomy::{Industry, Taxonomy};
use crate::tools::{self, ToolContext};
use crate::{planner, rewriter, suggest, trust};

/// Routes queries through the model's parts.
#[derive(Debug, Clone, Copy)]
pub struct Router<'t> {
    taxonomy: &'t Taxonomy,
    style: Style,
}

/// What the caller's event sink tells the router.
pub type Sink<'s> = dyn FnMut(&Event) -> ControlFlow<()> + 's;

/// The route's result and the model counts behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Routed {
    pub output: Output,
    pub stats: GenerationStats,
}

impl<'t> Router<'t> {
    pub fn new(taxonomy: &'t Taxonomy, style: Style) -> Router<'t> {
        Router { taxonomy, style }
    }

    /// Understands one query, sending each event to `sink` as it becomes
    /// final; the last event is `done` with the returned output. A sink that
    /// breaks (a client gone) stops the model and yields
    /// [`QuarryError::Cancelled`].
    pub fn understand(
        &self,
        generator: &mut dyn Generator,
        input: &Input,
        now_unix: i64,
        sink: &mut Sink<'_>,
    ) -> Result<Routed> {
        let input = input.clone().validated()?;
        let mut run = Run {
            router: self,
            generator,
            out: Emitter {
                sink,
                failed: false,
                cancelled: false,
            },
            parser: StreamParser::new(),
            stats: GenerationStats::default(),
        };
        let mut output = run.route(&input, now_unix)?;
        output.confidence = run.stats.confidence();
        if run.out.cancelled {
            return Err(QuarryError::Cancelled);
        }
        run.out.emit(&Event::Done(Box::new(output.clone())));
        Ok(Routed {
            output,
            stats: run.stats,
        })
    }
}

/// The state of one request while it is routed.
struct Run<'r, 't, 's> {
    router: &'r Router<'t>,
    generator: &'r mut dyn Generator,
    out: Emitter<'r, 's>,
    parser: StreamParser,
    stats: GenerationStats,
}

impl<'r, 't, 's> Run<'r, 't, 's> {
    fn route(&mut self, input: &Input, now_unix: i64) -> Result<Output> {
        let taxonomy = self.router.taxonomy;
        let style = self.router.style;
        let query = input.query.as_str();

        if let Some(category) = trust::screen(query) {
            self.out.emit(&Event::Intent(Intent::TrustViolation));
            return Ok(Output::denied(
                query,
                Denial {
                    category: Some(category),
                    stage: DenialStage::Screen,
                },
            ));
        }

        let mut output = Output::searching(query);

        // Planner. If it fails, the output keeps the neutral intent and no tools.
        let mut intent = None;
        self.stage(
            &prompt::planner(query, style),
            Constraint::Intent,
            |run, event| match event {
                Event::Intent(found) => {
                    let found = planner::settle(found, query);
                    intent = Some(found);
                    run.emit(&Event::Intent(found));
                    Ok(())
                }
                other => Err(unexpected("planner", &other)),
            },
        )?;
        let Some(intent) = intent else {
            return Ok(output);
        };
        output.intent = intent;
        self.parser.correct_intent(intent);
        if intent == Intent::TrustViolation {
            return Ok(Output::denied(
                query,
                Denial {
                    category: None,
                    stage: DenialStage::Model,
                },
            ));
        }

        // Rewriter: self-reference becomes a self-contained query.
        let mut source = query.to_string();
        if intent == Intent::SelfReference {
            let rewrite = match &input.profile {
                Some(profile) if rewriter::needs_model(input) => {
                    let mut written = None;
                    let constraint = Constraint::Rewrite { query, profile };
                    self.stage_ending(
                        &prompt::rewriter(query, profile, style),
                        constraint,
                        CutOff::IsDropped,
                        |_, event| match event {
                            // One longer than a query babbles too.
                            Event::Rewrite(text) => {
                                written = rewriter::check(&text).ok();
                                Ok(())
                            }
                            other => Err(unexpected("rewriter", &other)),
                        },
                    )?;
                    if !self.out.live() {
                        output.rewritten_query = Some(query.to_string());
                        return Ok(output);
                    }
                    // A rewrite that babbles, is too long, or was cut off by
                    // the budget gives way to the query with its phrases
                    // replaced ([`rewriter::settle`]); failing that the
                    // query stays as written, as without a profile.
                    let rewrite = rewriter::settle(written, query, profile)
                        .unwrap_or_else(|| query.to_string());
                    self.out.emit(&Event::Rewrite(rewrite.clone()));
                    rewrite
                }
                _ => {
                    self.out.emit(&Event::Rewrite(query.to_string()));
                    query.to_string()
                }
            };
            output.rewritten_query = Some(rewrite.clone());
            source = rewrite;
        }

        // Tagger: each tool runs as soon as its line is final.
        let context = ToolContext::new(taxonomy, input.profile.as_ref(), &source, now_unix);
        let mut calls: Vec<ToolCall> = Vec::new();
        let constraint = Constraint::Tools { source: &source };
        self.stage(
            &prompt::tagger(&source, style),
            constraint,
            |run, event| match event {
                Event::Tool(call) => {
                    if tools::mistakes_title_for_place(&call, &context) {
                        return Ok(());
                    }
                    let executed = tools::execute(&call, &context)?;
                    // Different spans can mean one filter ("not many
                    // applicants", "low competition"): one call per value.
                    if calls.contains(&executed) {
                        return Ok(());
                    }
                    run.emit(&Event::Tool(executed.clone()));
                    calls.push(executed);
                    Ok(())
                }
                other => Err(unexpected("tagger", &other)),
            },
        )?;
        output.tools = calls;
        if !self.out.live() {
            return Ok(output);
        }

        // Suggester: only when an industry was tagged and is in the taxonomy.
        let tagged: Vec<&Industry> = output
            .tools
            .iter()
            .filter(|call| call.name == ToolName::Industry)
            .filter_map(|call| call.text("industry"))
            .filter_map(|text| taxonomy.industries.resolve(text))
            .collect();
        if let Some(first) = tagged.first() {
            let member = input
                .profile
                .as_ref()
                .and_then(|p| p.industry.as_deref())
                .map(|text| {
                    taxonomy
                        .industries
                        .resolve(text)
                        .map_or(text, |i| i.name.as_str())
                });
            let names: Vec<&str> = taxonomy
                .industries
                .all()
                .iter()
                .filter(|i| !tagged.iter().any(|t| t.code == i.code))
                .map(|i| i.name.as_str())
                .collect();
            let mut suggested = Vec::new();
            let prompt = prompt::suggester(&first.name, member, style);
            self.stage(
                &prompt,
                Constraint::Suggestions { names: &names },
                |run, event| match event {
                    Event::Suggestions(proposed) => {
                        suggested = suggest::accept(&taxonomy.industries, &tagged, proposed);
                        run.emit(&Event::Suggestions(suggested.clone()));
                        Ok(())
                    }
                    other => Err(unexpected("suggester", &other)),
                },
            )?;
            output.suggested_industries = suggested;
        }
        Ok(output)
    }

    /// Runs one model call. Its text goes through the parser chunk by
    /// chunk, and each final event reaches `on_event` before the model makes
    /// its next token. The first malformed piece becomes an `error` event;
    /// later stages are then skipped.
    fn stage(
        &mut self,
        prompt: &Prompt,
        constraint: Constraint<'_>,
        on_event: impl FnMut(&mut Emitter<'_, '_>, Event) -> std::result::Result<(), String>,
    ) -> Result<()> {
        self.stage_ending(prompt, constraint, CutOff::Fails, on_event)
    }

    /// [`Self::stage`], saying what a last piece cut off by the budget does.
    fn stage_ending(
        &mut self,
        prompt: &Prompt,
        constraint: Constraint<'_>,
        cut_off: CutOff,
        mut on_event: impl FnMut(&mut Emitter<'_, '_>, Event) -> std::result::Result<(), String>,
    ) -> Result<()> {
        if !self.out.live() {
            return Ok(());
        }
        let request = GenerationRequest { prompt, constraint };
        let (parser, out) = (&mut self.parser, &mut self.out);
        let stats = self.generator.generate(&request, &mut |chunk| {
            for event in parser.push(chunk) {
                out.handle(event, &mut on_event);
            }
            if out.live() {
                ControlFlow::Continue(())
            } else {
                ControlFlow::Break(())
            }
        })?;
        match cut_off {
            CutOff::Fails => {
                for event in self.parser.finish() {
                    self.out.handle(event, &mut on_event);
                }
            }
            CutOff::IsDropped => {
                self.parser.abandon_line();
            }
        }
        self.stats.add(&stats);
        Ok(())
    }
}

/// What a stage's last piece, cut off by the token budget, does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CutOff {
    /// The stream reports it and the route stops.
    Fails,
    /// It is dropped: the caller has something to put in its place.
    IsDropped,
}

/// Delivers events to the caller and remembers whether the route failed
/// (malformed model output) or was cancelled (the caller went away).
pub struct Emitter<'r, 's> {
    sink: &'r mut Sink<'s>,
    failed: bool,
    cancelled: bool,
}

impl Emitter<'_, '_> {
    fn live(&self) -> bool {
        !self.failed && !self.cancelled
    }

    fn emit(&mut self, event: &Event) {
        if !self.cancelled && (self.sink)(event).is_break() {
            self.cancelled = true;
        }
    }

    fn handle(
        &mut self,
        event: Event,
        on_event: &mut impl FnMut(&mut Self, Event) -> std::result::Result<(), String>,
    ) {
        if !self.live() {
            return;
        }
        let result = match event {
            Event::Error(message) => Err(message),
            event => on_event(self, event),
        };
        if let Err(message) = result {
            self.failed = true;
            self.emit(&Event::Error(message));
        }
    }
}

fn unexpected(stage: &str, event: &Event) -> String {
    let kind = serde_json::to_value(event)
        .ok()
        .and_then(|v| v.get("event").and_then(|e| e.as_str().map(str::to_string)))
        .unwrap_or_default();
    format!("the {stage} produced an unexpected `{kind}` piece")
}
