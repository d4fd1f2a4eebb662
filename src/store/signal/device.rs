//! `DeviceStore`: the instance's own device (noise and identity keys, pairing result). One row,
//! always [`Durability::Flushed`]: losing it after pairing would orphan the linked device.

use async_trait::async_trait;
use whatsapp_rust::wacore::store::Device;
use whatsapp_rust::wacore::store::traits::DeviceStore;

use super::{Durability, SledBackend, Table, WaResult, db_err, from_json, to_json};
use crate::store::StoreError;

/// `Meta` row counting device rows created (the id `create` returns).
const DEVICE_SEQ: &[u8] = b"device_seq";

impl SledBackend {
    /// The stored device, read synchronously (for `is_paired`).
    pub(crate) fn load_device_record(&self) -> Result<Option<Device>, StoreError> {
        match self.tree().get(Table::Device.key(&[]))? {
            Some(v) => Ok(Some(crate::store::decode(&v)?)),
            None => Ok(None),
        }
    }
}

#[async_trait]
impl DeviceStore for SledBackend {
    async fn save(&self, device: &Device) -> WaResult<()> {
        self.insert(
            Table::Device.key(&[]),
            &to_json(device)?,
            Durability::Flushed,
        )
        .await
    }

    async fn load(&self) -> WaResult<Option<Device>> {
        self.get(&Table::Device.key(&[]))?
            .map(|v| from_json(&v))
            .transpose()
    }

    async fn exists(&self) -> WaResult<bool> {
        self.tree()
            .contains_key(Table::Device.key(&[]))
            .map_err(db_err)
    }

    async fn create(&self) -> WaResult<i32> {
        let seq = self
            .tree()
            .update_and_fetch(Table::Meta.key(&[DEVICE_SEQ]), |old| {
                let n = old
                    .and_then(|b| <[u8; 4]>::try_from(b).ok())
                    .map(i32::from_be_bytes)
                    .unwrap_or(0);
                Some((n + 1).to_be_bytes().to_vec())
            })
            .map_err(db_err)?
            .and_then(|b| <[u8; 4]>::try_from(b.as_ref()).ok())
            .map(i32::from_be_bytes)
            .unwrap_or(1);
        // Materialise a fresh device so `exists` holds after `create`, as the client expects.
        let fresh = to_json(&Device::new())?;
        let _already_there = self
            .tree()
            .compare_and_swap(
                Table::Device.key(&[]),
                None as Option<&[u8]>,
                Some(fresh.as_slice()),
            )
            .map_err(db_err)?;
        self.commit(Durability::Flushed).await?;
        Ok(seq)
    }
}
