//! `quarry-data generate`: supervised training data for the model's four tasks and a
//! held-out test set in the dev-set format, generated from the taxonomies,
//! deterministically for a seed.
//!
//! - `train.jsonl`: `{"task","prefix","body","target"}` per line; prompts
//!   are the core's [`quarry::prompt`] renderings (`Style::Compact`), targets
//!   the exact wire text of [`quarry::stream::wire`] (the trainer appends
//!   the end-of-turn token).
//! - `test.jsonl`: [`quarry::eval::Example`]s whose expected tools are
//!   contract-side (run through [`quarry::tools::execute`]) and whose
//!   titles, employers and cities are held out of `train.jsonl`.
//! - `stats.json`: counts per task, intent, tool, family, language, and the
//!   held-out entities.
//!
//! Every sample is checked before it is written (see [`check`]): a failure
//! is a generator bug and stops the run with the offending sample.

mod check;
mod lists;
mod part;
mod pools;
mod scenario;
mod typed;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use quarry::eval::{read_examples, Example, Expected};
use quarry::lexicon;
use quarry::prompt::{self, Style};
use quarry::stream::wire;
use quarry::taxonomy::Industry;
use quarry::{suggest, trust, Input, Intent, Profile, ToolCall, ToolName};
use serde_json::{json, Value};

use crate::rng::Rng;
use pools::{Pools, Split};
use scenario::{Gen, Scenario, WithProfile};

/// "Now" for `date_posted_tool` cutoffs in test.jsonl (2026-01-01 UTC).
pub const NOW_UNIX: i64 = 1_767_225_600;

/// Options of `quarry-data generate`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Output directory (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Seed: the same seed gives byte-identical files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Training samples to write (all four tasks together).
    #[arg(long, default_value_t = 60_000)]
    pub examples: usize,
    /// Held-out evaluation examples to write.
    #[arg(long, default_value_t = 1_000)]
    pub test_examples: usize,
    /// Worker threads (0: one per CPU). Output does not depend on it.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

/// Share of each task among training samples (planner, tagger, rewriter,
/// suggester), as the paper balances them.
const TASK_WEIGHTS: [f64; 4] = [0.29, 0.44, 0.17, 0.10];
/// Intents of planner samples.
const PLANNER_INTENTS: [(f64, Intent); 4] = [
    (0.45, Intent::CriteriaSearch),
    (0.22, Intent::SelfReference),
    (0.15, Intent::NonJob),
    (0.18, Intent::TrustViolation),
];
/// Intents of test examples.
const TEST_INTENTS: [(f64, Intent); 4] = [
    (0.55, Intent::CriteriaSearch),
    (0.18, Intent::SelfReference),
    (0.12, Intent::NonJob),
    (0.15, Intent::TrustViolation),
];

const STREAM_TRAIN: u64 = 1;
const STREAM_TEST: u64 = 2;

/// One training line and what stats.json counts about it.
struct Sample {
    line: String,
    task: &'static str,
    intent: Option<Intent>,
    tools: Vec<ToolName>,
    family: &'static str,
    lang: &'static str,
    category: Option<trust::Category>,
    held_out_spans: Vec<String>,
}

fn train_line(task: &str, prompt: &prompt::Prompt, target: &str) -> String {
    format!(
        "{{\"task\":{},\"prefix\":{},\"body\":{},\"target\":{}}}",
        Value::from(task),
        Value::from(prompt.prefix.as_str()),
        Value::from(prompt.body.as_str()),
        Value::from(target)
    )
}

fn fail(what: &str, detail: &str, sample: &impl std::fmt::Debug) -> String {
    format!("generated {what} is invalid: {detail}\n  sample: {sample:#?}")
}

/// Share of lexicon hints a training prompt leaves out: real queries name
/// places, employers and titles that no lexicon holds (small towns,
/// start-ups, typos), and the model must learn to tag those unhinted too.
const HINT_DROPOUT: f64 = 0.2;

/// The lexicon hints a training prompt shows for `text`.
fn training_hints(rng: &mut Rng, text: &str) -> Vec<lexicon::Hint> {
    lexicon::annotate(text)
        .into_iter()
        .filter(|_| !rng.chance(HINT_DROPOUT))
        .collect()
}

