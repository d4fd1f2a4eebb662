//! The `keys` tree: scoped API key id (uuid, 16 bytes) -> [`KeyRecord`]. The secret itself is
//! never stored: only its SHA-256, so a copy of the data dir does not hand out access. Every
//! record is also held in memory (there are a few keys, not thousands) so a request's key is
//! matched without a disk read, and a revocation is seen by the very next request.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::{Store, StoreError, decode, encode};

/// The tree's name, part of the fixed set. Not `keys`: that is the Signal store's tree (a first
/// version shared it, read every Signal key as an unreadable API key at start-up and logged
/// each one, which blocked the start of a server whose stderr nobody read yet).
pub const TREE: &str = "api_keys";

/// What a key may reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum KeyScope {
    /// The instances this key creates (their `owner` is the key's id).
    Tenant,
    /// These instances, by name, whoever created them. Such a key creates nothing.
    Instances { names: Vec<String> },
}

/// One chat list on one instance: the key may act only on these chats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatScope {
    pub instance: String,
    pub jids: Vec<String>,
}

/// A scoped key, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyRecord {
    pub id: Uuid,
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub scope: KeyScope,
    pub read_only: bool,
    #[serde(default)]
    pub chats: Option<ChatScope>,
    /// SHA-256 of the secret.
    hash: [u8; 32],
}

impl KeyRecord {
    /// Whether this key reaches the instance `name` owned by `owner`.
    pub fn reaches(&self, name: &str, owner: Option<Uuid>) -> bool {
        let scoped = match &self.scope {
            KeyScope::Tenant => owner == Some(self.id),
            KeyScope::Instances { names } => names.iter().any(|n| n == name),
        };
        scoped && self.chats.as_ref().is_none_or(|c| c.instance == name)
    }
}

/// The secret's fixed prefix: it tells a scoped key from an instance token at a glance (logs
/// never show keys, but people paste them).
const PREFIX: &str = "zgk_";

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Typed access to the `keys` tree, with the in-memory copy the request path reads.
#[derive(Clone)]
pub struct KeyRepo {
    store: Store,
    tree: sled::Tree,
    cache: Arc<RwLock<Vec<KeyRecord>>>,
}

/// What creating a key needs.
pub struct NewKey {
    pub label: String,
    pub scope: KeyScope,
    pub read_only: bool,
    pub chats: Option<ChatScope>,
}

impl KeyRepo {
    /// Opens the tree and loads every readable record (an unreadable one is skipped and
    /// reported: it then matches no request, the safe side).
    pub fn new(store: &Store) -> Result<Self, StoreError> {
        let tree = store.tree(TREE)?;
        let mut all = Vec::new();
        for item in tree.iter() {
            let (key, value) = item?;
            match decode::<KeyRecord>(&value) {
                Ok(rec) => all.push(rec),
                Err(e) => tracing::error!(key = ?key, error = %e, "skipping unreadable key record"),
            }
        }
        all.sort_by_key(|r| r.created_at);
        Ok(KeyRepo {
            store: store.clone(),
            tree,
            cache: Arc::new(RwLock::new(all)),
        })
    }

    /// Stores a new key durably; returns its record and the secret, which exists nowhere else.
    pub async fn create(&self, new: NewKey) -> Result<(KeyRecord, String), StoreError> {
        self.store.writable()?;
        let id = Uuid::now_v7();
        let secret = format!(
            "{PREFIX}{}{}",
            Uuid::new_v4().simple(),
            Uuid::new_v4().simple()
        );
        let rec = KeyRecord {
            id,
            label: new.label,
            created_at: Utc::now(),
            scope: new.scope,
            read_only: new.read_only,
            chats: new.chats,
            hash: digest(&secret),
        };
        self.tree.insert(id.as_bytes(), encode(&rec)?)?;
        self.store.sync().await?;
        self.cache.write().push(rec.clone());
        Ok((rec, secret))
    }

    /// Every key, oldest first.
    pub fn all(&self) -> Vec<KeyRecord> {
        self.cache.read().clone()
    }

    /// Removes a key: refused from the next request on (the memory copy goes first). `false`
    /// when there was no such key.
    pub async fn revoke(&self, id: Uuid) -> Result<bool, StoreError> {
        let known = {
            let mut cache = self.cache.write();
            let before = cache.len();
            cache.retain(|r| r.id != id);
            cache.len() != before
        };
        self.tree.remove(id.as_bytes())?;
        self.store.sync().await?;
        Ok(known)
    }

    /// The key whose secret `secret` is. Every record's hash is compared, in constant time, so
    /// timing does not tell which (if any) matched.
    pub fn find(&self, secret: &str) -> Option<KeyRecord> {
        if !secret.starts_with(PREFIX) {
            return None;
        }
        let hash = digest(secret);
        let mut found = None;
        for rec in self.cache.read().iter() {
            if bool::from(rec.hash.ct_eq(&hash)) && found.is_none() {
                found = Some(rec.clone());
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_is_shared_with_no_instance_data() {
        assert!(!crate::store::purge::INSTANCE_TREES.contains(&TREE));
    }

    #[tokio::test]
    async fn stores_only_a_hash_and_revokes_at_once() {
        let store = Store::temporary().unwrap();
        let repo = KeyRepo::new(&store).unwrap();
        let (rec, secret) = repo
            .create(NewKey {
                label: "a".into(),
                scope: KeyScope::Tenant,
                read_only: false,
                chats: None,
            })
            .await
            .unwrap();
        let raw = store.tree(TREE).unwrap().get(rec.id.as_bytes()).unwrap();
        let raw = String::from_utf8_lossy(&raw.unwrap()).into_owned();
        assert!(
            !raw.contains(&secret[PREFIX.len()..]),
            "secret stored: {raw}"
        );
        assert_eq!(repo.find(&secret).map(|r| r.id), Some(rec.id));
        assert!(repo.find("zgk_nope").is_none());
        // A reopened repo reads the same record.
        assert_eq!(
            KeyRepo::new(&store).unwrap().find(&secret).map(|r| r.id),
            Some(rec.id)
        );
        assert!(repo.revoke(rec.id).await.unwrap());
        assert!(repo.find(&secret).is_none());
        assert!(!repo.revoke(rec.id).await.unwrap());
    }

    #[test]
    fn scope_reaches() {
        let mut rec = KeyRecord {
            id: Uuid::now_v7(),
            label: String::new(),
            created_at: Utc::now(),
            scope: KeyScope::Tenant,
            read_only: false,
            chats: None,
            hash: [0; 32],
        };
        assert!(rec.reaches("x", Some(rec.id)));
        assert!(!rec.reaches("x", None));
        assert!(!rec.reaches("x", Some(Uuid::now_v7())));
        rec.scope = KeyScope::Instances {
            names: vec!["x".into()],
        };
        assert!(rec.reaches("x", None));
        assert!(!rec.reaches("y", None));
        rec.chats = Some(ChatScope {
            instance: "y".into(),
            jids: vec![],
        });
        assert!(!rec.reaches("x", None));
    }
}
