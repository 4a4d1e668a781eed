//! `POST /v1/chat/completions`, compatible with OpenAI's Chat Completions
//! API so its client libraries work unchanged. The last user message is the
//! query; the profile comes from a top-level `profile` field (the clients'
//! `extra_body`) or a system message holding profile JSON. The assistant's
//! content is the contract's output JSON.
//!
//! Streamed, the content arrives in pieces as the events become final (the
//! head once the intent is known, then each tool call), and the pieces
//! concatenate to exactly the non-streamed content.

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::State;
use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use quarry::contract::{to_json, DENIAL_MESSAGE};
use quarry::{Event, Input, Intent, Profile, Routed};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;

use super::http::{accept, Shared};
use super::service::Failure;

const ROUTE: &str = "chat_completions";

/// The request fields Quarry reads. Others a client sends (`temperature`,
/// `max_tokens`, …) are accepted and ignored: decoding is greedy and
/// grammar-bound.
#[derive(Deserialize)]
struct ChatRequest {
    messages: Vec<Message>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    profile: Option<Profile>,
}

#[derive(Deserialize)]
struct Message {
    role: String,
    #[serde(default)]
    content: Option<Content>,
}

/// A message's content: a string, or parts of which the text ones count.
#[derive(Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<Value>),
}

impl Content {
    fn text(&self) -> String {
        match self {
            Content::Text(text) => text.clone(),
            Content::Parts(parts) => parts
                .iter()
                .filter(|p| p["type"] == "text")
                .filter_map(|p| p["text"].as_str())
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

fn bad(message: impl Into<String>) -> Failure {
    Failure::new(400, "malformed_request", message)
}

/// The contract input a chat request asks about.
fn to_input(request: &ChatRequest) -> Result<Input, Failure> {
    let query = request
        .messages
        .iter()
        .rev()
        .find(|m| m.role == "user")
        .and_then(|m| m.content.as_ref())
        .map(Content::text)
        .ok_or_else(|| bad("no user message: the last user message is the query"))?;
    let mut profile = request.profile.clone();
    if profile.is_none() {
        for message in request.messages.iter().filter(|m| m.role == "system") {
            let text = message
                .content
                .as_ref()
                .map(Content::text)
                .unwrap_or_default();
            // A system message that is not JSON is an ordinary instruction.
            let Ok(value) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let value = value.get("profile").cloned().unwrap_or(value);
            let parsed: Profile = serde_json::from_value(value)
                .map_err(|e| Failure::new(422, "invalid_input", format!("system profile: {e}")))?;
            profile = Some(parsed);
        }
    }
    let body = serde_json::to_vec(&Input { query, profile })
        .map_err(|e| Failure::new(500, "internal", e.to_string()))?;
    Input::from_json(&body).map_err(Failure::from)
}

pub async fn chat_completions(State(state): State<Shared>, body: Body) -> Response {
    let accepted = accept(&state, ROUTE, body, |bytes| {
        let request: ChatRequest = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        let input = to_input(&request)?;
        Ok((request, input))
    });
    let (service, (request, input), admission) = match accepted.await {
        Ok(accepted) => accepted,
        Err(response) => return response,
    };
    let id = format!("chatcmpl-quarry-{}", service.next_id());
    let created = crate::understand::now_unix();
    let chunk = ChunkMaker {
        id: id.clone(),
        created,
        model: service.model_name.clone(),
    };

    if request.stream {
        let include_usage = request.stream_options.is_some_and(|o| o.include_usage);
        let mut content = ContentStream::new(&input.query);
        let first = chunk.delta(json!({"role": "assistant", "content": ""}), None);
        let mut sent_role = false;
        let end_chunk = chunk.clone();
        let events = service.relay(
            admission,
            input,
            move |event| {
                let mut out = Vec::new();
                if !sent_role {
                    sent_role = true;
                    out.push(data(&first));
                }
                if let Some(piece) = content.push(event) {
                    out.push(data(&chunk.delta(json!({ "content": piece }), None)));
                }
                out
            },
            move |result| match result {
                Ok(routed) => {
                    let mut out = vec![data(&end_chunk.delta(json!({}), Some("stop")))];
                    if include_usage {
                        out.push(data(&end_chunk.usage_only(routed)));
                    }
                    out.push(SseEvent::default().data("[DONE]"));
                    out
                }
                Err(failure) => vec![data(&json!({"error": {
                    "code": failure.code, "message": failure.message}}))],
            },
        );
        let events = ReceiverStream::new(events).map(Ok::<_, Infallible>);
        return Sse::new(events).into_response();
    }

    match service.answer(admission, input).await {
        Ok(routed) => Json(json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": service.model_name,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": to_json(&routed.output)},
                "logprobs": null,
                "finish_reason": "stop",
            }],
            "usage": usage(&routed),
        }))
        .into_response(),
        Err(failure) => failure.into_response(),
    }
}

fn data(value: &Value) -> SseEvent {
    SseEvent::default().data(value.to_string())
}

fn usage(routed: &Routed) -> Value {
    let prompt = routed.stats.prompt_tokens;
    let completion = routed.stats.generated_tokens;
    json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion})
}

#[derive(Clone)]
struct ChunkMaker {
    id: String,
    created: i64,
    model: String,
}

impl ChunkMaker {
    fn delta(&self, delta: Value, finish_reason: Option<&str>) -> Value {
        json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}],
        })
    }

    fn usage_only(&self, routed: &Routed) -> Value {
        json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.model, "choices": [], "usage": usage(routed),
        })
    }
}

/// Writes the contract JSON in pieces as events become final: the head
/// (query, intent, denial) at the intent, the rewrite and each tool as they
/// come, the rest at `done`. Each piece is what the final output's JSON
/// has at that place, so the pieces concatenate to it.
struct ContentStream {
    query: String,
    sent: String,
    rewrite: Option<String>,
    tools_open: bool,
    tool_count: usize,
}

impl ContentStream {
    fn new(query: &str) -> ContentStream {
        ContentStream {
            query: query.to_string(),
            sent: String::new(),
            rewrite: None,
            tools_open: false,
            tool_count: 0,
        }
    }

    fn push(&mut self, event: &Event) -> Option<String> {
        let piece = match event {
            Event::Intent(intent) if self.sent.is_empty() => {
                let denied = *intent == Intent::TrustViolation;
                format!(
                    "{{\"query\":{},\"intent\":{},\"denied\":{denied},\"message\":{},",
                    to_json(&self.query),
                    to_json(intent),
                    to_json(&denied.then_some(DENIAL_MESSAGE)),
                )
            }
            Event::Rewrite(text) => {
                self.rewrite = Some(text.clone());
                return None;
            }
            Event::Tool(call) if !self.sent.is_empty() => {
                let mut piece = String::new();
                if !self.tools_open {
                    self.tools_open = true;
                    piece += &format!("\"rewritten_query\":{},\"tools\":[", to_json(&self.rewrite));
                }
                if self.tool_count > 0 {
                    piece.push(',');
                }
                self.tool_count += 1;
                piece + &to_json(call)
            }
            Event::Done(output) => {
                let full = to_json(output);
                match full.strip_prefix(self.sent.as_str()) {
                    Some(rest) => rest.to_string(),
                    None => {
                        // Unreachable while the output is built from these
                        // events; tested. Say so rather than send bad JSON.
                        tracing::error!(sent = %self.sent, %full, "streamed content diverged");
                        return None;
                    }
                }
            }
            _ => return None,
        };
        self.sent.push_str(&piece);
        Some(piece)
    }
}
