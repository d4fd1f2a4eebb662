//! `ProtocolStore`: sender-key device tracking, LID<->PN mappings, base keys, the device registry,
//! group metadata, trusted-contact tokens and sent messages kept for retries. All of it is
//! [`Durability::Lazy`]: the client can learn it again from the server. The read-modify-write
//! methods (`touch_tc_token_sender_timestamp`, `store_received_tc_token`, `take_sent_message`)
//! are single atomic sled operations.

use async_trait::async_trait;
use whatsapp_rust::wacore::store::traits::{
    DeviceListRecord, LidPnMappingEntry, PendingInboundKey, PendingInboundRow, ProtocolStore,
    TcTokenEntry,
};

use super::{
    Durability, SledBackend, Table, WaResult, db_err, from_json, now_secs, stamped, to_json,
    unstamp,
};

const LAZY: Durability = Durability::Lazy;

fn sk_device_key(group: &str, device: &str) -> Vec<u8> {
    Table::SenderKeyDevice.key(&[group.as_bytes(), device.as_bytes()])
}

fn sent_key(chat: &str, id: &str) -> Vec<u8> {
    Table::SentMessage.key(&[chat.as_bytes(), id.as_bytes()])
}

fn tc_key(jid: &str) -> Vec<u8> {
    Table::TcToken.key(&[jid.as_bytes()])
}

/// Atomically rewrites one tc-token row with `f` (None = absent).
fn update_tc(
    backend: &SledBackend,
    jid: &str,
    f: impl Fn(Option<TcTokenEntry>) -> Option<TcTokenEntry>,
) -> WaResult<()> {
    let mut failure = None;
    backend
        .tree()
        .update_and_fetch(tc_key(jid), |old| {
            let current = old.and_then(|v| from_json::<TcTokenEntry>(v).ok());
            let next = f(current)?;
            match to_json(&next) {
                Ok(v) => Some(v),
                Err(e) => {
                    failure = Some(e);
                    old.map(|v| v.to_vec())
                }
            }
        })
        .map_err(db_err)?;
    failure.map_or(Ok(()), Err)
}

#[async_trait]
impl ProtocolStore for SledBackend {
    async fn get_sender_key_devices(&self, group_jid: &str) -> WaResult<Vec<(String, bool)>> {
        let prefix = Table::SenderKeyDevice.prefix(&[group_jid.as_bytes()]);
        Ok(self
            .scan(&prefix)?
            .into_iter()
            .map(|(device, v)| {
                let has_key = v.first().is_some_and(|b| *b == 1);
                (String::from_utf8_lossy(&device).into_owned(), has_key)
            })
            .collect())
    }

    async fn set_sender_key_status(
        &self,
        group_jid: &str,
        entries: &[(&str, bool)],
    ) -> WaResult<()> {
        let mut batch = self.tree().batch();
        for (device, has_key) in entries {
            batch.insert(sk_device_key(group_jid, device), &[u8::from(*has_key)]);
        }
        self.apply(batch, LAZY).await
    }

    async fn clear_sender_key_devices(&self, group_jid: &str) -> WaResult<()> {
        let prefix = Table::SenderKeyDevice.prefix(&[group_jid.as_bytes()]);
        self.remove_where(&prefix, LAZY, |_, _| true).await?;
        Ok(())
    }

    async fn delete_sender_key_device_rows(&self, device_jids: &[&str]) -> WaResult<()> {
        if device_jids.is_empty() {
            return Ok(());
        }
        self.remove_where(&Table::SenderKeyDevice.all(), LAZY, |rest, _| {
            // rest = group \0 device; the group part never contains a NUL.
            rest.iter()
                .position(|b| *b == 0)
                .map(|i| &rest[i + 1..])
                .is_some_and(|dev| device_jids.iter().any(|d| d.as_bytes() == dev))
        })
        .await?;
        Ok(())
    }

    async fn clear_all_sender_key_devices(&self) -> WaResult<()> {
        self.remove_where(&Table::SenderKeyDevice.all(), LAZY, |_, _| true)
            .await?;
        Ok(())
    }

    async fn get_lid_mapping(&self, lid: &str) -> WaResult<Option<LidPnMappingEntry>> {
        self.get(&Table::Lid.key(&[lid.as_bytes()]))?
            .map(|v| from_json(&v))
            .transpose()
    }