fn tagger_target(calls: &[ToolCall]) -> String {
    calls.iter().map(wire::tool).collect()
}

/// Spans naming held-out titles, employers or cities.
fn held_out_spans(pools: &Pools, calls: &[ToolCall]) -> Vec<String> {
    calls
        .iter()
        .filter_map(|c| match c.name {
            ToolName::Title | ToolName::Company | ToolName::Location => {
                c.name.text_argument().and_then(|k| c.text(k))
            }
            _ => None,
        })
        .filter(|span| pools.names_held_out(span))
        .map(str::to_string)
        .collect()
}

struct Ctx<'p> {
    pools: &'p Pools,
    seed: u64,
}

impl Ctx<'_> {
    fn train_sample(&self, index: usize) -> Result<Sample, String> {
        let mut rng = Rng::fork(self.seed, STREAM_TRAIN, index as u64);
        let gen = Gen {
            pools: self.pools,
            split: Split::Train,
        };
        let taxonomy = self.pools.taxonomy;
        let task = ["planner", "tagger", "rewriter", "suggester"][rng.weighted(&TASK_WEIGHTS)];
        let sample = |line, intent, s: &Scenario, tools: Vec<ToolName>| Sample {
            line,
            task,
            intent,
            tools,
            family: s.family,
            lang: s.lang,
            category: s.category,
            held_out_spans: held_out_spans(self.pools, &s.calls),
        };
        match task {
            "planner" => {
                let weights: Vec<f64> = PLANNER_INTENTS.iter().map(|(w, _)| *w).collect();
                let intent = PLANNER_INTENTS[rng.weighted(&weights)].1;
                let s = gen.scenario(&mut rng, intent, WithProfile::Never);
                let target = wire::intent(intent);
                check::planner(intent, &target).map_err(|e| fail("planner sample", &e, &s))?;
                let hints = training_hints(&mut rng, &s.query);
                let p = prompt::planner_with_hints(&s.query, &hints, Style::Compact);
                let line = train_line(task, &p, &target);
                Ok(sample(line, Some(intent), &s, Vec::new()))
            }
            "tagger" => {
                let (intent, with_profile) = *rng.pick_weighted(&[
                    (0.70, (Intent::CriteriaSearch, WithProfile::Never)),
                    (0.15, (Intent::SelfReference, WithProfile::Always)),
                    (0.05, (Intent::SelfReference, WithProfile::Never)),
                    (0.10, (Intent::NonJob, WithProfile::Never)),
                ]);
                let s = gen.scenario(&mut rng, intent, with_profile);
                let target = tagger_target(&s.calls);
                check::tagger(
                    taxonomy,
                    intent,
                    s.source(),
                    s.profile.as_ref(),
                    &s.calls,
                    &target,
                    NOW_UNIX,
                )
                .map_err(|e| fail("tagger sample", &e, &s))?;
                let hints = training_hints(&mut rng, s.source());
                let p = prompt::tagger_with_hints(s.source(), &hints, Style::Compact);
                let line = train_line(task, &p, &target);
                let tools = s.calls.iter().map(|c| c.name).collect();
                Ok(sample(line, Some(intent), &s, tools))
            }
            "rewriter" => {
                let s = gen.scenario(&mut rng, Intent::SelfReference, WithProfile::Always);
                let (Some(profile), Some(rewrite)) = (&s.profile, &s.rewrite) else {
                    return Err(fail("rewriter sample", "no profile or rewrite", &s));
                };
                let target = wire::rewrite(rewrite);
                check::rewriter(&s.query, profile, rewrite, &target)
                    .map_err(|e| fail("rewriter sample", &e, &s))?;
                let line = train_line(
                    task,
                    &prompt::rewriter(&s.query, profile, Style::Compact),
                    &target,
                );
                Ok(sample(line, Some(Intent::SelfReference), &s, Vec::new()))
            }
            _ => {
                let all = taxonomy.industries.all();
                let industry = rng.pick(all);
                let member: Option<&Industry> = if rng.chance(0.55) {
                    let same_group: Vec<&Industry> = all
                        .iter()
                        .filter(|i| {
                            i.code != industry.code
                                && i.groups.iter().any(|g| industry.groups.contains(g))
                        })
                        .collect();
                    Some(if rng.chance(0.4) && !same_group.is_empty() {
                        *rng.pick(&same_group)
                    } else {
                        rng.pick(all)
                    })
                } else {
                    None
                };
                let names = suggest::related(&taxonomy.industries, industry, member);
                let target = wire::suggest(&names);
                check::suggester(&names, &target)
                    .map_err(|e| fail("suggester sample", &e, &(industry, member)))?;
                let p = prompt::suggester(
                    &industry.name,
                    member.map(|m| m.name.as_str()),
                    Style::Compact,
                );
                Ok(Sample {
                    line: train_line(task, &p, &target),
                    task,
                    intent: None,
                    tools: Vec::new(),
                    family: "suggest",
                    lang: "en",
                    category: None,
                    held_out_spans: Vec::new(),
                })
            }
        }
    }

    fn test_example(&self, index: usize) -> Result<(Example, Scenario), String> {
        let mut rng = Rng::fork(self.seed, STREAM_TEST, index as u64);
        let gen = Gen {
            pools: self.pools,
            split: Split::Test,
        };
        let taxonomy = self.pools.taxonomy;
        let s = if rng.chance(0.12) {
            gen.ambiguous_scenario(&mut rng)
        } else {
            let weights: Vec<f64> = TEST_INTENTS.iter().map(|(w, _)| *w).collect();
            let intent = TEST_INTENTS[rng.weighted(&weights)].1;
            let with_profile = match intent {
                Intent::SelfReference => WithProfile::Sometimes(0.85),
                Intent::CriteriaSearch => WithProfile::Sometimes(0.4),
                _ => WithProfile::Sometimes(0.3),
            };
            gen.scenario(&mut rng, intent, with_profile)
        };
        let denied = s.intent == Intent::TrustViolation;
        let (rewritten_query, tools, suggested) = if denied {
            (None, Vec::new(), Vec::new())
        } else {
            let source = s.source().to_string();
            let target = tagger_target(&s.calls);
            let tools = check::tagger(
                taxonomy,
                s.intent,
                &source,
                s.profile.as_ref(),
                &s.calls,
                &target,
                NOW_UNIX,
            )
            .map_err(|e| fail("test example", &e, &s))?;
            if let (Some(profile), Some(rewrite)) = (&s.profile, &s.rewrite) {
                check::rewriter(&s.query, profile, rewrite, &wire::rewrite(rewrite))
                    .map_err(|e| fail("test example", &e, &s))?;
            }
            let rewritten = (s.intent == Intent::SelfReference).then_some(source);
            let suggested = suggestions(taxonomy, &tools, s.profile.as_ref());
            (rewritten, tools, suggested)
        };
        let example = Example {
            id: format!("test-{:05}", index + 1),
            input: Input {
                query: s.query.clone(),
                profile: s.profile.clone(),
            },
            expected: Expected {
                intent: s.intent,
                denied,
                category: s.category.filter(|_| denied),
                rewritten_query,
                tools,
                suggested_industries: suggested,
            },
        };
        let validated = example
            .input
            .clone()
            .validated()
            .map_err(|e| fail("test input", &e.to_string(), &s))?;
        if validated != example.input {
            return Err(fail("test input", "not in validated form", &s));
        }
        Ok((example, s))
    }
}

