//! Quarry as a Cloudflare Worker: `POST /v1/understand` answered by the
//! bundled default model, escalating to the native origin when unsure
//! (logic shared with the Spin component in `quarry-edge`).
//!
//! Settings are Worker vars (wrangler.toml `[vars]`, or the workerd
//! config's bindings): `QUARRY_ORIGIN`, `QUARRY_FALLBACK_THRESHOLD`,
//! `QUARRY_EDGE_MAX_QUERY_TOKENS`.

use quarry_edge::{Config, EdgeAnswer, Escalation, HttpError, Provenance, Request};
use worker::{event, Context, Env, Fetch, Headers, Method, RequestInit, Response, Result};

#[event(fetch)]
async fn fetch(req: worker::Request, env: Env, _ctx: Context) -> Result<Response> {
    match serve(req, &env).await {
        Ok(response) => Ok(response),
        Err(e) => reply(e.status, quarry_edge::JSON, e.body(), false),
    }
}

async fn serve(mut req: worker::Request, env: &Env) -> std::result::Result<Response, HttpError> {
    let path = req.path();
    if path != quarry_edge::PATH {
        return Err(HttpError::not_found(&path));
    }
    if req.method() != Method::Post {
        return Err(HttpError::method_not_allowed(req.method().as_ref()));
    }
    // Refuse a declared oversized body before buffering it.
    let declared = req.headers().get("content-length").ok().flatten();
    if let Some(len) = declared.and_then(|v| v.parse::<usize>().ok()) {
        if len > quarry_edge::MAX_REQUEST_BYTES {
            return Err(HttpError::new(
                413,
                "invalid_input",
                format!(
                    "invalid `body`: {len} bytes exceeds the limit of {}",
                    quarry_edge::MAX_REQUEST_BYTES
                ),
            ));
        }
    }
    let body = req
        .bytes()
        .await
        .map_err(|e| HttpError::new(400, "malformed_request", e.to_string()))?;
    let request = Request::parse(&body)?;
    let config =
        Config::from_vars(|k| env.var(k).ok().map(|v| v.to_string())).map_err(HttpError::config)?;
    // The engine lives as long as the isolate; `cold` marks the request
    // that paid for loading it.
    let cold = quarry_edge::load()?;
    // Date.now() in Workers is the request's start time: good enough for
    // "posted this week" cut-offs.
    let now_unix = (worker::Date::now().as_millis() / 1000) as i64;
    let answer = quarry_edge::understand(&request, now_unix, &config)?;
    let output = respond(&request, &answer, &config).await;
    let response = if request.stream {
        reply(
            200,
            quarry_edge::SSE,
            quarry_edge::sse_body(&answer.events, &output),
            cold,
        )
    } else {
        reply(200, quarry_edge::JSON, output, cold)
    };
    response.map_err(|e| HttpError::new(500, "internal", e.to_string()))
}

/// The final output JSON: the edge's, or the origin's when escalation is
/// wanted and the origin answers, or the edge's marked degraded.
async fn respond(request: &Request, answer: &EdgeAnswer, config: &Config) -> String {
    let (Some(why), Some(url)) = (answer.escalation, config.origin_url()) else {
        return quarry_edge::edge_json(&answer.output, Provenance::edge());
    };
    match ask_origin(&url, request.origin_body(), why).await {
        Some(json) => json,
        None => quarry_edge::edge_json(&answer.output, Provenance::degraded(why)),
    }
}

async fn ask_origin(url: &str, body: String, why: Escalation) -> Option<String> {
    let headers = Headers::new();
    headers.set("content-type", "application/json").ok()?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(body.into()));
    let outgoing = worker::Request::new_with_init(url, &init).ok()?;
    let mut response = match Fetch::Request(outgoing).send().await {
        Ok(response) => response,
        Err(e) => {
            worker::console_warn!("quarry-worker: origin {url} unreachable: {e}");
            return None;
        }
    };
    let status = response.status_code();
    let bytes = response.bytes().await.ok()?;
    let json = quarry_edge::origin_json(status, &bytes, why);
    if json.is_none() {
        worker::console_warn!(
            "quarry-worker: origin {url} answered {status} without a contract output"
        );
    }
    json
}

fn reply(status: u16, content_type: &str, body: String, cold: bool) -> Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", content_type)?;
    headers.set("x-quarry-cold", if cold { "1" } else { "0" })?;
    if let Some(bytes) = quarry_edge::linear_memory_bytes() {
        headers.set("x-quarry-memory-bytes", &bytes.to_string())?;
    }
    Ok(Response::from_bytes(body.into_bytes())?
        .with_status(status)
        .with_headers(headers))
}
