//! The chat history: messages, chats, contacts and receipts of every instance, in shared trees
//! whose keys start with the instance's 16-byte id (`I` below). Every change to a message goes
//! through one method here and is written, with the outbox rows announcing it, in one sled
//! transaction: after a crash either the message, its chat row, its contact, its counters and
//! its events all exist, or none do.
//!
//! Key layouts (`ts` = u64 seconds BE, `ms` = u64 milliseconds BE, `\0` = NUL, JIDs and message
//! ids never contain one):
//! - `msgs`: `I ts id` -> [`StoredMessage`]: every message, in time order (retention, unfiltered
//!   pages).
//! - `msg_ids`: `I id` -> `ts jid` (where the message is), or empty for an edit or a delete that
//!   was handled (so a redelivery is recognised).
//! - `chat_msgs`: `I jid \0 ts id` -> empty: one chat's messages in time order.
//! - `chats`: `I jid` -> [`ChatRow`].
//! - `chat_activity`: `I ts jid` -> empty: chats by last activity.
//! - `contacts`: `I jid` -> [`ContactRow`].
//! - `receipts`: `I jid \0 id \0 ms status` -> [`ReceiptRow`].
//! - `counts`: `I m|c|k` -> u64 BE: messages, chats, contacts.
//!
//! Values: one version byte, then postcard (compact, no field names).

mod query;
mod retention;
mod write;

#[cfg(test)]
mod history_tests;

pub mod model;

use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

pub use model::{ChatRow, ContactRow, Counts, Origin, ReceiptRow, Status, StoredMessage};
pub use query::{ChatFilter, MessageFilter, Page};
pub use write::Change;

use super::scoped::prefixed;
use super::{Store, StoreError};

pub const MESSAGES: &str = "msgs";
pub const MESSAGE_IDS: &str = "msg_ids";
pub const CHAT_MESSAGES: &str = "chat_msgs";
pub const CHATS: &str = "chats";
pub const CHAT_ACTIVITY: &str = "chat_activity";
pub const CONTACTS: &str = "contacts";
pub const RECEIPTS: &str = "receipts";
pub const COUNTS: &str = "counts";

/// Value encoding version of history rows.
const ROW_V1: u8 = 1;

fn encode_row<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![ROW_V1];
    postcard::to_io(v, &mut out).map_err(|e| StoreError::Encoding(e.to_string()))?;
    Ok(out)
}

fn decode_row<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&ROW_V1, rest)) => {
            postcard::from_bytes(rest).map_err(|e| StoreError::Encoding(e.to_string()))
        }
        Some((&v, _)) => Err(StoreError::Version(v)),
        None => Err(StoreError::Version(0)),
    }
}

/// `ts id`: a message's key in `msgs` (without the instance).
fn msg_key(ts: u64, id: &str) -> Vec<u8> {
    let mut k = ts.to_be_bytes().to_vec();
    k.extend_from_slice(id.as_bytes());
    k
}

/// `jid \0`: the start of one chat's rows in `chat_msgs` and `receipts`.
fn chat_prefix(jid: &str) -> Vec<u8> {
    let mut k = jid.as_bytes().to_vec();
    k.push(0);
    k
}

/// `jid \0 ts id`: a message's key in `chat_msgs`.
fn chat_msg_key(jid: &str, ts: u64, id: &str) -> Vec<u8> {
    let mut k = chat_prefix(jid);
    k.extend_from_slice(&msg_key(ts, id));
    k
}

/// `ts jid`: a chat's key in `chat_activity`.
fn activity_key(ts: u64, jid: &str) -> Vec<u8> {
    let mut k = ts.to_be_bytes().to_vec();
    k.extend_from_slice(jid.as_bytes());
    k
}

/// `jid \0 id \0`: the receipts of one message.
fn receipt_prefix(jid: &str, id: &str) -> Vec<u8> {
    let mut k = chat_prefix(jid);
    k.extend_from_slice(id.as_bytes());
    k.push(0);
    k
}