/// What the router suggests for these tools when the model agrees with the
/// taxonomy's own ranking.
fn suggestions(
    taxonomy: &quarry::Taxonomy,
    tools: &[ToolCall],
    profile: Option<&Profile>,
) -> Vec<String> {
    let tagged: Vec<&Industry> = tools
        .iter()
        .filter(|c| c.name == ToolName::Industry)
        .filter_map(|c| c.text("industry"))
        .filter_map(|t| taxonomy.industries.resolve(t))
        .collect();
    let Some(first) = tagged.first() else {
        return Vec::new();
    };
    let member = profile
        .and_then(|p| p.industry.as_deref())
        .and_then(|t| taxonomy.industries.resolve(t));
    suggest::accept(
        &taxonomy.industries,
        &tagged,
        suggest::related(&taxonomy.industries, first, member),
    )
}

impl Pools {
    /// Whether a span names a held-out title, employer or city.
    pub fn names_held_out(&self, span: &str) -> bool {
        self.held_out_names.contains(&quarry::text::key(span))
    }
}

/// Generates `count` items in parallel, in index order, reporting progress.
fn generate<T: Send>(
    count: usize,
    threads: usize,
    label: &str,
    make: impl Fn(usize) -> Result<T, String> + Sync,
) -> Result<Vec<T>, String> {
    const CHUNK: usize = 256;
    let chunks = count.div_ceil(CHUNK);
    type Slot<T> = Mutex<Option<Result<Vec<T>, String>>>;
    let slots: Vec<Slot<T>> = (0..chunks).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let failed = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| loop {
                let chunk = next.fetch_add(1, Ordering::Relaxed);
                if chunk >= chunks || failed.load(Ordering::Relaxed) {
                    break;
                }
                let range = chunk * CHUNK..((chunk + 1) * CHUNK).min(count);
                let len = range.len();
                let result: Result<Vec<T>, String> = range.map(&make).collect();
                if result.is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                *slots[chunk].lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
                done.fetch_add(len, Ordering::Relaxed);
            });
        }
        // Progress every 5%.
        let mut reported = 0;
        loop {
            let finished = done.load(Ordering::Relaxed);
            let pct = (finished * 100).checked_div(count).unwrap_or(100);
            while reported + 5 <= pct {
                reported += 5;
                eprintln!(
                    "data: {}/{count} {label} ({reported}%)",
                    count * reported / 100
                );
            }
            if finished >= count || failed.load(Ordering::Relaxed) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    });
    let mut out = Vec::with_capacity(count);
    for slot in slots {
        match slot.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(Ok(items)) => out.extend(items),
            Some(Err(e)) => return Err(e),
            None => return Err("a generation chunk did not run".into()),
        }
    }
    Ok(out)
}

