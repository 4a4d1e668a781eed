//! Quarry as a Spin HTTP component (spin-sdk 7, WASIp3): `POST
//! /v1/understand` answered by the bundled default model, escalating to the
//! native origin when unsure (logic shared with the Worker in
//! `quarry-edge`). It imports only WASI interfaces (`wasi:http`, clocks,
//! environment), so `wasmtime serve` hosts it as Spin would.
//!
//! Settings come from environment variables (`QUARRY_ORIGIN`,
//! `QUARRY_FALLBACK_THRESHOLD`, `QUARRY_EDGE_MAX_QUERY_TOKENS`): spin.toml's
//! `environment`, or `wasmtime serve --env`.

use futures::StreamExt;
use http::{Method, Response, StatusCode};
use quarry_edge::{Config, EdgeAnswer, Escalation, HttpError, Provenance, Request};
use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{FullBody, IntoResponse};
use spin_sdk::http_service;

type Reply = Response<String>;

#[http_service]
async fn handle(req: spin_sdk::http::Request) -> impl IntoResponse {
    match serve(req).await {
        Ok(reply) => reply,
        Err(e) => reply(e.status, quarry_edge::JSON, e.body(), false),
    }
}

async fn serve(req: spin_sdk::http::Request) -> Result<Reply, HttpError> {
    let path = req.uri().path().to_string();
    if path != quarry_edge::PATH {
        return Err(HttpError::not_found(&path));
    }
    if req.method() != Method::POST {
        return Err(HttpError::method_not_allowed(req.method().as_str()));
    }
    let body = read_body(req.into_body()).await?;
    let request = Request::parse(&body)?;
    let config = Config::from_vars(|k| std::env::var(k).ok()).map_err(HttpError::config)?;
    // A fresh instance per request would reload the model; `cold` tells.
    let cold = quarry_edge::load()?;
    let answer = quarry_edge::understand(&request, now_unix(), &config)?;
    let output = respond(&request, &answer, &config).await;
    let (content_type, body) = if request.stream {
        (
            quarry_edge::SSE,
            quarry_edge::sse_body(&answer.events, &output),
        )
    } else {
        (quarry_edge::JSON, output)
    };
    Ok(reply(200, content_type, body, cold))
}

/// The final output JSON: the edge's, or the origin's when escalation is
/// wanted and the origin answers, or the edge's marked degraded.
async fn respond(request: &Request, answer: &EdgeAnswer, config: &Config) -> String {
    let Some(why) = answer.escalation else {
        return quarry_edge::edge_json(&answer.output, Provenance::edge());
    };
    let Some(url) = config.origin_url() else {
        return quarry_edge::edge_json(&answer.output, Provenance::edge());
    };
    match ask_origin(&url, request.origin_body(), why).await {
        Some(json) => json,
        None => quarry_edge::edge_json(&answer.output, Provenance::degraded(why)),
    }
}

async fn ask_origin(url: &str, body: String, why: Escalation) -> Option<String> {
    // An explicit length: without it the body goes out chunked, which
    // simple origins may not read.
    let outgoing = http::Request::post(url)
        .header("content-type", "application/json")
        .header("content-length", body.len())
        .body(FullBody::new(bytes::Bytes::from(body)))
        .ok()?;
    let response = match spin_sdk::http::send(outgoing).await {
        Ok(response) => response,
        Err(e) => {
            eprintln!("quarry-spin: origin {url} unreachable: {e:?}");
            return None;
        }
    };
    let status = response.status().as_u16();
    let bytes = response.into_body().bytes().await.ok()?;
    let json = quarry_edge::origin_json(status, &bytes, why);
    if json.is_none() {
        eprintln!("quarry-spin: origin {url} answered {status} without a contract output");
    }
    json
}

/// Reads the body, stopping one byte past the contract's limit so an
/// oversized upload is refused without buffering all of it.
async fn read_body(
    body: spin_sdk::wasip3::http_compat::IncomingRequestBody,
) -> Result<Vec<u8>, HttpError> {
    let limit = quarry_edge::MAX_REQUEST_BYTES;
    let mut out = Vec::new();
    let mut stream = body.stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| HttpError::new(400, "malformed_request", e.to_string()))?;
        out.extend_from_slice(&chunk);
        if out.len() > limit {
            break;
        }
    }
    Ok(out)
}

fn reply(status: u16, content_type: &str, body: String, cold: bool) -> Reply {
    let mut response = Response::new(body);
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    if let Ok(v) = content_type.parse() {
        headers.insert(http::header::CONTENT_TYPE, v);
    }
    headers.insert(
        "x-quarry-cold",
        http::HeaderValue::from_static(if cold { "1" } else { "0" }),
    );
    if let Some(bytes) = quarry_edge::linear_memory_bytes() {
        headers.insert("x-quarry-memory-bytes", http::HeaderValue::from(bytes));
    }
    response
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
