//! What every protocol front (HTTP, OpenAI, gRPC) shares: admission with a
//! bounded queue, one request's route over the batching loop, the status a
//! failure maps to, and the metrics each answer records.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use quarry::prompt::Style;
use quarry::{Event, Input, QuarryError, Routed, Router, Taxonomy};
use tokio::sync::{mpsc, oneshot};

use super::batcher::Batcher;
use super::metrics::{DenialLabels, Metrics, RequestLabels, RouteLabels};
use crate::understand::now_unix;

/// The loaded model behind every route.
pub struct Service {
    batcher: Batcher,
    style: Style,
    pub metrics: Arc<Metrics>,
    /// The served model's name (for OpenAI's `model` field).
    pub model_name: String,
    admitted: AtomicUsize,
    max_admitted: usize,
    timeout: Duration,
    ids: AtomicU64,
}

/// A failure as the fronts report it.
#[derive(Debug)]
pub struct Failure {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl Failure {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            status,
            code,
            message: message.into(),
        }
    }

    /// The queue is full: come back shortly.
    pub fn overloaded() -> Failure {
        Failure::new(
            503,
            "overloaded",
            "the request queue is full; retry shortly",
        )
    }
}

impl From<QuarryError> for Failure {
    fn from(e: QuarryError) -> Failure {
        Failure::new(e.http_status(), e.code(), e.to_string())
    }
}

/// A slot in the bounded queue, released when dropped.
pub struct Admission {
    service: Arc<Service>,
    route: &'static str,
    started: Instant,
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.service.admitted.fetch_sub(1, Ordering::AcqRel);
        self.service.metrics.in_flight.dec();
    }
}

impl Admission {
    /// Records the answer's status and latency.
    pub fn finish(&self, status: u16) {
        self.service.record(self.route, status, self.started);
    }
}

impl Service {
    pub fn new(
        batcher: Batcher,
        style: Style,
        metrics: Arc<Metrics>,
        model_name: String,
        max_admitted: usize,
        timeout: Duration,
    ) -> Service {
        Service {
            batcher,
            style,
            metrics,
            model_name,
            admitted: AtomicUsize::new(0),
            max_admitted,
            timeout,
            ids: AtomicU64::new(0),
        }
    }

    /// A process-unique number for response ids.
    pub fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }

    pub fn record(&self, route: &'static str, status: u16, started: Instant) {
        self.metrics
            .requests
            .get_or_create(&RequestLabels { route, status })
            .inc();
        self.metrics
            .latency
            .get_or_create(&RouteLabels { route })
            .observe(started.elapsed().as_secs_f64());
    }

    /// Takes a queue slot, or refuses when `max_batch + queue` requests are
    /// already admitted (latency stays bounded instead of growing).
    pub fn admit(self: &Arc<Self>, route: &'static str) -> Result<Admission, Failure> {
        let taken = self.admitted.fetch_add(1, Ordering::AcqRel);
        let admission = Admission {
            service: self.clone(),
            route,
            started: Instant::now(),
        };
        self.metrics.in_flight.inc();
        if taken >= self.max_admitted {
            admission.finish(503);
            return Err(Failure::overloaded());
        }
        Ok(admission)
    }

    /// Routes `input` on a blocking thread. Events go to `events` as they
    /// become final (when given); the result comes back on the returned
    /// channel. Dropping both receivers (a client gone) stops generation and
    /// frees the batch slot at the next step.
    pub fn understand(
        self: &Arc<Self>,
        input: Input,
        events: Option<mpsc::Sender<Event>>,
    ) -> oneshot::Receiver<Result<Routed, Failure>> {
        let (done, result) = oneshot::channel();
        let service = self.clone();
        tokio::task::spawn_blocking(move || {
            // A streaming client is gone when its events have no reader; a
            // plain one when nobody waits for the answer.
            let gone = || match &events {
                Some(events) => events.is_closed(),
                None => done.is_closed(),
            };
            let deadline = Instant::now() + service.timeout;
            let mut generator = service.batcher.generator(deadline, &gone);
            let router = Router::new(Taxonomy::embedded(), service.style);
            let routed = router.understand(&mut generator, &input, now_unix(), &mut |event| {
                match &events {
                    // Blocking is fine: this is a blocking-pool thread.
                    Some(events) if events.blocking_send(event.clone()).is_err() => {
                        std::ops::ControlFlow::Break(())
                    }
                    _ => std::ops::ControlFlow::Continue(()),
                }
            });
            if let Ok(routed) = &routed {
                if let Some(denial) = &routed.output.denial {
                    let category = match denial.category {
                        Some(category) => serde_json::to_value(category)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default(),
                        None => "model".to_string(),
                    };
                    service
                        .metrics
                        .denials
                        .get_or_create(&DenialLabels { category })
                        .inc();
                }
            }
            let _ = done.send(routed.map_err(Failure::from));
        });
        result
    }

    /// Routes `input` to its end and records the answer against `admission`.
    pub async fn answer(
        self: &Arc<Self>,
        admission: Admission,
        input: Input,
    ) -> Result<Routed, Failure> {
        let result = self.understand(input, None).await.unwrap_or_else(|_| {
            Err(Failure::new(
                500,
                "internal",
                "the request's worker stopped",
            ))
        });
        admission.finish(match &result {
            Ok(_) => 200,
            Err(failure) => failure.status,
        });
        result
    }

    /// Routes `input` and relays its events, mapped by `on_event`, to the
    /// returned channel, then whatever `on_end` makes of the result (an
    /// error event, a closing chunk). A reader that goes away stops the
    /// model; the admission is held until the route has ended.
    pub fn relay<T: Send + 'static>(
        self: &Arc<Self>,
        admission: Admission,
        input: Input,
        mut on_event: impl FnMut(&Event) -> Vec<T> + Send + 'static,
        on_end: impl FnOnce(&Result<Routed, Failure>) -> Vec<T> + Send + 'static,
    ) -> mpsc::Receiver<T> {
        let (out, relayed) = mpsc::channel(32);
        let (events_in, mut events) = mpsc::channel(32);
        let result = self.understand(input, Some(events_in));
        tokio::spawn(async move {
            let mut reader_present = true;
            'events: while let Some(event) = events.recv().await {
                for item in on_event(&event) {
                    if out.send(item).await.is_err() {
                        reader_present = false;
                        break 'events;
                    }
                }
            }
            drop(events); // a gone reader stops generation here
            let result = result.await.unwrap_or_else(|_| {
                Err(Failure::new(
                    500,
                    "internal",
                    "the request's worker stopped",
                ))
            });
            if reader_present {
                for item in on_end(&result) {
                    if out.send(item).await.is_err() {
                        break;
                    }
                }
            }
            admission.finish(match &result {
                Ok(_) => 200,
                Err(failure) => failure.status,
            });
        });
        relayed
    }
}
