//! The webhook outbox: rows waiting for delivery, the endpoints they go to, and the quarantine.
//!
//! Trees and keys:
//! - `outbox`: endpoint key ++ 0x00 ++ row uuid (v7, time-ordered) -> row. One prefix per
//!   endpoint, so each dispatcher worker scans only its own rows, oldest first.
//! - `outbox_endpoints`: endpoint key -> [`EndpointTarget`] (URL, headers, secret), stored once
//!   per endpoint and rewritten only when it changes. Rows name their endpoint and are posted
//!   with its current target, so a webhook's size is paid once, not once per event.
//! - `outbox_quarantine`: rows that could not be read, moved aside under their original key
//!   with their bytes untouched (for an operator to inspect), so one bad row never stops its
//!   endpoint.
//! - `dlq`: dead letters, see `dead_letters.rs`.
//!
//! Rows and their encodings live in `outbox_row.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use sled::Transactional;

pub use super::dead_letters::ReplayFilter;
pub(super) use super::outbox_row::now_ms;
pub use super::outbox_row::{EndpointTarget, OutboxRow, TargetKind};
use super::outbox_row::{KeyValue, LegacyRow, ROW_V1, ROW_V2, StoredRow, prefix};
use super::{Store, StoreError, decode, encode};
use crate::health::Fault;

/// Per-endpoint bookkeeping kept in memory: counting rows in sled would be a scan per event.
#[derive(Debug, Default, Clone)]
pub struct EndpointBook {
    /// Rows waiting (approximate between scans, exact after a scan that saw them all).
    pub depth: usize,
    /// Rows refused by the backlog cap since start (they went to the dead letters).
    pub refused: u64,
    /// The backlog is at its cap now.
    pub full: bool,
    /// Rows moved to the quarantine since start.
    pub quarantined: u64,
    /// When a row was last queued (the sweep keeps targets in use).
    pub(super) last_queued_ms: u64,
}

/// Rows queued together: those admitted to the outbox and those the backlog cap sent straight
/// to the dead letters. Both are written in the caller's transaction.
pub(super) struct Encoded {
    pub outbox: Vec<KeyValue>,
    pub dlq: Vec<KeyValue>,
}

#[derive(Clone)]
pub struct OutboxRepo {
    pub(super) store: Store,
    pub(super) outbox: sled::Tree,
    pub(super) dlq: sled::Tree,
    targets: sled::Tree,
    pub(super) quarantine: sled::Tree,
    max_backlog: usize,
    /// Targets as stored, so queueing a row compares in memory instead of reading sled.
    cached: Arc<Mutex<HashMap<String, Arc<EndpointTarget>>>>,
    pub(super) books: Arc<Mutex<HashMap<String, EndpointBook>>>,
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain maps of counters: a panic elsewhere cannot leave them inconsistent in a way that
    // matters more than stopping delivery would.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl OutboxRepo {
    /// Opens the outbox; counts each endpoint's rows (one pass over the keys).
    pub fn new(store: &Store, max_backlog: usize) -> Result<Self, StoreError> {
        let repo = OutboxRepo {
            store: store.clone(),
            outbox: store.tree("outbox")?,
            dlq: store.tree("dlq")?,
            targets: store.tree("outbox_endpoints")?,
            quarantine: store.tree("outbox_quarantine")?,
            max_backlog: max_backlog.max(1),
            cached: Arc::default(),
            books: Arc::default(),
        };
        let mut books = HashMap::<String, EndpointBook>::new();
        for key in repo.outbox.iter().keys() {
            let key = key?;
            if let Some(end) = key.iter().position(|b| *b == 0) {
                let e = String::from_utf8_lossy(&key[..end]).into_owned();
                books.entry(e).or_default().depth += 1;
            }
        }
        *locked(&repo.books) = books;
        Ok(repo)
    }

