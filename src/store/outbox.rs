//! The webhook outbox and its dead letters.
//!
//! `outbox`: endpoint key ++ 0x00 ++ row uuid (v7, time-ordered) -> [`OutboxRow`]. One prefix per
//! endpoint, so each dispatcher worker scans only its own rows, oldest first.
//! `dlq`: instance uuid (16 bytes) ++ row uuid -> [`OutboxRow`] with `dead_at_ms` set, so dead
//! letters list per instance in time order.
//!
//! Rows carry their whole delivery (URL, headers, body bytes) and their retry state, so a
//! restart resumes exactly where the crash left off.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sled::Transactional;
use uuid::Uuid;

use super::{Store, StoreError, decode, encode};

/// An encoded row: its outbox key and value.
pub(super) type KeyValue = (Vec<u8>, Vec<u8>);

/// One delivery of one event to one endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutboxRow {
    /// Row uuid; also the stable `webhook-id` (as `msg_<uuid>`).
    pub uuid: Uuid,
    pub endpoint: String,
    pub instance: String,
    pub instance_id: Uuid,
    /// Dotted event name.
    pub event: String,
    pub url: String,
    /// Custom headers as configured (including `jwt_key`, turned into a JWT at send time).
    pub headers: BTreeMap<String, String>,
    /// Standard Webhooks signing secret, if any.
    pub secret: Option<String>,
    /// The exact JSON bytes to POST.
    pub body: String,
    pub created_at_ms: u64,
    /// Attempts made so far.
    pub attempt: u32,
    pub next_attempt_at_ms: u64,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub dead_at_ms: Option<u64>,
    /// Who configured the endpoint: the private-target rule is applied again at delivery.
    /// Rows written before this field count as configured by a token (the safe reading).
    #[serde(default = "crate::outbound::Requester::token")]
    pub requester: crate::outbound::Requester,
}

impl OutboxRow {
    pub fn webhook_id(&self) -> String {
        format!("msg_{}", self.uuid.simple())
    }

    fn outbox_key(&self) -> Vec<u8> {
        let mut k = self.endpoint.as_bytes().to_vec();
        k.push(0);
        k.extend_from_slice(self.uuid.as_bytes());
        k
    }

    fn dlq_key(&self) -> Vec<u8> {
        let mut k = self.instance_id.as_bytes().to_vec();
        k.extend_from_slice(self.uuid.as_bytes());
        k
    }
}

/// Which dead letters to replay.
#[derive(Debug, Default, Clone)]
pub struct ReplayFilter {
    pub id: Option<String>,
    pub from_ms: Option<u64>,
    pub to_ms: Option<u64>,
}

#[derive(Clone)]
pub struct OutboxRepo {
    store: Store,
    outbox: sled::Tree,
    dlq: sled::Tree,
}

fn prefix(endpoint: &str) -> Vec<u8> {
    let mut p = endpoint.as_bytes().to_vec();
    p.push(0);
    p
}

impl OutboxRepo {
    pub fn new(store: &Store) -> Result<Self, StoreError> {
        Ok(OutboxRepo {
            store: store.clone(),
            outbox: store.tree("outbox")?,
            dlq: store.tree("dlq")?,
        })
    }

    /// Writes rows; they are durable after the next [`Store::sync`].
    pub fn insert(&self, rows: &[OutboxRow]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for r in rows {
            batch.insert(r.outbox_key(), encode(r)?);
        }
        self.outbox.apply_batch(batch)?;
        Ok(())
    }

    /// Rows as (key, value), for a transaction that writes them with other data.
    pub(super) fn encoded(&self, rows: &[OutboxRow]) -> Result<Vec<KeyValue>, StoreError> {
        rows.iter()
            .map(|r| Ok((r.outbox_key(), encode(r)?)))
            .collect()
    }

    pub(super) fn tree(&self) -> &sled::Tree {
        &self.outbox
    }

    pub async fn sync(&self) -> Result<(), StoreError> {
        self.store.sync().await
    }

    /// Up to `limit` rows of one endpoint, oldest first.
    pub fn scan(&self, endpoint: &str, limit: usize) -> Result<Vec<OutboxRow>, StoreError> {
        let mut out = Vec::new();
        for item in self.outbox.scan_prefix(prefix(endpoint)).take(limit) {
            let (_, v) = item?;
            out.push(decode(&v)?);
        }
        Ok(out)
    }

    pub fn update(&self, row: &OutboxRow) -> Result<(), StoreError> {
        self.outbox.insert(row.outbox_key(), encode(row)?)?;
        Ok(())
    }

    pub fn remove(&self, row: &OutboxRow) -> Result<(), StoreError> {
        self.outbox.remove(row.outbox_key())?;
        Ok(())
    }

    /// Moves a row to the dead letters atomically.
    pub fn bury(&self, row: &OutboxRow) -> Result<(), StoreError> {
        let (okey, dkey, value) = (row.outbox_key(), row.dlq_key(), encode(row)?);
        (&self.outbox, &self.dlq)
            .transaction(|(o, d)| {
                o.remove(okey.as_slice())?;
                d.insert(dkey.as_slice(), value.as_slice())?;
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|e| StoreError::Sled(sled::Error::Unsupported(format!("{e:?}"))))
    }

    /// Every endpoint with rows waiting (start-up: one worker each).
    pub fn endpoints(&self) -> Result<BTreeSet<String>, StoreError> {
        let mut out = BTreeSet::new();
        for item in self.outbox.iter().keys() {
            let k = item?;
            if let Some(end) = k.iter().position(|b| *b == 0) {
                out.insert(String::from_utf8_lossy(&k[..end]).into_owned());
            }
        }
        Ok(out)
    }

    /// Rows waiting for one endpoint.
    pub fn depth(&self, endpoint: &str) -> usize {
        self.outbox.scan_prefix(prefix(endpoint)).count()
    }

    pub fn dead_letters(&self, instance: Uuid, limit: usize) -> Result<Vec<OutboxRow>, StoreError> {
        let mut out = Vec::new();
        for item in self.dlq.scan_prefix(instance.as_bytes()).take(limit) {
            let (_, v) = item?;
            out.push(decode(&v)?);
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

    /// Moves matching dead letters back to the outbox with a fresh retry budget. Returns the
    /// replayed rows (their endpoints need a nudge).
    pub fn replay(
        &self,
        instance: Uuid,
        filter: &ReplayFilter,
        now_ms: u64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let mut replayed = Vec::new();
        for item in self.dlq.scan_prefix(instance.as_bytes()) {
            let (_, v) = item?;
            let mut row: OutboxRow = decode(&v)?;
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
            let (okey, value) = (row.outbox_key(), encode(&row)?);
            (&self.outbox, &self.dlq)
                .transaction(|(o, d)| {
                    d.remove(dkey.as_slice())?;
                    o.insert(okey.as_slice(), value.as_slice())?;
                    Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
                })
                .map_err(|e| StoreError::Sled(sled::Error::Unsupported(format!("{e:?}"))))?;
            replayed.push(row);
        }
        Ok(replayed)
    }
}
