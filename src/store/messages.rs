//! Per-instance message history, tree `i/<id>/messages`.
//!
//! Key: message timestamp (u64 seconds, big-endian) ++ message id, so a range scan returns time
//! order. Value: the Evolution message record (§6 of the reference) as JSON. A second tree,
//! `i/<id>/message-ids`, maps a message id to that key, for quoting, edits, deletes and media.

use serde_json::Value;
use sled::Transactional;
use uuid::Uuid;

use super::outbox::{OutboxRepo, OutboxRow};
use super::{Store, StoreError, decode, encode};

fn record_key(timestamp: u64, id: &str) -> Vec<u8> {
    let mut key = timestamp.to_be_bytes().to_vec();
    key.extend_from_slice(id.as_bytes());
    key
}

#[derive(Clone)]
pub struct MessageRepo {
    tree: sled::Tree,
    ids: sled::Tree,
}

impl MessageRepo {
    pub fn open(store: &Store, instance: Uuid) -> Result<Self, StoreError> {
        Ok(MessageRepo {
            tree: store.instance_tree(instance, "messages")?,
            ids: store.instance_tree(instance, "message-ids")?,
        })
    }

    pub fn put(&self, timestamp: u64, id: &str, record: &Value) -> Result<(), StoreError> {
        let key = record_key(timestamp, id);
        self.tree.insert(key.as_slice(), encode(record)?)?;
        self.ids.insert(id.as_bytes(), key)?;
        Ok(())
    }

    /// Stores a record and writes the outbox rows announcing it in one sled transaction, so
    /// after a crash either both exist or neither: a message found by [`contains`](Self::contains)
    /// was announced, and one not found was not.
    pub fn put_announced(
        &self,
        outbox: &OutboxRepo,
        rows: &[OutboxRow],
        timestamp: u64,
        id: &str,
        record: &Value,
    ) -> Result<(), StoreError> {
        // Refused while storage is low: the engine does not acknowledge the message, so
        // WhatsApp delivers it again once space is back.
        outbox.writable()?;
        let key = record_key(timestamp, id);
        let value = encode(record)?;
        let rows = outbox.encoded(rows)?;
        let (otree, dtree) = outbox.trees();
        (&self.tree, &self.ids, otree, dtree)
            .transaction(|(t, i, o, d)| {
                t.insert(key.as_slice(), value.as_slice())?;
                i.insert(id.as_bytes(), key.as_slice())?;
                for (k, v) in &rows.outbox {
                    o.insert(k.as_slice(), v.as_slice())?;
                }
                for (k, v) in &rows.dlq {
                    d.insert(k.as_slice(), v.as_slice())?;
                }
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|e| StoreError::Sled(sled::Error::Unsupported(format!("{e:?}"))))
    }

    /// Marks a message id as handled (an edit or a delete, which are not stored as records) and
    /// writes the outbox rows announcing it, in one sled transaction, so a redelivery is found
    /// by [`contains`](Self::contains) and announced once.
    pub fn mark_announced(
        &self,
        outbox: &OutboxRepo,
        rows: &[OutboxRow],
        id: &str,
    ) -> Result<(), StoreError> {
        outbox.writable()?;
        let rows = outbox.encoded(rows)?;
        let (otree, dtree) = outbox.trees();
        (&self.ids, otree, dtree)
            .transaction(|(i, o, d)| {
                // An empty key points at no record: `get` and `update` see nothing.
                i.insert(id.as_bytes(), &[][..])?;
                for (k, v) in &rows.outbox {
                    o.insert(k.as_slice(), v.as_slice())?;
                }
                for (k, v) in &rows.dlq {
                    d.insert(k.as_slice(), v.as_slice())?;
                }
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|e| StoreError::Sled(sled::Error::Unsupported(format!("{e:?}"))))
    }

    /// Whether a message with this id is stored (engines may deliver a message twice).
    pub fn contains(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.ids.contains_key(id.as_bytes())?)
    }

    pub fn get(&self, id: &str) -> Result<Option<Value>, StoreError> {
        let Some(key) = self.ids.get(id.as_bytes())? else {
            return Ok(None);
        };
        match self.tree.get(key)? {
            Some(v) => Ok(Some(decode(&v)?)),
            None => Ok(None),
        }
    }

    /// Rewrites a stored record in place; returns the new record, `None` if unknown.
    pub fn update(
        &self,
        id: &str,
        f: impl FnOnce(&mut Value),
    ) -> Result<Option<Value>, StoreError> {
        let Some(key) = self.ids.get(id.as_bytes())? else {
            return Ok(None);
        };
        let Some(v) = self.tree.get(&key)? else {
            return Ok(None);
        };
        let mut record: Value = decode(&v)?;
        f(&mut record);
        self.tree.insert(key, encode(&record)?)?;
        Ok(Some(record))
    }

    pub fn count(&self) -> usize {
        self.tree.len()
    }

    /// The newest `limit` records, newest first.
    pub fn latest(&self, limit: usize) -> Result<Vec<Value>, StoreError> {
        let mut out = Vec::with_capacity(limit.min(256));
        for item in self.tree.iter().rev().take(limit) {
            let (_, v) = item?;
            out.push(decode(&v)?);
        }
        Ok(out)
    }
}
