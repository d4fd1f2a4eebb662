//! Webhook delivery from the outbox: one worker task per endpoint, so a slow or dead endpoint
//! only ever delays itself.
//!
//! A worker reads a bounded window of its endpoint's rows (oldest first), POSTs the due ones
//! with at most `ZAPGATE_WEBHOOK_CONCURRENCY` in flight, and then: removes the row on 2xx,
//! reschedules it in place (attempt, next_attempt_at) on failure, or moves it to the dead
//! letters when the policy says so. Rows wait in sled, never in RAM, however long an endpoint is
//! down. A worker with nothing to do for a while exits; the next event starts a new one.

use std::collections::{HashMap, HashSet, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use parking_lot::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::task::{JoinError, JoinSet};
use uuid::Uuid;

use super::retry::{Next, RetryPolicy};
use super::sign;
use super::webhook::{now_ms, row_url};
use crate::fault::{self, Point};
use crate::health::Fault;
use crate::store::outbox::{OutboxRepo, OutboxRow};

/// Rows looked at per pass of a worker (memory bound per endpoint).
const SCAN_WINDOW: usize = 256;
/// An idle worker exits after this long.
const IDLE_EXIT: Duration = Duration::from_secs(60);
/// Latencies kept per endpoint for p50/p99.
const LATENCY_SAMPLES: usize = 512;

/// Delivery health of one endpoint, for `/webhook/stats`.
#[derive(Debug, Clone, Default)]
pub struct EndpointHealth {
    pub url: String,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    pub delivered: u64,
    pub failed_attempts: u64,
    pub dead_lettered: u64,
    /// Delivery tasks that panicked (their rows were rescheduled).
    pub panics: u64,
    latencies_ms: VecDeque<u32>,
}

impl EndpointHealth {
    /// (p50, p99) of recent attempt latencies in milliseconds.
    pub fn percentiles(&self) -> (Option<u32>, Option<u32>) {
        if self.latencies_ms.is_empty() {
            return (None, None);
        }
        let mut v: Vec<u32> = self.latencies_ms.iter().copied().collect();
        v.sort_unstable();
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        (Some(at(0.5)), Some(at(0.99)))
    }
}

/// Cheap-to-clone handle on the dispatcher.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    repo: OutboxRepo,
    /// The brokers' workers deliver the rows of transport endpoints (`rabbitmq:*`, `nats:*`).
    transports: super::transport::Transports,
    /// The trusted and the guarded client; each row picks by who configured its endpoint.
    clients: crate::outbound::Clients,
    policy: RetryPolicy,
    concurrency: usize,
    /// Running workers by endpoint; the Notify wakes one when rows arrive.
    workers: Mutex<HashMap<String, Arc<Notify>>>,
    health: Mutex<HashMap<String, EndpointHealth>>,
}

/// The result of one POST.
struct Attempt {
    /// The target was refused (private address while those are not allowed): no retry.
    refused: bool,
    status: Option<u16>,
    retry_after: Option<Duration>,
    error: Option<String>,
    latency: Duration,
}

impl Dispatcher {
    /// Starts workers for every endpoint that has rows left from a previous run, and the
    /// dead-letter expiry sweep when `retention` is set. Fails only when an HTTP client cannot
    /// be built (the server must not start without its guard).
    pub fn start(
        repo: OutboxRepo,
        policy: RetryPolicy,
        concurrency: usize,
        outbound: &crate::outbound::Outbound,
        retention: Option<Duration>,
        transports: super::transport::Transports,
    ) -> Result<Dispatcher, reqwest::Error> {
        let base = || {
            reqwest::Client::builder()
                .user_agent(concat!("zapgate/", env!("CARGO_PKG_VERSION")))
                .pool_max_idle_per_host(concurrency.max(1))
        };
        let clients = crate::outbound::Clients::build(outbound, base)?;
        let d = Dispatcher {
            inner: Arc::new(Inner {
                repo,
                transports,
                clients,
                policy,
                concurrency: concurrency.max(1),
                workers: Mutex::new(HashMap::new()),
                health: Mutex::new(HashMap::new()),
            }),
        };
        for e in d.inner.repo.endpoints() {
            d.nudge(&e);
        }
        super::sweep::start(d.inner.repo.clone(), retention);
        Ok(d)
    }

