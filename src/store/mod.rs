//! Storage: one sled database for the whole process, split into trees.
//!
//! A fixed set of trees, whatever the number of instances: `instances` (instance id -> record),
//! `meta` (counters), `keys` (scoped API keys, [`keys`]), the outbox trees, and the shared per-instance trees listed in
//! [`purge::INSTANCE_TREES`] (Signal keys, history...) whose keys start with the instance's
//! 16-byte id ([`scoped`]). Deleting an instance queues a background range delete ([`purge`]).
//! Databases of the earlier layout (trees `i/<id>/<kind>`) are moved over at open ([`migrate`]).
//!
//! Durability: sled's own background flush runs every 500 ms; writes that must survive a crash
//! (instance creation, pairing keys, outbox rows) await [`Store::sync`], a group commit served by
//! a single flusher task. One flusher because concurrent `flush_async` calls deadlock in sled
//! 0.34 (spacejam/sled#1308); one fsync then answers every writer that was waiting.
//!
//! No sled type leaves this module tree: the rest of the server sees typed repositories.

pub mod compact;
pub mod dead_letters;
pub mod history;
pub mod instances;
pub mod keys;
mod migrate;
pub mod outbox;
mod outbox_row;
pub mod purge;
pub mod scoped;
pub mod signal;
pub mod space;
pub mod transports;

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::health::{Fault, Faults};
use space::{SpaceGuard, SpaceLimits};

/// Value encoding version, the first byte of every stored value.
const VALUE_V1: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    #[error("stored value could not be decoded: {0}")]
    Codec(#[from] serde_json::Error),
    #[error("stored row could not be encoded or decoded: {0}")]
    Encoding(String),
    #[error("stored value has unknown version {0}")]
    Version(u8),
    #[error("the storage flusher has stopped")]
    Closed,
    /// The data dir is below its free-space floor: the write was not attempted.
    #[error("insufficient storage: {0}")]
    NoSpace(String),
    /// A row names an endpoint whose target is not stored (the row is quarantined).
    #[error("outbox row refers to an unknown endpoint {0}")]
    UnknownEndpoint(String),
}

type FlushReply = oneshot::Sender<Result<(), StoreError>>;

/// Cheap-to-clone handle on the database.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    /// Requests for a durable barrier; the flusher answers them in batches.
    flush_tx: mpsc::Sender<FlushReply>,
    /// The flusher task and its stop signal, taken by `close`.
    flusher: Arc<parking_lot::Mutex<Option<FlusherHandle>>>,
    /// The free-space floor's verdict (see [`space`]).
    space: Arc<SpaceGuard>,
    /// The process's fault board; here because every layer holds a store handle.
    faults: Arc<Faults>,
    /// Wakes the purger of deleted instances.
    purge_wake: Arc<tokio::sync::Notify>,
    purger: Arc<parking_lot::Mutex<Option<purge::PurgerHandle>>>,
}

struct FlusherHandle {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

/// sled's configuration for the database at `path`. Compression (zstd over every page sled
/// writes) is fixed when a database is created: sled refuses to open one with the other
/// setting. An existing database is therefore opened with the setting its `conf` file records,
/// and `compress_new` applies only to a database created now (`zapgate compact` writes a new one,
/// which is how an existing data dir changes setting). Compression is off by default: sled
/// compresses every page fragment it logs with a fresh zstd context, which halved sendText
/// throughput where it cut disk by three to four (figures in the README's Storage section).
pub(crate) fn config_for(path: &Path, compress_new: bool) -> sled::Config {
    let compress = match std::fs::read(path.join("conf")) {
        // `use_compression: true` is a line of sled's text header (a binary checksum follows
        // it, so the file is not UTF-8); no such line means off.
        Ok(conf) => conf
            .split(|&b| b == b'\n')
            .any(|l| l == b"use_compression: true"),
        Err(_) => compress_new,
    };
    sled::Config::new().path(path).use_compression(compress)
}

impl Store {
    /// Opens (or creates) the database in `dir`, a new one uncompressed (the server's default).
    /// Must run inside a tokio runtime.
    pub fn open(dir: &Path, cache_mb: u64) -> Result<Store, StoreError> {
        Self::open_with(dir, cache_mb, false)
    }

