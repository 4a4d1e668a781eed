//! The contract's input rules and output shape.

use quarry::contract::{Output, DENIAL_MESSAGE, MAX_QUERY_BYTES};
use quarry::{Input, QuarryError};
use serde_json::json;

fn parse(body: &str) -> Result<Input, QuarryError> {
    Input::from_json(body.as_bytes())
}

#[test]
fn the_spec_example_parses() {
    let body = r#"{"query": "senior rust engineer jobs in naples posted this week",
      "profile": {"title": "Software Engineer", "company": "Acme",
                  "location": "Naples, Florida, United States",
                  "industry": "Software Development", "seniority": "mid_senior",
                  "skills": ["Rust", "Kubernetes"], "years_experience": 6,
                  "education": "BS Computer Science"}}"#;
    let input = parse(body).unwrap();
    assert_eq!(input.profile.unwrap().skills, ["Rust", "Kubernetes"]);
}

#[test]
fn queries_are_trimmed_and_bounded() {
    assert_eq!(parse(r#"{"query": "  nurse  "}"#).unwrap().query, "nurse");
    let at_limit = "a".repeat(MAX_QUERY_BYTES);
    assert!(parse(&json!({"query": format!("  {at_limit} ")}).to_string()).is_ok());
    let over = "é".repeat(MAX_QUERY_BYTES / 2 + 1);
    let error = parse(&json!({"query": over}).to_string()).unwrap_err();
    assert!(
        error.to_string().contains("exceeds the limit of 512"),
        "{error}"
    );
    for empty in [r#"{"query": ""}"#, r#"{"query": " \n\t "}"#] {
        assert!(matches!(
            parse(empty),
            Err(QuarryError::InvalidInput { field: "query", .. })
        ));
    }
}

#[test]
fn bad_bodies_get_errors_that_name_the_problem() {
    let cases: [(&[u8], &str); 9] = [
        (b"{\"query\": \"nurse\xff\"}", "UTF-8"),
        (b"{\"query\": ", "EOF"),
        (b"not json", "expected"),
        (b"{\"query\": 42}", "invalid type"),
        (
            b"{\"query\": \"x\", \"sort\": \"date\"}",
            "unknown field `sort`",
        ),
        (
            b"{\"query\": \"x\", \"profile\": {\"age\": 30}}",
            "unknown field `age`",
        ),
        (
            b"{\"query\": \"x\", \"profile\": {\"seniority\": \"boss\"}}",
            "unknown variant `boss`",
        ),
        (
            b"{\"query\": \"x\", \"profile\": {\"years_experience\": -1}}",
            "invalid value",
        ),
        (b"{}", "missing field `query`"),
    ];
    for (body, needle) in cases {
        let error = Input::from_json(body).unwrap_err().to_string();
        assert!(
            error.contains(needle),
            "{:?}: {error}",
            String::from_utf8_lossy(body)
        );
    }
    let huge = format!("{{\"query\": \"{}\"}}", "a".repeat(20_000));
    assert!(Input::from_json(huge.as_bytes())
        .unwrap_err()
        .to_string()
        .contains("body"));
    let control = parse("{\"query\": \"nurse\\u0000jobs\"}").unwrap_err();
    assert!(control.to_string().contains("control characters"));
    let years = parse(r#"{"query": "x", "profile": {"years_experience": 500}}"#).unwrap_err();
    assert!(years.to_string().contains("profile.years_experience"));
}

#[test]
fn an_empty_profile_is_no_profile() {
    let input = parse(r#"{"query": "x", "profile": {"title": "  ", "skills": [" "]}}"#).unwrap();
    assert_eq!(input.profile, None);
}

#[test]
fn outputs_serialize_with_the_contracts_field_names() {
    let denied = Output::denied(
        "q",
        quarry::contract::Denial {
            category: None,
            stage: quarry::contract::DenialStage::Model,
        },
    );
    let value = serde_json::to_value(&denied).unwrap();
    for field in [
        "query",
        "intent",
        "denied",
        "message",
        "rewritten_query",
        "tools",
        "suggested_industries",
    ] {
        assert!(value.get(field).is_some(), "{field} missing");
    }
    assert_eq!(value["intent"], "trust_violation");
    assert_eq!(value["message"], DENIAL_MESSAGE);
    assert_eq!(value["rewritten_query"], serde_json::Value::Null);
    let event = serde_json::to_value(quarry::Event::Intent(quarry::Intent::NonJob)).unwrap();
    assert_eq!(event, json!({"event": "intent", "data": "non_job"}));
}
