//! The pending-inbound buffer behind whatsapp-rust's at-least-once inbound hook: a decrypted
//! message waits here until the hook commits it, so it must be on disk before its ratchet
//! advance is ([`Durability::Flushed`]). `ProtocolStore` delegates to these methods.

use whatsapp_rust::wacore::store::traits::{PendingInboundKey, PendingInboundRow};

use super::{Durability, SledBackend, Table, WaResult, now_secs, stamped, unstamp};

const FLUSHED: Durability = Durability::Flushed;

fn pending_key(chat: &str, sender: &str, id: &str) -> Vec<u8> {
    Table::PendingInbound.key(&[chat.as_bytes(), sender.as_bytes(), id.as_bytes()])
}

impl SledBackend {
    pub(super) async fn pending_store(
        &self,
        chat: &str,
        sender: &str,
        id: &str,
        message: &[u8],
    ) -> WaResult<()> {
        let value = stamped(now_secs(), message);
        self.insert(pending_key(chat, sender, id), &value, FLUSHED)
            .await
    }

    pub(super) async fn pending_get(
        &self,
        chat: &str,
        sender: &str,
        id: &str,
    ) -> WaResult<Option<Vec<u8>>> {
        Ok(self
            .get(&pending_key(chat, sender, id))?
            .and_then(|v| unstamp(&v).map(|(_, body)| body.to_vec())))
    }

    pub(super) async fn pending_delete(&self, chat: &str, sender: &str, id: &str) -> WaResult<()> {
        self.remove(&pending_key(chat, sender, id), FLUSHED).await
    }

    pub(super) async fn pending_delete_expired(&self, cutoff_timestamp: i64) -> WaResult<u32> {
        self.remove_where(&Table::PendingInbound.all(), FLUSHED, |_, v| {
            unstamp(v).is_none_or(|(at, _)| at < cutoff_timestamp)
        })
        .await
    }

    pub(super) async fn pending_store_batch(&self, rows: &[PendingInboundRow<'_>]) -> WaResult<()> {
        let now = now_secs();
        let mut batch = self.tree().batch();
        for row in rows {
            batch.insert(
                pending_key(row.chat, row.sender, row.id),
                stamped(now, row.message),
            );
        }
        self.apply(batch, FLUSHED).await
    }

    pub(super) async fn pending_delete_batch(
        &self,
        keys: &[PendingInboundKey<'_>],
    ) -> WaResult<()> {
        let mut batch = self.tree().batch();
        for k in keys {
            batch.remove(pending_key(k.chat, k.sender, k.id));
        }
        self.apply(batch, FLUSHED).await
    }
}
