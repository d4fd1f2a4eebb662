//! The phone's history sync to its companions: the conversations a test describes become a
//! `HistorySync` proto, zlib-compressed, encrypted as `md-msg-hist` media and put on the media
//! host, and a `HistorySyncNotification` protocol message naming the blob goes from the phone
//! (device 0) to the account's companions over Signal, as a real primary does after linking.

use std::io::Write as _;

use anyhow::Context as _;
use flate2::Compression;
use flate2::write::ZlibEncoder;
use serde::{Deserialize, Serialize};
use wacore::download::MediaType;
use waproto::buffa::{Message as _, MessageField};
use waproto::whatsapp as wa;

use crate::contact::{SendError, Sent, phone_send};
use crate::shared::Shared;

/// What the phone remembers: conversations with their messages, and push names.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct History {
    pub chats: Vec<HistoryChat>,
    #[serde(default)]
    pub pushnames: Vec<Pushname>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryChat {
    /// `15550000001@s.whatsapp.net` or a group's `...@g.us`.
    pub jid: String,
    pub name: Option<String>,
    #[serde(default)]
    pub unread: u32,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub messages: Vec<HistoryMessage>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryMessage {
    pub id: String,
    #[serde(default)]
    pub from_me: bool,
    pub text: String,
    /// Unix seconds.
    pub timestamp: u64,
    pub push_name: Option<String>,
    /// The author inside a group.
    pub participant: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pushname {
    pub jid: String,
    pub name: String,
}

fn web_message(chat: &str, m: &HistoryMessage) -> wa::HistorySyncMsg {
    wa::HistorySyncMsg {
        message: MessageField::some(wa::WebMessageInfo {
            key: MessageField::some(wa::MessageKey {
                remote_jid: Some(chat.to_string()),
                from_me: Some(m.from_me),
                id: Some(m.id.clone()),
                participant: m.participant.clone(),
            }),
            message: MessageField::some(wa::Message {
                conversation: Some(m.text.clone()),
                ..Default::default()
            }),
            message_timestamp: Some(m.timestamp),
            push_name: m.push_name.clone(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The `HistorySync` proto of `history`, encoded.
fn encode(history: &History) -> Vec<u8> {
    let conversations = history
        .chats
        .iter()
        .map(|c| wa::Conversation {
            id: c.jid.clone(),
            name: c.name.clone(),
            unread_count: Some(c.unread),
            archived: Some(c.archived),
            conversation_timestamp: c.messages.iter().map(|m| m.timestamp).max(),
            messages: c.messages.iter().map(|m| web_message(&c.jid, m)).collect(),
            ..Default::default()
        })
        .collect();
    wa::HistorySync {
        sync_type: wa::history_sync::HistorySyncType::INITIAL_BOOTSTRAP,
        conversations,
        pushnames: history
            .pushnames
            .iter()
            .map(|p| wa::Pushname {
                id: Some(p.jid.clone()),
                pushname: Some(p.name.clone()),
            })
            .collect(),
        chunk_order: Some(1),
        progress: Some(100),
        ..Default::default()
    }
    .encode_to_vec()
}

fn zlib(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
    z.write_all(bytes)?;
    Ok(z.finish()?)
}

/// Uploads `history` and notifies every companion of `phone`. Returns the notification's
/// message id (acked by a client once it handled, or skipped, the notification).
pub async fn send(shared: &Shared, phone: &str, history: &History) -> Result<Sent, SendError> {
    let compressed = zlib(&encode(history)).context("compress history")?;
    let media = wacore::upload::encrypt_media(&compressed, MediaType::History)
        .context("encrypt history")?;
    let direct_path = shared.media.put("md-msg-hist", media.data_to_upload);
    let notification = wa::message::HistorySyncNotification {
        file_sha256: Some(media.file_sha256.to_vec()),
        file_length: Some(compressed.len() as u64),
        media_key: Some(media.media_key.to_vec()),
        file_enc_sha256: Some(media.file_enc_sha256.to_vec()),
        direct_path: Some(direct_path),
        sync_type: Some(wa::message::HistorySyncType::INITIAL_BOOTSTRAP),
        chunk_order: Some(1),
        progress: Some(100),
        ..Default::default()
    };
    let message = wa::Message {
        protocol_message: MessageField::some(wa::message::ProtocolMessage {
            r#type: Some(wa::message::protocol_message::Type::HISTORY_SYNC_NOTIFICATION),
            history_sync_notification: MessageField::some(notification),
            ..Default::default()
        }),
        ..Default::default()
    };
    phone_send(shared, phone, phone, None, &message, None).await
}
