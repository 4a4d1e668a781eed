//! Continuous batching: one thread owns the engine and advances every
//! admitted generation by one decision per loop, so concurrent requests
//! share each decode step's forward pass. New generations join between
//! steps; finished, cancelled and timed-out ones leave between steps.
//!
//! Requests keep the core's synchronous [`Router`](quarry::Router): each runs
//! on a blocking thread with a [`BatchedGenerator`], whose `generate` hands
//! the stage to the loop and relays its text back as it comes.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Instant;

use quarry::engine::{Engine, Sequence};
use quarry::generator::OwnedConstraint;
use quarry::prompt::Prompt;
use quarry::{GenerationRequest, GenerationStats, Generator, QuarryError};

use super::metrics::Metrics;

/// One stage of one request, owned so it can cross to the loop's thread.
struct Job {
    prompt: Prompt,
    constraint: OwnedConstraint,
    deadline: Instant,
    replies: mpsc::Sender<Reply>,
}

enum Reply {
    Text(Vec<u8>),
    Done(Result<GenerationStats, QuarryError>),
}

/// The handle requests use to reach the batching loops (one per engine).
#[derive(Clone)]
pub struct Batcher {
    workers: Arc<Vec<Worker>>,
}

struct Worker {
    jobs: mpsc::SyncSender<Job>,
    /// Stages sent and not yet answered: new stages go to the least loaded.
    load: AtomicUsize,
}

impl Batcher {
    /// Starts one loop per engine, each on its own thread; they run until
    /// every handle is gone.
    pub fn spawn(engines: Vec<Engine>, max_batch: usize, metrics: Arc<Metrics>) -> Batcher {
        let max_batch = max_batch.max(1);
        let workers = engines
            .into_iter()
            .enumerate()
            .map(|(i, engine)| {
                // The channel only carries stages of admitted requests (the
                // server bounds those), so it is not a second queue limit.
                let (jobs, incoming) = mpsc::sync_channel(max_batch * 4);
                let metrics = metrics.clone();
                std::thread::Builder::new()
                    .name(format!("quarry-batcher-{i}"))
                    .spawn(move || {
                        // Candle's CPU kernels use rayon. Called from outside
                        // a pool, every product is handed to a pool thread and
                        // waited for; inside a one-thread pool they run inline.
                        match rayon::ThreadPoolBuilder::new().num_threads(1).build() {
                            Ok(pool) => pool.install(|| run(engine, incoming, max_batch, &metrics)),
                            Err(_) => run(engine, incoming, max_batch, &metrics),
                        }
                    })
                    .expect("spawning a batching thread");
                Worker {
                    jobs,
                    load: AtomicUsize::new(0),
                }
            })
            .collect();
        Batcher {
            workers: Arc::new(workers),
        }
    }

    /// A generator for one request, whose stages must finish by `deadline`.
    /// `gone` tells it the client left, so it stops generating.
    pub fn generator<'a>(
        &'a self,
        deadline: Instant,
        gone: &'a dyn Fn() -> bool,
    ) -> BatchedGenerator<'a> {
        BatchedGenerator {
            batcher: self,
            deadline,
            gone,
        }
    }
}

/// A [`Generator`] whose every call is one sequence in a shared batch.
pub struct BatchedGenerator<'a> {
    batcher: &'a Batcher,
    deadline: Instant,
    gone: &'a dyn Fn() -> bool,
}

/// Releases a worker's load count when a stage ends, however it ends.
struct Load<'a>(&'a AtomicUsize);

