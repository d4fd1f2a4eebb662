//! The history routes Evolution clients read: `findMessages`, `findChats`, `findContacts`,
//! `findStatusMessage`, `findChatByRemoteJid`, and the chat flags `archiveChat` and
//! `markChatUnread`. Shapes follow Evolution §2.6; the rows are rendered here, once.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi, Tags};
use serde_json::{Value, json};
use uuid::Uuid;

use super::auth::ApiKey;
use super::error::ApiError;
use super::history_dto::{
    ArchiveBody, FindByJidBody, FindChatsBody, FindMessagesBody, MAX_PAGE_SIZE, UnreadBody, chat_of,
};
use super::message::jid;
use crate::engine::group::is_group_jid;
use crate::evolution::message::message_record;
use crate::instance::ledger::ChatView;
use crate::state::AppState;
use crate::store::history::{ChatRow, ContactRow, Page, ReceiptRow, StoredMessage};

#[derive(Tags)]
enum Tag {
    /// Chats, messages, profiles and privacy.
    Chat,
}

pub struct HistoryApi {
    pub state: Arc<AppState>,
}

#[derive(ApiResponse)]
enum Answer {
    #[oai(status = 200)]
    Ok(Json<Value>),
}

#[derive(ApiResponse)]
enum Changed {
    #[oai(status = 201)]
    Created(Json<Value>),
}

/// Receipts shown per message in `findMessages` (`MessageUpdate`).
const RECEIPTS_PER_RECORD: u64 = 16;

fn iso(secs: u64) -> Value {
    DateTime::from_timestamp(i64::try_from(secs).unwrap_or(i64::MAX), 0)
        .map(|t| json!(t.to_rfc3339_opts(SecondsFormat::Millis, true)))
        .unwrap_or(Value::Null)
}

fn iso_ms(ms: u64) -> Value {
    iso(ms / 1000)
}

/// A `findMessages` record: the message record with its id and receipt history.
fn found_message(m: &StoredMessage, instance: &Uuid, receipts: &[ReceiptRow]) -> Value {
    let mut r = message_record(m, instance);
    r["id"] = json!(m.key.id);
    r["MessageUpdate"] = receipts
        .iter()
        .map(|u| json!({"status": u.status.as_str(), "updatedAt": iso_ms(u.at_ms)}))
        .collect();
    r
}

fn chat_row(c: &ChatView, instance: &Uuid) -> Value {
    let ChatView {
        remote_jid,
        chat,
        last,
        contact,
    } = c;
    // WhatsApp's 24-hour customer-service window, from the newest message.
    let window_start = chat.updated_at;
    let window_expires = window_start + 24 * 3600;
    let last = last.as_ref().map(|m| {
        let mut r = message_record(m, instance);
        r["id"] = json!(m.key.id);
        r["participant"] = json!(m.key.participant);
        r["sessionId"] = Value::Null;
        r
    });
    json!({
        "id": contact.as_ref().map(|_| remote_jid),
        "remoteJid": remote_jid,
        "name": chat.name,
        "pushName": contact.as_ref().and_then(|c| c.push_name.clone()).or_else(|| chat.name.clone()),
        "profilePicUrl": contact.as_ref().and_then(|c| c.profile_pic_url.clone()),
        "updatedAt": iso(chat.updated_at),
        "windowStart": iso(window_start),
        "windowExpires": iso(window_expires),
        "windowActive": window_expires > crate::engine::unix_now(),
        "unreadCount": chat.unread,
        "unreadMessages": chat.unread,
        "markedUnread": chat.marked_unread,
        "archived": chat.archived,
        "isSaved": contact.as_ref().is_some_and(|c| c.saved),
        "lastMessage": last,
    })
}

fn contact_row(jid: &str, c: &ContactRow, instance: &Uuid) -> Value {
    let group = is_group_jid(jid);
    json!({
        "id": jid,
        "remoteJid": jid,
        "pushName": c.push_name,
        "profilePicUrl": c.profile_pic_url,
        "createdAt": iso(c.created_at),
        "updatedAt": iso(c.updated_at),
        "instanceId": instance,
        "isGroup": group,
        "isSaved": c.saved,
        "type": if group { "group" } else { "contact" },
    })
}

fn chat_by_jid(jid: &str, c: &ChatRow, instance: &Uuid) -> Value {
    json!({
        "id": jid,
        "remoteJid": jid,
        "name": c.name,
        "labels": [],
        "createdAt": iso(c.created_at),
        "updatedAt": iso(c.updated_at),
        "instanceId": instance,
        "unreadMessages": c.unread,
        "archived": c.archived,
        "markedUnread": c.marked_unread,
    })
}

fn receipt_row(r: &ReceiptRow, instance: &Uuid) -> Value {
    json!({
        "id": format!("{}-{}-{}", r.key_id, r.at_ms, r.status.as_str()),
        "keyId": r.key_id,
        "remoteJid": r.remote_jid,
        "fromMe": r.from_me,
        "participant": r.participant,
        "pollUpdates": null,
        "status": r.status.as_str(),
        "messageId": r.key_id,
        "instanceId": instance,
        "updatedAt": iso_ms(r.at_ms),
    })
}

