//! `quarry`: the command-line face of the core crate.

mod bench;
mod eval;
mod export;
mod load;
mod loadtest;
mod parity;
mod serve;
mod understand;

use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use quarry::eval::{read_examples, Scorer};
use quarry::taxonomy::{PlaceHints, Sources, Taxonomy};
use quarry::tools::query_countries;
use quarry::Output;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "quarry",
    version,
    about = "Job-search query understanding with one small language model"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Understand a query: print the contract JSON (or, with --stream, one
    /// event per line as each becomes final).
    Understand(understand::Args),
    /// Score the model on a labelled JSONL set (Tables 1 and 2).
    Eval(eval::Args),
    /// Benchmark: load time, latency percentiles, queries/s, tokens/s, and
    /// (with --llama-cpp) llama.cpp on the same GGUF and prompts.
    Bench(bench::Args),
    /// Serve the model: HTTP (contract JSON and SSE), OpenAI-compatible chat
    /// completions, gRPC, health, readiness, Prometheus metrics and the demo
    /// page, with continuous batching.
    Serve(serve::Args),
    /// Load-test a server on loopback: queries/s and latency percentiles at
    /// several concurrencies, and an optional soak with RSS at start and end.
    Loadtest(loadtest::Args),
    /// Compare a model's logits on the CPU and on a GPU (`--device
    /// cuda:0`, in a `--features cuda` build): f32 within the parity
    /// tolerance, and the quantized model's top-token agreement.
    Parity(parity::Args),
    /// Convert a Hugging Face checkpoint directory to GGUF.
    Export(export::Args),
    /// Print taxonomy sizes and time the core's start-up (parsing and
    /// indexing every embedded taxonomy), over several runs.
    Taxonomy {
        #[arg(long, default_value_t = 20)]
        runs: usize,
    },
    /// Resolve a place as `location_tool` would.
    Resolve {
        place: String,
        /// The member's profile location ("City, Region, Country").
        #[arg(long)]
        home: Option<String>,
        /// The whole query, whose currency or language may settle the place.
        #[arg(long, default_value = "")]
        query: String,
    },
    /// Run the lexical trust screen on queries (one per argument).
    Screen { queries: Vec<String> },
    /// Score predicted outputs (JSONL, one per example, in order) against a
    /// labelled set, printing Tables 1 and 2.
    Score {
        #[arg(long)]
        data: String,
        #[arg(long)]
        predictions: String,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("quarry: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Taxonomy { runs } => taxonomy(runs.max(1)),
        Command::Resolve { place, home, query } => {
            let taxonomy = Taxonomy::embedded();
            let home = home.and_then(|h| taxonomy.gazetteer.resolve(&h, &PlaceHints::default()));
            let hints = PlaceHints {
                home,
                countries: query_countries(&query),
            };
            let place = taxonomy
                .gazetteer
                .resolve(&place, &hints)
                .ok_or_else(|| format!("no place called `{place}`"))?;
            println!(
                "{}",
                serde_json::json!({"name": place.name, "admin1": place.admin1,
                    "country": place.country, "geoname_id": place.geoname_id,
                    "population": place.population})
            );
            Ok(())
        }
        Command::Screen { queries } => {
            for query in queries {
                let verdict = quarry::trust::screen(&query).map_or("pass", |c| c.as_str());
                println!("{verdict}\t{query}");
            }
            Ok(())
        }
        Command::Score { data, predictions } => score(&data, &predictions),
        Command::Understand(args) => understand::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Export(args) => export::run(args),
        Command::Serve(args) => {
            // One compute thread: the model's products are small, so
            // splitting them across cores costs more in synchronisation than
            // it saves; the server's parallelism is batching, and the other
            // cores serve connections and route requests.
            if std::env::var_os("RAYON_NUM_THREADS").is_none() {
                std::env::set_var("RAYON_NUM_THREADS", "1");
            }
            serve::run(args)
        }
        Command::Loadtest(args) => loadtest::run(args),
        Command::Parity(args) => parity::run(args),
        Command::Bench(args) => {
            // One thread per worker: candle then multiplies on the calling
            // thread, and throughput comes from one worker per core.
            if std::env::var_os("RAYON_NUM_THREADS").is_none() {
                std::env::set_var("RAYON_NUM_THREADS", "1");
            }
            bench::run(args)
        }
    }
}

fn taxonomy(runs: usize) -> Result<(), String> {
    let mut times = Vec::with_capacity(runs);
    let mut parsed = None;
    for _ in 0..runs {
        let start = Instant::now();
        let taxonomy = Taxonomy::parse(Sources::EMBEDDED).map_err(|e| e.to_string())?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
        parsed = Some(taxonomy);
    }
    let taxonomy = parsed.ok_or("no run")?;
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!("places            {}", taxonomy.gazetteer.len());
    println!("industries        {}", taxonomy.industries.all().len());
    println!("embedded bytes    {}", Sources::embedded_bytes());
    println!(
        "start-up (parse + index), {runs} runs: p50 {:.1} ms, p95 {:.1} ms, min {:.1} ms",
        at(0.5),
        at(0.95),
        times[0]
    );
    Ok(())
}

fn score(data: &str, predictions: &str) -> Result<(), String> {
    let read = |path: &str| std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"));
    let examples = read_examples(&read(data)?).map_err(|e| format!("{data}: {e}"))?;
    let outputs: Vec<Output> = read(predictions)?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| format!("{predictions} line {}: {e}", i + 1))
        })
        .collect::<Result<_, _>>()?;
    if outputs.len() != examples.len() {
        return Err(format!(
            "{} predictions for {} examples",
            outputs.len(),
            examples.len()
        ));
    }
    let mut scorer = Scorer::new();
    for (example, output) in examples.iter().zip(&outputs) {
        scorer.add(example, output);
    }
    print!("{scorer}");
    Ok(())
}
