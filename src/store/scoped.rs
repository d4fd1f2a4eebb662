//! One instance's slice of a shared tree: every key starts with the instance's 16-byte id.
//!
//! Why shared trees: sled rewrites its directory of trees as trees are created, so one set of
//! trees per instance made the disk grow with the square of the number of instances (5.5 GB at
//! 5,000 instances). A fixed set of trees with instance-prefixed keys keeps disk per instance
//! flat, and an instance's data is still one contiguous key range: deleting it is a range
//! delete ([`purge_prefix`]), done in bounded batches in the background.
//!
//! [`Scoped`] offers the few sled operations its users need, with the prefix added on the way in
//! and stripped on the way out, so code written against one instance's tree reads the same.

use sled::IVec;
use uuid::Uuid;

use super::StoreError;

/// Length of the instance prefix of every key in a shared tree.
pub const PREFIX_LEN: usize = 16;

/// The key `prefix ++ rest`.
pub fn prefixed(instance: Uuid, rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(PREFIX_LEN + rest.len());
    k.extend_from_slice(instance.as_bytes());
    k.extend_from_slice(rest);
    k
}

/// One instance's rows of a shared tree.
#[derive(Clone)]
pub struct Scoped {
    tree: sled::Tree,
    instance: Uuid,
}

/// A batch of writes to one [`Scoped`] tree, applied atomically.
pub struct ScopedBatch {
    instance: Uuid,
    inner: sled::Batch,
}

impl ScopedBatch {
    pub fn insert(&mut self, key: impl AsRef<[u8]>, value: impl Into<IVec>) {
        self.inner
            .insert(prefixed(self.instance, key.as_ref()), value);
    }

    pub fn remove(&mut self, key: impl AsRef<[u8]>) {
        self.inner.remove(prefixed(self.instance, key.as_ref()));
    }
}

impl Scoped {
    pub(crate) fn new(tree: sled::Tree, instance: Uuid) -> Scoped {
        Scoped { tree, instance }
    }

    fn key(&self, rest: &[u8]) -> Vec<u8> {
        prefixed(self.instance, rest)
    }

    pub fn batch(&self) -> ScopedBatch {
        ScopedBatch {
            instance: self.instance,
            inner: sled::Batch::default(),
        }
    }

    pub fn apply_batch(&self, batch: ScopedBatch) -> Result<(), sled::Error> {
        self.tree.apply_batch(batch.inner)
    }

    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<IVec>, sled::Error> {
        self.tree.get(self.key(key.as_ref()))
    }

    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool, sled::Error> {
        self.tree.contains_key(self.key(key.as_ref()))
    }

    pub fn insert(
        &self,
        key: impl AsRef<[u8]>,
        value: impl Into<IVec>,
    ) -> Result<Option<IVec>, sled::Error> {
        self.tree.insert(self.key(key.as_ref()), value)
    }

    pub fn remove(&self, key: impl AsRef<[u8]>) -> Result<Option<IVec>, sled::Error> {
        self.tree.remove(self.key(key.as_ref()))
    }

    pub fn update_and_fetch<V: Into<IVec>>(
        &self,
        key: impl AsRef<[u8]>,
        f: impl FnMut(Option<&[u8]>) -> Option<V>,
    ) -> Result<Option<IVec>, sled::Error> {
        self.tree.update_and_fetch(self.key(key.as_ref()), f)
    }

    pub fn compare_and_swap<O: AsRef<[u8]>, N: Into<IVec>>(
        &self,
        key: impl AsRef<[u8]>,
        old: Option<O>,
        new: Option<N>,
    ) -> Result<Result<(), sled::CompareAndSwapError>, sled::Error> {
        self.tree.compare_and_swap(self.key(key.as_ref()), old, new)
    }

    /// Rows whose key (without the instance prefix) starts with `prefix`; the keys yielded are
    /// without the instance prefix.
    pub fn scan_prefix<P: AsRef<[u8]>>(
        &self,
        prefix: P,
    ) -> impl DoubleEndedIterator<Item = Result<(IVec, IVec), sled::Error>> + use<P> {
        self.tree
            .scan_prefix(self.key(prefix.as_ref()))
            .map(|r| r.map(|(k, v)| (k.subslice(PREFIX_LEN, k.len() - PREFIX_LEN), v)))
    }
}

/// Deletes up to `max` rows of `instance` from `tree`; returns how many went. Called until it
/// returns less than `max`, so a huge instance never makes one huge batch.
pub(crate) fn purge_prefix(
    tree: &sled::Tree,
    instance: Uuid,
    max: usize,
) -> Result<usize, StoreError> {
    let mut batch = sled::Batch::default();
    let mut n = 0;
    for r in tree.scan_prefix(instance.as_bytes()).keys().take(max) {
        batch.remove(r?);
        n += 1;
    }
    if n > 0 {
        tree.apply_batch(batch)?;
    }
    Ok(n)
}
