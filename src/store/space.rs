//! The free-space floor. sled 0.34 does not recover from a failed write (ENOSPC included): every
//! later write fails until the process restarts. So writes are refused *before* the disk is
//! full: a watcher measures the data dir every [`CHECK_EVERY`], and while it is below its floor
//! [`Store::writable`](super::Store::writable) fails with [`StoreError::NoSpace`] (HTTP 507),
//! `/health` shows `storageLow`, and as soon as space returns writes are accepted again, without
//! a restart.
//!
//! Two floors, either or both: free bytes on the data dir's filesystem (`ZAPGATE_MIN_FREE_MB`,
//! statvfs), and a quota on the bytes the data dir holds (`ZAPGATE_MAX_DATA_MB`, a walk of the
//! directory; for a data dir that shares a disk with other services).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use std::time::Duration;

use crate::health::{Fault, Faults};

/// How often the watcher measures.
pub const CHECK_EVERY: Duration = Duration::from_millis(500);
const MB: u64 = 1024 * 1024;

/// The floors, from the configuration. Zero switches one off.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpaceLimits {
    pub min_free_mb: u64,
    pub max_data_mb: u64,
}

/// The watcher's verdict, read on every guarded write (one atomic load).
#[derive(Debug, Default)]
pub(super) struct SpaceGuard {
    low: AtomicBool,
    reason: Mutex<String>,
}

impl SpaceGuard {
    /// `Some(reason)` while writes are refused.
    pub(super) fn refusal(&self) -> Option<String> {
        if !self.low.load(Ordering::Acquire) {
            return None;
        }
        Some(self.reason.lock().clone())
    }

    fn update(&self, faults: &Faults, verdict: Option<String>) {
        match verdict {
            Some(reason) => {
                {
                    let mut r = self.reason.lock();
                    *r = reason.clone();
                }
                self.low.store(true, Ordering::Release);
                if faults.set(Fault::StorageLow, true, reason.clone()) {
                    tracing::warn!(%reason, "storage below its floor: writes are refused (507) until space returns");
                }
            }
            None => {
                self.low.store(false, Ordering::Release);
                if faults.set(Fault::StorageLow, false, "") {
                    tracing::info!("storage back above its floor: writes accepted again");
                }
            }
        }
    }
}

/// Measures once: `Some(reason)` when a floor is crossed.
fn measure(dir: &Path, limits: SpaceLimits) -> Option<String> {
    if limits.min_free_mb > 0 {
        match fs2::available_space(dir) {
            Ok(free) if free < limits.min_free_mb * MB => {
                return Some(format!(
                    "free space on the data dir's filesystem is {} MB, below ZAPGATE_MIN_FREE_MB={}",
                    free / MB,
                    limits.min_free_mb
                ));
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not measure free space"),
        }
    }
    if limits.max_data_mb > 0 {
        let used = dir_bytes(dir);
        if used >= limits.max_data_mb * MB {
            return Some(format!(
                "the data dir holds {} MB, at or above ZAPGATE_MAX_DATA_MB={}",
                used / MB,
                limits.max_data_mb
            ));
        }
    }
    None
}

/// Bytes of every regular file under `dir` (sled keeps a handful of files plus large blobs).
fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// Measures now (so a server started on a full disk refuses writes from its first request),
/// then keeps measuring in the background until the guard's last user is gone.
pub(super) fn watch(
    dir: PathBuf,
    limits: SpaceLimits,
    guard: Arc<SpaceGuard>,
    faults: Arc<Faults>,
) {
    if limits.min_free_mb == 0 && limits.max_data_mb == 0 {
        return;
    }
    guard.update(&faults, measure(&dir, limits));
    let weak = Arc::downgrade(&guard);
    drop(guard);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECK_EVERY);
        loop {
            tick.tick().await;
            let Some(guard) = weak.upgrade() else { return };
            let d = dir.clone();
            let verdict = tokio::task::spawn_blocking(move || measure(&d, limits))
                .await
                .unwrap_or(None);
            guard.update(&faults, verdict);
        }
    });
}
