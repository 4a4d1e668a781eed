//! What Quarry's edge deployments (the Cloudflare Worker and the Spin
//! component) share, so both answer, escalate and fail identically:
//!
//! - the bundled default model, loaded once per isolate / instance;
//! - request parsing (the contract input plus an optional `"stream"` flag)
//!   and the JSON error body for bad requests;
//! - the fallback decision: escalate to the native origin when the edge
//!   model is unsure (`confidence` below a threshold), when the query is
//!   beyond what the edge model was trained on, or when its output was cut
//!   off; never for a denial;
//! - decoration of answers (`served_by`, `degraded`) and of SSE streams.
//!
//! HTTP plumbing and the outbound call to the origin stay in each runtime's
//! crate: they are the only parts that differ.

use std::cell::RefCell;
use std::ops::ControlFlow;

use quarry::engine::Engine;
use quarry::{Event, Input, Output, QuarryError, Router, Taxonomy};
use serde_json::{Map, Value};

/// The default model, bundled into the edge artefact (4.4 MB).
pub static MODEL_GGUF: &[u8] = include_bytes!("../../../models/quarry-q8_0.gguf");

/// Default confidence threshold below which the edge escalates. Chosen on
/// `tests/data/dev.jsonl` by `scripts/edge/threshold.py` with the origin
/// model answering what is escalated: the lowest threshold that reaches 90%
/// of the best accuracy of edge + escalation (`scripts/edge/threshold.md`).
pub const DEFAULT_THRESHOLD: f64 = 0.90;

/// Longest query, in the edge model's tokens, that it answers itself. The
/// default model's training queries are at most 97 tokens (p99.9: 54);
/// longer queries are outside what it has seen, so they go to the origin.
pub const DEFAULT_MAX_QUERY_TOKENS: usize = 64;

pub use quarry::contract::MAX_REQUEST_BYTES;

/// Path of the one endpoint.
pub const PATH: &str = "/v1/understand";

/// Deployment settings, read from the runtime's variables.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `QUARRY_FALLBACK_THRESHOLD`: escalate when `confidence` is below it.
    /// 0 never escalates on confidence; 1.0 escalates every model answer.
    pub threshold: f64,
    /// `QUARRY_ORIGIN`: base URL of the native server (no trailing path).
    /// Without it the edge answers everything itself.
    pub origin: Option<String>,
    /// `QUARRY_EDGE_MAX_QUERY_TOKENS`.
    pub max_query_tokens: usize,
}

impl Config {
    /// Reads the settings through `var` (an environment or binding lookup).
    /// Malformed values are errors, so a typo in a deployment is loud.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let threshold = match var("QUARRY_FALLBACK_THRESHOLD").filter(|v| !v.trim().is_empty()) {
            None => DEFAULT_THRESHOLD,
            Some(v) => match v.trim().parse::<f64>() {
                Ok(t) if (0.0..=1.0).contains(&t) => t,
                _ => {
                    return Err(format!(
                        "QUARRY_FALLBACK_THRESHOLD must be a number in [0, 1], got {v:?}"
                    ))
                }
            },
        };
        let max_query_tokens =
            match var("QUARRY_EDGE_MAX_QUERY_TOKENS").filter(|v| !v.trim().is_empty()) {
                None => DEFAULT_MAX_QUERY_TOKENS,
                Some(v) => v.trim().parse::<usize>().map_err(|_| {
                    format!("QUARRY_EDGE_MAX_QUERY_TOKENS must be a whole number, got {v:?}")
                })?,
            };
        let origin = var("QUARRY_ORIGIN")
            .map(|o| o.trim().trim_end_matches('/').to_string())
            .filter(|o| !o.is_empty());
        Ok(Config {
            threshold,
            origin,
            max_query_tokens,
        })
    }

    /// The origin's endpoint URL, when an origin is configured.
    pub fn origin_url(&self) -> Option<String> {
        self.origin.as_ref().map(|o| format!("{o}{PATH}"))
    }
}

/// An HTTP error with the contract's error body.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl HttpError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> HttpError {
        HttpError {
            status,
            code,
            message: message.into(),
        }
    }

    /// `{"error": {"code": …, "message": …}}`, as the native server sends.
    pub fn body(&self) -> String {
        serde_json::json!({"error": {"code": self.code, "message": self.message}}).to_string()
    }

    pub fn not_found(path: &str) -> HttpError {
        HttpError::new(
            404,
            "not_found",
            format!("no route for {path}; use POST {PATH}"),
        )
    }

    pub fn method_not_allowed(method: &str) -> HttpError {
        HttpError::new(
            405,
            "method_not_allowed",
            format!("{method} is not allowed; use POST {PATH}"),
        )
    }

    pub fn config(message: String) -> HttpError {
        HttpError::new(500, "config", message)
    }
}

