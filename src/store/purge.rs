//! Deleting an instance's data, in the background and resumably.
//!
//! Tree `purge`: instance id (16 bytes) -> empty. A delete writes the marker in the same step
//! that removes the instance record (so the instance is gone for readers at once), and the purger
//! task removes the instance's key range from every shared tree in batches of [`BATCH`] rows,
//! then the marker. A crash mid-way leaves the marker: the purger starts over at the next open,
//! and range deletes are idempotent.

use std::sync::Arc;

use tokio::sync::{Notify, oneshot};
use uuid::Uuid;

use super::StoreError;
use super::scoped::purge_prefix;
use crate::health::{Fault, Faults};

/// The trees whose keys start with an instance id. A new per-instance tree must be listed here,
/// or deleted instances leave rows behind (the purge test counts them).
pub const INSTANCE_TREES: &[&str] = &[
    super::signal::TREE,
    "loopback.sessions",
    super::history::MESSAGES,
    super::history::MESSAGE_IDS,
    super::history::CHAT_MESSAGES,
    super::history::CHATS,
    super::history::CHAT_ACTIVITY,
    super::history::CONTACTS,
    super::history::RECEIPTS,
    super::history::COUNTS,
    "transports",
];

/// Name of the tree of pending purges.
pub const PURGE_TREE: &str = "purge";

/// Rows removed per batch: small enough that no single write stalls the database.
const BATCH: usize = 1024;

pub(super) struct PurgerHandle {
    pub(super) stop: oneshot::Sender<()>,
    pub(super) task: tokio::task::JoinHandle<()>,
}

/// Removes every pending instance's rows; returns how many instances were finished.
pub(super) fn purge_pending(db: &sled::Db) -> Result<usize, StoreError> {
    let pending = db.open_tree(PURGE_TREE)?;
    let mut done = 0;
    for marker in pending.iter().keys() {
        let marker = marker?;
        let Ok(id) = Uuid::from_slice(&marker) else {
            pending.remove(&marker)?;
            continue;
        };
        for name in INSTANCE_TREES {
            let tree = db.open_tree(name)?;
            while purge_prefix(&tree, id, BATCH)? == BATCH {}
        }
        pending.remove(&marker)?;
        done += 1;
    }
    Ok(done)
}

/// Runs [`purge_pending`] at start and whenever `wake` fires, until `stop`.
pub(super) async fn purger(
    db: sled::Db,
    wake: Arc<Notify>,
    mut stop: oneshot::Receiver<()>,
    faults: Arc<Faults>,
) {
    loop {
        let db2 = db.clone();
        match tokio::task::spawn_blocking(move || purge_pending(&db2)).await {
            Ok(Ok(n)) if n > 0 => tracing::debug!(instances = n, "deleted instances purged"),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => faults.record(Fault::StoreWriteFailed, format!("purge: {e}")),
            Err(e) => faults.record(Fault::StoreWriteFailed, format!("purge task: {e}")),
        }
        tokio::select! {
            _ = &mut stop => return,
            _ = wake.notified() => {}
        }
    }
}
