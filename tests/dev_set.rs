//! The hand-labelled dev set: its labels follow the contract, and the parts
//! of the core that need no model (the trust screen, the gazetteer, the
//! scorer) are measured on it. The label-contract checks also cover the
//! second and third tuning sets, `dev2.jsonl` and `dev3.jsonl`.

use std::collections::{BTreeMap, BTreeSet};

use quarry::eval::{read_examples, Example, Scorer};
use quarry::taxonomy::{PlaceHints, Taxonomy};
use quarry::text::normalize;
use quarry::tools::{self, query_countries};
use quarry::{trust, Intent, ToolName};

/// Every hand-labelled tuning set, by file name.
const TUNING_SETS: [(&str, &str); 3] = [
    ("dev.jsonl", include_str!("data/dev.jsonl")),
    ("dev2.jsonl", include_str!("data/dev2.jsonl")),
    ("dev3.jsonl", include_str!("data/dev3.jsonl")),
];

fn parse(name: &str, text: &str) -> Vec<Example> {
    read_examples(text).unwrap_or_else(|e| panic!("{name} does not parse: {e}"))
}

fn dev_set() -> Vec<Example> {
    let (name, text) = TUNING_SETS[0];
    parse(name, text)
}

/// Each tuning set with its parsed examples.
fn tuning_sets() -> impl Iterator<Item = (&'static str, Vec<Example>)> {
    TUNING_SETS
        .into_iter()
        .map(|(name, text)| (name, parse(name, text)))
}

#[test]
fn tuning_sets_parse_with_unique_ids() {
    let mut ids = BTreeSet::new();
    for (name, examples) in tuning_sets() {
        assert!(!examples.is_empty(), "{name} is empty");
        for example in &examples {
            assert!(
                ids.insert(example.id.clone()),
                "{name}: duplicate id {}",
                example.id
            );
        }
    }
}

#[test]
fn dev_set_covers_every_intent_and_tool() {
    let examples = dev_set();
    assert!(examples.len() >= 250, "{} examples", examples.len());
    let mut intents = BTreeMap::new();
    let mut tools = BTreeMap::new();
    for example in &examples {
        *intents.entry(example.expected.intent).or_insert(0) += 1;
        for call in &example.expected.tools {
            *tools.entry(call.name).or_insert(0) += 1;
        }
    }
    for intent in Intent::ALL {
        assert!(
            intents.get(&intent).copied().unwrap_or(0) >= 25,
            "{intent:?}: {intents:?}"
        );
    }
    for tool in ToolName::ALL {
        assert!(
            tools.get(&tool).copied().unwrap_or(0) >= 12,
            "{tool:?}: {tools:?}"
        );
    }
}

#[test]
fn labels_follow_the_contract() {
    for example in tuning_sets().flat_map(|(_, examples)| examples) {
        let expected = &example.expected;
        let id = &example.id;
        assert_eq!(
            expected.denied,
            expected.intent == Intent::TrustViolation,
            "{id}"
        );
        if expected.denied {
            assert!(
                expected.tools.is_empty(),
                "{id}: a denied query has no tools"
            );
        }
        let source = match (&expected.rewritten_query, expected.intent) {
            (Some(rewrite), Intent::SelfReference) => rewrite.clone(),
            (None, Intent::SelfReference) => panic!("{id}: self-reference needs a rewrite"),
            (Some(_), _) => panic!("{id}: only self-reference is rewritten"),
            (None, _) => example.input.query.clone(),
        };
        for call in &expected.tools {
            if let Some(key) = call.name.text_argument() {
                let value = call
                    .text(key)
                    .unwrap_or_else(|| panic!("{id}: {key} missing"));
                assert!(
                    normalize(&source).contains(&normalize(value)),
                    "{id}: `{value}` is not in `{source}`"
                );
            }
            let enum_ok = |key: &str, options: &[&str]| {
                assert!(
                    options.contains(&call.text(key).unwrap_or("")),
                    "{id}: {call:?}"
                )
            };
            match call.name {
                ToolName::Seniority => enum_ok("level", tools::SENIORITY_LEVELS),
                ToolName::WorkplaceType => enum_ok("type", tools::WORKPLACE_TYPES),
                ToolName::EmploymentType => enum_ok("type", tools::EMPLOYMENT_TYPES),
                ToolName::DatePosted => enum_ok("within", tools::DATE_WINDOWS),
                _ => {}
            }
        }
    }
}

