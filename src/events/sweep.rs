//! The outbox's housekeeping, one background task: dead letters expire after the retention
//! period (`ZAPGATE_DEAD_LETTER_RETENTION_DAYS`), swept in bounded batches with a yield between
//! them, and the stored targets of deleted instances' endpoints are forgotten once nothing
//! refers to them.

use std::time::Duration;

use uuid::Uuid;

use super::webhook::now_ms;
use crate::store::outbox::OutboxRepo;

/// Letters looked at per batch (each batch is one short pass over sled, no lock held between).
const BATCH: usize = 512;
/// The longest pause between two passes.
const MAX_INTERVAL: Duration = Duration::from_secs(3600);
/// The shortest (a retention measured in seconds, as in tests).
const MIN_INTERVAL: Duration = Duration::from_millis(250);

/// Starts the sweep. Without a retention, letters are kept until replayed or their instance is
/// deleted, and only targets are swept.
pub fn start(repo: OutboxRepo, retention: Option<Duration>) {
    let interval = retention
        .map(|r| (r / 4).clamp(MIN_INTERVAL, MAX_INTERVAL))
        .unwrap_or(MAX_INTERVAL);
    tokio::spawn(async move {
        loop {
            let started = now_ms();
            if let Some(r) = retention {
                expire(&repo, started.saturating_sub(r.as_millis() as u64)).await;
            }
            release_targets(&repo, started);
            tokio::time::sleep(interval).await;
        }
    });
}

/// One full pass over the dead letters, batch by batch.
async fn expire(repo: &OutboxRepo, cutoff_ms: u64) {
    let mut after: Option<Vec<u8>> = None;
    let mut expired = 0;
    loop {
        let r = repo.clone();
        let from = after.clone();
        let step = tokio::task::spawn_blocking(move || {
            r.sweep_dead_letters(from.as_deref(), cutoff_ms, BATCH)
        })
        .await;
        match step {
            Ok(Ok(step)) => {
                expired += step.expired;
                match step.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "dead-letter sweep failed; next pass retries");
                break;
            }
            Err(_) => break,
        }
        tokio::task::yield_now().await;
    }
    if expired > 0 {
        tracing::info!(expired, "dead letters expired");
    }
}

/// Forgets the targets of instance endpoints with no row waiting, no row queued since the
/// pass began and no dead letter left (the instance was deleted, or its letters expired). A
/// live instance's target is written again with its next event. The global target stays.
fn release_targets(repo: &OutboxRepo, since_ms: u64) {
    for endpoint in repo.target_endpoints() {
        let Some(id) = endpoint
            .strip_prefix("i:")
            .and_then(|id| id.parse::<Uuid>().ok())
        else {
            continue;
        };
        if repo.has_dead_letters(id) {
            continue;
        }
        if let Err(e) = repo.release_target(&endpoint, since_ms) {
            tracing::warn!(%endpoint, error = %e, "could not release an endpoint target");
        }
    }
}
