//! `ZAPGATE_MESSAGE_RETENTION_DAYS`: one background task deletes every instance's messages older
//! than the retention, by time range, a bounded batch at a time (see
//! `store::history::retention`). Without a retention, history is kept.

use std::time::Duration;

use super::registry::Registry;
use crate::engine::unix_now;

/// Messages deleted per batch.
const BATCH: usize = 512;
/// The longest pause between two passes.
const MAX_INTERVAL: Duration = Duration::from_secs(3600);
/// The shortest (a retention measured in seconds, as in tests).
const MIN_INTERVAL: Duration = Duration::from_millis(250);

/// Starts the retention task, when there is a retention.
pub fn start(registry: Registry, retention: Option<Duration>) {
    let Some(retention) = retention else {
        return;
    };
    let interval = (retention / 4).clamp(MIN_INTERVAL, MAX_INTERVAL);
    tokio::spawn(async move {
        loop {
            let cutoff = unix_now().saturating_sub(retention.as_secs());
            let mut expired = 0;
            for h in registry.all() {
                loop {
                    let h2 = h.clone();
                    let step =
                        tokio::task::spawn_blocking(move || h2.expire_history(cutoff, BATCH)).await;
                    match step {
                        Ok(Ok(n)) => {
                            expired += n;
                            if n < BATCH {
                                break;
                            }
                        }
                        Ok(Err(e)) => {
                            tracing::error!(instance = %h.name(), error = %e, "message retention failed; next pass retries");
                            break;
                        }
                        Err(_) => break,
                    }
                }
            }
            if expired > 0 {
                tracing::info!(expired, "messages past their retention deleted");
            }
            tokio::time::sleep(interval).await;
        }
    });
}
