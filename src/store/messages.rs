//! Per-instance message history, tree `i/<id>/messages`.
//!
//! Key: message timestamp (u64 seconds, big-endian) ++ message id, so a range scan returns time
//! order. Value: the Evolution message record (§6 of the reference) as JSON.

use serde_json::Value;
use uuid::Uuid;

use super::{Store, StoreError, decode, encode};

#[derive(Clone)]
pub struct MessageRepo {
    tree: sled::Tree,
}

impl MessageRepo {
    pub fn open(store: &Store, instance: Uuid) -> Result<Self, StoreError> {
        Ok(MessageRepo {
            tree: store.instance_tree(instance, "messages")?,
        })
    }

    pub fn put(&self, timestamp: u64, id: &str, record: &Value) -> Result<(), StoreError> {
        let mut key = timestamp.to_be_bytes().to_vec();
        key.extend_from_slice(id.as_bytes());
        self.tree.insert(key, encode(record)?)?;
        Ok(())
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