impl From<QuarryError> for HttpError {
    fn from(e: QuarryError) -> HttpError {
        HttpError::new(e.http_status(), e.code(), e.to_string())
    }
}

/// A parsed request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub input: Input,
    /// `"stream": true` asks for server-sent events.
    pub stream: bool,
}

impl Request {
    /// Parses a request body: the contract input, plus an optional boolean
    /// `stream` that the core's strict parser does not know about.
    pub fn parse(body: &[u8]) -> Result<Request, HttpError> {
        let (input, stream) = Input::from_request_json(body)?;
        Ok(Request { input, stream })
    }

    /// The body to send to the origin: the validated input, as JSON (the
    /// origin answers in JSON; streaming to the client stays at the edge).
    pub fn origin_body(&self) -> String {
        quarry::contract::to_json(&self.input)
    }
}

/// Why the edge hands a query to the origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escalation {
    /// `confidence` below the threshold.
    LowConfidence,
    /// The query is longer than the edge model's limit.
    QueryTooLong,
    /// The edge model's output was malformed or cut off (an `error` event).
    ModelError,
}

impl Escalation {
    pub fn as_str(self) -> &'static str {
        match self {
            Escalation::LowConfidence => "low_confidence",
            Escalation::QueryTooLong => "query_too_long",
            Escalation::ModelError => "model_error",
        }
    }
}

/// The edge model's answer to one request.
#[derive(Debug, Clone)]
pub struct EdgeAnswer {
    pub output: Output,
    /// Every event before `done`: its name and JSON, in order (for SSE).
    pub events: Vec<(&'static str, String)>,
    /// Set when the origin should answer instead (if it can be reached).
    pub escalation: Option<Escalation>,
}

/// Decides whether an edge output goes to the origin. The trust screen's
/// denials never do: the origin's core screens identically. Any other
/// denial stays at the edge too, unless the query is longer than the edge
/// model has seen: its verdict there is no better than its tagging (a long
/// repetitive query reads as a violation to the default model).
pub fn decide(
    output: &Output,
    model_error: bool,
    query_tokens: usize,
    config: &Config,
) -> Option<Escalation> {
    let screened = output
        .denial
        .as_ref()
        .is_some_and(|d| d.stage == quarry::contract::DenialStage::Screen);
    if screened {
        None
    } else if query_tokens > config.max_query_tokens {
        Some(Escalation::QueryTooLong)
    } else if output.denied {
        None
    } else if model_error {
        Some(Escalation::ModelError)
    } else if output.confidence < config.threshold {
        Some(Escalation::LowConfidence)
    } else {
        None
    }
}

thread_local! {
    // One engine per isolate / instance: wasm32 runs one thread, and the
    // engine's prefix caches make every later request cheaper.
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

fn with_engine<T>(f: impl FnOnce(&mut Engine) -> Result<T, HttpError>) -> Result<T, HttpError> {
    ENGINE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let mut engine = Engine::from_gguf(MODEL_GGUF, None, None, &candle_core::Device::Cpu)
                .map_err(HttpError::from)?;
            engine.warm_up().map_err(HttpError::from)?;
            *slot = Some(engine);
        }
        match slot.as_mut() {
            Some(engine) => f(engine),
            None => Err(HttpError::new(500, "model", "engine not loaded")),
        }
    })
}

/// Loads the engine now (model parse + prefix caches) if it is not loaded,
/// returning whether this call loaded it.
pub fn load() -> Result<bool, HttpError> {
    let loaded = ENGINE.with(|cell| cell.borrow().is_some());
    with_engine(|_| Ok(()))?;
    Ok(!loaded)
}

/// Runs the request through the bundled model (trust screen first), and
/// decides whether it should be escalated.
pub fn understand(
    request: &Request,
    now_unix: i64,
    config: &Config,
) -> Result<EdgeAnswer, HttpError> {
    with_engine(|engine| {
        let query_tokens = engine
            .tokenizer()
            .encode(&request.input.query)
            .map_err(HttpError::from)?
            .len();
        let router = Router::new(Taxonomy::embedded(), engine.style());
        let mut events = Vec::new();
        let mut model_error = false;
        let routed = router
            .understand(engine, &request.input, now_unix, &mut |event: &Event| {
                match event {
                    Event::Done(_) => return ControlFlow::Continue(()),
                    Event::Error(_) => model_error = true,
                    _ => {}
                }
                events.push((event.name(), quarry::contract::to_json(event)));
                ControlFlow::Continue(())
            })
            .map_err(HttpError::from)?;
        let escalation = decide(&routed.output, model_error, query_tokens, config);
        Ok(EdgeAnswer {
            output: routed.output,
            events,
            escalation,
        })
    })
}