    /// Opens (or creates) the database in `dir`; `compress_new` says whether a database created
    /// here compresses its pages (an existing one keeps what it was created with: see
    /// [`config_for`]). Must run inside a tokio runtime.
    pub fn open_with(dir: &Path, cache_mb: u64, compress_new: bool) -> Result<Store, StoreError> {
        compact::recover(dir)?;
        let db = config_for(&dir.join("db"), compress_new)
            .cache_capacity(cache_mb.max(8) * 1024 * 1024)
            .flush_every_ms(Some(500))
            .open()?;
        let store = Self::with_db(db);
        migrate::from_tree_per_instance(&store)?;
        Ok(store)
    }

    /// A throw-away database (spec generation, unit tests). Must run inside a tokio runtime.
    pub fn temporary() -> Result<Store, StoreError> {
        Ok(Self::with_db(sled::Config::new().temporary(true).open()?))
    }

    fn with_db(db: sled::Db) -> Store {
        // Bounded: a writer that cannot queue its barrier waits, which is the back-pressure we want.
        let (flush_tx, flush_rx) = mpsc::channel(4096);
        let (stop, stop_rx) = oneshot::channel();
        let faults = Arc::new(Faults::default());
        let task = tokio::spawn(flusher(db.clone(), flush_rx, stop_rx, faults.clone()));
        let purge_wake = Arc::new(tokio::sync::Notify::new());
        let (purge_stop, purge_stop_rx) = oneshot::channel();
        let purge_task = tokio::spawn(purge::purger(
            db.clone(),
            purge_wake.clone(),
            purge_stop_rx,
            faults.clone(),
        ));
        Store {
            db,
            flush_tx,
            flusher: Arc::new(parking_lot::Mutex::new(Some(FlusherHandle { stop, task }))),
            space: Arc::new(SpaceGuard::default()),
            faults,
            purge_wake,
            purger: Arc::new(parking_lot::Mutex::new(Some(purge::PurgerHandle {
                stop: purge_stop,
                task: purge_task,
            }))),
        }
    }

    /// Starts the free-space floor over `dir` (the data dir). Until called, writes are never
    /// refused (spec generation, unit tests).
    pub fn watch_space(&self, dir: &Path, limits: SpaceLimits) {
        space::watch(
            dir.to_path_buf(),
            limits,
            self.space.clone(),
            self.faults.clone(),
        );
    }

    /// Fails with [`StoreError::NoSpace`] while the data dir is below its floor. Checked before
    /// every write a client or a peer causes (sends, stored messages, outbox rows, instances);
    /// deletes and delivery bookkeeping are not refused, so space can be freed.
    pub fn writable(&self) -> Result<(), StoreError> {
        match self.space.refusal() {
            Some(reason) => Err(StoreError::NoSpace(reason)),
            None => Ok(()),
        }
    }

    /// The process's fault board (`/health`).
    pub fn faults(&self) -> &Arc<Faults> {
        &self.faults
    }

    /// Waits until every write made before this call is on disk.
    pub async fn sync(&self) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        self.flush_tx
            .send(tx)
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Final flush; afterwards the handle still reads but `sync` fails.
    pub async fn close(&self) {
        let purger = self.purger.lock().take();
        if let Some(p) = purger {
            let _ = p.stop.send(());
            let _ = p.task.await;
        }
        let _ = self.sync().await;
        // Stopped between batches, never aborted: an aborted flusher would leave its blocking
        // flush running with a database handle, and the directory lock held after close.
        let handle = self.flusher.lock().take();
        if let Some(h) = handle {
            let _ = h.stop.send(());
            let _ = h.task.await;
        }
        let db = self.db.clone();
        let _ = tokio::task::spawn_blocking(move || db.flush()).await;
    }

