//! `AppSyncStore`: app-state sync keys (flushed: they arrive once, from the phone), collection
//! versions and mutation MACs (lazy: a lost tail is re-synced from the server).

use std::collections::HashMap;

use async_trait::async_trait;
use whatsapp_rust::wacore::appstate::hash::HashState;
use whatsapp_rust::wacore::appstate::processor::AppStateMutationMAC;
use whatsapp_rust::wacore::store::traits::{AppStateSyncKey, AppSyncStore};

use super::{Durability, SledBackend, Table, WaResult, from_json, to_json};

/// `Meta` row holding the id of the sync key stored last.
const LATEST_SYNC_KEY: &[u8] = b"latest_sync_key_id";

fn mac_key(name: &str, index_mac: &[u8]) -> Vec<u8> {
    Table::MutationMac.key(&[name.as_bytes(), index_mac])
}

#[async_trait]
impl AppSyncStore for SledBackend {
    async fn get_sync_key(&self, key_id: &[u8]) -> WaResult<Option<AppStateSyncKey>> {
        self.get(&Table::SyncKey.key(&[key_id]))?
            .map(|v| from_json(&v))
            .transpose()
    }

    async fn set_sync_key(&self, key_id: &[u8], key: AppStateSyncKey) -> WaResult<()> {
        let mut batch = self.tree().batch();
        batch.insert(Table::SyncKey.key(&[key_id]), to_json(&key)?);
        batch.insert(Table::Meta.key(&[LATEST_SYNC_KEY]), key_id);
        self.apply(batch, Durability::Flushed).await
    }

    async fn get_version(&self, name: &str) -> WaResult<HashState> {
        Ok(self
            .get(&Table::Version.key(&[name.as_bytes()]))?
            .map(|v| from_json(&v))
            .transpose()?
            .unwrap_or_default())
    }

    async fn set_version(&self, name: &str, state: HashState) -> WaResult<()> {
        self.insert(
            Table::Version.key(&[name.as_bytes()]),
            &to_json(&state)?,
            Durability::Lazy,
        )
        .await
    }

    async fn put_mutation_macs(
        &self,
        name: &str,
        _version: u64,
        mutations: &[AppStateMutationMAC],
    ) -> WaResult<()> {
        let mut batch = self.tree().batch();
        for m in mutations {
            batch.insert(mac_key(name, &m.index_mac), m.value_mac.as_slice());
        }
        self.apply(batch, Durability::Lazy).await
    }

    async fn get_mutation_mac(&self, name: &str, index_mac: &[u8]) -> WaResult<Option<Vec<u8>>> {
        Ok(self.get(&mac_key(name, index_mac))?.map(|v| v.to_vec()))
    }

    async fn get_mutation_macs(
        &self,
        name: &str,
        index_macs: &[[u8; 32]],
    ) -> WaResult<HashMap<[u8; 32], Vec<u8>>> {
        let mut out = HashMap::with_capacity(index_macs.len());
        for index_mac in index_macs {
            if let Some(v) = self.get(&mac_key(name, index_mac))? {
                out.insert(*index_mac, v.to_vec());
            }
        }
        Ok(out)
    }

    async fn delete_mutation_macs(&self, name: &str, index_macs: &[Vec<u8>]) -> WaResult<()> {
        let mut batch = self.tree().batch();
        for im in index_macs {
            batch.remove(mac_key(name, im));
        }
        self.apply(batch, Durability::Lazy).await
    }

    async fn clear_mutation_macs(&self, name: &str) -> WaResult<()> {
        let prefix = Table::MutationMac.prefix(&[name.as_bytes()]);
        self.remove_where(&prefix, Durability::Lazy, |_, _| true)
            .await
            .map(|_| ())
    }

    async fn get_latest_sync_key_id(&self) -> WaResult<Option<Vec<u8>>> {
        Ok(self
            .get(&Table::Meta.key(&[LATEST_SYNC_KEY]))?
            .map(|v| v.to_vec()))
    }
}