/// Where an answer came from, and whether it is a stand-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Provenance {
    pub served_by: &'static str,
    pub degraded: bool,
    pub escalation: Option<Escalation>,
}

impl Provenance {
    pub fn edge() -> Provenance {
        Provenance {
            served_by: "edge",
            degraded: false,
            escalation: None,
        }
    }
    pub fn origin(why: Escalation) -> Provenance {
        Provenance {
            served_by: "origin",
            degraded: false,
            escalation: Some(why),
        }
    }
    /// The origin was wanted but could not answer: the edge answer stands.
    pub fn degraded(why: Escalation) -> Provenance {
        Provenance {
            served_by: "edge",
            degraded: true,
            escalation: Some(why),
        }
    }
}

/// Adds `served_by`, `degraded` and (when escalation was wanted)
/// `escalation` to an output object. Extra fields are allowed by the
/// contract; existing ones are untouched.
pub fn decorate(mut output: Map<String, Value>, p: Provenance) -> Map<String, Value> {
    output.insert("served_by".into(), p.served_by.into());
    output.insert("degraded".into(), p.degraded.into());
    if let Some(why) = p.escalation {
        output.insert("escalation".into(), why.as_str().into());
    }
    output
}

/// The edge output as a decorated JSON object.
pub fn edge_json(output: &Output, p: Provenance) -> String {
    let map = match serde_json::to_value(output) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    Value::Object(decorate(map, p)).to_string()
}

/// Checks an origin reply (status and body) and decorates it. `None` when
/// it is not a 200 with a contract output object: the caller then serves
/// the edge answer, degraded.
pub fn origin_json(status: u16, body: &[u8], why: Escalation) -> Option<String> {
    if status != 200 {
        return None;
    }
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return None;
    };
    // The origin speaks the same contract; anything else is a fault.
    if !map.contains_key("query") || !map.contains_key("intent") || !map.contains_key("tools") {
        return None;
    }
    Some(Value::Object(decorate(map, Provenance::origin(why))).to_string())
}

/// An SSE body in the native server's format (`event: NAME` and `data:
/// {event json}` per event): the edge's events, then `done` carrying the
/// final (decorated) output, which is the origin's when it answered.
/// Clients take `done` as authoritative.
pub fn sse_body(events: &[(&str, String)], done_output_json: &str) -> String {
    let mut body = String::new();
    for (name, json) in events {
        body.push_str(&format!("event: {name}\ndata: {json}\n\n"));
    }
    body.push_str(&format!(
        "event: done\ndata: {{\"event\":\"done\",\"data\":{done_output_json}}}\n\n"
    ));
    body
}

/// Bytes of wasm linear memory in use by this instance (model, caches,
/// taxonomy): what counts against an edge runtime's memory limit. `None`
/// off wasm.
pub fn linear_memory_bytes() -> Option<usize> {
    #[cfg(target_arch = "wasm32")]
    {
        Some(core::arch::wasm32::memory_size(0) * 65_536)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        None
    }
}