    /// Rows were added for `endpoint`: wake its worker, starting one if needed (a transport
    /// endpoint's worker is the transport's).
    pub fn nudge(&self, endpoint: &str) {
        if super::transport::owner(endpoint).is_some() {
            self.inner.transports.nudge(endpoint);
            return;
        }
        let mut workers = self.inner.workers.lock();
        if let Some(n) = workers.get(endpoint) {
            n.notify_one();
            return;
        }
        let notify = Arc::new(Notify::new());
        workers.insert(endpoint.to_string(), notify.clone());
        tokio::spawn(supervised(self.inner.clone(), endpoint.to_string(), notify));
    }

    pub fn health(&self, endpoint: &str) -> Option<EndpointHealth> {
        self.inner.health.lock().get(endpoint).cloned()
    }

    /// The last delivery's status and the failures since the last success, without copying
    /// the latency samples (read for every row of a fleet summary).
    pub fn last_outcome(&self, endpoint: &str) -> Option<(Option<u16>, u32)> {
        let all = self.inner.health.lock();
        all.get(endpoint)
            .map(|h| (h.last_status, h.consecutive_failures))
    }

    /// (delivered, failed attempts, dead-lettered) since start, without copying the latency
    /// samples (read for every instance on a metrics scrape).
    pub fn tallies(&self, endpoint: &str) -> Option<(u64, u64, u64)> {
        let all = self.inner.health.lock();
        all.get(endpoint)
            .map(|h| (h.delivered, h.failed_attempts, h.dead_lettered))
    }

    pub fn repo(&self) -> &OutboxRepo {
        &self.inner.repo
    }

    /// The event transports, fed by the same outbox.
    pub fn transports(&self) -> &super::transport::Transports {
        &self.inner.transports
    }
}

/// Longest pause before a worker that keeps panicking is started again.
const WORKER_RESTART_MAX: Duration = Duration::from_secs(30);

/// Runs an endpoint's worker and starts it again if it panics (a bug in the worker itself; a
/// panicking delivery task is already survived inside it), so an endpoint never stops
/// delivering in silence. Its delivery tasks are aborted with it; their rows are still in the
/// outbox and the new worker sends them again (at least once, as after a crash).
async fn supervised(inner: Arc<Inner>, endpoint: String, notify: Arc<Notify>) {
    let mut in_a_row = 0u32;
    loop {
        let run = AssertUnwindSafe(worker(inner.clone(), endpoint.clone(), notify.clone()))
            .catch_unwind()
            .await;
        if run.is_ok() {
            return;
        }
        in_a_row += 1;
        tracing::error!(%endpoint, "webhook worker panicked; starting it again");
        inner
            .repo
            .faults()
            .record(Fault::WorkerPanic, format!("endpoint {endpoint}"));
        let pause = Duration::from_millis(50u64 << in_a_row.min(10)).min(WORKER_RESTART_MAX);
        tokio::time::sleep(pause).await;
    }
}