impl Drop for Load<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Generator for BatchedGenerator<'_> {
    fn generate(
        &mut self,
        request: &GenerationRequest<'_>,
        on_text: &mut dyn FnMut(&[u8]) -> ControlFlow<()>,
    ) -> quarry::Result<GenerationStats> {
        let (replies, answers) = mpsc::channel();
        let job = Job {
            prompt: request.prompt.clone(),
            constraint: request.constraint.to_owned(),
            deadline: self.deadline,
            replies,
        };
        let worker = self
            .batcher
            .workers
            .iter()
            .min_by_key(|w| w.load.load(Ordering::Acquire))
            .ok_or_else(|| QuarryError::Generation("no model workers".into()))?;
        worker.load.fetch_add(1, Ordering::AcqRel);
        let _load = Load(&worker.load);
        worker
            .jobs
            .send(job)
            .map_err(|_| QuarryError::Generation("the batching loop has stopped".into()))?;
        loop {
            match answers.recv() {
                Ok(Reply::Text(text)) => {
                    // Dropping `answers` tells the loop to cancel the sequence.
                    if (self.gone)() || on_text(&text).is_break() {
                        return Err(QuarryError::Cancelled);
                    }
                }
                Ok(Reply::Done(result)) => return result,
                Err(_) => {
                    return Err(QuarryError::Generation(
                        "the batching loop dropped the request".into(),
                    ))
                }
            }
        }
    }
}

/// A generation in the batch and where its text goes.
struct Active {
    sequence: Sequence,
    deadline: Instant,
    replies: mpsc::Sender<Reply>,
}

fn run(mut engine: Engine, incoming: mpsc::Receiver<Job>, max_batch: usize, metrics: &Metrics) {
    let mut active: Vec<Active> = Vec::new();
    // Stages waiting for a place in the batch. They are admitted earliest
    // deadline first: every request has the same time limit, so that is
    // oldest request first, and a request's later stages (tagger after
    // planner) do not queue behind requests that arrived after it, which
    // is what keeps the tail latency down under load.
    let mut waiting: Vec<Job> = Vec::new();
    loop {
        if active.is_empty() && waiting.is_empty() {
            match incoming.recv() {
                Ok(job) => waiting.push(job),
                Err(_) => return, // the server is gone
            }
        }
        waiting.extend(incoming.try_iter());
        while active.len() < max_batch && !waiting.is_empty() {
            let oldest = (0..waiting.len())
                .min_by_key(|&i| waiting[i].deadline)
                .unwrap_or(0);
            let job = waiting.swap_remove(oldest);
            let started = job
                .constraint
                .with(|constraint| {
                    engine.start(&GenerationRequest {
                        prompt: &job.prompt,
                        constraint,
                    })
                })
                .map(|sequence| Active {
                    sequence,
                    deadline: job.deadline,
                    replies: job.replies.clone(),
                });
            match started {
                Ok(started) => active.push(started),
                Err(e) => {
                    let _ = job.replies.send(Reply::Done(Err(e)));
                }
            }
        }

        metrics.batch_size.observe(active.len() as f64);
        let texts = {
            let mut batch: Vec<&mut Sequence> =
                active.iter_mut().map(|a| &mut a.sequence).collect();
            engine.step(&mut batch)
        };
        let texts = match texts {
            Ok(texts) => texts,
            Err(e) => {
                // A failed forward pass fails the whole batch, never the loop.
                for a in active.drain(..) {
                    let _ = a.replies.send(Reply::Done(Err(e.clone())));
                }
                continue;
            }
        };
        let now = Instant::now();
        for (a, text) in active.iter_mut().zip(texts) {
            if !text.is_empty() && a.replies.send(Reply::Text(text)).is_err() {
                a.sequence.cancel(); // the request went away
            }
            if now > a.deadline && !a.sequence.finished() {
                a.sequence.cancel();
                let _ = a.replies.send(Reply::Done(Err(QuarryError::TimedOut)));
            }
        }
        active.retain(|a| {
            if !a.sequence.finished() {
                return true;
            }
            let stats = a.sequence.stats();
            metrics
                .generated_tokens
                .inc_by(stats.generated_tokens as u64);
            // Ignored if the request already left or timed out.
            let _ = a.replies.send(Reply::Done(Ok(stats)));
            false
        });
    }
}
