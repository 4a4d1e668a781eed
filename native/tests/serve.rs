//! `quarry serve` as a process on loopback, driven by real clients: tonic's
//! generated gRPC client, the official OpenAI Python library (from
//! `scripts/serve/setup_openai.sh`), and plain HTTP over TCP for graceful
//! shutdown.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use quarry::Output;

pub mod proto {
    tonic::include_proto!("quarry.v1");
}

use proto::quarry_client::QuarryClient;

/// A running server, killed when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_quarry"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start quarry serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    let server = Server { child, addr };
    let deadline = Instant::now() + Duration::from_secs(60);
    while http(&server.addr, "GET", "/readyz", "").0 != 200 {
        assert!(Instant::now() < deadline, "not ready in 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

/// One HTTP/1.1 request over a fresh connection: status and body.
fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return (0, String::new());
    };
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn grpc_unary_and_streaming_match_the_http_contract() {
    let server = start();
    let mut client = QuarryClient::connect(format!("http://{}", server.addr))
        .await
        .unwrap();
    let request = proto::UnderstandRequest {
        query: "senior rust engineer jobs in naples".into(),
        profile: Some(proto::Profile {
            location: Some("Naples, Florida, United States".into()),
            ..Default::default()
        }),
    };
    let reply = client
        .understand(request.clone())
        .await
        .unwrap()
        .into_inner();
    let output: Output = serde_json::from_str(&reply.output_json).unwrap();
    assert_eq!(reply.intent, output.intent.as_str());
    assert_eq!(reply.tools.len(), output.tools.len());
    let http_body = r#"{"query": "senior rust engineer jobs in naples", "profile": {"location": "Naples, Florida, United States"}}"#;
    let (status, body) = tokio::task::spawn_blocking({
        let addr = server.addr.clone();
        move || http(&addr, "POST", "/v1/understand", http_body)
    })
    .await
    .unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        body.trim(),
        reply.output_json,
        "gRPC and HTTP give the same output"
    );

    let mut stream = client
        .understand_stream(request)
        .await
        .unwrap()
        .into_inner();
    let mut kinds = Vec::new();
    let mut done = None;
    while let Some(event) = stream.message().await.unwrap() {
        use proto::event::Event as E;
        match event.event.unwrap() {
            E::Intent(_) => kinds.push("intent"),
            E::Rewrite(_) => kinds.push("rewrite"),
            E::Tool(_) => kinds.push("tool"),
            E::Suggestions(_) => kinds.push("suggestions"),
            E::Error(_) => kinds.push("error"),
            E::Done(reply) => done = Some(reply),
        }
    }
    assert_eq!(kinds.first(), Some(&"intent"));
    assert_eq!(done.unwrap().output_json, reply.output_json);

    let bad = proto::UnderstandRequest {
        query: "   ".into(),
        profile: None,
    };
    let status = client.understand(bad).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status}");
}

#[test]
fn the_official_openai_client_works_unchanged() {
    let Some(python) = std::env::var_os("QUARRY_OPENAI_PYTHON") else {
        assert!(
            std::env::var_os("QUARRY_REQUIRE_OPENAI").is_none(),
            "QUARRY_REQUIRE_OPENAI is set but QUARRY_OPENAI_PYTHON is not"
        );
        eprintln!("skipped: set QUARRY_OPENAI_PYTHON (scripts/serve/setup_openai.sh prints it)");
        return;
    };
    let server = start();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/serve/openai_client.py"
    );
    let out = Command::new(python)
        .arg(script)
        .arg(format!("http://{}/v1", server.addr))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openai client failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sigterm_lets_an_in_flight_request_finish() {
    let mut server = start();
    let body = r#"{"query": "senior data scientist jobs in berlin with fewer than 10 applicants", "stream": true}"#;
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    write!(
        stream,
        "POST /v1/understand HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    // Once the first event has arrived the request is in flight: stop the
    // server then.
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("event: intent") {
        let n = stream.read(&mut buffer).unwrap();
        assert!(n > 0, "closed before the first event");
        seen.extend_from_slice(&buffer[..n]);
    }
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    stream.read_to_end(&mut seen).unwrap();
    let response = String::from_utf8_lossy(&seen);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains("event: done"),
        "the stream was cut:\n{response}"
    );
    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "{exit}");
    // New connections are refused once it has stopped.
    assert_eq!(http(&server.addr, "GET", "/healthz", "").0, 0);
}

/// Without `--model`, the server runs the origin model when the checkout has
/// it (the larger one the edge escalates to), else the default model: its
/// answers are that model's, as the CLI gives them, and it names it.
#[test]
fn serves_the_origin_model_by_default() {
    let models = concat!(env!("CARGO_MANIFEST_DIR"), "/../models");
    let origin = format!("{models}/quarry-origin-q8_0.gguf");
    let (expected_model, name) = if std::path::Path::new(&origin).exists() {
        (origin, "quarry-origin-q8_0")
    } else {
        (format!("{models}/quarry-q8_0.gguf"), "quarry-q8_0")
    };
    let query = "senior data engineer jobs in lyon or remote";
    let cli = Command::new(env!("CARGO_BIN_EXE_quarry"))
        .args(["understand", query, "--model", &expected_model])
        .output()
        .expect("run quarry understand");
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let cli: serde_json::Value = serde_json::from_slice(&cli.stdout).unwrap();

    let server = start();
    let (status, body) = http(
        &server.addr,
        "POST",
        "/v1/understand",
        &serde_json::json!({ "query": query }).to_string(),
    );
    assert_eq!(status, 200, "{body}");
    let served: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(served, cli, "the server answers as {name} does");

    let chat = serde_json::json!({
        "model": "quarry",
        "messages": [{ "role": "user", "content": query }],
    });
    let (status, body) = http(
        &server.addr,
        "POST",
        "/v1/chat/completions",
        &chat.to_string(),
    );
    assert_eq!(status, 200, "{body}");
    let reply: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(reply["model"], name, "{body}");
}