/// The JSON content type.
pub const JSON: &str = "application/json; charset=utf-8";
/// The SSE content type.
pub const SSE: &str = "text/event-stream; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    fn config(threshold: f64) -> Config {
        Config {
            threshold,
            origin: Some("http://127.0.0.1:1".into()),
            max_query_tokens: 64,
        }
    }

    #[test]
    fn config_reads_and_rejects() {
        let c = Config::from_vars(|_| None).unwrap();
        assert_eq!(c.threshold, DEFAULT_THRESHOLD);
        assert_eq!(c.origin, None);
        let c = Config::from_vars(|k| match k {
            "QUARRY_FALLBACK_THRESHOLD" => Some("1.0".into()),
            "QUARRY_ORIGIN" => Some("http://127.0.0.1:9/".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.threshold, 1.0);
        assert_eq!(
            c.origin_url().as_deref(),
            Some("http://127.0.0.1:9/v1/understand")
        );
        assert!(
            Config::from_vars(|k| (k == "QUARRY_FALLBACK_THRESHOLD").then(|| "x".into())).is_err()
        );
        assert!(
            Config::from_vars(|k| (k == "QUARRY_FALLBACK_THRESHOLD").then(|| "1.5".into()))
                .is_err()
        );
    }

    #[test]
    fn parse_strips_stream_and_rejects_bad_input() {
        let r = Request::parse(br#"{"query":" nurse jobs ","stream":true}"#).unwrap();
        assert!(r.stream);
        assert_eq!(r.input.query, "nurse jobs");
        assert!(!Request::parse(br#"{"query":"nurse"}"#).unwrap().stream);
        assert_eq!(Request::parse(b"{").unwrap_err().status, 400);
        assert_eq!(Request::parse(b"[1]").unwrap_err().status, 400);
        assert_eq!(
            Request::parse(br#"{"query":"a","stream":1}"#)
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(
            Request::parse(br#"{"query":"a","x":1}"#)
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(
            Request::parse(br#"{"query":"  "}"#).unwrap_err().status,
            422
        );
        let long = format!(r#"{{"query":"{}"}}"#, "a".repeat(600));
        assert_eq!(Request::parse(long.as_bytes()).unwrap_err().status, 422);
        let huge = vec![b' '; quarry::contract::MAX_REQUEST_BYTES + 1];
        assert_eq!(Request::parse(&huge).unwrap_err().status, 413);
    }

    #[test]
    fn decisions() {
        let mut out = Output::denied(
            "x",
            quarry::contract::Denial {
                category: None,
                stage: quarry::contract::DenialStage::Model,
            },
        );
        out.confidence = 0.1;
        assert_eq!(
            decide(&out, true, 5, &config(1.0)),
            None,
            "the model's denials stay at the edge"
        );
        assert_eq!(
            decide(&out, false, 1000, &config(0.0)),
            Some(Escalation::QueryTooLong),
            "unless the query is beyond what the edge model has seen"
        );
        let mut screened = out.clone();
        screened.denial = Some(quarry::contract::Denial {
            category: None,
            stage: quarry::contract::DenialStage::Screen,
        });
        assert_eq!(
            decide(&screened, false, 1000, &config(1.0)),
            None,
            "the screen's denials always stay"
        );
        out.denied = false;
        out.denial = None;

        assert_eq!(
            decide(&out, false, 65, &config(0.0)),
            Some(Escalation::QueryTooLong)
        );
        assert_eq!(
            decide(&out, true, 5, &config(0.0)),
            Some(Escalation::ModelError)
        );
        assert_eq!(
            decide(&out, false, 5, &config(0.5)),
            Some(Escalation::LowConfidence)
        );
        assert_eq!(decide(&out, false, 5, &config(0.1)), None);
        assert_eq!(decide(&out, false, 5, &config(0.0)), None);
    }

    #[test]
    fn origin_replies_are_checked() {
        let why = Escalation::LowConfidence;
        assert_eq!(origin_json(502, b"{}", why), None);
        assert_eq!(origin_json(200, b"not json", why), None);
        assert_eq!(origin_json(200, b"{\"error\":{}}", why), None);
        let body = br#"{"query":"q","intent":"criteria_search","tools":[]}"#;
        let v: Value = serde_json::from_str(&origin_json(200, body, why).unwrap()).unwrap();
        assert_eq!(v["served_by"], "origin");
        assert_eq!(v["degraded"], false);
        assert_eq!(v["escalation"], "low_confidence");
    }

    #[test]
    fn engine_answers_with_the_bundled_model() {
        let config = config(0.0);
        let r = Request::parse(br#"{"query":"senior rust engineer jobs in naples"}"#).unwrap();
        let a = understand(&r, 1_700_000_000, &config).unwrap();
        assert!(!a.output.denied);
        assert_eq!(a.escalation, None);
        assert_eq!(a.events[0].0, "intent");
        let sse = sse_body(&a.events, &edge_json(&a.output, Provenance::edge()));
        assert!(sse.starts_with("event: intent\ndata: {\"event\":\"intent\""));
        assert!(sse.ends_with("}}\n\n") && sse.contains("\"served_by\":\"edge\""));
        let long = format!(r#"{{"query":"{}"}}"#, "nurse jobs in boston ".repeat(20));
        let a = understand(&Request::parse(long.as_bytes()).unwrap(), 0, &config).unwrap();
        assert_eq!(a.escalation, Some(Escalation::QueryTooLong));
    }
}
