//! The server in process, on the committed default model: every route, the
//! fault cases, batching, cancellation and back-pressure.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use proptest::prelude::*;
use quarry::contract::to_json;
use quarry::{Input, Output, Taxonomy};
use serde_json::{json, Value};
use tower::ServiceExt;

use super::batcher::Batcher;
use super::http::{routes, AppState};
use super::metrics::Metrics;
use super::service::Service;
use crate::load::{load, ModelArgs};

fn model_args() -> ModelArgs {
    ModelArgs {
        model: None,
        tokenizer: None,
        style: None,
        device: "cpu".into(),
    }
}

/// A server app on the default model with the given limits.
fn app_with(max_batch: usize, max_admitted: usize, timeout: Duration) -> (Router, Arc<AppState>) {
    let (engine, _) = load(&model_args()).expect("the default model loads");
    let metrics = Arc::new(Metrics::new());
    let style = engine.style();
    let batcher = Batcher::spawn(vec![engine], max_batch, metrics.clone());
    let service = Service::new(
        batcher,
        style,
        metrics.clone(),
        "quarry-q8_0".into(),
        max_admitted,
        timeout,
    );
    let state = Arc::new(AppState {
        service: OnceLock::from(Arc::new(service)),
        metrics,
    });
    (routes(state.clone(), None), state)
}

fn app() -> Router {
    app_with(8, 64, Duration::from_secs(30)).0
}

async fn call(
    app: &Router,
    method: &str,
    path: &str,
    body: impl Into<Body>,
) -> (StatusCode, Vec<u8>) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, bytes.to_vec())
}

/// What the CLI path (router over the engine, no server) answers.
fn direct(input: &Input) -> Output {
    let (mut engine, _) = load(&model_args()).unwrap();
    let router = quarry::Router::new(Taxonomy::embedded(), engine.style());
    router
        .understand(&mut engine, input, 0, &mut |_| {
            std::ops::ControlFlow::Continue(())
        })
        .unwrap()
        .output
}

/// SSE `data:` payloads of a response body.
fn sse_data(body: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(body)
        .lines()
        .filter_map(|l| l.strip_prefix("data: ").or_else(|| l.strip_prefix("data:")))
        .map(str::to_string)
        .collect()
}

const QUERIES: [&str; 6] = [
    "senior rust engineer jobs in naples",
    "remote nurse jobs at mayo clinic",
    "part time barista",
    "PM jobs that fit my profile",
    "weather in seattle tomorrow",
    "data scientist fintech over 150k",
];

