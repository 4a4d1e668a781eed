//! `quarry serve`: the datacenter server. One process, one model, every
//! protocol on one port:
//!
//! - `POST /v1/understand` (contract JSON; `"stream": true` for SSE),
//! - `POST /v1/chat/completions` (OpenAI-compatible),
//! - gRPC `quarry.v1.Quarry` (`proto/quarry.proto`),
//! - `GET /healthz`, `/readyz`, `/metrics`, and the demo page (`www/`).
//!
//! Requests run the core's router on blocking threads; their model calls
//! meet in one batching loop ([`batcher`]) that owns the engine.

mod batcher;
mod grpc;
mod http;
mod metrics;
mod openai;
mod service;

#[cfg(test)]
mod tests;

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::load::{load, ModelArgs};

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Address to listen on (port 0 picks a free one; the chosen address is
    /// printed as `listening on http://ADDR`).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Most sequences advanced together by one decode step of a worker.
    /// Small by default: at this model size a bigger batch adds per-sequence
    /// work faster than it shares weight products, and tail latency grows
    /// (measured: README, "Server performance").
    #[arg(long, default_value_t = 4)]
    pub max_batch: usize,
    /// Requests that may wait beyond those being generated; more get 503
    /// with `Retry-After`.
    #[arg(long, default_value_t = 256)]
    pub queue: usize,
    /// Model workers, each an engine with its own batching loop on its own
    /// thread (default: one per core).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Per-request time limit in milliseconds (504 past it).
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// The demo page's directory (default: the repository's `www/`).
    #[arg(long)]
    pub www: Option<PathBuf>,
}

fn default_www() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../www")
}

pub fn run(args: Args) -> Result<(), String> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the runtime: {e}"))?;
    runtime.block_on(serve(args))
}

async fn serve(mut args: Args) -> Result<(), String> {
    let model_path = args
        .model
        .model
        .get_or_insert_with(crate::load::serving_model)
        .clone();
    let metrics = Arc::new(metrics::Metrics::new());
    let state = Arc::new(http::AppState {
        service: OnceLock::new(),
        metrics: metrics.clone(),
    });
    let www = args.www.clone().unwrap_or_else(default_www);
    let www = www.is_dir().then_some(www);
    let app = http::routes(state.clone(), www.clone());

    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|e| format!("binding {}: {e}", args.addr))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    // Tests and scripts read this line to find the port.
    println!("listening on http://{addr}");
    tracing::info!(%addr, www = ?www, model = %model_path.display(), "listening; loading the model");

    // Load after binding, so /healthz answers while the model loads.
    let loader = {
        let args = args.clone();
        let state = state.clone();
        tokio::task::spawn_blocking(move || -> Result<(), String> {
            let workers = args
                .workers
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
                .max(1);
            let (engine, took) = load(&args.model)?;
            // The copies share nothing mutable; each keeps its own prefix caches.
            let mut engines = vec![engine];
            for _ in 1..workers {
                engines.push(load(&args.model)?.0);
            }
            let name = model_path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "quarry".into());
            tracing::info!(model = %name, load_ms = took.as_millis() as u64, workers, "model loaded; ready");
            let style = engines[0].style();
            let batcher = batcher::Batcher::spawn(engines, args.max_batch, metrics.clone());
            let service = service::Service::new(
                batcher,
                style,
                metrics,
                name,
                args.max_batch + args.queue,
                Duration::from_millis(args.timeout_ms),
            );
            let _ = state.service.set(Arc::new(service));
            Ok(())
        })
    };
    let server = tokio::spawn(
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .into_future(),
    );
    // A model that fails to load ends the process with its error.
    loader.await.map_err(|e| e.to_string())??;
    server
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    tracing::info!("stopped");
    Ok(())
}

/// Ctrl-C or SIGTERM: stop accepting, let in-flight requests finish.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