/// Where `msg_ids` says a message is: `(ts, jid)`; `None` for a handled-edit marker.
fn locate(v: &[u8]) -> Option<(u64, String)> {
    let (ts, jid) = v.split_first_chunk::<8>()?;
    Some((
        u64::from_be_bytes(*ts),
        String::from_utf8_lossy(jid).into_owned(),
    ))
}

fn location(ts: u64, jid: &str) -> Vec<u8> {
    let mut v = ts.to_be_bytes().to_vec();
    v.extend_from_slice(jid.as_bytes());
    v
}

fn counter(v: Option<&[u8]>) -> u64 {
    v.and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

/// The trees of the history, opened once and shared by every instance's [`HistoryRepo`].
#[derive(Clone)]
pub struct HistoryTrees {
    msgs: sled::Tree,
    ids: sled::Tree,
    chat_msgs: sled::Tree,
    chats: sled::Tree,
    activity: sled::Tree,
    contacts: sled::Tree,
    receipts: sled::Tree,
    counts: sled::Tree,
}

impl HistoryTrees {
    pub fn open(store: &Store) -> Result<HistoryTrees, StoreError> {
        Ok(HistoryTrees {
            msgs: store.tree(MESSAGES)?,
            ids: store.tree(MESSAGE_IDS)?,
            chat_msgs: store.tree(CHAT_MESSAGES)?,
            chats: store.tree(CHATS)?,
            activity: store.tree(CHAT_ACTIVITY)?,
            contacts: store.tree(CONTACTS)?,
            receipts: store.tree(RECEIPTS)?,
            counts: store.tree(COUNTS)?,
        })
    }

    /// One instance's history.
    pub fn repo(&self, store: &Store, instance: Uuid) -> HistoryRepo {
        HistoryRepo {
            trees: self.clone(),
            store: store.clone(),
            instance,
        }
    }
}

/// One instance's history. Cheap to clone.
#[derive(Clone)]
pub struct HistoryRepo {
    trees: HistoryTrees,
    store: Store,
    instance: Uuid,
}

impl HistoryRepo {
    fn key(&self, rest: &[u8]) -> Vec<u8> {
        prefixed(self.instance, rest)
    }

    /// Whether a message (or a handled edit or delete) with this id is stored.
    pub fn contains(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.trees.ids.contains_key(self.key(id.as_bytes()))?)
    }

    pub fn get(&self, id: &str) -> Result<Option<StoredMessage>, StoreError> {
        let Some(loc) = self.trees.ids.get(self.key(id.as_bytes()))? else {
            return Ok(None);
        };
        let Some((ts, _)) = locate(&loc) else {
            return Ok(None);
        };
        match self.trees.msgs.get(self.key(&msg_key(ts, id)))? {
            Some(v) => Ok(Some(decode_row(&v)?)),
            None => Ok(None),
        }
    }

    pub fn counts(&self) -> Result<Counts, StoreError> {
        let get = |tag: &[u8]| -> Result<u64, StoreError> {
            Ok(counter(self.trees.counts.get(self.key(tag))?.as_deref()))
        };
        Ok(Counts {
            messages: get(b"m")?,
            chats: get(b"c")?,
            contacts: get(b"k")?,
        })
    }

    pub fn chat(&self, jid: &str) -> Result<Option<ChatRow>, StoreError> {
        match self.trees.chats.get(self.key(jid.as_bytes()))? {
            Some(v) => Ok(Some(decode_row(&v)?)),
            None => Ok(None),
        }
    }

    pub fn contact(&self, jid: &str) -> Result<Option<ContactRow>, StoreError> {
        match self.trees.contacts.get(self.key(jid.as_bytes()))? {
            Some(v) => Ok(Some(decode_row(&v)?)),
            None => Ok(None),
        }
    }
}
