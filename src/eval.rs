//! Evaluation (spec, "Evaluation"): scores predicted outputs against a
//! labelled set and prints tables laid out like the paper's Table 1 (query
//! planner) and Table 2 (query tagger).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::contract::{Input, Intent, Output, ToolCall, ToolName};
use crate::text::normalize;

/// One labelled example, as in `tests/data/dev.jsonl`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    pub id: String,
    pub input: Input,
    pub expected: Expected,
}

/// The labelled parts of an output.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    pub intent: Intent,
    pub denied: bool,
    #[serde(default)]
    pub rewritten_query: Option<String>,
    pub tools: Vec<ToolCall>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suggested_industries: Vec<String>,
}

/// Reads a JSONL set; an error names the line.
pub fn read_examples(text: &str) -> Result<Vec<Example>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str::<Example>(line).map_err(|e| format!("line {}: {e}", i + 1))
        })
        .collect()
}

/// The normalised identity of a call: its name and key arguments.
fn signature(call: &ToolCall) -> (ToolName, Vec<String>) {
    let args = call
        .name
        .key_arguments()
        .iter()
        .map(|key| match call.arguments.get(*key) {
            Some(Value::String(s)) => normalize(s),
            Some(other) => other.to_string(),
            None => String::new(),
        })
        .collect();
    (call.name, args)
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Counts {
    pub expected: usize,
    pub predicted: usize,
    pub correct: usize,
}

impl Counts {
    pub fn precision(&self) -> Option<f64> {
        ratio(self.correct, self.predicted)
    }
    pub fn recall(&self) -> Option<f64> {
        ratio(self.correct, self.expected)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Share {
    pub hits: usize,
    pub total: usize,
}

impl Share {
    pub fn value(&self) -> Option<f64> {
        ratio(self.hits, self.total)
    }
    fn add(&mut self, hit: bool) {
        self.total += 1;
        self.hits += usize::from(hit);
    }
}

fn ratio(a: usize, b: usize) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// Accumulates scores over examples.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Scorer {
    pub examples: usize,
    pub planner: BTreeMap<Intent, Counts>,
    pub planner_correct: usize,
    pub tools: BTreeMap<ToolName, Counts>,
    pub resolved_country: Share,
    pub rewrite_coverage: Share,
    pub violations_denied: Share,
    pub false_denials: Share,
}

impl Scorer {
    pub fn new() -> Scorer {
        Scorer::default()
    }

    pub fn add(&mut self, example: &Example, predicted: &Output) {
        let expected = &example.expected;
        self.examples += 1;
        self.planner.entry(expected.intent).or_default().expected += 1;
        self.planner.entry(predicted.intent).or_default().predicted += 1;
        if expected.intent == predicted.intent {
            self.planner.entry(expected.intent).or_default().correct += 1;
            self.planner_correct += 1;
        }

        let mut unmatched: Vec<&ToolCall> = predicted.tools.iter().collect();
        for call in &expected.tools {
            self.tools.entry(call.name).or_default().expected += 1;
        }
        for call in &predicted.tools {
            self.tools.entry(call.name).or_default().predicted += 1;
        }
        for call in &expected.tools {
            let wanted = signature(call);
            if let Some(at) = unmatched.iter().position(|p| signature(p) == wanted) {
                let found = unmatched.remove(at);
                self.tools.entry(call.name).or_default().correct += 1;
                if call.name == ToolName::Location {
                    if let Some(country) = resolved_country(call) {
                        self.resolved_country
                            .add(resolved_country(found).is_some_and(|c| c == country));
                    }
                }
            }
        }

        if expected.intent == Intent::SelfReference {
            if let (Some(profile), Some(gold)) = (&example.input.profile, &expected.rewritten_query)
            {
                let needed: Vec<String> = profile
                    .values()
                    .filter(|v| contains(gold, v))
                    .map(str::to_string)
                    .collect();
                let rewrite = predicted.rewritten_query.as_deref().unwrap_or("");
                self.rewrite_coverage
                    .add(!rewrite.is_empty() && needed.iter().all(|v| contains(rewrite, v)));
            }
        }

        if expected.denied {
            self.violations_denied.add(predicted.denied);
        } else {
            self.false_denials.add(predicted.denied);
        }
    }

    pub fn planner_accuracy(&self) -> Option<f64> {
        ratio(self.planner_correct, self.examples)
    }
}

fn resolved_country(call: &ToolCall) -> Option<String> {
    call.arguments
        .get("resolved")?
        .get("country")?
        .as_str()
        .map(normalize)
}

fn contains(haystack: &str, needle: &str) -> bool {
    normalize(haystack).contains(&normalize(needle))
}

fn cell(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"))
}

impl fmt::Display for Scorer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Table 1. Query planner ({} queries)", self.examples)?;
        writeln!(
            f,
            "{:<18} {:>7} {:>9} {:>9}",
            "intent", "support", "precision", "recall"
        )?;
        for intent in Intent::ALL {
            let c = self.planner.get(&intent).copied().unwrap_or_default();
            writeln!(
                f,
                "{:<18} {:>7} {:>9} {:>9}",
                intent.as_str(),
                c.expected,
                cell(c.precision()),
                cell(c.recall())
            )?;
        }
        writeln!(
            f,
            "{:<18} {:>7} {:>9}",
            "accuracy",
            self.examples,
            cell(self.planner_accuracy())
        )?;
        writeln!(f)?;
        writeln!(f, "Table 2. Query tagger")?;
        writeln!(
            f,
            "{:<22} {:>7} {:>9} {:>9}",
            "tool", "support", "precision", "recall"
        )?;
        for tool in ToolName::ALL {
            let c = self.tools.get(&tool).copied().unwrap_or_default();
            writeln!(
                f,
                "{:<22} {:>7} {:>9} {:>9}",
                tool.as_str(),
                c.expected,
                cell(c.precision()),
                cell(c.recall())
            )?;
        }
        writeln!(f)?;
        let share = |s: Share| format!("{} ({}/{})", cell(s.value()), s.hits, s.total);
        writeln!(
            f,
            "resolved country accuracy  {}",
            share(self.resolved_country)
        )?;
        writeln!(
            f,
            "rewrite coverage           {}",
            share(self.rewrite_coverage)
        )?;
        writeln!(
            f,
            "violations denied          {}",
            share(self.violations_denied)
        )?;
        writeln!(
            f,
            "false denials              {}",
            share(self.false_denials)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn example(tools: Vec<ToolCall>) -> Example {
        Example {
            id: "t".into(),
            input: Input::query("senior nurse jobs in paris"),
            expected: Expected {
                intent: Intent::CriteriaSearch,
                denied: false,
                rewritten_query: None,
                tools,
                suggested_industries: vec![],
            },
        }
    }

    fn output(intent: Intent, tools: Vec<ToolCall>) -> Output {
        Output {
            query: "q".into(),
            intent,
            denied: false,
            message: None,
            rewritten_query: None,
            tools,
            suggested_industries: vec![],
            denial: None,
            confidence: 1.0,
        }
    }

    #[test]
    fn calls_match_on_normalised_key_arguments() {
        let gold = vec![
            ToolCall::new(ToolName::Title, json!({"title": "Nurse"})),
            ToolCall::new(
                ToolName::Location,
                json!({"location": "paris", "resolved": {"country": "France"}}),
            ),
        ];
        let predicted = vec![
            ToolCall::new(ToolName::Title, json!({"title": " nurse,"})),
            ToolCall::new(
                ToolName::Location,
                json!({"location": "Paris", "resolved": {"country": "United States"}}),
            ),
            ToolCall::new(ToolName::Seniority, json!({"level": "mid_senior"})),
        ];
        let mut scorer = Scorer::new();
        scorer.add(&example(gold), &output(Intent::NonJob, predicted));
        assert_eq!(
            scorer.tools[&ToolName::Title],
            Counts {
                expected: 1,
                predicted: 1,
                correct: 1
            }
        );
        assert_eq!(scorer.tools[&ToolName::Seniority].precision(), Some(0.0));
        assert_eq!(scorer.resolved_country, Share { hits: 0, total: 1 });
        assert_eq!(scorer.planner_accuracy(), Some(0.0));
        let table = scorer.to_string();
        assert!(table.contains("Table 1") && table.contains("Table 2"));
    }
}