    async fn get_pn_mapping(&self, phone: &str) -> WaResult<Option<LidPnMappingEntry>> {
        match self.get(&Table::Pn.key(&[phone.as_bytes()]))? {
            Some(lid) => self.get_lid_mapping(&String::from_utf8_lossy(&lid)).await,
            None => Ok(None),
        }
    }

    async fn put_lid_mapping(&self, entry: &LidPnMappingEntry) -> WaResult<()> {
        self.put_lid_mappings(std::slice::from_ref(entry)).await
    }

    async fn put_lid_mappings(&self, entries: &[LidPnMappingEntry]) -> WaResult<()> {
        let mut batch = self.tree().batch();
        for entry in entries {
            // Drop the stale reverse row when this LID used to map to another phone.
            if let Some(old) = self.get_lid_mapping(&entry.lid).await?
                && old.phone_number != entry.phone_number
            {
                batch.remove(Table::Pn.key(&[old.phone_number.as_bytes()]));
            }
            batch.insert(Table::Lid.key(&[entry.lid.as_bytes()]), to_json(entry)?);
            batch.insert(
                Table::Pn.key(&[entry.phone_number.as_bytes()]),
                entry.lid.as_bytes(),
            );
        }
        self.apply(batch, LAZY).await
    }

    async fn get_all_lid_mappings(&self) -> WaResult<Vec<LidPnMappingEntry>> {
        self.scan(&Table::Lid.all())?
            .into_iter()
            .map(|(_, v)| from_json(&v))
            .collect()
    }

    async fn save_base_key(
        &self,
        address: &str,
        message_id: &str,
        base_key: &[u8],
    ) -> WaResult<()> {
        let key = Table::BaseKey.key(&[address.as_bytes(), message_id.as_bytes()]);
        self.insert(key, base_key, LAZY).await
    }

    async fn has_same_base_key(
        &self,
        address: &str,
        message_id: &str,
        current_base_key: &[u8],
    ) -> WaResult<bool> {
        let key = Table::BaseKey.key(&[address.as_bytes(), message_id.as_bytes()]);
        Ok(self
            .get(&key)?
            .is_some_and(|v| v.as_ref() == current_base_key))
    }

    async fn delete_base_key(&self, address: &str, message_id: &str) -> WaResult<()> {
        let key = Table::BaseKey.key(&[address.as_bytes(), message_id.as_bytes()]);
        self.remove(&key, LAZY).await
    }

    async fn update_device_list(&self, record: DeviceListRecord) -> WaResult<()> {
        self.update_device_lists(vec![record]).await
    }

    async fn update_device_lists(&self, records: Vec<DeviceListRecord>) -> WaResult<()> {
        let mut batch = self.tree().batch();
        for r in &records {
            batch.insert(Table::DeviceList.key(&[r.user.as_bytes()]), to_json(r)?);
        }
        self.apply(batch, LAZY).await
    }

    async fn get_devices(&self, user: &str) -> WaResult<Option<DeviceListRecord>> {
        self.get(&Table::DeviceList.key(&[user.as_bytes()]))?
            .map(|v| from_json(&v))
            .transpose()
    }

    async fn delete_devices(&self, user: &str) -> WaResult<()> {
        self.remove(&Table::DeviceList.key(&[user.as_bytes()]), LAZY)
            .await
    }

    async fn get_group_metadata(&self, group_jid: &str) -> WaResult<Option<Vec<u8>>> {
        Ok(self
            .get(&Table::GroupMeta.key(&[group_jid.as_bytes()]))?
            .map(|v| v.to_vec()))
    }

    async fn put_group_metadata(&self, group_jid: &str, blob: &[u8]) -> WaResult<()> {
        self.insert(Table::GroupMeta.key(&[group_jid.as_bytes()]), blob, LAZY)
            .await
    }

    async fn delete_group_metadata(&self, group_jid: &str) -> WaResult<()> {
        self.remove(&Table::GroupMeta.key(&[group_jid.as_bytes()]), LAZY)
            .await
    }

    async fn get_tc_token(&self, jid: &str) -> WaResult<Option<TcTokenEntry>> {
        self.get(&tc_key(jid))?.map(|v| from_json(&v)).transpose()
    }

    async fn put_tc_token(&self, jid: &str, entry: &TcTokenEntry) -> WaResult<()> {
        self.insert(tc_key(jid), &to_json(entry)?, LAZY).await
    }

