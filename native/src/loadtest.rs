//! `quarry loadtest`: drives a server over loopback with a realistic query
//! mix. For each concurrency level it sends a bounded number of requests
//! (bounded in time too) and prints queries/s and p50/p95/p99 latency; an
//! optional soak keeps a steady load for minutes and prints the server's
//! resident memory at its start and end.
//!
//! By default it starts its own `quarry serve` on a free loopback port (so
//! it knows the process whose memory to read); `--url` targets a running one.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use quarry::contract::to_json;

use crate::bench::{percentile, read_inputs};
use crate::load::ModelArgs;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Queries (JSONL inputs or labelled examples); cycled through.
    #[arg(long, default_value = "tests/data/dev.jsonl")]
    pub data: PathBuf,
    /// Concurrency levels, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    pub concurrency: Vec<usize>,
    /// Requests per level.
    #[arg(long, default_value_t = 400)]
    pub requests: usize,
    /// Most seconds per level (the level ends early when this runs out).
    #[arg(long, default_value_t = 60)]
    pub max_seconds: u64,
    /// Soak: minutes of steady load after the levels (0: none).
    #[arg(long, default_value_t = 0.0)]
    pub soak_minutes: f64,
    /// Concurrency during the soak.
    #[arg(long, default_value_t = 8)]
    pub soak_concurrency: usize,
    /// A running server (`http://127.0.0.1:8080`); loopback only. Without
    /// it, one is started with the model options below.
    #[arg(long)]
    pub url: Option<String>,
    /// `--max-batch` of the server started here.
    #[arg(long, default_value_t = 4)]
    pub max_batch: usize,
    /// `--workers` of the server started here (default: the server's).
    #[arg(long)]
    pub workers: Option<usize>,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// A server process this run started, stopped when dropped.
struct Spawned {
    child: Child,
    url: String,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_server(args: &Args) -> Result<Spawned, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut command = Command::new(exe);
    command.args(["serve", "--addr", "127.0.0.1:0", "--max-batch"]);
    command.arg(args.max_batch.to_string());
    command.args(["--queue", "1024", "--device", &args.model.device]);
    if let Some(workers) = args.workers {
        command.arg("--workers").arg(workers.to_string());
    }
    if let Some(model) = &args.model.model {
        command.arg("--model").arg(model);
    }
    if let Some(tokenizer) = &args.model.tokenizer {
        command.arg("--tokenizer").arg(tokenizer);
    }
    let mut child = command
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("starting the server: {e}"))?;
    let stdout = child.stdout.take().ok_or("no server stdout")?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .ok_or_else(|| format!("unexpected server output: {line:?}"))?
        .to_string();
    Ok(Spawned { child, url })
}

/// The server's resident set size in MiB (Linux).
fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

struct Level {
    latencies_ms: Vec<f64>,
    failed: usize,
    elapsed: Duration,
}

/// Sends requests from `concurrency` workers until `total` are done or
/// time runs out.
async fn drive(
    client: &HttpClient,
    url: &str,
    bodies: &Arc<Vec<Bytes>>,
    concurrency: usize,
    total: usize,
    max_time: Duration,
) -> Level {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (client, url, bodies, next) = (
            client.clone(),
            url.to_string(),
            bodies.clone(),
            next.clone(),
        );
        workers.push(tokio::spawn(async move {
            let (mut latencies, mut failed) = (Vec::new(), 0usize);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total || start.elapsed() > max_time {
                    return (latencies, failed);
                }
                let body = bodies[i % bodies.len()].clone();
                let request = hyper::Request::post(format!("{url}/v1/understand"))
                    .header("content-type", "application/json")
                    .body(Full::new(body));
                let sent = Instant::now();
                let ok = match request {
                    Ok(request) => match client.request(request).await {
                        Ok(response) => {
                            let status = response.status();
                            response.into_body().collect().await.is_ok() && status.is_success()
                        }
                        Err(_) => false,
                    },
                    Err(_) => false,
                };
                if ok {
                    latencies.push(sent.elapsed().as_secs_f64() * 1e3);
                } else {
                    failed += 1;
                }
            }
        }));
    }
    let mut level = Level {
        latencies_ms: Vec::new(),
        failed: 0,
        elapsed: Duration::ZERO,
    };
    for worker in workers {
        if let Ok((latencies, failed)) = worker.await {
            level.latencies_ms.extend(latencies);
            level.failed += failed;
        }
    }
    level.elapsed = start.elapsed();
    level.latencies_ms.sort_by(f64::total_cmp);
    level
}

