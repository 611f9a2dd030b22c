//! The load loop: closed-loop (N requests in flight, one by default, like the guide's query.py)
//! or open-loop at a fixed rate (latency counted from the intended send time, so a stall shows
//! as latency instead of silently lowering the rate). Each finished request becomes a `Sample`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{Notify, mpsc};

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cause {
    /// No connection: refused, unreachable, reset while connecting.
    Connect(String),
    /// No complete reply within the per-request timeout.
    Timeout,
    /// A reply with an unexpected status.
    Status(u16),
    /// A reply with the expected status but not the expected body.
    WrongBody,
    /// The connection broke after the request was sent.
    Io(String),
    /// The reply was not HTTP/1.x.
    Protocol(String),
}

impl Cause {
    /// The cause's class, for counting: connect, timeout, http_status, wrong_body, io, protocol.
    pub fn class(&self) -> &'static str {
        match self {
            Cause::Connect(_) => "connect",
            Cause::Timeout => "timeout",
            Cause::Status(_) => "http_status",
            Cause::WrongBody => "wrong_body",
            Cause::Io(_) => "io",
            Cause::Protocol(_) => "protocol",
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cause::Connect(e) => write!(f, "connect: {e}"),
            Cause::Timeout => write!(f, "timeout"),
            Cause::Status(s) => write!(f, "HTTP {s}"),
            Cause::WrongBody => write!(f, "wrong body"),
            Cause::Io(e) => write!(f, "io: {e}"),
            Cause::Protocol(e) => write!(f, "protocol: {e}"),
        }
    }
}

impl Serialize for Cause {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One finished request.
#[derive(Debug, Clone)]
pub struct Sample {
    pub index: u64,
    /// When it was meant to be sent (open loop) or was sent (closed loop).
    pub intended: Instant,
    pub finished: Instant,
    pub outcome: Result<(), Cause>,
}

impl Sample {
    pub fn latency(&self) -> Duration {
        self.finished.saturating_duration_since(self.intended)
    }
}

/// How much load, for how long.
#[derive(Debug, Clone)]
pub struct Shape {
    pub concurrency: usize,
    /// Requests per second (open loop); None for closed loop.
    pub rate: Option<f64>,
    pub count: Option<u64>,
    pub duration: Option<Duration>,
}

/// Sends one request; each worker owns one (its connection slot).
pub trait Requester: Send + 'static {
    fn request(&mut self) -> impl Future<Output = Result<(), Cause>> + Send;
}

/// Stops the load from outside (Ctrl-C, the end of a drill). Stopping cuts the requests in
/// flight at once: a Ctrl-C must not wait out a 30 s `--timeout`.
#[derive(Clone, Default)]
pub struct StopHandle(Arc<StopState>);

#[derive(Default)]
struct StopState {
    stopped: AtomicBool,
    wake: Notify,
}

impl StopHandle {
    pub fn stop(&self) {
        self.0.stopped.store(true, Ordering::SeqCst);
        self.0.wake.notify_waiters();
    }

    pub fn stopped(&self) -> bool {
        self.0.stopped.load(Ordering::SeqCst)
    }

    /// Sets the handle on Ctrl-C or SIGTERM (a CI job cancelled, a pod stopped), so the run ends
    /// the way it ends on Ctrl-C: load stopped, lock released, partial report. Abort the returned
    /// task when the run is over.
    pub fn stop_on_ctrl_c(&self) -> tokio::task::JoinHandle<()> {
        let stop = self.clone();
        tokio::spawn(async move {
            let terminate = async {
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(mut s) => {
                        s.recv().await;
                    }
                    Err(_) => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                r = tokio::signal::ctrl_c() => if r.is_err() { return },
                _ = terminate => {}
            }
            stop.stop();
        })
    }

    /// Resolves once the handle is set.
    pub async fn wait(&self) {
        loop {
            // Registered before the check, so a stop between the two is not missed.
            let woken = self.0.wake.notified();
            if self.stopped() {
                return;
            }
            woken.await;
        }
    }
}

/// Runs the load with one requester per worker and streams samples into `tx`. Returns when the
/// count or duration is reached (requests in flight then finish first) or `stop` is set (they
/// are cut, and not counted: they neither passed nor failed).
pub async fn run<R: Requester>(
    shape: Shape,
    requesters: Vec<R>,
    tx: mpsc::UnboundedSender<Sample>,
    stop: StopHandle,
) {
    let start = Instant::now();
    let deadline = shape.duration.map(|d| start + d);
    let next_index = Arc::new(AtomicU64::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for requester in requesters {
        let worker = Worker {
            tx: tx.clone(),
            stop: stop.clone(),
            next_index: next_index.clone(),
            shape: shape.clone(),
            start,
            deadline,
        };
        workers.spawn(worker.run(requester));
    }
    drop(tx);
    // A stop aborts the workers, cutting their requests in flight, instead of each request
    // watching for it: registering with the stop's Notify per request costs two lock round trips
    // that 64 workers on two threads contend for.
    tokio::select! {
        _ = async { while workers.join_next().await.is_some() {} } => {}
        _ = stop.wait() => workers.abort_all(),
    }
    while workers.join_next().await.is_some() {}
}

/// One connection slot's loop.
struct Worker {
    tx: mpsc::UnboundedSender<Sample>,
    stop: StopHandle,
    next_index: Arc<AtomicU64>,
    shape: Shape,
    start: Instant,
    deadline: Option<Instant>,
}

impl Worker {
    async fn run<R: Requester>(self, mut requester: R) {
        loop {
            if self.stop.stopped() || self.deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
            let index = self.next_index.fetch_add(1, Ordering::Relaxed);
            if self.shape.count.is_some_and(|c| index >= c) {
                break;
            }
            let intended = match self.shape.rate {
                // Open loop: request i is due at start + i/rate, whoever sends it.
                Some(rate) => {
                    let due = self.start + Duration::from_secs_f64(index as f64 / rate);
                    if self.deadline.is_some_and(|d| due >= d) {
                        break;
                    }
                    if due > Instant::now() {
                        tokio::time::sleep_until(due.into()).await;
                    }
                    due
                }
                None => Instant::now(),
            };
            let outcome = requester.request().await;
            let sample = Sample {
                index,
                intended,
                finished: Instant::now(),
                outcome,
            };
            if self.tx.send(sample).is_err() {
                break;
            }
        }
    }
}