    async fn delete_tc_token(&self, jid: &str) -> WaResult<()> {
        self.remove(&tc_key(jid), LAZY).await
    }

    async fn get_all_tc_token_jids(&self) -> WaResult<Vec<String>> {
        Ok(self
            .scan(&Table::TcToken.all())?
            .into_iter()
            .map(|(k, _)| String::from_utf8_lossy(&k).into_owned())
            .collect())
    }

    async fn delete_expired_tc_tokens(
        &self,
        token_cutoff: i64,
        sender_cutoff: i64,
    ) -> WaResult<u32> {
        self.remove_where(&Table::TcToken.all(), LAZY, |_, v| {
            let Ok(e) = from_json::<TcTokenEntry>(v) else {
                return true;
            };
            let token_live = !e.token.is_empty() && e.token_timestamp >= token_cutoff;
            let sender_live = e.sender_timestamp.is_some_and(|t| t >= sender_cutoff);
            !(token_live || sender_live)
        })
        .await
    }

    async fn touch_tc_token_sender_timestamp(
        &self,
        jid: &str,
        sender_timestamp: i64,
    ) -> WaResult<()> {
        update_tc(self, jid, |cur| {
            Some(match cur {
                Some(e) => TcTokenEntry {
                    sender_timestamp: Some(
                        e.sender_timestamp
                            .map_or(sender_timestamp, |s| s.max(sender_timestamp)),
                    ),
                    ..e
                },
                None => TcTokenEntry {
                    token: Vec::new(),
                    token_timestamp: sender_timestamp,
                    sender_timestamp: Some(sender_timestamp),
                },
            })
        })?;
        self.commit(LAZY).await
    }

    async fn store_received_tc_token(
        &self,
        jid: &str,
        token: &[u8],
        token_timestamp: i64,
    ) -> WaResult<()> {
        update_tc(self, jid, |cur| match cur {
            // Newer wins; a byte-less placeholder never blocks the first real token.
            Some(e) if !e.token.is_empty() && token_timestamp < e.token_timestamp => Some(e),
            cur => Some(TcTokenEntry {
                token: token.to_vec(),
                token_timestamp,
                sender_timestamp: cur.and_then(|e| e.sender_timestamp),
            }),
        })?;
        self.commit(LAZY).await
    }

    async fn store_sent_message(
        &self,
        chat_jid: &str,
        message_id: &str,
        payload: &[u8],
    ) -> WaResult<()> {
        self.insert(
            sent_key(chat_jid, message_id),
            &stamped(now_secs(), payload),
            LAZY,
        )
        .await
    }

    async fn take_sent_message(
        &self,
        chat_jid: &str,
        message_id: &str,
    ) -> WaResult<Option<Vec<u8>>> {
        // `remove` returns the old value: one atomic take, so a retry is answered once.
        let old = self
            .tree()
            .remove(sent_key(chat_jid, message_id))
            .map_err(db_err)?;
        Ok(old.and_then(|v| unstamp(&v).map(|(_, body)| body.to_vec())))
    }

    async fn delete_expired_sent_messages(&self, cutoff_timestamp: i64) -> WaResult<u32> {
        self.remove_where(&Table::SentMessage.all(), LAZY, |_, v| {
            unstamp(v).is_none_or(|(at, _)| at < cutoff_timestamp)
        })
        .await
    }

    async fn store_pending_inbound(
        &self,
        chat: &str,
        sender: &str,
        id: &str,
        message: &[u8],
    ) -> WaResult<()> {
        self.pending_store(chat, sender, id, message).await
    }

    async fn get_pending_inbound(
        &self,
        chat: &str,
        sender: &str,
        id: &str,
    ) -> WaResult<Option<Vec<u8>>> {
        self.pending_get(chat, sender, id).await
    }

    async fn delete_pending_inbound(&self, chat: &str, sender: &str, id: &str) -> WaResult<()> {
        self.pending_delete(chat, sender, id).await
    }

    async fn delete_expired_pending_inbound(&self, cutoff_timestamp: i64) -> WaResult<u32> {
        self.pending_delete_expired(cutoff_timestamp).await
    }

    async fn store_pending_inbound_batch(&self, rows: &[PendingInboundRow<'_>]) -> WaResult<()> {
        self.pending_store_batch(rows).await
    }

    async fn delete_pending_inbound_batch(&self, keys: &[PendingInboundKey<'_>]) -> WaResult<()> {
        self.pending_delete_batch(keys).await
    }
}