/// Counters for stats.json.
#[derive(Default)]
struct Counts {
    tasks: BTreeMap<String, usize>,
    intents: BTreeMap<String, usize>,
    tools: BTreeMap<String, usize>,
    families: BTreeMap<String, usize>,
    langs: BTreeMap<String, usize>,
    categories: BTreeMap<String, usize>,
}

fn bump(map: &mut BTreeMap<String, usize>, key: &str) {
    *map.entry(key.to_string()).or_default() += 1;
}

/// Everything `quarry-data generate` writes, in memory.
pub struct Output {
    pub train: String,
    pub test: String,
    pub stats: Value,
}

/// Generates the three files' contents.
pub fn produce(args: &Args) -> Result<Output, String> {
    let pools = Pools::load()?;
    let ctx = Ctx {
        pools: &pools,
        seed: args.seed,
    };
    let threads = match args.threads {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(16),
        n => n,
    };
    let samples = generate(args.examples, threads, "examples", |i| ctx.train_sample(i))?;
    let tests = generate(args.test_examples, threads, "test examples", |i| {
        ctx.test_example(i)
    })?;

    let mut train = String::with_capacity(samples.len() * 300);
    let mut counts = Counts::default();
    let mut planner_intents: BTreeMap<String, usize> = BTreeMap::new();
    let mut train_held_out: Vec<&str> = Vec::new();
    for s in &samples {
        train.push_str(&s.line);
        train.push('\n');
        bump(&mut counts.tasks, s.task);
        if let Some(intent) = s.intent {
            bump(
                &mut counts.intents,
                &format!("{}/{}", s.task, intent.as_str()),
            );
            if s.task == "planner" {
                bump(&mut planner_intents, intent.as_str());
            }
        }
        for tool in &s.tools {
            bump(&mut counts.tools, tool.as_str());
        }
        bump(&mut counts.families, &format!("{}/{}", s.task, s.family));
        bump(&mut counts.langs, s.lang);
        if let Some(c) = s.category {
            bump(&mut counts.categories, c.as_str());
        }
        train_held_out.extend(s.held_out_spans.iter().map(String::as_str));
    }

    let mut test = String::with_capacity(tests.len() * 400);
    let mut test_counts = Counts::default();
    let mut with_profile = 0;
    let mut test_held_out = 0;
    let mut entity_spans = 0;
    let mut unresolved = 0;
    let mut screened = 0;
    for (example, s) in &tests {
        let line = serde_json::to_string(example).map_err(|e| e.to_string())?;
        test.push_str(&line);
        test.push('\n');
        bump(&mut test_counts.intents, example.expected.intent.as_str());
        for call in &example.expected.tools {
            bump(&mut test_counts.tools, call.name.as_str());
            if call.name == ToolName::Location && call.arguments.get("resolved").is_none() {
                unresolved += 1;
            }
        }
        bump(&mut test_counts.families, s.family);
        bump(&mut test_counts.langs, s.lang);
        if let Some(c) = s.category {
            bump(&mut test_counts.categories, c.as_str());
            screened += usize::from(trust::screen(&example.input.query).is_some());
        }
        with_profile += usize::from(example.input.profile.is_some());
        test_held_out += held_out_spans(&pools, &s.calls).len();
        entity_spans += s
            .calls
            .iter()
            .filter(|c| {
                matches!(
                    c.name,
                    ToolName::Title | ToolName::Company | ToolName::Location
                )
            })
            .count();
    }
    // The set must read back in the dev-set format.
    let read = read_examples(&test).map_err(|e| format!("test.jsonl does not read back: {e}"))?;
    if read.len() != tests.len() {
        return Err("test.jsonl lost examples on reading back".into());
    }
    if !train_held_out.is_empty() {
        return Err(format!(
            "{} training spans name held-out entities: {:?}",
            train_held_out.len(),
            &train_held_out[..train_held_out.len().min(20)]
        ));
    }

    let stats = json!({
        "seed": args.seed,
        "train": {
            "samples": samples.len(),
            "tasks": counts.tasks,
            "planner_intents": planner_intents,
            "intents": counts.intents,
            "tagger_tool_calls": counts.tools,
            "families": counts.families,
            "languages": counts.langs,
            "trust_categories": counts.categories,
        },
        "test": {
            "examples": tests.len(),
            "intents": test_counts.intents,
            "tool_calls": test_counts.tools,
            "families": test_counts.families,
            "languages": test_counts.langs,
            "trust_categories": test_counts.categories,
            "violations_the_lexical_screen_denies": screened,
            "with_profile": with_profile,
            "unresolved_locations": unresolved,
            "title_company_location_spans": entity_spans,
            "held_out_entity_spans": test_held_out,
        },
        "held_out_entities": pools.held_out_counts(),
        "now_unix": NOW_UNIX,
    });
    Ok(Output { train, test, stats })
}

