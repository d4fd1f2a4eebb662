//! The worker of one transport endpoint: reads a window of its rows from the outbox (oldest
//! first), publishes the due ones as one batch, and settles each by the broker's answer.
//!
//! Rows stay in sled until confirmed, so a restart (or a SIGKILL) resumes from the outbox. A
//! row is flushed before it is published (the webhook dispatcher's rule: nothing may reach a
//! consumer that a crash could take back); removals ride on the next flush.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use tokio::sync::Notify;

use super::{Hub, Outcome, Publisher, TransportKind};
use crate::events::retry::Next;
use crate::events::webhook::now_ms;
use crate::health::Fault;
use crate::store::outbox::OutboxRow;

/// Rows read (and published together) per pass.
const BATCH: usize = 256;
/// An idle worker exits after this long.
const IDLE_EXIT: Duration = Duration::from_secs(60);
/// First pause after a broker could not be reached; doubled up to the configured cap.
const RETRY_FIRST: Duration = Duration::from_millis(100);

/// Runs the worker and starts it again if it panics, as the webhook workers are.
pub(super) async fn supervised(
    hub: Arc<Hub>,
    publisher: Arc<dyn Publisher>,
    kind: TransportKind,
    endpoint: String,
    notify: Arc<Notify>,
) {
    let mut in_a_row = 0u32;
    loop {
        let run = AssertUnwindSafe(run(&hub, &*publisher, kind, &endpoint, &notify))
            .catch_unwind()
            .await;
        if run.is_ok() {
            return;
        }
        in_a_row += 1;
        tracing::error!(%endpoint, "transport worker panicked; starting it again");
        hub.repo
            .faults()
            .record(Fault::WorkerPanic, format!("endpoint {endpoint}"));
        tokio::time::sleep(Duration::from_millis(50u64 << in_a_row.min(9))).await;
    }
}

async fn run(
    hub: &Hub,
    publisher: &dyn Publisher,
    kind: TransportKind,
    endpoint: &str,
    notify: &Notify,
) {
    let mut idle_since = Instant::now();
    let mut pause = RETRY_FIRST;
    loop {
        let rows = match hub.repo.scan(endpoint, BATCH) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(%endpoint, error = %e, "outbox scan failed");
                Vec::new()
            }
        };
        let now = now_ms();
        let mut next_due: Option<u64> = None;
        let mut due = Vec::new();
        for row in rows {
            if row.next_attempt_at_ms <= now {
                due.push(row);
            } else {
                next_due = Some(
                    next_due.map_or(row.next_attempt_at_ms, |d| d.min(row.next_attempt_at_ms)),
                );
            }
        }
        if due.is_empty() {
            if next_due.is_none() && idle_since.elapsed() >= IDLE_EXIT && hub.retire(endpoint) {
                return;
            }
            let wait = next_due
                .map(|d| Duration::from_millis(d.saturating_sub(now)))
                .unwrap_or(IDLE_EXIT);
            tokio::select! {
                _ = notify.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
            continue;
        }
        idle_since = Instant::now();
        if let Err(e) = hub.repo.sync().await {
            tracing::error!(%endpoint, error = %e, "could not flush the outbox before publishing; retrying in 1 s");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        let outcomes = publisher.publish(&due).await;
        let mut unreachable = None;
        for (row, outcome) in due.into_iter().zip(outcomes) {
            match outcome {
                Outcome::Confirmed => {
                    if let Err(e) = hub.repo.remove(&row) {
                        store_failed(hub, endpoint, &e);
                    }
                }
                Outcome::Rejected(why) => reject(hub, endpoint, row, why),
                Outcome::Unavailable(why) => {
                    unreachable.get_or_insert(why);
                }
            }
        }
        // Removals are not flushed here: the next batch's flush (or sled's own, within 500 ms)
        // covers them. A crash before that publishes those rows again, which at-least-once
        // allows (consumers drop repeats by message id; JetStream does it by itself), and the
        // broker's round trip is not lengthened by a second fsync per batch.
        hub.reachable(kind, unreachable.as_deref());
        if unreachable.is_some() {
            // Rows left untouched; new rows only wait with them, so no wake-up shortens this.
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(hub.retry_max);
        } else {
            pause = RETRY_FIRST;
        }
    }
}

/// The broker refused the row: an attempt, rescheduled by the webhook policy or buried.
fn reject(hub: &Hub, endpoint: &str, mut row: OutboxRow, why: String) {
    row.attempt += 1;
    row.last_status = None;
    tracing::warn!(%endpoint, attempt = row.attempt, error = %why, "broker refused an event");
    row.last_error = Some(why);
    let unit = (uuid::Uuid::new_v4().as_u128() % 1_000_000) as f64 / 1_000_000.0;
    let result = match hub.policy.next(row.attempt, None, None, unit) {
        Next::RetryIn(d) => {
            row.next_attempt_at_ms = now_ms() + d.as_millis() as u64;
            hub.repo.update(&row)
        }
        Next::DeadLetter => {
            row.dead_at_ms = Some(now_ms());
            hub.repo.bury(&row)
        }
    };
    if let Err(e) = result {
        store_failed(hub, endpoint, &e);
    }
}

fn store_failed(hub: &Hub, endpoint: &str, e: &crate::store::StoreError) {
    tracing::error!(%endpoint, error = %e, "could not update the outbox");
    hub.repo
        .faults()
        .record(Fault::StoreWriteFailed, format!("outbox update: {e}"));
}
