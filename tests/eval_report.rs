//! The scorer's extra lines (exact match, violations denied by category,
//! false denials by stage) on the labelled sets, and the sets' `category`
//! labels.

use std::collections::BTreeMap;

use quarry::contract::{Denial, DenialStage};
use quarry::eval::{read_examples, Example, Scorer, Share};
use quarry::trust::Category;
use quarry::{Intent, Output};

const SETS: [(&str, &str); 2] = [
    ("dev.jsonl", include_str!("data/dev.jsonl")),
    ("test.jsonl", include_str!("data/test.jsonl")),
];

fn perfect(e: &Example) -> Output {
    e.labelled_output()
}

/// Every violation row names its category, written right after `denied`;
/// clean rows carry none.
#[test]
fn every_violation_row_has_a_category() {
    for (name, text) in SETS {
        let examples = read_examples(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), examples.len());
        for (example, line) in examples.iter().zip(&lines) {
            let expected = &example.expected;
            assert_eq!(
                expected.denied,
                expected.intent == Intent::TrustViolation,
                "{name} {}",
                example.id
            );
            assert_eq!(
                expected.category.is_some(),
                expected.denied,
                "{name} {}",
                example.id
            );
            if let Some(category) = expected.category {
                let wanted = format!(r#""denied": true, "category": "{}", "#, category.as_str());
                assert!(line.contains(&wanted), "{name} {}: {line}", example.id);
            }
        }
    }
}

#[test]
fn dev_set_categories() {
    let examples = read_examples(SETS[0].1).unwrap();
    let mut counts = BTreeMap::new();
    for e in &examples {
        if let Some(c) = e.expected.category {
            *counts.entry(c.as_str()).or_insert(0) += 1;
        }
    }
    assert_eq!(
        counts,
        BTreeMap::from([
            ("discriminatory", 12),
            ("illegal", 16),
            ("self_harm", 3),
            ("violent", 8),
        ])
    );
}

/// Perfect outputs score an exact match on every row and deny every
/// category in full; outputs that deny everything fill the false-denial
/// breakdown with the stage that denied.
#[test]
fn report_on_the_labelled_sets() {
    for (name, text) in SETS {
        let examples = read_examples(text).unwrap();
        let violations = examples.iter().filter(|e| e.expected.denied).count();
        let clean = examples.len() - violations;

        let mut scorer = Scorer::new();
        for e in &examples {
            scorer.add(e, &perfect(e));
        }
        assert_eq!(scorer.exact_match(), Some(1.0), "{name}");
        let mut support = 0;
        for c in Category::ALL {
            let share = scorer.violations_denied_in(Some(c));
            assert_eq!(share.hits, share.total, "{name} {c:?}");
            support += share.total;
        }
        assert_eq!(support, violations, "{name}");
        assert_eq!(scorer.violations_denied_in(None), Share::default());
        assert_eq!(scorer.false_denials_by.total(), 0);
        let report = scorer.to_string();
        assert!(
            report.contains(&format!(
                "false denials by stage     0/{clean} (screen 0; model 0)"
            )),
            "{report}"
        );
        assert!(!report.contains("unlabelled"), "{report}");

        // Deny everything: the screen takes the rows at even positions
        // (as violent), the model the rest.
        let mut denying = Scorer::new();
        let (mut screen, mut model) = (0, 0);
        for (i, e) in examples.iter().enumerate() {
            let stage = if i % 2 == 0 {
                DenialStage::Screen
            } else {
                DenialStage::Model
            };
            let mut out = perfect(e);
            out.denied = true;
            out.intent = Intent::TrustViolation;
            out.tools.clear();
            out.denial = Some(Denial {
                category: (stage == DenialStage::Screen).then_some(Category::Violent),
                stage,
            });
            if !e.expected.denied {
                match stage {
                    DenialStage::Screen => screen += 1,
                    DenialStage::Model => model += 1,
                }
            }
            denying.add(e, &out);
        }
        let by = &denying.false_denials_by;
        assert_eq!((by.screen_total(), by.model), (screen, model), "{name}");
        assert_eq!(by.screen.get("violent"), Some(&screen));
        assert!(
            denying.to_string().contains(&format!(
                "false denials by stage     {clean}/{clean} (screen {screen}: violent {screen}; model {model})"
            )),
            "{name}"
        );
        // Only the violations (all tool-free) are exact now.
        assert_eq!(
            denying.exact,
            Share {
                hits: violations,
                total: examples.len()
            }
        );
    }
}