    pub(crate) fn tree(&self, name: &str) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(name)?)
    }

    /// One instance's rows of the shared tree `name`.
    pub(crate) fn scoped(&self, name: &str, instance: Uuid) -> Result<scoped::Scoped, StoreError> {
        Ok(scoped::Scoped::new(self.tree(name)?, instance))
    }

    /// Queues the removal of every row of `id` (the instance record is the caller's) and wakes
    /// the purger. Durable after the next [`sync`](Self::sync).
    pub fn schedule_purge(&self, id: Uuid) -> Result<(), StoreError> {
        self.tree(purge::PURGE_TREE)?
            .insert(id.as_bytes(), &[][..])?;
        self.purge_wake.notify_one();
        Ok(())
    }

    /// Wipes the engine keys of one instance (logout), keeping its history. Small (a few
    /// thousand rows at most), so done at once.
    pub fn purge_session_keys(&self, id: Uuid) -> Result<(), StoreError> {
        for name in [signal::TREE, "loopback.sessions"] {
            let tree = self.tree(name)?;
            while scoped::purge_prefix(&tree, id, 4096)? == 4096 {}
        }
        Ok(())
    }

    /// Rows stored for `id` in each per-instance tree that has any (tests and diagnostics).
    pub fn instance_rows(&self, id: Uuid) -> Result<Vec<(&'static str, usize)>, StoreError> {
        let mut out = Vec::new();
        for name in purge::INSTANCE_TREES {
            let n = self.tree(name)?.scan_prefix(id.as_bytes()).count();
            if n > 0 {
                out.push((*name, n));
            }
        }
        Ok(out)
    }

    /// Whether deleted instances are still waiting to be purged.
    pub fn purge_pending(&self) -> Result<bool, StoreError> {
        Ok(!self.tree(purge::PURGE_TREE)?.is_empty())
    }

    /// Names of all trees (tests: the set must not grow with instances).
    pub fn tree_count(&self) -> usize {
        self.db.tree_names().len()
    }

    /// Atomically increments a counter in the `meta` tree and returns the new value.
    pub fn next_counter(&self, name: &str) -> Result<u64, StoreError> {
        let meta = self.tree("meta")?;
        let next = meta.update_and_fetch(name, |old| {
            let n = old
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes)
                .unwrap_or(0);
            Some((n + 1).to_be_bytes().to_vec())
        })?;
        Ok(next
            .and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(1))
    }

    /// Approximate bytes on disk, for /health.
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }
}

async fn flusher(
    db: sled::Db,
    mut rx: mpsc::Receiver<FlushReply>,
    mut stop: oneshot::Receiver<()>,
    faults: Arc<Faults>,
) {
    loop {
        let (first, last) = tokio::select! {
            biased;
            // Barriers queued before the stop get one last flush instead of an error.
            _ = &mut stop => match rx.try_recv() {
                Ok(first) => (first, true),
                Err(_) => return,
            },
            next = rx.recv() => match next {
                Some(first) => (first, false),
                None => return,
            },
        };
        let mut waiting = vec![first];
        while let Ok(more) = rx.try_recv() {
            waiting.push(more);
        }
        let db = db.clone();
        let result = tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|_| StoreError::Closed)
            .and_then(|r| r.map(|_| ()).map_err(StoreError::from));
        if let Err(e) = &result {
            faults.record(Fault::StoreWriteFailed, format!("flush: {e}"));
        }
        for w in waiting {
            let _ = w.send(match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(StoreError::Sled(sled::Error::Unsupported(e.to_string()))),
            });
        }
        if last {
            return;
        }
    }
}

/// Encodes a value with its version byte.
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![VALUE_V1];
    serde_json::to_writer(&mut out, value)?;
    Ok(out)
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&VALUE_V1, rest)) => Ok(serde_json::from_slice(rest)?),
        Some((&v, _)) => Err(StoreError::Version(v)),
        None => Err(StoreError::Version(0)),
    }
}
