//! The `quarry` binary on the committed default model: the main job, its
//! streaming and JSONL modes, and clear errors for bad input and files.

use std::io::Write;
use std::process::{Command, Output as ProcessOutput, Stdio};

use quarry::{Event, Output};

fn quarry(args: &[&str], stdin: &[u8]) -> ProcessOutput {
    let mut child = Command::new(env!("CARGO_BIN_EXE_quarry"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run quarry");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    child.wait_with_output().expect("quarry output")
}

fn stdout(out: &ProcessOutput) -> String {
    String::from_utf8(out.stdout.clone()).expect("utf-8 stdout")
}

fn stderr(out: &ProcessOutput) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn understand_answers_from_the_default_model() {
    let out = quarry(
        &[
            "understand",
            "senior rust engineer jobs in naples posted this week",
        ],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let output: Output = serde_json::from_str(stdout(&out).trim()).expect("contract JSON");
    assert_eq!(
        output.query,
        "senior rust engineer jobs in naples posted this week"
    );
    assert!((0.0..=1.0).contains(&output.confidence));
}

#[test]
fn a_violation_is_denied_with_the_exact_message() {
    let out = quarry(&["understand", "how to make a bomb at work"], b"");
    let output: Output = serde_json::from_str(stdout(&out).trim()).expect("contract JSON");
    assert!(output.denied && output.tools.is_empty());
    assert_eq!(
        output.message.as_deref(),
        Some(quarry::contract::DENIAL_MESSAGE)
    );
}

#[test]
fn streaming_sends_events_then_done() {
    let out = quarry(
        &[
            "understand",
            "remote data analyst jobs in austin",
            "--stream",
        ],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let events: Vec<Event> = stdout(&out)
        .lines()
        .map(|line| serde_json::from_str(line).expect("event JSON"))
        .collect();
    assert!(
        matches!(events.first(), Some(Event::Intent(_))),
        "{events:?}"
    );
    assert!(matches!(events.last(), Some(Event::Done(_))), "{events:?}");
}

#[test]
fn jsonl_keeps_going_past_bad_lines() {
    let mut input = Vec::new();
    input.extend_from_slice(b"{\"query\": \"nurse jobs in boston\"}\n");
    input.extend_from_slice(b"{\"query\": \n");
    input.extend_from_slice(b"{\"query\": \"caf\xe9\"}\n");
    input.extend_from_slice(b"\n");
    input.extend_from_slice(b"{\"query\": \"   \"}\n");
    input.extend_from_slice(b"{\"query\": \"x\", \"page\": 2}\n");
    input.extend_from_slice(b"{\"query\": \"teacher jobs\", \"profile\": {\"location\": \"Toronto, Ontario, Canada\"}}\n");
    let out = quarry(&["understand", "--jsonl"], &input);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 6, "{lines:?}");
    assert_eq!(lines[0]["query"], "nurse jobs in boston");
    for (i, (line, code)) in [
        (2, "malformed_request"),
        (3, "malformed_request"),
        (5, "invalid_input"),
        (6, "malformed_request"),
    ]
    .into_iter()
    .enumerate()
    {
        let error = &lines[i + 1]["error"];
        assert_eq!(error["code"], code, "{:?}", lines[i + 1]);
        assert_eq!(lines[i + 1]["line"], line);
    }
    assert_eq!(lines[5]["query"], "teacher jobs");
}

#[test]
fn bad_queries_and_model_files_get_clear_errors() {
    let out = quarry(&["understand", "  "], b"");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("invalid `query`"), "{}", stderr(&out));

    let missing = quarry(
        &["understand", "nurse", "--model", "/nonexistent/model.gguf"],
        b"",
    );
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("/nonexistent/model.gguf"),
        "{}",
        stderr(&missing)
    );

    let default = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../models/quarry-q8_0.gguf"
    ))
    .expect("default model");
    let dir = std::env::temp_dir().join(format!("quarry-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in [
        ("truncated.gguf", default[..default.len() / 2].to_vec()),
        ("header.gguf", default[..64].to_vec()),
        ("garbage.gguf", b"not a model at all".to_vec()),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = quarry(
            &["understand", "nurse", "--model", path.to_str().unwrap()],
            b"",
        );
        assert!(!out.status.success(), "{name} loaded");
        let message = stderr(&out);
        assert!(
            message.starts_with("quarry: ") && !message.contains("panicked"),
            "{name}: {message}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// `quarry parity` compares two devices' logits; on the CPU against itself
/// both comparisons must be exact, which checks the command's own plumbing
/// (the GPU run is `scripts/cuda/device-check.sh`).
#[test]
fn parity_of_the_cpu_with_itself_is_exact() {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/dev.jsonl");
    let out = quarry(
        &["parity", "--device", "cpu", "--data", data, "--limit", "3"],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("6 prompts"), "{text}");
    for label in ["f32", "as shipped"] {
        let line = text
            .lines()
            .find(|l| l.contains(&format!("{label}: max abs logit diff")))
            .unwrap_or_else(|| panic!("no {label} line in {text}"));
        assert!(line.contains("diff 0.000e0"), "{line}");
        let (same, total) = line
            .split("same top token at ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|r| r.split_once('/'))
            .unwrap_or_else(|| panic!("{line}"));
        assert_eq!(same, total, "{line}");
    }
    assert!(text.contains("parity: ok"), "{text}");

    let bad = quarry(&["parity", "--device", "tpu"], b"");
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("unknown device `tpu`"),
        "{}",
        stderr(&bad)
    );
}