#[OpenApi(tag = "Tag::Chat")]
impl HistoryApi {
    /// Stored messages, newest first, filtered and paged as Evolution's
    /// (`offset` is the page size).
    #[oai(
        path = "/chat/findMessages/:instanceName",
        method = "post",
        operation_id = "find_messages"
    )]
    async fn find_messages(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<FindMessagesBody>,
    ) -> Result<Answer, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let (filter, page) = body.0.into_query()?;
        let found = h.find_messages(&filter, page)?;
        let receipts_page = Page {
            number: 1,
            size: RECEIPTS_PER_RECORD,
        };
        let records = found
            .records
            .iter()
            .map(|m| {
                let receipts =
                    h.find_receipts(Some(&m.key.remote_jid), Some(&m.key.id), receipts_page)?;
                Ok(found_message(m, &h.id(), &receipts))
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        Ok(Answer::Ok(Json(json!({"messages": {
            "total": found.total,
            "pages": found.total.div_ceil(page.size),
            "currentPage": page.number,
            "records": records,
        }}))))
    }

    /// Chats with a stored message, by last activity, newest first.
    #[oai(
        path = "/chat/findChats/:instanceName",
        method = "post",
        operation_id = "find_chats"
    )]
    async fn find_chats(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<FindChatsBody>,
    ) -> Result<Answer, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let (filter, skip, take) = body.0.into_query()?;
        let rows: Vec<Value> = h
            .find_chats(&filter, skip, take)?
            .iter()
            .map(|c| chat_row(c, &h.id()))
            .collect();
        Ok(Answer::Ok(Json(Value::Array(rows))))
    }

    /// Contacts (from push names, profile lookups and the address book), by JID.
    #[oai(
        path = "/chat/findContacts/:instanceName",
        method = "post",
        operation_id = "find_contacts"
    )]
    async fn find_contacts(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<FindByJidBody>,
    ) -> Result<Answer, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let (remote_jid, _, page) = body.0.into_query(MAX_PAGE_SIZE)?;
        let rows: Vec<Value> = h
            .find_contacts(remote_jid.as_deref(), page)?
            .iter()
            .map(|(jid, c)| contact_row(jid, c, &h.id()))
            .collect();
        Ok(Answer::Ok(Json(Value::Array(rows))))
    }

    /// Receipt history (`MessageUpdate` rows) of a message or a chat.
    #[oai(
        path = "/chat/findStatusMessage/:instanceName",
        method = "post",
        operation_id = "find_status_message"
    )]
    async fn find_status_message(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<FindByJidBody>,
    ) -> Result<Answer, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let (remote_jid, id, page) = body.0.into_query(MAX_PAGE_SIZE)?;
        let rows: Vec<Value> = h
            .find_receipts(remote_jid.as_deref(), id.as_deref(), page)?
            .iter()
            .map(|r| receipt_row(r, &h.id()))
            .collect();
        Ok(Answer::Ok(Json(Value::Array(rows))))
    }

    /// One chat's row, or `null`.
    #[oai(
        path = "/chat/findChatByRemoteJid/:instanceName",
        method = "get",
        operation_id = "find_chat_by_remote_jid"
    )]
    async fn find_chat_by_remote_jid(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        #[oai(
            name = "remoteJid",
            validator(
                pattern = r"^(?:\s*[^@\s][^@]*@[\s\S]*\S\s*|\s*[ +()\-]*[0-9][ +()0-9\-]*\s*)$",
                max_length = 123
            )
        )]
        remote_jid: Query<String>,
    ) -> Result<Answer, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let remote_jid = jid(&remote_jid)?;
        let row = h
            .find_chat(&remote_jid)?
            .map(|c| chat_by_jid(&remote_jid, &c, &h.id()))
            .unwrap_or(Value::Null);
        Ok(Answer::Ok(Json(row)))
    }

    /// Archives or unarchives a chat.
    #[oai(
        path = "/chat/archiveChat/:instanceName",
        method = "post",
        operation_id = "archive_chat"
    )]
    async fn archive_chat(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<ArchiveBody>,
    ) -> Result<Changed, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let b = body.0;
        let archive = b.archive.take("archive")?;
        let chat = chat_of(b.chat, b.last_message.0)?;
        h.archive_chat(&chat, archive).await?;
        Ok(Changed::Created(Json(
            json!({"chatId": chat, "archived": archive}),
        )))
    }

    /// Marks a chat unread until it is read again.
    #[oai(
        path = "/chat/markChatUnread/:instanceName",
        method = "post",
        operation_id = "mark_chat_unread"
    )]
    async fn mark_chat_unread(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<UnreadBody>,
    ) -> Result<Changed, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let b = body.0;
        let last = b.last_message.take("lastMessage")?;
        let chat = chat_of(b.chat, Some(last))?;
        h.mark_chat_unread(&chat).await?;
        Ok(Changed::Created(Json(
            json!({"chatId": chat, "markedChatUnread": true}),
        )))
    }
}