async fn worker(inner: Arc<Inner>, endpoint: String, notify: Arc<Notify>) {
    if fault::hit(Point::WorkerPanic, &endpoint) {
        panic!("injected fault: the worker of {endpoint} panics");
    }
    let mut in_flight: JoinSet<(OutboxRow, Attempt)> = JoinSet::new();
    let mut flying = Flying::default();
    let mut idle_since = Instant::now();
    // Rescanning decodes up to a window of rows, so it happens only when something can have
    // changed: a delivery finished, a retry fell due, or new rows arrived that are in sight.
    let mut rescan = true;
    // The last scan saw a full window: rows arriving now sit behind it, out of sight.
    let mut window_full = false;
    let mut next_due: Option<u64> = None;
    loop {
        if std::mem::take(&mut rescan) {
            let rows = match inner.repo.scan(&endpoint, SCAN_WINDOW) {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(%endpoint, error = %e, "outbox scan failed");
                    Vec::new()
                }
            };
            if rows.is_empty() && in_flight.is_empty() {
                if idle_since.elapsed() >= IDLE_EXIT && retire(&inner, &endpoint) {
                    return;
                }
            } else {
                idle_since = Instant::now();
            }
            window_full = rows.len() == SCAN_WINDOW;
            let now = now_ms();
            next_due = None;
            let mut to_send = Vec::new();
            for row in rows {
                if flying.uuids.contains(&row.uuid) {
                    continue;
                }
                if row.next_attempt_at_ms > now {
                    next_due = Some(
                        next_due.map_or(row.next_attempt_at_ms, |d| d.min(row.next_attempt_at_ms)),
                    );
                    continue;
                }
                if in_flight.len() + to_send.len() >= inner.concurrency {
                    continue;
                }
                to_send.push(row);
            }
            // A row is visible here as soon as it is written, before its writer's flush: make it
            // durable before it goes out, so a crash cannot take back an event already delivered
            // (its source would then publish it again, as a second, different event).
            if !to_send.is_empty()
                && let Err(e) = inner.repo.sync().await
            {
                tracing::error!(%endpoint, error = %e, "could not flush the outbox before sending; retrying in 1 s");
                to_send.clear();
                next_due = Some(now + 1000);
            }
            for row in to_send {
                let timeout = inner.policy.timeout;
                let url = row_url(&row);
                // A private literal a token's webhook may not reach is refused here; a name
                // resolving to one fails in the guarded client's resolver.
                let http = match inner.clients.for_url(&url, row.target.requester) {
                    Ok(http) => Some(http.clone()),
                    Err(why) => {
                        tracing::debug!(%endpoint, %why, "webhook target refused");
                        None
                    }
                };
                let mine = row.clone();
                let task = in_flight.spawn(async move {
                    if fault::hit(Point::DeliveryPanic, &url) {
                        panic!("injected fault: delivery task for {url} panics");
                    }
                    let attempt = match http {
                        Some(http) => post(&http, &row, &url, timeout).await,
                        None => Attempt::refused(),
                    };
                    (row, attempt)
                });
                flying.mark(task.id(), mine);
            }
        }
        let wait = next_due
            .map(|d| Duration::from_millis(d.saturating_sub(now_ms())))
            .unwrap_or(IDLE_EXIT);
        tokio::select! {
            Some(done) = in_flight.join_next_with_id(), if !in_flight.is_empty() => {
                rescan = true;
                finish(&inner, &endpoint, &mut flying, done);
                // Settle whatever else finished, then make the removals durable together:
                // after a crash only requests that were really in flight are sent again.
                while let Some(done) = in_flight.try_join_next_with_id() {
                    finish(&inner, &endpoint, &mut flying, done);
                }
                if let Err(e) = inner.repo.sync().await {
                    tracing::error!(%endpoint, error = %e, "could not flush the outbox");
                }
            }
            _ = notify.notified() => {
                rescan = in_flight.len() < inner.concurrency && !window_full;
            }
            _ = tokio::time::sleep(wait) => rescan = true,
        }
    }
}

/// The rows a worker has in flight, by the task carrying each. This is the in-flight mark's
/// guard: a task that panics never returns its row, but its `JoinError` names the task, so the
/// mark is lifted here whatever way the task ended, and the row is rescheduled like any failed
/// attempt instead of staying "in flight" (and never sent) until a restart.
#[derive(Default)]
struct Flying {
    uuids: HashSet<Uuid>,
    by_task: HashMap<tokio::task::Id, OutboxRow>,
}

impl Flying {
    fn mark(&mut self, task: tokio::task::Id, row: OutboxRow) {
        self.uuids.insert(row.uuid);
        self.by_task.insert(task, row);
    }

    fn unmark(&mut self, task: tokio::task::Id) -> Option<OutboxRow> {
        let row = self.by_task.remove(&task)?;
        self.uuids.remove(&row.uuid);
        Some(row)
    }
}

type Done = Result<(tokio::task::Id, (OutboxRow, Attempt)), JoinError>;

/// Settles one finished delivery task, panicked or not.
fn finish(inner: &Inner, endpoint: &str, flying: &mut Flying, done: Done) {
    match done {
        Ok((task, (row, attempt))) => {
            flying.unmark(task);
            settle(inner, endpoint, row, attempt);
        }
        Err(e) => {
            let Some(row) = flying.unmark(e.id()) else {
                return;
            };
            let why = if e.is_panic() {
                "panicked"
            } else {
                "was cancelled"
            };
            tracing::error!(%endpoint, row = %row.webhook_id(), "webhook delivery task {why}; the row is rescheduled");
            inner.repo_faults(format!("endpoint {endpoint}: delivery task {why}"));
            {
                let mut all = inner.health.lock();
                all.entry(endpoint.to_string()).or_default().panics += 1;
            }
            settle(
                inner,
                endpoint,
                row,
                Attempt::failed(format!("delivery task {why}")),
            );
        }
    }
}

impl Inner {
    fn repo_faults(&self, detail: String) {
        self.repo.faults().record(Fault::DeliveryPanic, detail);
    }
}

