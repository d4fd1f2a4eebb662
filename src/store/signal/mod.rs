//! whatsapp-rust's storage traits (`SignalStore`, `AppSyncStore`, `ProtocolStore`,
//! `MsgSecretStore`, `DeviceStore`, together `Backend`) on sled, one [`SledBackend`] per instance.
//!
//! Every instance's rows live in the shared tree `keys`, under the instance's 16-byte id
//! ([`Scoped`]), so [`Store::purge_session_keys`] wipes them with a range delete and leaves the
//! history alone. Inside that range each logical table is a one-byte tag ([`Table`]) followed by
//! the table's key; the layout of every table is written next to its tag. Multi-part keys are joined
//! with a NUL byte (JIDs, message ids and collection names never contain one) and only the last
//! part may be binary, so prefix scans (`group\0`, `name\0`) are exact.
//!
//! Durability: whatsapp-rust treats an `Ok` from a Signal write as durable (it may put the
//! derived key on the wire right after). Every write in [`Durability::Flushed`] territory
//! (Signal keys, the device, app-state sync keys, the pending-inbound buffer) awaits
//! [`Store::sync`], the process-wide group commit, before returning. Caches the client can
//! rebuild from the server (device lists, LID mappings, tokens, app-state MACs, ...) are left to
//! sled's periodic flush; sled recovers to a consistent prefix of writes after a crash.
//!
//! This module must not hold any state of its own beyond the tree handle: two backends over the
//! same instance id see the same data.

mod app_sync;
mod device;
mod inbound;
mod msg_secret;
mod protocol;
mod signal_keys;

use std::sync::Arc;

use uuid::Uuid;
use whatsapp_rust::wacore::store::error::StoreError as WaStoreError;

use super::scoped::{Scoped, ScopedBatch};
use super::{Store, StoreError};

/// The shared tree holding every instance's keys.
pub const TREE: &str = "keys";

type WaResult<T> = Result<T, WaStoreError>;

/// One logical table inside the instance tree: the first byte of every key.
#[derive(Debug, Clone, Copy)]
#[repr(u8)]
pub(crate) enum Table {
    /// `D` -> the device record (`encode`d JSON of `wacore::store::Device`).
    Device = b'D',
    /// `M<name>` -> small metadata values (latest sync key id, device-row counter).
    Meta = b'M',
    /// `i<address>` -> 32-byte identity key.
    Identity = b'i',
    /// `s<address>` -> opaque session record. Addresses are `user@server` or `user:dev@server`.
    Session = b's',
    /// `p<id u32 BE>` -> `[uploaded: 0|1]` + opaque prekey record. BE ids make `last()` the max.
    PreKey = b'p',
    /// `S<id u32 BE>` -> opaque signed-prekey record.
    SignedPreKey = b'S',
    /// `k<address>` -> opaque sender-key record.
    SenderKey = b'k',
    /// `y<key id bytes>` -> JSON `AppStateSyncKey`.
    SyncKey = b'y',
    /// `v<collection>` -> JSON `HashState`.
    Version = b'v',
    /// `m<collection>\0<index mac>` -> value mac.
    MutationMac = b'm',
    /// `g<group jid>\0<device jid>` -> `[has_key: 0|1]`.
    SenderKeyDevice = b'g',
    /// `l<lid user>` -> JSON `LidPnMappingEntry`.
    Lid = b'l',
    /// `n<phone user>` -> lid user (reverse index of `l`).
    Pn = b'n',
    /// `b<address>\0<message id>` -> base key.
    BaseKey = b'b',
    /// `d<user>` -> JSON `DeviceListRecord`.
    DeviceList = b'd',
    /// `G<group jid>` -> opaque group metadata blob.
    GroupMeta = b'G',
    /// `t<jid>` -> JSON `TcTokenEntry`.
    TcToken = b't',
    /// `o<chat>\0<message id>` -> `[stored_at i64 BE]` + payload.
    SentMessage = b'o',
    /// `r<chat>\0<sender>\0<id>` -> `[stored_at i64 BE]` + decrypted message.
    PendingInbound = b'r',
    /// `x<chat>\0<sender>\0<id>` -> `[secret 32][expires_at i64 BE][message_ts i64 BE]`.
    MsgSecret = b'x',
}

impl Table {
    /// The key of a row: tag, then the parts joined by NUL.
    pub(crate) fn key(self, parts: &[&[u8]]) -> Vec<u8> {
        let len = 1 + parts.iter().map(|p| p.len() + 1).sum::<usize>();
        let mut k = Vec::with_capacity(len);
        k.push(self as u8);
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                k.push(0);
            }
            k.extend_from_slice(p);
        }
        k
    }

    /// The prefix of every row whose leading parts are `parts` (trailing NUL included).
    pub(crate) fn prefix(self, parts: &[&[u8]]) -> Vec<u8> {
        let mut k = self.key(parts);
        if !parts.is_empty() {
            k.push(0);
        }
        k
    }

    /// Just the tag: every row of the table.
    pub(crate) fn all(self) -> [u8; 1] {
        [self as u8]
    }
}

