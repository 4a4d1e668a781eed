//! Evaluation (spec, "Evaluation"): scores predicted outputs against a
//! labelled set and prints tables laid out like the paper's Table 1 (query
//! planner) and Table 2 (query tagger).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::contract::{DenialStage, Input, Intent, Output, ToolCall, ToolName};
use crate::text::normalize;
use crate::trust::Category;

/// One labelled example, as in `tests/data/dev.jsonl`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    pub id: String,
    pub input: Input,
    pub expected: Expected,
}

impl Example {
    /// The output that scores as exactly this example's label (a denial is
    /// attributed to the model): the reference for checking the scorer.
    pub fn labelled_output(&self) -> Output {
        let mut output = Output::searching(&self.input.query);
        output.intent = self.expected.intent;
        output.denied = self.expected.denied;
        output.rewritten_query = self.expected.rewritten_query.clone();
        output.tools = self.expected.tools.clone();
        output.denial = self.expected.denied.then_some(crate::contract::Denial {
            category: None,
            stage: DenialStage::Model,
        });
        output
    }
}

/// The labelled parts of an output.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    pub intent: Intent,
    pub denied: bool,
    /// For a violation (`denied: true`), which kind; violations are scored
    /// per category. Absent on clean rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    #[serde(default)]
    pub rewritten_query: Option<String>,
    pub tools: Vec<ToolCall>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suggested_industries: Vec<String>,
}

/// Reads a JSONL set; an error names the line. A `category` is only
/// allowed on a denied row.
pub fn read_examples(text: &str) -> Result<Vec<Example>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            let example = serde_json::from_str::<Example>(line)
                .map_err(|e| format!("line {}: {e}", i + 1))?;
            if example.expected.category.is_some() && !example.expected.denied {
                return Err(format!(
                    "line {}: a category on a row that is not denied",
                    i + 1
                ));
            }
            Ok(example)
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

/// The key for a violation without a labelled category (or a screen denial
/// without one).
pub const UNLABELLED: &str = "unlabelled";

fn category_key(category: Option<Category>) -> &'static str {
    category.map_or(UNLABELLED, Category::as_str)
}

/// Who denied the clean queries that were wrongly denied.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FalseDenials {
    /// By the lexical screen, per category it named (`Category::as_str`,
    /// or [`UNLABELLED`]).
    pub screen: BTreeMap<&'static str, usize>,
    /// By the model's planner.
    pub model: usize,
    /// Denied with no `denial` detail in the output.
    pub unknown: usize,
}