/// The scorer gives a perfect score to the labels themselves, and a lower
/// one when a label is wrong.
#[test]
fn scorer_is_consistent_on_the_dev_set() {
    let examples = dev_set();
    let as_output = |e: &Example| {
        let mut output = e.labelled_output();
        output.denial = None;
        output
    };
    let mut perfect = Scorer::new();
    let mut damaged = Scorer::new();
    for (i, example) in examples.iter().enumerate() {
        let output = as_output(example);
        perfect.add(example, &output);
        let mut wrong = output.clone();
        if i % 10 == 0 {
            wrong.tools.pop();
            wrong.intent = Intent::NonJob;
        }
        damaged.add(example, &wrong);
    }
    assert_eq!(perfect.planner_accuracy(), Some(1.0));
    for (tool, counts) in &perfect.tools {
        assert_eq!(
            (counts.precision(), counts.recall()),
            (Some(1.0), Some(1.0)),
            "{tool:?}"
        );
    }
    assert_eq!(perfect.rewrite_coverage.value(), Some(1.0));
    assert_eq!(perfect.violations_denied.value(), Some(1.0));
    assert_eq!(perfect.false_denials.value(), Some(0.0));
    assert!(damaged.planner_accuracy().unwrap() < 0.95);
    println!("{perfect}");
}

/// The lexical screen never denies a clean dev query; it catches the plain
/// violations and leaves the subtle ones to the model.
#[test]
fn trust_screen_on_the_dev_set() {
    let examples = dev_set();
    let mut caught = 0;
    let mut violations = 0;
    let mut false_denials = Vec::new();
    for example in &examples {
        let screened = trust::screen(&example.input.query);
        if example.expected.denied {
            violations += 1;
            caught += usize::from(screened.is_some());
        } else if let Some(category) = screened {
            false_denials.push((example.input.query.clone(), category));
        }
    }
    println!("screen caught {caught}/{violations} violations");
    assert!(false_denials.is_empty(), "{false_denials:?}");
    assert!(
        caught * 2 >= violations,
        "screen caught only {caught}/{violations}"
    );
}

/// Resolving each labelled place text with the example's profile and query
/// gives the labelled country.
#[test]
fn gazetteer_resolves_dev_set_places() {
    let taxonomy = Taxonomy::embedded();
    for (name, examples) in tuning_sets() {
        gazetteer_resolves_places(taxonomy, name, examples);
    }
}

fn gazetteer_resolves_places(taxonomy: &Taxonomy, name: &str, examples: Vec<Example>) {
    let mut right = 0;
    let mut misses = Vec::new();
    for example in examples {
        let home = example
            .input
            .profile
            .as_ref()
            .and_then(|p| p.location.as_deref())
            .and_then(|l| taxonomy.gazetteer.resolve(l, &PlaceHints::default()));
        let source = example
            .expected
            .rewritten_query
            .clone()
            .unwrap_or(example.input.query.clone());
        for call in example
            .expected
            .tools
            .iter()
            .filter(|c| c.name == ToolName::Location)
        {
            let text = call.text("location").unwrap_or_default();
            let Some(country) = call
                .arguments
                .get("resolved")
                .and_then(|r| r["country"].as_str())
            else {
                continue;
            };
            let hints = PlaceHints {
                home,
                countries: query_countries(&source),
            };
            let found = taxonomy
                .gazetteer
                .resolve(text, &hints)
                .map(|p| p.country.as_str());
            if found == Some(country) {
                right += 1;
            } else {
                misses.push(format!(
                    "{}: `{text}` → {found:?}, want {country}",
                    example.id
                ));
            }
        }
    }
    let total = right + misses.len();
    println!(
        "{name}: resolved country {right}/{total}\n{}",
        misses.join("\n")
    );
    assert!(
        right as f64 >= 0.95 * total as f64,
        "{name}: {right}/{total}:\n{}",
        misses.join("\n")
    );
}
