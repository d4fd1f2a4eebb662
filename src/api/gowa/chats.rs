//! `/chats` and `/chat/{chat_jid}/messages`: this instance's stored history, read through the
//! same ledger queries as Evolution's `/chat/findChats` and `/chat/findMessages`.

use std::sync::Arc;

use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use serde_json::{Value, json};

use super::Tag;
use super::auth::TokenInstance;
use super::error::{Envelope, GowaError, success};
use crate::engine::{MediaKind, MessageContent};
use crate::instance::ledger::ChatView;
use crate::state::AppState;
use crate::store::history::{ChatFilter, MessageFilter, Page, StoredMessage};

pub struct ChatsApi {
    pub state: Arc<AppState>,
}

/// Deepest row a page may start at: reading further back is what the filters are for.
const MAX_OFFSET: u32 = 100_000;

fn iso(secs: u64) -> Option<String> {
    chrono::DateTime::from_timestamp(secs as i64, 0).map(|t| t.to_rfc3339())
}

fn chat_json(c: &ChatView) -> Value {
    let name = c
        .chat
        .name
        .clone()
        .or_else(|| c.contact.as_ref().and_then(|k| k.push_name.clone()));
    json!({
        "jid": c.remote_jid,
        "name": name,
        "last_message_time": iso(c.chat.updated_at),
        "unread_count": c.chat.unread,
        "archived": c.chat.archived,
        "created_at": iso(c.chat.created_at),
        "updated_at": iso(c.chat.updated_at),
    })
}

fn content_text(m: &StoredMessage) -> Option<String> {
    match &m.content {
        MessageContent::Location {
            latitude,
            longitude,
            ..
        } => Some(format!("{latitude},{longitude}")),
        MessageContent::Poll { name, .. } => Some(name.clone()),
        MessageContent::Reaction { text, .. } => Some(text.clone()),
        MessageContent::Contacts { contacts } => Some(
            contacts
                .iter()
                .map(|c| c.display_name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        _ => m.text().map(str::to_string),
    }
}

/// GOWA's `media_type`: the kind of media, absent for everything else.
fn media_kind(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Image => "image",
        MediaKind::Video => "video",
        MediaKind::Audio => "audio",
        MediaKind::Document => "document",
        MediaKind::Sticker => "sticker",
        MediaKind::Ptv => "video_note",
    }
}

fn message_json(m: &StoredMessage) -> Value {
    let sender = if m.key.from_me {
        None
    } else {
        Some(
            m.key
                .participant
                .clone()
                .unwrap_or_else(|| m.key.remote_jid.clone()),
        )
    };
    let (media_type, file_name, file_length) = match &m.content {
        MessageContent::Media(media) => (
            Some(media_kind(media.kind)),
            media.file_name.clone(),
            Some(media.file_length),
        ),
        _ => (None, None, None),
    };
    json!({
        "id": m.key.id,
        "chat_jid": m.key.remote_jid,
        "sender_jid": sender,
        "sender_display_name": m.push_name,
        "content": content_text(m),
        "timestamp": iso(m.timestamp),
        "is_from_me": m.key.from_me,
        "media_type": media_type,
        "filename": file_name,
        "file_length": file_length,
    })
}

#[OpenApi(tag = "Tag::TokenScoped")]
impl ChatsApi {
    /// Chats with a stored message, newest activity first.
    #[oai(path = "/chats", method = "get", operation_id = "gowa_chats")]
    async fn chats(
        &self,
        token: TokenInstance,
        /// Page size (default 25).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
        #[oai(validator(minimum(value = "0"), maximum(value = "100000")))] offset: Query<
            Option<u32>,
        >,
    ) -> Result<Json<Envelope>, GowaError> {
        let h = token.0;
        let limit = limit.0.unwrap_or(25);
        let offset = offset.0.unwrap_or(0).min(MAX_OFFSET);
        let rows: Vec<Value> = h
            .find_chats(&ChatFilter::default(), offset as usize, limit as usize)?
            .iter()
            .map(chat_json)
            .collect();
        let total = h.counts()?.chats;
        Ok(success(
            "Success get chat list",
            Some(json!({
                "data": rows,
                "pagination": {"limit": limit, "offset": offset, "total": total},
            })),
        ))
    }

    /// The stored messages of one chat, newest first.
    #[oai(
        path = "/chat/:chat_jid/messages",
        method = "get",
        operation_id = "gowa_chat_messages"
    )]
    async fn messages(
        &self,
        token: TokenInstance,
        /// The chat's JID (percent-encoded or not).
        #[oai(validator(max_length = 128))]
        chat_jid: Path<String>,
        /// Page size (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
        #[oai(validator(minimum(value = "0"), maximum(value = "100000")))] offset: Query<
            Option<u32>,
        >,
        /// Only this instance's messages (`true`) or only the other side's (`false`).
        is_from_me: Query<Option<bool>>,
    ) -> Result<Json<Envelope>, GowaError> {
        let h = token.0;
        let jid = super::phone_jid(&chat_jid)?;
        let limit = u64::from(limit.0.unwrap_or(50));
        let offset = u64::from(offset.0.unwrap_or(0).min(MAX_OFFSET));
        let filter = MessageFilter {
            remote_jid: Some(jid.clone()),
            from_me: is_from_me.0,
            ..MessageFilter::default()
        };
        // Pages are numbered; an offset that is not a multiple of the size reads the rows
        // before it too and drops them.
        let (page, skip) = if offset % limit == 0 {
            (
                Page {
                    number: offset / limit + 1,
                    size: limit,
                },
                0,
            )
        } else {
            (
                Page {
                    number: 1,
                    size: offset + limit,
                },
                offset as usize,
            )
        };
        let found = h.find_messages(&filter, page)?;
        let rows: Vec<Value> = found.records.iter().skip(skip).map(message_json).collect();
        let chat = h.find_chat(&jid)?;
        Ok(success(
            "Success get chat messages",
            Some(json!({
                "data": rows,
                "pagination": {"limit": limit, "offset": offset, "total": found.total},
                "chat_info": chat.map(|c| json!({
                    "jid": jid,
                    "name": c.name,
                    "last_message_time": iso(c.updated_at),
                    "archived": c.archived,
                })),
            })),
        ))
    }
}