fn write(dir: &Path, name: &str, text: &str) -> Result<(), String> {
    let path = dir.join(name);
    let mut file = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(text.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

pub fn run(args: Args) -> Result<(), String> {
    let start = std::time::Instant::now();
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let output = produce(&args)?;
    write(&args.out, "train.jsonl", &output.train)?;
    write(&args.out, "test.jsonl", &output.test)?;
    let stats = serde_json::to_string_pretty(&output.stats).map_err(|e| e.to_string())?;
    write(&args.out, "stats.json", &(stats + "\n"))?;
    eprintln!(
        "data: wrote {} training samples and {} test examples to {} in {:.1} s",
        args.examples,
        args.test_examples,
        args.out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(seed: u64) -> Output {
        produce(&Args {
            out: PathBuf::from("unused"),
            seed,
            examples: 1500,
            test_examples: 150,
            threads: 4,
        })
        .expect("generates")
    }

    #[test]
    fn output_is_deterministic_for_a_seed_and_threads() {
        let a = small(7);
        let b = produce(&Args {
            out: PathBuf::from("unused"),
            seed: 7,
            examples: 1500,
            test_examples: 150,
            threads: 1,
        })
        .unwrap();
        assert_eq!(a.train, b.train);
        assert_eq!(a.test, b.test);
        assert_eq!(a.stats, b.stats);
        let c = small(8);
        assert_ne!(a.train, c.train);
    }

    #[test]
    fn every_training_sample_holds_up() {
        let out = small(3);
        let taxonomy = quarry::Taxonomy::embedded();
        let mut tasks = BTreeMap::new();
        for line in out.train.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            let task = v["task"].as_str().unwrap().to_string();
            let prefix = v["prefix"].as_str().unwrap();
            let body = v["body"].as_str().unwrap();
            let target = v["target"].as_str().unwrap();
            let t = quarry::prompt::Task::ALL
                .into_iter()
                .find(|t| t.as_str() == task)
                .unwrap();
            assert_eq!(
                prefix,
                quarry::prompt::render_empty(t, Style::Compact).prefix
            );
            assert!(
                body.ends_with("<|im_end|>\n<|im_start|>assistant\n"),
                "{line}"
            );
            let user = body.trim_end_matches("<|im_end|>\n<|im_start|>assistant\n");
            match task.as_str() {
                "planner" => assert!(target.starts_with("intent ") && target.ends_with('\n')),
                "tagger" => {
                    // Re-derive every span's alignment and execution.
                    let events = quarry::stream::parse_all(
                        (wire::intent(Intent::CriteriaSearch) + target).as_bytes(),
                    );
                    let calls: Vec<ToolCall> = events
                        .into_iter()
                        .skip(1)
                        .map(|e| match e {
                            quarry::Event::Tool(c) => c,
                            other => panic!("{other:?} in {line}"),
                        })
                        .collect();
                    let ctx = quarry::tools::ToolContext::new(taxonomy, None, user, NOW_UNIX);
                    for call in &calls {
                        for value in call.arguments.values().filter_map(Value::as_str) {
                            if call.name.copies_span() {
                                assert!(check::word_aligned(user, value), "`{value}` in {line}");
                            }
                        }
                        quarry::tools::execute(call, &ctx)
                            .unwrap_or_else(|e| panic!("{e}: {line}"));
                    }
                }
                "rewriter" => {
                    let rewrite = target.strip_prefix("rewrite ").unwrap().trim_end();
                    let (profile_text, query) = user.rsplit_once("\nquery: ").unwrap();
                    assert!(!profile_text.is_empty() && !query.is_empty());
                    assert!(!rewrite.is_empty() && rewrite.len() <= 512, "{line}");
                }
                "suggester" => {
                    let names: Vec<String> =
                        serde_json::from_str(target.trim_start_matches("suggest ").trim_end())
                            .unwrap();
                    assert!(names.len() <= 5);
                    for n in names {
                        assert!(taxonomy.industries.by_name(&n).is_some(), "{n}");
                    }
                }
                other => panic!("task {other}"),
            }
            *tasks.entry(task).or_insert(0usize) += 1;
        }
        for (task, share) in ["planner", "tagger", "rewriter", "suggester"]
            .iter()
            .zip(TASK_WEIGHTS)
        {
            let n = tasks.get(*task).copied().unwrap_or(0) as f64 / 1500.0;
            assert!((n - share).abs() < 0.05, "{task}: {n}");
        }
        let planner = &out.stats["train"]["planner_intents"];
        let total: u64 = planner
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert!(planner["trust_violation"].as_u64().unwrap() as f64 >= 0.08 * total as f64);
    }

    #[test]
    fn test_examples_are_contract_side_and_held_out() {
        let out = small(5);
        let examples = read_examples(&out.test).unwrap();
        assert_eq!(examples.len(), 150);
        let mut resolved = 0;
        for e in &examples {
            let x = &e.expected;
            assert_eq!(x.denied, x.intent == Intent::TrustViolation, "{}", e.id);
            if x.denied {
                assert!(x.tools.is_empty());
            } else {
                assert!(trust::screen(&e.input.query).is_none(), "{}", e.input.query);
            }
            assert_eq!(
                x.rewritten_query.is_some(),
                x.intent == Intent::SelfReference,
                "{}",
                e.id
            );
            for call in &x.tools {
                match call.name {
                    ToolName::Salary => assert!(
                        call.arguments.contains_key("min_annual")
                            && call.arguments.contains_key("currency")
                    ),
                    ToolName::NumApplicants => assert!(call.arguments["max"].is_u64()),
                    ToolName::DatePosted => assert!(call.arguments["posted_after"].is_i64()),
                    ToolName::Location => {
                        resolved += usize::from(call.arguments.contains_key("resolved"))
                    }
                    _ => {}
                }
            }
        }
        assert!(resolved > 25, "{resolved}");
        let test = &out.stats["test"];
        let spans = test["title_company_location_spans"].as_u64().unwrap() as f64;
        let held = test["held_out_entity_spans"].as_u64().unwrap() as f64;
        assert!(held / spans > 0.5, "{held} of {spans} spans held out");
    }

    #[test]
    fn profiles_settle_ambiguous_places() {
        let pools = Pools::load().unwrap();
        let ctx = Ctx {
            pools: &pools,
            seed: 11,
        };
        let mut settled = 0;
        for i in 0..250 {
            let (example, s) = ctx.test_example(i).unwrap();
            if s.family != "ambiguous" {
                continue;
            }
            let home = example
                .input
                .profile
                .as_ref()
                .and_then(|p| p.location.clone())
                .unwrap();
            let country = home.rsplit(", ").next().unwrap().to_string();
            let location = example
                .expected
                .tools
                .iter()
                .find(|c| c.name == ToolName::Location)
                .unwrap();
            if location.arguments["resolved"]["country"] == country {
                settled += 1;
            }
        }
        assert!(settled >= 12, "{settled}");
    }

    #[test]
    fn spec_conventions_hold_for_roles() {
        let calls = |t: &str| part::build(&scenario::title_part(t).unwrap()).calls;
        let c = calls("Senior Software Engineer");
        assert_eq!(c[0].text("level"), Some("mid_senior"));
        assert_eq!(c[1].text("title"), Some("Software Engineer"));
        let c = calls("Director of Engineering");
        assert_eq!(
            (c[0].text("title"), c[1].text("level")),
            (Some("Director of Engineering"), Some("director"))
        );
        let c = calls("head of marketing");
        assert_eq!(c[1].text("level"), Some("executive"));
        assert_eq!(calls("head chef").len(), 1);
        assert_eq!(calls("Executive Assistant").len(), 1);
        let c = calls("data scientist intern");
        assert_eq!(c.len(), 3);
        assert_eq!(c[2].text("type"), Some("internship"));
        let c = calls("desarrollador junior");
        assert_eq!(c[1].text("level"), Some("entry_level"));
    }
    /// What a perfect model would say: the gold targets, per prompt.
    struct Oracle<'s> {
        scenario: &'s Scenario,
    }

    impl quarry::Generator for Oracle<'_> {
        fn generate(
            &mut self,
            request: &quarry::GenerationRequest<'_>,
            on_text: &mut dyn FnMut(&[u8]) -> std::ops::ControlFlow<()>,
        ) -> quarry::Result<quarry::GenerationStats> {
            let s = self.scenario;
            let taxonomy = quarry::Taxonomy::embedded();
            let text = match request.prompt.task {
                quarry::prompt::Task::Planner => wire::intent(s.intent),
                quarry::prompt::Task::Rewriter => wire::rewrite(s.rewrite.as_deref().unwrap_or("")),
                quarry::prompt::Task::Tagger => tagger_target(&s.calls),
                quarry::prompt::Task::Suggester => {
                    let user = request
                        .prompt
                        .body
                        .trim_end_matches("<|im_end|>\n<|im_start|>assistant\n");
                    let field = |name: &str| {
                        user.lines()
                            .find_map(|l| l.strip_prefix(name))
                            .and_then(|t| taxonomy.industries.resolve(t))
                    };
                    let industry = field("industry: ").expect("suggester prompt names an industry");
                    wire::suggest(&suggest::related(
                        &taxonomy.industries,
                        industry,
                        field("member: "),
                    ))
                }
            };
            let _ = on_text(text.as_bytes());
            Ok(quarry::GenerationStats::default())
        }
    }

    #[test]
    fn gold_targets_through_the_router_give_the_expected_outputs() {
        let pools = Pools::load().unwrap();
        let ctx = Ctx {
            pools: &pools,
            seed: 21,
        };
        let router = quarry::Router::new(quarry::Taxonomy::embedded(), Style::Compact);
        for i in 0..250 {
            let (example, s) = ctx.test_example(i).unwrap();
            let mut oracle = Oracle { scenario: &s };
            let routed = router
                .understand(&mut oracle, &example.input, NOW_UNIX, &mut |_| {
                    std::ops::ControlFlow::Continue(())
                })
                .unwrap();
            let out = routed.output;
            let x = &example.expected;
            assert_eq!(out.intent, x.intent, "{}", example.input.query);
            assert_eq!(out.denied, x.denied, "{}", example.input.query);
            assert_eq!(
                out.rewritten_query, x.rewritten_query,
                "{}",
                example.input.query
            );
            assert_eq!(out.tools, x.tools, "{}", example.input.query);
            assert_eq!(
                out.suggested_industries, x.suggested_industries,
                "{}",
                example.input.query
            );
        }
    }

    /// Feeds `text` to the stage's grammar; Ok when the grammar accepts it
    /// whole and may stop there.
    fn producible(
        decoder: &quarry::decode::Decoder,
        tokenizer: &quarry::tokenizer::Tokenizer,
        constraint: &quarry::Constraint<'_>,
        text: &str,
    ) -> Result<(), String> {
        let mut matcher = decoder.matcher(constraint).map_err(|e| e.to_string())?;
        let tokens = tokenizer.encode(text).map_err(|e| e.to_string())?;
        matcher
            .consume_tokens(&tokens)
            .map_err(|e| format!("rejected: {e}"))?;
        match matcher.is_accepting() {
            Ok(true) => Ok(()),
            _ => Err("grammar cannot stop after it".into()),
        }
    }

    #[test]
    fn targets_are_producible_under_the_decoding_grammars() {
        let pools = Pools::load().unwrap();
        let taxonomy = pools.taxonomy;
        let corpus = small(13).train;
        let tokenizer = quarry::tokenizer::train_bpe(corpus.lines(), 800).unwrap();
        let decoder = quarry::decode::Decoder::new(&tokenizer, tokenizer.vocab_size()).unwrap();
        for split in [Split::Train, Split::Test] {
            let gen = Gen {
                pools: &pools,
                split,
            };
            let mut rng = Rng::new(split as u64 + 5);
            for i in 0..240 {
                let intent = Intent::ALL[i % 4];
                let with_profile = if i % 3 == 0 {
                    WithProfile::Never
                } else {
                    WithProfile::Always
                };
                let s = gen.scenario(&mut rng, intent, with_profile);
                let why = |e: String| format!("{e}: {s:#?}");
                producible(
                    &decoder,
                    &tokenizer,
                    &quarry::Constraint::Intent,
                    &wire::intent(intent),
                )
                .map_err(why)
                .unwrap();
                if intent == Intent::TrustViolation {
                    continue;
                }
                if let (Some(profile), Some(rewrite)) = (&s.profile, &s.rewrite) {
                    let c = quarry::Constraint::Rewrite {
                        query: &s.query,
                        profile,
                    };
                    producible(&decoder, &tokenizer, &c, &wire::rewrite(rewrite))
                        .map_err(why)
                        .unwrap();
                }
                let c = quarry::Constraint::Tools { source: s.source() };
                producible(&decoder, &tokenizer, &c, &tagger_target(&s.calls))
                    .map_err(why)
                    .unwrap();
            }
        }
        for industry in taxonomy.industries.all() {
            let names: Vec<&str> = taxonomy
                .industries
                .all()
                .iter()
                .filter(|i| i.code != industry.code)
                .map(|i| i.name.as_str())
                .collect();
            let target = wire::suggest(&suggest::related(&taxonomy.industries, industry, None));
            producible(
                &decoder,
                &tokenizer,
                &quarry::Constraint::Suggestions { names: &names },
                &target,
            )
            .unwrap();
        }
    }
}
