//! `SignalStore`: identities, sessions, prekeys, signed prekeys and sender keys. Every mutation is [`Durability::Flushed`]: whatsapp-rust puts keys
//! derived from these rows on the wire as soon as the call returns `Ok`.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use whatsapp_rust::wacore::store::traits::SignalStore;

use super::{Durability, SledBackend, Table, WaResult, db_err};

const FLUSHED: Durability = Durability::Flushed;

fn prekey_key(id: u32) -> Vec<u8> {
    Table::PreKey.key(&[&id.to_be_bytes()])
}

fn signed_prekey_key(id: u32) -> Vec<u8> {
    Table::SignedPreKey.key(&[&id.to_be_bytes()])
}

fn id_of(rest: &[u8]) -> Option<u32> {
    <[u8; 4]>::try_from(rest).ok().map(u32::from_be_bytes)
}

/// A prekey row: the uploaded flag, then the record.
fn prekey_value(record: &[u8], uploaded: bool) -> Vec<u8> {
    let mut v = Vec::with_capacity(record.len() + 1);
    v.push(u8::from(uploaded));
    v.extend_from_slice(record);
    v
}

#[async_trait]
impl SignalStore for SledBackend {
    async fn put_identity(&self, address: &str, key: [u8; 32]) -> WaResult<()> {
        self.insert(Table::Identity.key(&[address.as_bytes()]), &key, FLUSHED)
            .await
    }

    async fn put_identities_batch(&self, identities: &[(Arc<str>, [u8; 32])]) -> WaResult<()> {
        let mut batch = self.tree().batch();
        for (address, key) in identities {
            batch.insert(Table::Identity.key(&[address.as_bytes()]), key.as_slice());
        }
        self.apply(batch, FLUSHED).await
    }

    async fn load_identity(&self, address: &str) -> WaResult<Option<[u8; 32]>> {
        // A row of the wrong length is treated as absent, like an undecodable session.
        Ok(self
            .get(&Table::Identity.key(&[address.as_bytes()]))?
            .and_then(|v| <[u8; 32]>::try_from(v.as_ref()).ok()))
    }

    async fn delete_identity(&self, address: &str) -> WaResult<()> {
        self.remove(&Table::Identity.key(&[address.as_bytes()]), FLUSHED)
            .await
    }

    async fn get_session(&self, address: &str) -> WaResult<Option<Bytes>> {
        Ok(self
            .get(&Table::Session.key(&[address.as_bytes()]))?
            .map(|v| Bytes::copy_from_slice(&v)))
    }

    async fn put_session(&self, address: &str, session: &[u8]) -> WaResult<()> {
        self.insert(Table::Session.key(&[address.as_bytes()]), session, FLUSHED)
            .await
    }

    async fn put_sessions_batch(&self, sessions: &[(Arc<str>, Bytes)]) -> WaResult<()> {
        let mut batch = self.tree().batch();
        for (address, record) in sessions {
            batch.insert(Table::Session.key(&[address.as_bytes()]), record.as_ref());
        }
        self.apply(batch, FLUSHED).await
    }

    async fn delete_session(&self, address: &str) -> WaResult<()> {
        self.remove(&Table::Session.key(&[address.as_bytes()]), FLUSHED)
            .await
    }

    async fn has_session(&self, address: &str) -> WaResult<bool> {
        self.tree()
            .contains_key(Table::Session.key(&[address.as_bytes()]))
            .map_err(db_err)
    }

    async fn has_signal_state_for_user(&self, user: &str) -> WaResult<bool> {
        for table in [Table::Session, Table::Identity] {
            for sep in ["@", ":"] {
                let prefix = table.key(&[format!("{user}{sep}").as_bytes()]);
                if self.tree().scan_prefix(&prefix).next().is_some() {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    async fn store_prekey(&self, id: u32, record: &[u8], uploaded: bool) -> WaResult<()> {
        self.insert(prekey_key(id), &prekey_value(record, uploaded), FLUSHED)
            .await
    }

    async fn store_prekeys_batch(&self, keys: &[(u32, Bytes)], uploaded: bool) -> WaResult<()> {
        let mut batch = self.tree().batch();
        for (id, record) in keys {
            batch.insert(prekey_key(*id), prekey_value(record, uploaded));
        }
        self.apply(batch, FLUSHED).await
    }

    async fn load_prekey(&self, id: u32) -> WaResult<Option<Bytes>> {
        Ok(self
            .get(&prekey_key(id))?
            .and_then(|v| v.get(1..).map(Bytes::copy_from_slice)))
    }

    async fn load_prekeys_batch(&self, ids: &[u32]) -> WaResult<Vec<(u32, Bytes)>> {
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            if let Some(record) = self.load_prekey(id).await? {
                out.push((id, record));
            }
        }
        Ok(out)
    }

    async fn mark_prekeys_uploaded(&self, ids: &[u32]) -> WaResult<()> {
        for &id in ids {
            // update_and_fetch with a closure that maps None to None never inserts: a key
            // consumed since the upload snapshot stays deleted.
            self.tree()
                .update_and_fetch(prekey_key(id), |old| {
                    old.map(|v| {
                        let mut v = v.to_vec();
                        if let Some(flag) = v.first_mut() {
                            *flag = 1;
                        }
                        v
                    })
                })
                .map_err(db_err)?;
        }
        self.commit(FLUSHED).await
    }

    async fn remove_prekey(&self, id: u32) -> WaResult<()> {
        self.remove(&prekey_key(id), FLUSHED).await
    }

    async fn get_max_prekey_id(&self) -> WaResult<u32> {
        let last = self
            .tree()
            .scan_prefix(Table::PreKey.all())
            .next_back()
            .transpose()
            .map_err(db_err)?;
        Ok(last.and_then(|(k, _)| id_of(&k[1..])).unwrap_or(0))
    }

    async fn store_signed_prekey(&self, id: u32, record: &[u8]) -> WaResult<()> {
        self.insert(signed_prekey_key(id), record, FLUSHED).await
    }

    async fn load_signed_prekey(&self, id: u32) -> WaResult<Option<Vec<u8>>> {
        Ok(self.get(&signed_prekey_key(id))?.map(|v| v.to_vec()))
    }

    async fn load_all_signed_prekeys(&self) -> WaResult<Vec<(u32, Vec<u8>)>> {
        Ok(self
            .scan(&Table::SignedPreKey.all())?
            .into_iter()
            .filter_map(|(k, v)| Some((id_of(&k)?, v.to_vec())))
            .collect())
    }

    async fn remove_signed_prekey(&self, id: u32) -> WaResult<()> {
        self.remove(&signed_prekey_key(id), FLUSHED).await
    }

    async fn put_sender_key(&self, address: &str, record: &[u8]) -> WaResult<()> {
        self.insert(Table::SenderKey.key(&[address.as_bytes()]), record, FLUSHED)
            .await
    }

    async fn put_sender_keys_batch(&self, sender_keys: &[(Arc<str>, Bytes)]) -> WaResult<()> {
        let mut batch = self.tree().batch();
        for (address, record) in sender_keys {
            batch.insert(Table::SenderKey.key(&[address.as_bytes()]), record.as_ref());
        }
        self.apply(batch, FLUSHED).await
    }

    async fn get_sender_key(&self, address: &str) -> WaResult<Option<Vec<u8>>> {
        Ok(self
            .get(&Table::SenderKey.key(&[address.as_bytes()]))?
            .map(|v| v.to_vec()))
    }

    async fn delete_sender_key(&self, address: &str) -> WaResult<()> {
        self.remove(&Table::SenderKey.key(&[address.as_bytes()]), FLUSHED)
            .await
    }
}