#[tokio::test(flavor = "multi_thread")]
async fn understand_answers_what_the_router_answers_and_streams_the_same() {
    let app = app();
    let profile = json!({"title": "Product Manager", "location": "Naples, Florida, United States"});
    for query in QUERIES {
        let input = Input::from_json(
            json!({"query": query, "profile": profile})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        let expected = to_json(&direct(&input));

        let (status, body) = call(&app, "POST", "/v1/understand", to_json(&input)).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        assert_eq!(String::from_utf8(body).unwrap(), expected, "{query}");

        let mut streamed: Value = serde_json::to_value(&input).unwrap();
        streamed["stream"] = json!(true);
        let (status, body) = call(&app, "POST", "/v1/understand", streamed.to_string()).await;
        assert_eq!(status, StatusCode::OK);
        let events: Vec<Value> = sse_data(&body)
            .iter()
            .map(|d| serde_json::from_str(d).unwrap())
            .collect();
        assert_eq!(events.first().unwrap()["event"], "intent", "{query}");
        let done = events.last().unwrap();
        assert_eq!(done["event"], "done");
        assert_eq!(done["data"].to_string(), expected, "{query}");
        let tools: Vec<&Value> = events
            .iter()
            .filter(|e| e["event"] == "tool")
            .map(|e| &e["data"])
            .collect();
        let final_tools: Vec<&Value> = done["data"]["tools"].as_array().unwrap().iter().collect();
        assert_eq!(tools, final_tools, "each tool is streamed once, in order");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_requests_share_batches_and_answer_as_alone() {
    let (app, state) = app_with(8, 64, Duration::from_secs(60));
    let inputs: Vec<Input> = QUERIES
        .iter()
        .cycle()
        .take(12)
        .map(|q| Input::query(*q))
        .collect();
    let expected: Vec<String> = inputs.iter().map(|i| to_json(&direct(i))).collect();
    let handles: Vec<_> = inputs
        .iter()
        .map(|input| {
            let app = app.clone();
            let body = to_json(input);
            tokio::spawn(async move { call(&app, "POST", "/v1/understand", body).await })
        })
        .collect();
    for (handle, expected) in handles.into_iter().zip(expected) {
        let (status, body) = handle.await.unwrap();
        assert_eq!(status, StatusCode::OK);
        assert_eq!(String::from_utf8(body).unwrap(), expected);
    }
    let metrics = state.metrics.render();
    // Some decode step advanced more than one sequence.
    let single = metric(&metrics, "quarry_batch_size_bucket{le=\"1.0\"}");
    let all = metric(&metrics, "quarry_batch_size_count");
    assert!(all > single, "no step was batched:\n{metrics}");
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} missing in\n{text}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_a_json_error_naming_the_problem() {
    let app = app();
    let oversized = json!({"query": "x".repeat(20_000)}).to_string();
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "malformed",
            b"{\"query\": ".to_vec(),
            400,
            "malformed_request",
        ),
        (
            "invalid utf-8",
            b"{\"query\": \"\xff\xfe\"}".to_vec(),
            400,
            "malformed_request",
        ),
        (
            "wrong type",
            br#"{"query": 42}"#.to_vec(),
            400,
            "malformed_request",
        ),
        (
            "unknown field",
            br#"{"query": "nurse", "colour": "red"}"#.to_vec(),
            400,
            "malformed_request",
        ),
        (
            "bad stream flag",
            br#"{"query": "nurse", "stream": "yes"}"#.to_vec(),
            400,
            "malformed_request",
        ),
        (
            "empty query",
            br#"{"query": "   "}"#.to_vec(),
            422,
            "invalid_input",
        ),
        (
            "long query",
            json!({"query": "x".repeat(600)}).to_string().into_bytes(),
            422,
            "invalid_input",
        ),
        (
            "oversized body",
            oversized.into_bytes(),
            413,
            "invalid_input",
        ),
        ("empty body", Vec::new(), 400, "malformed_request"),
    ];
    for (name, body, status, code) in cases {
        let (got, bytes) = call(&app, "POST", "/v1/understand", body).await;
        assert_eq!(
            got.as_u16(),
            status,
            "{name}: {}",
            String::from_utf8_lossy(&bytes)
        );
        let error: Value =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("{name}: not JSON"));
        assert_eq!(error["error"]["code"], code, "{name}");
        assert!(
            !error["error"]["message"].as_str().unwrap().is_empty(),
            "{name}"
        );
    }
    let (status, _) = call(&app, "GET", "/no/such/route", Body::empty()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_queue_answers_503_with_retry_after_and_a_slow_request_504() {
    let (app, _) = app_with(1, 0, Duration::from_secs(30));
    let request = Request::post("/v1/understand")
        .body(Body::from(r#"{"query": "nurse jobs"}"#))
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");

    let (app, _) = app_with(1, 4, Duration::ZERO);
    let (status, body) = call(&app, "POST", "/v1/understand", r#"{"query": "nurse jobs"}"#).await;
    assert_eq!(
        status,
        StatusCode::GATEWAY_TIMEOUT,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["error"]["code"], "timeout");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_leaves_mid_stream_frees_its_slot() {
    let (app, state) = app_with(4, 4, Duration::from_secs(30));
    let request = Request::post("/v1/understand")
        .body(Body::from(
            r#"{"query": "senior data scientist jobs in berlin", "stream": true}"#,
        ))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let mut body = response.into_body();
    // Read the first event, then go away.
    let first = body.frame().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(first.data_ref().unwrap()).contains("intent"));
    drop(body);
    let depth = || metric(&state.metrics.render(), "quarry_queue_depth");
    let mut waited = 0;
    while depth() != 0.0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += 1;
        assert!(waited < 250, "the slot was not freed");
    }
    let metrics = state.metrics.render();
    assert!(metrics.contains("status=\"499\""), "{metrics}");
    // The server still answers.
    let (status, _) = call(&app, "POST", "/v1/understand", r#"{"query": "nurse"}"#).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_chat_completions_stream_concatenates_to_the_plain_content() {
    let app = app();
    let request = json!({
        "model": "quarry",
        "messages": [
            {"role": "system", "content": r#"{"title": "Sous Chef", "location": "Naples, Campania, Italy"}"#},
            {"role": "user", "content": "chef jobs in naples"}
        ],
        "temperature": 0.2
    });
    let (status, body) = call(&app, "POST", "/v1/chat/completions", request.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let reply: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(reply["object"], "chat.completion");
    let content = reply["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    let output: Output = serde_json::from_str(&content).unwrap();
    assert_eq!(output.query, "chef jobs in naples");
    let usage = &reply["usage"];
    assert!(usage["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(
        usage["total_tokens"].as_u64(),
        Some(
            usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
        )
    );

    for query in QUERIES.iter().copied().chain(["how to kill my boss"]) {
        let plain = json!({"messages": [{"role": "user", "content": query}]});
        let (_, body) = call(&app, "POST", "/v1/chat/completions", plain.to_string()).await;
        let reply: Value = serde_json::from_slice(&body).unwrap();
        let content = reply["choices"][0]["message"]["content"].as_str().unwrap();
        let mut streamed = plain.clone();
        streamed["stream"] = json!(true);
        streamed["stream_options"] = json!({"include_usage": true});
        let (_, body) = call(&app, "POST", "/v1/chat/completions", streamed.to_string()).await;
        let data = sse_data(&body);
        assert_eq!(data.last().unwrap(), "[DONE]");
        let chunks: Vec<Value> = data[..data.len() - 1]
            .iter()
            .map(|d| serde_json::from_str(d).unwrap())
            .collect();
        let joined: String = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert_eq!(joined, content, "{query}");
        assert!(chunks
            .iter()
            .any(|c| c["choices"][0]["finish_reason"] == "stop"));
        assert!(
            chunks.last().unwrap()["usage"]["total_tokens"]
                .as_u64()
                .unwrap()
                > 0
                || query.contains("kill")
        );
    }

    let (status, body) = call(&app, "POST", "/v1/chat/completions", r#"{"messages": []}"#).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "{}",
        String::from_utf8_lossy(&body)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn health_readiness_and_metrics() {
    let metrics = Arc::new(Metrics::new());
    let loading = Arc::new(AppState {
        service: OnceLock::new(),
        metrics,
    });
    let app = routes(loading, None);
    let (status, _) = call(&app, "GET", "/healthz", Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&app, "GET", "/readyz", Body::empty()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

    let (app, _) = app_with(4, 8, Duration::from_secs(30));
    let (status, _) = call(&app, "GET", "/readyz", Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    call(
        &app,
        "POST",
        "/v1/understand",
        r#"{"query": "nurse jobs in ohio"}"#,
    )
    .await;
    call(
        &app,
        "POST",
        "/v1/understand",
        r#"{"query": "kill all immigrants jobs"}"#,
    )
    .await;
    call(&app, "POST", "/v1/understand", r#"{"query": ""}"#).await;
    let (status, body) = call(&app, "GET", "/metrics", Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    for needle in [
        "quarry_requests_total{route=\"understand\",status=\"200\"} 2",
        "quarry_requests_total{route=\"understand\",status=\"422\"} 1",
        "quarry_request_duration_seconds_bucket{le=",
        "quarry_queue_depth 0",
        "quarry_batch_size_count",
        "quarry_generated_tokens_total",
        "quarry_denials_total{category=",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
}

fn fuzz_app() -> &'static (Router, tokio::runtime::Runtime) {
    static APP: OnceLock<(Router, tokio::runtime::Runtime)> = OnceLock::new();
    APP.get_or_init(|| {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let app = runtime.block_on(async { app_with(8, 64, Duration::from_secs(30)).0 });
        (app, runtime)
    })
}

fn body_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        "[ -~]{0,80}".prop_map(String::into_bytes),
        (
            "[a-z ]{0,40}",
            any::<bool>(),
            proptest::option::of("[a-z]{1,8}")
        )
            .prop_map(|(q, stream, extra)| {
                let mut body = json!({"query": q, "stream": stream});
                if let Some(key) = extra {
                    body[key] = json!(1);
                }
                body.to_string().into_bytes()
            }),
        (
            "[a-z ]{1,30}",
            proptest::collection::vec(("[a-z_]{1,12}", "[a-zA-Z ]{0,12}"), 0..4)
        )
            .prop_map(|(q, fields)| {
                let profile: serde_json::Map<String, Value> =
                    fields.into_iter().map(|(k, v)| (k, json!(v))).collect();
                json!({"query": q, "profile": profile})
                    .to_string()
                    .into_bytes()
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    /// No body crashes the server or gets anything but an answer or a
    /// client error with a JSON body.
    #[test]
    fn any_body_gets_an_answer_or_a_client_error(body in body_strategy()) {
        let (app, runtime) = fuzz_app();
        let (status, bytes) = runtime.block_on(call(app, "POST", "/v1/understand", body));
        prop_assert!(
            [200, 400, 413, 422].contains(&status.as_u16()),
            "status {status}: {}", String::from_utf8_lossy(&bytes)
        );
        if status != StatusCode::OK {
            let error: Value = serde_json::from_slice(&bytes).unwrap();
            prop_assert!(error["error"]["message"].is_string());
        }
    }
}