    /// Writes rows (and their endpoints' targets); durable after the next [`Store::sync`].
    pub fn insert(&self, rows: &[OutboxRow]) -> Result<(), StoreError> {
        let enc = self.encoded(rows)?;
        (&self.outbox, &self.dlq)
            .transaction(|(o, d)| {
                for (k, v) in &enc.outbox {
                    o.insert(k.as_slice(), v.as_slice())?;
                }
                for (k, v) in &enc.dlq {
                    d.insert(k.as_slice(), v.as_slice())?;
                }
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(tx_error)
    }

    /// Rows encoded for a transaction that writes them with other data. Not refused while
    /// storage is low: these rows announce something that already happened (a status change
    /// has nobody to answer 507 to), and the floor's margin is there for them; writes that can
    /// be refused are refused before they start. Targets are written here, before the rows
    /// that need them. A row for an endpoint
    /// at its backlog cap goes to the dead letters instead (replayable, counted, logged once
    /// per episode): the event is never dropped without a trace.
    pub(super) fn encoded(&self, rows: &[OutboxRow]) -> Result<Encoded, StoreError> {
        let mut enc = Encoded {
            outbox: Vec::with_capacity(rows.len()),
            dlq: Vec::new(),
        };
        for r in rows {
            self.store_target(&r.endpoint, &r.target)?;
            if self.admit(&r.endpoint) {
                enc.outbox.push((r.outbox_key(), r.to_bytes()?));
            } else {
                let mut dead = r.clone();
                dead.dead_at_ms = Some(now_ms());
                dead.last_error = Some(format!(
                    "refused: webhook backlog full ({} rows waiting, ZAPGATE_WEBHOOK_MAX_BACKLOG)",
                    self.max_backlog
                ));
                enc.dlq.push((dead.dlq_key(), dead.to_bytes()?));
            }
        }
        Ok(enc)
    }

    /// Counts a row in, or refuses it when the endpoint's backlog is at its cap.
    fn admit(&self, endpoint: &str) -> bool {
        let mut books = locked(&self.books);
        let b = books.entry(endpoint.to_string()).or_default();
        let admitted = b.depth < self.max_backlog;
        if admitted {
            b.depth += 1;
        } else {
            b.refused += 1;
        }
        if b.full == admitted {
            b.full = !admitted;
            if b.full {
                tracing::warn!(%endpoint, cap = self.max_backlog, "webhook backlog full: new events for this endpoint go to the dead letters until it drains");
            } else {
                tracing::info!(%endpoint, "webhook backlog below its cap again");
            }
        }
        let any_full = books.values().any(|b| b.full);
        drop(books);
        self.store.faults().set(
            Fault::WebhookBacklogFull,
            any_full,
            format!("endpoint {endpoint} at {} rows", self.max_backlog),
        );
        admitted
    }

    /// Stores `target` as the endpoint's, unless it already is.
    fn store_target(&self, endpoint: &str, target: &Arc<EndpointTarget>) -> Result<(), StoreError> {
        // Under the targets lock, before the row exists: a concurrent `release_target` either
        // ran before (the target is written again below) or sees this use and keeps it.
        let mut cached = locked(&self.cached);
        locked(&self.books)
            .entry(endpoint.to_string())
            .or_default()
            .last_queued_ms = now_ms();
        if cached.get(endpoint).is_some_and(|t| **t == **target) {
            return Ok(());
        }
        self.targets
            .insert(endpoint.as_bytes(), encode(&**target)?)?;
        cached.insert(endpoint.to_string(), target.clone());
        Ok(())
    }

    /// The endpoint's stored target.
    pub fn target(&self, endpoint: &str) -> Result<Option<Arc<EndpointTarget>>, StoreError> {
        if let Some(t) = locked(&self.cached).get(endpoint) {
            return Ok(Some(t.clone()));
        }
        let Some(v) = self.targets.get(endpoint.as_bytes())? else {
            return Ok(None);
        };
        let t: Arc<EndpointTarget> = Arc::new(decode(&v)?);
        locked(&self.cached).insert(endpoint.to_string(), t.clone());
        Ok(Some(t))
    }

    /// Endpoints with a stored target.
    pub fn target_endpoints(&self) -> Vec<String> {
        self.targets
            .iter()
            .keys()
            .filter_map(|k| k.ok())
            .map(|k| String::from_utf8_lossy(&k).into_owned())
            .collect()
    }

    /// Forgets an endpoint's target if no row was queued for it since `since_ms` and none waits.
    pub fn release_target(&self, endpoint: &str, since_ms: u64) -> Result<bool, StoreError> {
        let mut cached = locked(&self.cached);
        let recent = locked(&self.books)
            .get(endpoint)
            .is_some_and(|b| b.last_queued_ms >= since_ms);
        if recent || self.has_rows(endpoint) {
            return Ok(false);
        }
        self.targets.remove(endpoint.as_bytes())?;
        cached.remove(endpoint);
        Ok(true)
    }

    /// Decodes one row; a v2 row gets its endpoint's target.
    pub(super) fn decode_row(&self, bytes: &[u8]) -> Result<OutboxRow, StoreError> {
        match bytes.split_first() {
            Some((&ROW_V1, json)) => {
                let l: LegacyRow = serde_json::from_slice(json)?;
                let target = Arc::new(EndpointTarget {
                    url: l.url,
                    by_events: false,
                    headers: l.headers,
                    secret: l.secret,
                    // v1 rows predate the field: the safe reading.
                    requester: crate::outbound::Requester::Token,
                    kind: Default::default(),
                });
                Ok(OutboxRow::from_stored(l.row, target, true))
            }
            Some((&ROW_V2, json)) => {
                let s: StoredRow = serde_json::from_slice(json)?;
                let target = self
                    .target(&s.endpoint)?
                    .ok_or_else(|| StoreError::UnknownEndpoint(s.endpoint.clone()))?;
                Ok(OutboxRow::from_stored(s, target, false))
            }
            Some((&v, _)) => Err(StoreError::Version(v)),
            None => Err(StoreError::Version(0)),
        }
    }

    pub(super) fn trees(&self) -> (&sled::Tree, &sled::Tree) {
        (&self.outbox, &self.dlq)
    }

    pub async fn sync(&self) -> Result<(), StoreError> {
        self.store.sync().await
    }

    /// Up to `limit` readable rows of one endpoint, oldest first. Unreadable rows met on the
    /// way are quarantined and skipped.
    pub fn scan(&self, endpoint: &str, limit: usize) -> Result<Vec<OutboxRow>, StoreError> {
        let mut out = Vec::new();
        for item in self.outbox.scan_prefix(prefix(endpoint)) {
            if out.len() >= limit {
                break;
            }
            let (k, v) = item?;
            match self.decode_row(&v) {
                Ok(row) => out.push(row),
                // A failing read of the target says nothing about the row: try again later.
                Err(e @ StoreError::Sled(_)) => return Err(e),
                Err(e) => self.quarantine_row(endpoint, &k, &v, &e)?,
            }
        }
        if out.len() < limit {
            // Every row of the endpoint was in sight: the count is exact now.
            locked(&self.books)
                .entry(endpoint.to_string())
                .or_default()
                .depth = out.len();
        }
        Ok(out)
    }

    /// Moves one unreadable row aside, bytes untouched, and reports it.
    fn quarantine_row(
        &self,
        endpoint: &str,
        key: &[u8],
        value: &[u8],
        why: &StoreError,
    ) -> Result<(), StoreError> {
        (&self.outbox, &self.quarantine)
            .transaction(|(o, q)| {
                o.remove(key)?;
                q.insert(key, value)?;
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(tx_error)?;
        {
            let mut books = locked(&self.books);
            let b = books.entry(endpoint.to_string()).or_default();
            b.quarantined += 1;
            b.depth = b.depth.saturating_sub(1);
        }
        tracing::error!(%endpoint, error = %why, "unreadable outbox row moved to the quarantine");
        self.store.faults().record(
            Fault::OutboxRowQuarantined,
            format!("endpoint {endpoint}: {why}"),
        );
        Ok(())
    }

    /// Rows in the quarantine (all endpoints).
    pub fn quarantined(&self) -> usize {
        self.quarantine.len()
    }

    pub fn update(&self, row: &OutboxRow) -> Result<(), StoreError> {
        self.outbox.insert(row.outbox_key(), row.to_bytes()?)?;
        Ok(())
    }

    pub fn remove(&self, row: &OutboxRow) -> Result<(), StoreError> {
        if self.outbox.remove(row.outbox_key())?.is_some() {
            self.count_out(&row.endpoint);
        }
        Ok(())
    }

    pub(super) fn count_out(&self, endpoint: &str) {
        let mut books = locked(&self.books);
        let Some(b) = books.get_mut(endpoint) else {
            return;
        };
        b.depth = b.depth.saturating_sub(1);
        // A full backlog ends when it drains below the cap, not only at the next event.
        if b.full && b.depth < self.max_backlog {
            b.full = false;
            tracing::info!(%endpoint, "webhook backlog below its cap again");
            let any_full = books.values().any(|b| b.full);
            drop(books);
            if !any_full {
                self.store
                    .faults()
                    .set(Fault::WebhookBacklogFull, false, "");
            }
        }
    }

    /// Every endpoint with rows waiting (start-up: one worker each).
    pub fn endpoints(&self) -> Vec<String> {
        locked(&self.books)
            .iter()
            .filter(|(_, b)| b.depth > 0)
            .map(|(e, _)| e.clone())
            .collect()
    }

    /// Rows waiting for one endpoint (from the in-memory count).
    pub fn depth(&self, endpoint: &str) -> usize {
        locked(&self.books).get(endpoint).map_or(0, |b| b.depth)
    }

    /// Whether any row waits for the endpoint (exact: reads sled).
    pub fn has_rows(&self, endpoint: &str) -> bool {
        self.outbox.scan_prefix(prefix(endpoint)).next().is_some()
    }

    /// The process's fault board (the dispatcher reports through it).
    pub fn faults(&self) -> &Arc<crate::health::Faults> {
        self.store.faults()
    }

    /// The endpoint's counters.
    pub fn book(&self, endpoint: &str) -> EndpointBook {
        locked(&self.books)
            .get(endpoint)
            .cloned()
            .unwrap_or_default()
    }
}

pub(super) fn tx_error(e: sled::transaction::TransactionError<()>) -> StoreError {
    match e {
        sled::transaction::TransactionError::Storage(e) => StoreError::Sled(e),
        other => StoreError::Sled(sled::Error::Unsupported(format!("{other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(endpoint: &str, url: &str) -> OutboxRow {
        let target = EndpointTarget {
            url: url.into(),
            headers: [("x-h".to_string(), "v".to_string())].into(),
            ..Default::default()
        };
        OutboxRow::queued(
            endpoint.into(),
            "i",
            uuid::Uuid::now_v7(),
            "messages.upsert",
            "{}".into(),
            Arc::new(target),
        )
    }

    #[tokio::test]
    async fn rows_refer_to_one_target_and_the_cap_diverts_to_dead_letters() {
        let store = Store::temporary().unwrap();
        let repo = OutboxRepo::new(&store, 2).unwrap();
        let rows: Vec<_> = (0..3).map(|_| row("e", "http://h/x")).collect();
        repo.insert(&rows).unwrap();
        assert_eq!(repo.depth("e"), 2);
        assert_eq!(repo.book("e").refused, 1);
        assert!(repo.book("e").full);
        assert_eq!(repo.dead_letter_count(rows[2].instance_id), 1);
        for (_, v) in repo.outbox.iter().map(|i| i.unwrap()) {
            assert_eq!(v[0], ROW_V2);
            assert!(!String::from_utf8_lossy(&v).contains("x-h"));
        }
        let read = repo.scan("e", 10).unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(read[0].target.headers["x-h"], "v");
        repo.remove(&read[0]).unwrap();
        assert!(!repo.book("e").full, "drained below the cap");
    }

    #[tokio::test]
    async fn v1_rows_keep_their_own_target_and_bad_rows_are_quarantined() {
        let store = Store::temporary().unwrap();
        let repo = OutboxRepo::new(&store, 10).unwrap();
        let mut legacy = row("e", "http://old/full-url");
        legacy.legacy = true;
        let bytes = legacy.to_bytes().unwrap();
        assert_eq!(bytes[0], ROW_V1);
        repo.outbox.insert(legacy.outbox_key(), bytes).unwrap();
        let mut bad = prefix("e");
        bad.extend_from_slice(uuid::Uuid::from_u128(1).as_bytes());
        repo.outbox.insert(bad, &b"\x02nope"[..]).unwrap();
        let read = repo.scan("e", 10).unwrap();
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].target.url, "http://old/full-url");
        assert_eq!(repo.quarantined(), 1);
        assert_eq!(repo.book("e").quarantined, 1);
        // Written back (a retry) it stays self-contained.
        repo.update(&read[0]).unwrap();
        let again = repo.outbox.get(read[0].outbox_key()).unwrap().unwrap();
        assert_eq!(again[0], ROW_V1);
    }
}