/// Deregisters an idle worker unless rows arrived meanwhile (checked under the lock that
/// `nudge` takes, so no row is ever left without a worker).
fn retire(inner: &Inner, endpoint: &str) -> bool {
    let mut workers = inner.workers.lock();
    if inner.repo.has_rows(endpoint) {
        return false;
    }
    workers.remove(endpoint);
    true
}

impl Attempt {
    fn failed(error: String) -> Attempt {
        Attempt {
            refused: false,
            status: None,
            retry_after: None,
            error: Some(error),
            latency: Duration::ZERO,
        }
    }

    fn refused() -> Attempt {
        Attempt {
            refused: true,
            status: None,
            retry_after: None,
            error: Some("refused: private target".into()),
            latency: Duration::ZERO,
        }
    }
}

async fn post(http: &reqwest::Client, row: &OutboxRow, url: &str, timeout: Duration) -> Attempt {
    let started = Instant::now();
    let now_s = now_ms() / 1000;
    let mut req = http
        .post(url)
        .timeout(timeout)
        .header("content-type", "application/json");
    for (k, v) in &row.target.headers {
        if k.eq_ignore_ascii_case("jwt_key") {
            req = req.header(
                "authorization",
                format!("Bearer {}", sign::evolution_jwt(v, now_s)),
            );
        } else {
            req = req.header(k.as_str(), v.as_str());
        }
    }
    // Always sent: receivers deduplicate on it (deliveries are at least once).
    let id = row.webhook_id();
    if let Some(secret) = &row.target.secret {
        let signature = sign::standard_webhooks(secret, &id, now_s, row.body.as_bytes());
        req = req
            .header("webhook-timestamp", now_s.to_string())
            .header("webhook-signature", signature);
    }
    req = req.header("webhook-id", id);
    match req.body(row.body.clone()).send().await {
        Ok(resp) => {
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            Attempt {
                refused: false,
                status: Some(resp.status().as_u16()),
                retry_after,
                error: None,
                latency: started.elapsed(),
            }
        }
        Err(e) => Attempt {
            refused: false,
            status: None,
            retry_after: None,
            // The URL may carry credentials: report the kind of failure only.
            error: Some(if e.is_timeout() {
                "timeout".into()
            } else if e.is_connect() {
                "connection failed".into()
            } else if e.is_builder() {
                "invalid request (URL or header)".into()
            } else {
                "request failed".into()
            }),
            latency: started.elapsed(),
        },
    }
}

/// Applies an attempt's outcome to the row and the endpoint's health.
fn settle(inner: &Inner, endpoint: &str, mut row: OutboxRow, attempt: Attempt) {
    let ok = attempt.status.is_some_and(|s| (200..300).contains(&s));
    let result = if ok {
        inner.repo.remove(&row).map(|_| "delivered")
    } else {
        row.attempt += 1;
        row.last_status = attempt.status;
        row.last_error = attempt.error.clone();
        let unit = (Uuid::new_v4().as_u128() % 1_000_000) as f64 / 1_000_000.0;
        let next = if attempt.refused {
            Next::DeadLetter
        } else {
            inner
                .policy
                .next(row.attempt, attempt.status, attempt.retry_after, unit)
        };
        match next {
            Next::RetryIn(d) => {
                row.next_attempt_at_ms = now_ms() + d.as_millis() as u64;
                inner.repo.update(&row).map(|_| "retry")
            }
            Next::DeadLetter => {
                row.dead_at_ms = Some(now_ms());
                inner.repo.bury(&row).map(|_| "dead")
            }
        }
    };
    let outcome = match result {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(%endpoint, error = %e, "could not update the outbox");
            inner
                .repo
                .faults()
                .record(Fault::StoreWriteFailed, format!("outbox update: {e}"));
            return;
        }
    };
    {
        let mut all = inner.health.lock();
        let h = all.entry(endpoint.to_string()).or_default();
        h.url = row_url(&row);
        h.last_status = attempt.status;
        h.last_error = attempt.error;
        if h.latencies_ms.len() >= LATENCY_SAMPLES {
            h.latencies_ms.pop_front();
        }
        h.latencies_ms
            .push_back(attempt.latency.as_millis().min(u32::MAX as u128) as u32);
        match outcome {
            "delivered" => {
                h.delivered += 1;
                h.consecutive_failures = 0;
            }
            "dead" => {
                h.failed_attempts += 1;
                h.dead_lettered += 1;
                h.consecutive_failures += 1;
            }
            _ => {
                h.failed_attempts += 1;
                h.consecutive_failures += 1;
            }
        }
    }
}