fn report(label: &str, level: &Level) {
    let done = level.latencies_ms.len();
    let l = &level.latencies_ms;
    println!(
        "{label:>16}  {done:>6} ok  {:>4} failed  {:>7.1} q/s  p50 {:>7.1} ms  p95 {:>7.1} ms  p99 {:>7.1} ms",
        level.failed,
        done as f64 / level.elapsed.as_secs_f64().max(1e-9),
        percentile(l, 0.50),
        percentile(l, 0.95),
        percentile(l, 0.99),
    );
}

pub fn run(args: Args) -> Result<(), String> {
    let inputs = read_inputs(&args.data, usize::MAX)?;
    if inputs.is_empty() {
        return Err(format!("{}: no queries", args.data.display()));
    }
    let bodies: Arc<Vec<Bytes>> =
        Arc::new(inputs.iter().map(|i| Bytes::from(to_json(i))).collect());
    let spawned = match &args.url {
        Some(_) => None,
        None => Some(spawn_server(&args)?),
    };
    let url = match (&args.url, &spawned) {
        (Some(url), _) => url.trim_end_matches('/').to_string(),
        (None, Some(spawned)) => spawned.url.clone(),
        (None, None) => unreachable!("a server was started"),
    };
    let host = url.trim_start_matches("http://");
    if !(host.starts_with("127.") || host.starts_with("localhost") || host.starts_with("[::1]")) {
        return Err(format!("{url}: the load test runs on loopback only"));
    }
    let pid = spawned.as_ref().map(|s| s.child.id());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let client: HttpClient = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(1024)
            .build_http();
        wait_ready(&client, &url).await?;
        println!(
            "loadtest: {url}, {} distinct queries from {}, {} cores",
            bodies.len(),
            args.data.display(),
            std::thread::available_parallelism().map_or(1, |n| n.get()),
        );
        // Warm the server's pools and caches.
        drive(&client, &url, &bodies, 4, 32, Duration::from_secs(30)).await;
        let max_time = Duration::from_secs(args.max_seconds);
        for &concurrency in &args.concurrency {
            let level = drive(&client, &url, &bodies, concurrency, args.requests, max_time).await;
            report(&format!("concurrency {concurrency}"), &level);
        }
        if args.soak_minutes > 0.0 {
            soak(&client, &url, &bodies, &args, pid).await;
        }
        Ok::<(), String>(())
    })
}

async fn wait_ready(client: &HttpClient, url: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        let request = hyper::Request::get(format!("{url}/readyz"))
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        if let Ok(response) = client.request(request).await {
            if response.status().is_success() {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("{url} did not become ready in 120 s"))
}

/// Steady load for `--soak-minutes`, in 30-second windows, with the
/// server's memory at the start, every window and the end.
async fn soak(
    client: &HttpClient,
    url: &str,
    bodies: &Arc<Vec<Bytes>>,
    args: &Args,
    pid: Option<u32>,
) {
    let rss = || pid.and_then(rss_mib);
    let start_rss = rss();
    println!(
        "soak: {} min at concurrency {}; RSS at start {}",
        args.soak_minutes,
        args.soak_concurrency,
        start_rss.map_or("unknown".into(), |m| format!("{m:.1} MiB"))
    );
    let end = Instant::now() + Duration::from_secs_f64(args.soak_minutes * 60.0);
    let mut all = Level {
        latencies_ms: Vec::new(),
        failed: 0,
        elapsed: Duration::ZERO,
    };
    let mut window = 0;
    while Instant::now() < end {
        window += 1;
        let left = end
            .saturating_duration_since(Instant::now())
            .min(Duration::from_secs(30));
        let level = drive(client, url, bodies, args.soak_concurrency, usize::MAX, left).await;
        report(&format!("soak {:>3} s", window * 30,), &level);
        if let Some(m) = rss() {
            println!("{:>16}  RSS {m:.1} MiB", "");
        }
        all.latencies_ms.extend(level.latencies_ms);
        all.failed += level.failed;
        all.elapsed += level.elapsed;
    }
    all.latencies_ms.sort_by(f64::total_cmp);
    report("soak total", &all);
    if let (Some(first), Some(last)) = (start_rss, rss()) {
        println!(
            "soak: RSS {first:.1} MiB at start, {last:.1} MiB at end ({:+.1}%)",
            (last / first - 1.0) * 100.0
        );
    }
}
