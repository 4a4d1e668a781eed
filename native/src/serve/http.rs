//! The HTTP front: `/v1/understand` (JSON or Server-Sent Events), health,
//! readiness, metrics, and the demo page's static files.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use quarry::contract::{to_json, MAX_REQUEST_BYTES};
use quarry::{Event, Input};
use serde_json::json;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;
use tower_http::services::ServeDir;

use super::metrics::Metrics;
use super::service::{Admission, Failure, Service};
use super::{grpc, openai};

/// What the routes share. The model loads after the server starts
/// listening, so health answers at once and readiness once it is loaded.
pub struct AppState {
    pub service: OnceLock<Arc<Service>>,
    pub metrics: Arc<Metrics>,
}

pub type Shared = Arc<AppState>;

impl AppState {
    pub fn service(&self) -> Result<&Arc<Service>, Failure> {
        self.service
            .get()
            .ok_or_else(|| Failure::new(503, "loading", "the model is still loading"))
    }
}

/// Every route on one port; gRPC requests (HTTP/2, by their service path)
/// reach the tonic service.
pub fn routes(state: Shared, www: Option<PathBuf>) -> Router {
    let grpc_path = format!("/{}/{{*method}}", grpc::proto::quarry_server::SERVICE_NAME);
    let router = Router::new()
        .route_service(&grpc_path, grpc::service(state.clone()))
        .route("/v1/understand", post(understand))
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state);
    match www {
        Some(dir) => router.fallback_service(ServeDir::new(dir)),
        None => router
            .fallback(|| async { Failure::new(404, "not_found", "no such route").into_response() }),
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = Json(json!({"error": {"code": self.code, "message": self.message}}));
        let mut response = (status, body).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

async fn readyz(State(state): State<Shared>) -> Response {
    match state.service() {
        Ok(_) => "ready\n".into_response(),
        Err(failure) => failure.into_response(),
    }
}

async fn metrics(State(state): State<Shared>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// Reads a body of at most the contract's request size; a larger one is
/// refused without reading it all.
pub async fn read_body(body: Body) -> Result<Bytes, Failure> {
    axum::body::to_bytes(body, MAX_REQUEST_BYTES)
        .await
        .map_err(|e| {
            let first: &(dyn std::error::Error + 'static) = &e;
            let too_large = std::iter::successors(Some(first), |e| e.source())
                .any(|e| e.is::<http_body_util::LengthLimitError>());
            if too_large {
                Failure::new(
                    413,
                    "invalid_input",
                    format!("the body exceeds the limit of {MAX_REQUEST_BYTES} bytes"),
                )
            } else {
                Failure::new(400, "malformed_request", format!("reading the body: {e}"))
            }
        })
}

/// What every POST route does before routing: the service (or 503 while
/// loading), the body read and parsed by `parse` (failures recorded), and a
/// queue slot. The error is the response to send.
pub async fn accept<T>(
    state: &AppState,
    route: &'static str,
    body: Body,
    parse: impl FnOnce(&[u8]) -> Result<T, Failure>,
) -> Result<(Arc<Service>, T, Admission), Response> {
    let started = Instant::now();
    let service = state
        .service()
        .map_err(IntoResponse::into_response)?
        .clone();
    let parsed = read_body(body).await.and_then(|bytes| parse(&bytes));
    let parsed = parsed.map_err(|failure| {
        service.record(route, failure.status, started);
        failure.into_response()
    })?;
    let admission = service.admit(route).map_err(IntoResponse::into_response)?;
    Ok((service, parsed, admission))
}

const ROUTE: &str = "understand";

async fn understand(State(state): State<Shared>, body: Body) -> Response {
    let accepted = accept(&state, ROUTE, body, |bytes| {
        Input::from_request_json(bytes).map_err(Failure::from)
    });
    let (service, (input, stream), admission) = match accepted.await {
        Ok(accepted) => accepted,
        Err(response) => return response,
    };
    if stream {
        let events = service.relay(
            admission,
            input,
            |event| vec![sse(event)],
            |result| match result {
                Ok(_) => vec![], // `done` already carried the output
                Err(failure) => vec![sse_failure(failure)],
            },
        );
        let events = ReceiverStream::new(events).map(Ok::<_, Infallible>);
        return Sse::new(events)
            .keep_alive(KeepAlive::default())
            .into_response();
    }
    match service.answer(admission, input).await {
        Ok(routed) => (
            [(header::CONTENT_TYPE, "application/json")],
            to_json(&routed.output),
        )
            .into_response(),
        Err(failure) => failure.into_response(),
    }
}

/// One spec event as SSE: `event: <name>`, `data: {"event": …, "data": …}`.
fn sse(event: &Event) -> SseEvent {
    SseEvent::default().event(event.name()).data(to_json(event))
}

fn sse_failure(failure: &Failure) -> SseEvent {
    SseEvent::default().event("failure").data(
        json!({"error": {"code": failure.code, "message": failure.message, "status": failure.status}})
            .to_string(),
    )
}