/// Whether a write must be on disk before it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// Awaits the group commit ([`Store::sync`]).
    Flushed,
    /// Left to sled's periodic flush: data the client can fetch again.
    Lazy,
}

/// whatsapp-rust's `Backend` for one instance. Cheap to clone; clones share the tree.
#[derive(Clone)]
pub struct SledBackend {
    store: Store,
    tree: Scoped,
    instance: Uuid,
}

impl SledBackend {
    /// Opens (creating if needed) the backend of `instance`.
    pub fn open(store: &Store, instance: Uuid) -> Result<SledBackend, StoreError> {
        Ok(SledBackend {
            tree: store.scoped(TREE, instance)?,
            store: store.clone(),
            instance,
        })
    }

    /// Wrapped for the client, which holds an `Arc<dyn Backend>`.
    pub fn into_arc(self) -> Arc<SledBackend> {
        Arc::new(self)
    }

    pub fn instance(&self) -> Uuid {
        self.instance
    }

    /// Whether a paired device (one with an account identity) is stored.
    pub fn is_paired(&self) -> Result<bool, StoreError> {
        Ok(self
            .load_device_record()?
            .is_some_and(|d| d.account.is_some() && d.pn.is_some()))
    }

    pub(crate) fn tree(&self) -> &Scoped {
        &self.tree
    }

    /// Makes preceding writes durable when `d` asks for it.
    pub(crate) async fn commit(&self, d: Durability) -> WaResult<()> {
        match d {
            Durability::Flushed => self.store.sync().await.map_err(db_err),
            Durability::Lazy => Ok(()),
        }
    }

    pub(crate) fn get(&self, key: &[u8]) -> WaResult<Option<sled::IVec>> {
        self.tree.get(key).map_err(db_err)
    }

    pub(crate) async fn insert(&self, key: Vec<u8>, value: &[u8], d: Durability) -> WaResult<()> {
        self.tree.insert(key, value).map_err(db_err)?;
        self.commit(d).await
    }

    pub(crate) async fn remove(&self, key: &[u8], d: Durability) -> WaResult<()> {
        self.tree.remove(key).map_err(db_err)?;
        self.commit(d).await
    }

    /// Applies a batch atomically, then commits.
    pub(crate) async fn apply(&self, batch: ScopedBatch, d: Durability) -> WaResult<()> {
        self.tree.apply_batch(batch).map_err(db_err)?;
        self.commit(d).await
    }

    /// Keys and values under `prefix`, with the prefix stripped from the keys.
    pub(crate) fn scan(&self, prefix: &[u8]) -> WaResult<Vec<(Vec<u8>, sled::IVec)>> {
        self.tree
            .scan_prefix(prefix)
            .map(|r| {
                r.map(|(k, v)| (k[prefix.len()..].to_vec(), v))
                    .map_err(db_err)
            })
            .collect()
    }

    /// Removes every row under `prefix` for which `pred(key_rest, value)` holds, in one atomic
    /// batch. Returns how many rows went.
    pub(crate) async fn remove_where(
        &self,
        prefix: &[u8],
        d: Durability,
        mut pred: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> WaResult<u32> {
        let mut batch = self.tree().batch();
        let mut n = 0u32;
        for r in self.tree.scan_prefix(prefix) {
            let (k, v) = r.map_err(db_err)?;
            if pred(&k[prefix.len()..], &v) {
                batch.remove(k);
                n += 1;
            }
        }
        if n > 0 {
            self.apply(batch, d).await?;
        }
        Ok(n)
    }
}

/// A stored value that has a `[stored_at i64 BE]` header.
pub(crate) fn stamped(at: i64, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + body.len());
    v.extend_from_slice(&at.to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// Splits a stamped value into its time and body; `None` for a truncated row.
pub(crate) fn unstamp(v: &[u8]) -> Option<(i64, &[u8])> {
    let (head, body) = v.split_first_chunk::<8>()?;
    Some((i64::from_be_bytes(*head), body))
}

pub(crate) fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

pub(crate) fn db_err(e: impl std::error::Error + Send + Sync + 'static) -> WaStoreError {
    WaStoreError::Database(Box::new(e))
}

pub(crate) fn ser_err(e: impl std::error::Error + Send + Sync + 'static) -> WaStoreError {
    WaStoreError::Serialization(Box::new(e))
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> WaResult<Vec<u8>> {
    super::encode(v).map_err(ser_err)
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(v: &[u8]) -> WaResult<T> {
    super::decode(v).map_err(ser_err)
}