impl FalseDenials {
    pub fn screen_total(&self) -> usize {
        self.screen.values().sum()
    }
    pub fn total(&self) -> usize {
        self.screen_total() + self.model + self.unknown
    }
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
    /// Examples whose intent, `denied` and multiset of tool calls (compared
    /// as in Table 2: name and normalised key arguments) all match.
    pub exact: Share,
    /// Violations denied, per expected category (`Category::as_str`, or
    /// [`UNLABELLED`]).
    pub violations_by_category: BTreeMap<&'static str, Share>,
    /// The false denials by the stage (and screen category) that denied.
    pub false_denials_by: FalseDenials,
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
        let mut matched = 0;
        for call in &expected.tools {
            let wanted = signature(call);
            if let Some(at) = unmatched.iter().position(|p| signature(p) == wanted) {
                let found = unmatched.remove(at);
                matched += 1;
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

        // Signatures compare by equality, so greedy matching is maximal: the
        // multisets are equal when every expected call found a partner and
        // no predicted call is left over.
        let same_tools = matched == expected.tools.len() && unmatched.is_empty();
        self.exact.add(
            expected.intent == predicted.intent
                && expected.denied == predicted.denied
                && same_tools,
        );

        if expected.denied {
            self.violations_denied.add(predicted.denied);
            self.violations_by_category
                .entry(category_key(expected.category))
                .or_default()
                .add(predicted.denied);
        } else {
            self.false_denials.add(predicted.denied);
            if predicted.denied {
                let by = &mut self.false_denials_by;
                match &predicted.denial {
                    Some(d) if d.stage == DenialStage::Screen => {
                        *by.screen.entry(category_key(d.category)).or_default() += 1;
                    }
                    Some(_) => by.model += 1,
                    None => by.unknown += 1,
                }
            }
        }
    }

    /// Share of examples that match exactly (intent, `denied` and tools).
    pub fn exact_match(&self) -> Option<f64> {
        self.exact.value()
    }

    /// Violations of one category (`None`: unlabelled) and how many were
    /// denied.
    pub fn violations_denied_in(&self, category: Option<Category>) -> Share {
        self.violations_by_category
            .get(category_key(category))
            .copied()
            .unwrap_or_default()
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
        writeln!(
            f,
            "{:<18} {:>7} {:>9} ({}/{})",
            "exact match",
            self.exact.total,
            cell(self.exact_match()),
            self.exact.hits,
            self.exact.total
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
        )?;
        // Breakdowns, after the summary lines above (whose shape scripts
        // may parse).
        writeln!(f)?;
        writeln!(f, "violations denied by category (denied / support)")?;
        let unlabelled = self.violations_denied_in(None);
        let rows = Category::ALL
            .iter()
            .map(|c| (c.as_str(), self.violations_denied_in(Some(*c))))
            .chain((unlabelled.total > 0).then_some((UNLABELLED, unlabelled)));
        for (name, s) in rows {
            writeln!(f, "  {:<24} {}/{}", name, s.hits, s.total)?;
        }
        let by = &self.false_denials_by;
        let mut detail = format!("screen {}", by.screen_total());
        if by.screen_total() > 0 {
            let parts: Vec<String> = Category::ALL
                .iter()
                .map(|c| c.as_str())
                .chain([UNLABELLED])
                .filter_map(|k| by.screen.get(k).map(|n| format!("{k} {n}")))
                .collect();
            detail += &format!(": {}", parts.join(", "));
        }
        detail += &format!("; model {}", by.model);
        if by.unknown > 0 {
            detail += &format!("; unknown {}", by.unknown);
        }
        writeln!(
            f,
            "false denials by stage     {}/{} ({detail})",
            self.false_denials.hits, self.false_denials.total
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Denial;
    use serde_json::json;

    fn example(tools: Vec<ToolCall>) -> Example {
        Example {
            id: "t".into(),
            input: Input::query("senior nurse jobs in paris"),
            expected: Expected {
                intent: Intent::CriteriaSearch,
                denied: false,
                category: None,
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
    fn call(name: ToolName, args: Value) -> ToolCall {
        ToolCall::new(name, args)
    }

    fn labelled(
        intent: Intent,
        denied: bool,
        category: Option<Category>,
        tools: Vec<ToolCall>,
    ) -> Example {
        let mut e = example(tools);
        e.expected.intent = intent;
        e.expected.denied = denied;
        e.expected.category = category;
        e
    }

    fn denied_output(denial: Option<Denial>) -> Output {
        let mut out = output(Intent::TrustViolation, vec![]);
        out.denied = true;
        out.denial = denial;
        out
    }

    fn screen(category: Option<Category>) -> Option<Denial> {
        Some(Denial {
            category,
            stage: DenialStage::Screen,
        })
    }

    fn model() -> Option<Denial> {
        Some(Denial {
            category: None,
            stage: DenialStage::Model,
        })
    }

    fn line<'a>(table: &'a str, prefix: &str) -> &'a str {
        table
            .lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix:?} in\n{table}"))
    }

    #[test]
    fn exact_match_needs_intent_denied_and_the_same_multiset_of_calls() {
        let nurse = || call(ToolName::Title, json!({"title": "nurse"}));
        let paris = |country: &str| {
            call(
                ToolName::Location,
                json!({"location": "Paris", "resolved": {"country": country}}),
            )
        };
        let gold = || vec![nurse(), nurse(), paris("France")];
        let cs = Intent::CriteriaSearch;
        let cases: Vec<(Output, bool)> = vec![
            // Reordered, re-cased, other `resolved`: still exact.
            (
                output(
                    cs,
                    vec![
                        paris("United States"),
                        call(ToolName::Title, json!({"title": "Nurse "})),
                        nurse(),
                    ],
                ),
                true,
            ),
            (output(cs, gold()), true),
            // One duplicate missing.
            (output(cs, vec![nurse(), paris("France")]), false),
            // An extra call.
            (
                output(cs, {
                    let mut t = gold();
                    t.push(call(ToolName::Seniority, json!({"level": "mid_senior"})));
                    t
                }),
                false,
            ),
            // Same length, different multiset.
            (
                output(
                    cs,
                    vec![
                        nurse(),
                        call(ToolName::Title, json!({"title": "doctor"})),
                        paris("France"),
                    ],
                ),
                false,
            ),
            // Right tools, wrong intent.
            (output(Intent::NonJob, gold()), false),
            // Right intent and tools, but denied.
            (
                {
                    let mut o = output(cs, gold());
                    o.denied = true;
                    o
                },
                false,
            ),
        ];
        let mut scorer = Scorer::new();
        for (predicted, exact) in &cases {
            let mut one = Scorer::new();
            one.add(&example(gold()), predicted);
            assert_eq!(one.exact.hits, usize::from(*exact), "{predicted:?}");
            scorer.add(&example(gold()), predicted);
        }
        assert_eq!(scorer.exact, Share { hits: 2, total: 7 });
        assert_eq!(scorer.exact_match(), Some(2.0 / 7.0));
        // A violation denied with no tools is an exact match.
        let mut violations = Scorer::new();
        let violation = labelled(
            Intent::TrustViolation,
            true,
            Some(Category::Violent),
            vec![],
        );
        violations.add(&violation, &denied_output(model()));
        violations.add(&violation, &output(Intent::TrustViolation, vec![]));
        assert_eq!(violations.exact, Share { hits: 1, total: 2 });
        assert_eq!(Scorer::new().exact_match(), None);

        let table = scorer.to_string();
        let lines: Vec<&str> = table.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.starts_with("accuracy"))
            .unwrap();
        assert_eq!(lines[at + 1], "exact match              7     0.286 (2/7)");
    }

    #[test]
    fn violations_are_counted_per_category() {
        let mut scorer = Scorer::new();
        let v = |c| labelled(Intent::TrustViolation, true, c, vec![]);
        let clean = output(Intent::CriteriaSearch, vec![]);
        scorer.add(
            &v(Some(Category::Violent)),
            &denied_output(screen(Some(Category::Violent))),
        );
        scorer.add(&v(Some(Category::Violent)), &clean);
        scorer.add(&v(Some(Category::Violent)), &denied_output(model()));
        scorer.add(&v(Some(Category::SelfHarm)), &denied_output(model()));
        scorer.add(&v(Some(Category::Illegal)), &clean);
        scorer.add(&v(None), &denied_output(None));
        // Clean rows never count here.
        scorer.add(
            &example(vec![]),
            &denied_output(screen(Some(Category::Violent))),
        );

        let share = |c| scorer.violations_denied_in(c);
        assert_eq!(share(Some(Category::Violent)), Share { hits: 2, total: 3 });
        assert_eq!(share(Some(Category::SelfHarm)), Share { hits: 1, total: 1 });
        assert_eq!(share(Some(Category::Illegal)), Share { hits: 0, total: 1 });
        assert_eq!(share(Some(Category::Offensive)), Share::default());
        assert_eq!(share(Some(Category::Discriminatory)), Share::default());
        assert_eq!(share(None), Share { hits: 1, total: 1 });
        assert_eq!(scorer.violations_denied, Share { hits: 4, total: 6 });

        let table = scorer.to_string();
        assert_eq!(
            line(&table, "violations denied   "),
            "violations denied          0.667 (4/6)"
        );
        let at = table
            .lines()
            .position(|l| l.starts_with("violations denied by category"))
            .unwrap();
        let rows: Vec<Vec<&str>> = table
            .lines()
            .skip(at + 1)
            .take(6)
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            rows,
            [
                ["offensive", "0/0"],
                ["violent", "2/3"],
                ["discriminatory", "0/0"],
                ["self_harm", "1/1"],
                ["illegal", "0/1"],
                ["unlabelled", "1/1"],
            ]
        );
        // Without unlabelled violations there is no unlabelled row.
        let mut labelled_only = Scorer::new();
        labelled_only.add(&v(Some(Category::Offensive)), &denied_output(model()));
        assert!(!labelled_only.to_string().contains(UNLABELLED));
    }

    #[test]
    fn false_denials_are_split_by_who_denied() {
        let mut scorer = Scorer::new();
        let clean = || example(vec![]);
        scorer.add(&clean(), &denied_output(screen(Some(Category::Violent))));
        scorer.add(&clean(), &denied_output(screen(Some(Category::Illegal))));
        scorer.add(&clean(), &denied_output(screen(Some(Category::Violent))));
        scorer.add(&clean(), &denied_output(screen(None)));
        scorer.add(&clean(), &denied_output(model()));
        scorer.add(&clean(), &denied_output(model()));
        scorer.add(&clean(), &denied_output(None));
        scorer.add(&clean(), &output(Intent::CriteriaSearch, vec![]));
        scorer.add(&clean(), &output(Intent::NonJob, vec![]));
        // A denied violation is not a false denial, whoever denied it.
        let violation = labelled(
            Intent::TrustViolation,
            true,
            Some(Category::Violent),
            vec![],
        );
        scorer.add(&violation, &denied_output(screen(Some(Category::Violent))));
        scorer.add(&violation, &denied_output(model()));

        assert_eq!(scorer.false_denials, Share { hits: 7, total: 9 });
        let by = &scorer.false_denials_by;
        assert_eq!(
            by.screen,
            BTreeMap::from([("violent", 2), ("illegal", 1), (UNLABELLED, 1)])
        );
        assert_eq!((by.screen_total(), by.model, by.unknown), (4, 2, 1));
        assert_eq!(by.total(), scorer.false_denials.hits);

        let table = scorer.to_string();
        assert_eq!(
            line(&table, "false denials   "),
            "false denials              0.778 (7/9)"
        );
        assert_eq!(
            line(&table, "false denials by stage"),
            "false denials by stage     7/9 (screen 4: violent 2, illegal 1, unlabelled 1; model 2; unknown 1)"
        );

        let mut few = Scorer::new();
        few.add(&clean(), &denied_output(model()));
        few.add(&clean(), &output(Intent::CriteriaSearch, vec![]));
        assert_eq!(
            line(&few.to_string(), "false denials by stage"),
            "false denials by stage     1/2 (screen 0; model 1)"
        );
    }

    #[test]
    fn category_is_read_only_on_denied_rows_and_omitted_when_absent() {
        let row = r#"{"id": "v", "input": {"query": "q"}, "expected": {"intent": "trust_violation", "denied": true, "category": "self_harm", "rewritten_query": null, "tools": []}}"#;
        let examples = read_examples(row).unwrap();
        assert_eq!(examples[0].expected.category, Some(Category::SelfHarm));
        let text = serde_json::to_string(&examples[0].expected).unwrap();
        assert!(
            text.starts_with(
                r#"{"intent":"trust_violation","denied":true,"category":"self_harm","#
            ),
            "{text}"
        );

        let bad = r#"{"id": "c", "input": {"query": "q"}, "expected": {"intent": "criteria_search", "denied": false, "category": "violent", "rewritten_query": null, "tools": []}}"#;
        assert!(read_examples(bad).unwrap_err().contains("line 1"));
        let unknown = row.replace("self_harm", "rude");
        assert!(read_examples(&unknown).is_err());

        let clean = serde_json::to_string(&example(vec![]).expected).unwrap();
        assert!(!clean.contains("category"), "{clean}");
    }
}
