//! Dead letters: rows the retry policy gave up on (or the backlog cap refused), kept for
//! listing and replay until they expire.
//!
//! `dlq`: instance uuid (16 bytes) ++ row uuid -> row with `dead_at_ms` set, so dead letters
//! list per instance in time order. They expire `ZAPGATE_DEAD_LETTER_RETENTION_DAYS` after they
//! died, swept in bounded batches so a large backlog of letters never holds a lock or a
//! transaction for long.

use serde::Deserialize;
use sled::Transactional;
use uuid::Uuid;

use super::StoreError;
use super::outbox::{OutboxRepo, OutboxRow, tx_error};

/// Which dead letters to replay.
#[derive(Debug, Default, Clone)]
pub struct ReplayFilter {
    pub id: Option<String>,
    pub from_ms: Option<u64>,
    pub to_ms: Option<u64>,
}

/// Where a sweep pass stopped, and what it did.
#[derive(Debug, Default)]
pub struct SweepStep {
    /// Key to start the next batch after; `None` when the pass reached the end.
    pub next: Option<Vec<u8>>,
    pub expired: usize,
}

/// Just the times of a letter (v1 and v2 rows share these JSON fields).
#[derive(Deserialize)]
struct Times {
    created_at_ms: u64,
    dead_at_ms: Option<u64>,
}

impl OutboxRepo {
    /// Moves a row to the dead letters atomically.
    pub fn bury(&self, row: &OutboxRow) -> Result<(), StoreError> {
        let (okey, dkey, value) = (row.outbox_key(), row.dlq_key(), row.to_bytes()?);
        let removed = (&self.outbox, &self.dlq)
            .transaction(|(o, d)| {
                let old = o.remove(okey.as_slice())?;
                d.insert(dkey.as_slice(), value.as_slice())?;
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(old.is_some())
            })
            .map_err(tx_error)?;
        if removed {
            self.count_out(&row.endpoint);
        }
        Ok(())
    }

    /// Readable dead letters of an instance, oldest first (unreadable ones are skipped).
    pub fn dead_letters(&self, instance: Uuid, limit: usize) -> Result<Vec<OutboxRow>, StoreError> {
        let mut out = Vec::new();
        for item in self.dlq.scan_prefix(instance.as_bytes()) {
            if out.len() >= limit {
                break;
            }
            let (_, v) = item?;
            match self.decode_row(&v) {
                Ok(r) => out.push(r),
                Err(e) => tracing::warn!(%instance, error = %e, "unreadable dead letter skipped"),
            }
        }
        Ok(out)
    }

    /// Forgets an instance's dead letters (the instance was deleted; nobody can list them).
    pub fn drop_dead_letters(&self, instance: Uuid) -> Result<usize, StoreError> {
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for key in self.dlq.scan_prefix(instance.as_bytes()).keys() {
            batch.remove(key?);
            n += 1;
        }
        self.dlq.apply_batch(batch)?;
        Ok(n)
    }

    pub fn dead_letter_count(&self, instance: Uuid) -> usize {
        self.dlq.scan_prefix(instance.as_bytes()).count()
    }

    /// Whether an instance has any dead letter.
    pub fn has_dead_letters(&self, instance: Uuid) -> bool {
        self.dlq.scan_prefix(instance.as_bytes()).next().is_some()
    }

    /// Moves matching dead letters back to the outbox with a fresh retry budget. Returns the
    /// replayed rows (their endpoints need a nudge). An operator's replay is not subject to the
    /// backlog cap.
    pub fn replay(
        &self,
        instance: Uuid,
        filter: &ReplayFilter,
        now_ms: u64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let mut replayed = Vec::new();
        for item in self.dlq.scan_prefix(instance.as_bytes()) {
            let (_, v) = item?;
            let Ok(mut row) = self.decode_row(&v) else {
                continue;
            };
            let dead = row.dead_at_ms.unwrap_or(row.created_at_ms);
            let keep = filter.id.as_deref().is_none_or(|id| id == row.webhook_id())
                && filter.from_ms.is_none_or(|f| dead >= f)
                && filter.to_ms.is_none_or(|t| dead <= t);
            if !keep {
                continue;
            }
            let dkey = row.dlq_key();
            row.attempt = 0;
            row.next_attempt_at_ms = now_ms;
            row.dead_at_ms = None;
            let (okey, value) = (row.outbox_key(), row.to_bytes()?);
            (&self.outbox, &self.dlq)
                .transaction(|(o, d)| {
                    d.remove(dkey.as_slice())?;
                    o.insert(okey.as_slice(), value.as_slice())?;
                    Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
                })
                .map_err(tx_error)?;
            if let Ok(mut books) = self.books.lock() {
                books.entry(row.endpoint.clone()).or_default().depth += 1;
            }
            replayed.push(row);
        }
        Ok(replayed)
    }

    /// One bounded batch of the expiry sweep: looks at up to `batch` letters after `after` and
    /// removes those that died before `cutoff_ms`. Letters that cannot be read at all expire by
    /// the same rule as soon as they are met (they can be neither listed nor replayed).
    pub fn sweep_dead_letters(
        &self,
        after: Option<&[u8]>,
        cutoff_ms: u64,
        batch: usize,
    ) -> Result<SweepStep, StoreError> {
        let range = match after {
            Some(k) => self
                .dlq
                .range::<&[u8], _>((std::ops::Bound::Excluded(k), std::ops::Bound::Unbounded)),
            None => self.dlq.iter(),
        };
        let mut remove = sled::Batch::default();
        let mut step = SweepStep::default();
        let mut looked = 0;
        for item in range {
            let (k, v) = item?;
            looked += 1;
            let died = v
                .split_first()
                .and_then(|(_, json)| serde_json::from_slice::<Times>(json).ok())
                .map(|t| t.dead_at_ms.unwrap_or(t.created_at_ms));
            if died.is_none_or(|d| d < cutoff_ms) {
                remove.remove(k.clone());
                step.expired += 1;
            }
            if looked >= batch {
                step.next = Some(k.to_vec());
                break;
            }
        }
        self.dlq.apply_batch(remove)?;
        Ok(step)
    }
}
