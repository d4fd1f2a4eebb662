//! `MsgSecretStore`: per-message secrets that decrypt later add-ons (poll votes, reactions,
//! edits). Rows merge on conflict (later deadline and later parent time win) with one atomic
//! `update_and_fetch` per row. Lazy durability: losing the last half second only means an add-on
//! to a message sent in that window cannot be decrypted.

use async_trait::async_trait;
use whatsapp_rust::wacore::store::traits::{
    MessageSecret, MsgSecretEntry, MsgSecretStore, merge_msg_secret_expiry,
    merge_msg_secret_message_ts,
};

use super::{Durability, SledBackend, Table, WaResult, db_err};

const SECRET_LEN: usize = std::mem::size_of::<MessageSecret>();
const ROW_LEN: usize = SECRET_LEN + 16;

fn key(chat: &str, sender: &str, msg_id: &str) -> Vec<u8> {
    Table::MsgSecret.key(&[chat.as_bytes(), sender.as_bytes(), msg_id.as_bytes()])
}

/// `[secret][expires_at i64 BE][message_ts i64 BE]`.
fn encode(secret: &MessageSecret, expires_at: i64, message_ts: i64) -> Vec<u8> {
    let mut v = Vec::with_capacity(ROW_LEN);
    v.extend_from_slice(secret);
    v.extend_from_slice(&expires_at.to_be_bytes());
    v.extend_from_slice(&message_ts.to_be_bytes());
    v
}

fn decode(v: &[u8]) -> Option<(MessageSecret, i64, i64)> {
    if v.len() != ROW_LEN {
        return None;
    }
    let secret = MessageSecret::try_from(&v[..SECRET_LEN]).ok()?;
    let at = |i: usize| v.get(i..i + 8)?.try_into().ok().map(i64::from_be_bytes);
    Some((secret, at(SECRET_LEN)?, at(SECRET_LEN + 8)?))
}

#[async_trait]
impl MsgSecretStore for SledBackend {
    async fn put_msg_secrets(&self, entries: Vec<MsgSecretEntry>) -> WaResult<usize> {
        let stored = entries.len();
        for e in entries {
            self.tree()
                .update_and_fetch(key(&e.chat, &e.sender, &e.msg_id), |old| {
                    Some(match old.and_then(decode) {
                        Some((_, expires, ts)) => encode(
                            &e.secret,
                            merge_msg_secret_expiry(expires, e.expires_at),
                            merge_msg_secret_message_ts(ts, e.message_ts),
                        ),
                        None => encode(&e.secret, e.expires_at, e.message_ts),
                    })
                })
                .map_err(db_err)?;
        }
        self.commit(Durability::Lazy).await?;
        Ok(stored)
    }

    async fn get_msg_secret(
        &self,
        chat: &str,
        sender: &str,
        msg_id: &str,
    ) -> WaResult<Option<Vec<u8>>> {
        Ok(self
            .get_msg_secret_with_ts(chat, sender, msg_id)
            .await?
            .map(|(s, _)| s))
    }

    async fn get_msg_secret_with_ts(
        &self,
        chat: &str,
        sender: &str,
        msg_id: &str,
    ) -> WaResult<Option<(Vec<u8>, i64)>> {
        Ok(self
            .get(&key(chat, sender, msg_id))?
            .and_then(|v| decode(&v))
            .map(|(s, _, ts)| (s.to_vec(), ts)))
    }

    async fn delete_expired_msg_secrets(&self, cutoff_timestamp: i64) -> WaResult<u32> {
        self.remove_where(&Table::MsgSecret.all(), Durability::Lazy, |_, v| {
            decode(v).is_none_or(|(_, expires, _)| expires != 0 && expires <= cutoff_timestamp)
        })
        .await
    }
}
