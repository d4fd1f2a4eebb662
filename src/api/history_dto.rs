//! Bodies of the history routes (`findMessages`, `findChats`, `findContacts`,
//! `findStatusMessage`, `archiveChat`, `markChatUnread`) and their reading into the store's
//! filters. Evolution's quirks kept: `offset` is the page size, `key.fromMe: false` does not
//! filter, `messageTimestamp` bounds are dates or milliseconds.

use poem_openapi::Object;
use poem_openapi::types::Any;
use serde_json::Value;

use super::error::ApiError;
use super::jid_text::JidText;
use super::message::jid;
use super::required::{Optional, Required};
use super::time_bound::TimeBound;
use crate::store::history::{ChatFilter, MessageFilter, Page};

/// Largest page size served (Evolution has none; a page of 10,000 records is already 10 MB).
/// (The document says 1000 too: `maximum` on `offset` and `take` below.)
pub const MAX_PAGE_SIZE: i64 = 1000;
/// `findMessages`' default page size, as Evolution's.
const DEFAULT_PAGE_SIZE: i64 = 50;

#[derive(Object, Debug, Default)]
#[oai(rename_all = "camelCase")]
pub struct KeyWhere {
    #[oai(validator(max_length = 128))]
    pub id: Optional<String>,
    pub remote_jid: Optional<JidText<123>>,
    /// Accepted and ignored: LID addressing is not stored apart (yet).
    #[oai(validator(max_length = 128))]
    pub remote_jid_alt: Optional<String>,
    pub from_me: Optional<bool>,
    pub participant: Optional<JidText<123>>,
}

/// `{gte, lte}`: ISO dates or Unix milliseconds.
#[derive(Object, Debug)]
pub struct TimeRange {
    pub gte: Optional<TimeBound>,
    pub lte: Optional<TimeBound>,
}

#[derive(Object, Debug, Default)]
#[oai(rename_all = "camelCase")]
pub struct MessageWhere {
    pub key: Optional<KeyWhere>,
    #[oai(validator(max_length = 128))]
    pub id: Optional<String>,
    /// Accepted and ignored (`web`, `android`...): not a stored field.
    #[oai(validator(max_length = 32))]
    pub source: Optional<String>,
    #[oai(validator(max_length = 64))]
    pub message_type: Optional<String>,
    pub message_timestamp: Optional<TimeRange>,
}

#[derive(Object, Debug, Default)]
pub struct FindMessagesBody {
    #[oai(rename = "where")]
    pub filter: Optional<MessageWhere>,
    /// 1-based page number (default 1).
    #[oai(validator(minimum(value = "1")))]
    pub page: Optional<i64>,
    /// The page size (Evolution's name; default 50).
    #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
    pub offset: Optional<i64>,
}

#[derive(Object, Debug, Default)]
#[oai(rename_all = "camelCase")]
pub struct ChatWhere {
    pub remote_jid: Optional<JidText<123>>,
    pub message_timestamp: Optional<TimeRange>,
}

#[derive(Object, Debug, Default)]
pub struct FindChatsBody {
    #[oai(rename = "where")]
    pub filter: Optional<ChatWhere>,
    /// How many chats (default: all, up to the page cap).
    #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
    pub take: Optional<i64>,
    #[oai(validator(minimum(value = "0")))]
    pub skip: Optional<i64>,
}

#[derive(Object, Debug, Default)]
#[oai(rename_all = "camelCase")]
pub struct ContactWhere {
    pub remote_jid: Optional<JidText<123>>,
    /// A message key id (`findStatusMessage`).
    #[oai(validator(max_length = 128))]
    pub id: Optional<String>,
}

/// `findContacts` and `findStatusMessage`.
#[derive(Object, Debug, Default)]
pub struct FindByJidBody {
    #[oai(rename = "where")]
    pub filter: Optional<ContactWhere>,
    #[oai(validator(minimum(value = "1")))]
    pub page: Optional<i64>,
    #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
    pub offset: Optional<i64>,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct LastMessageKey {
    #[oai(validator(max_length = 128))]
    pub id: Optional<String>,
    pub remote_jid: Required<JidText<123>>,
    pub from_me: Optional<bool>,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct LastMessage {
    pub key: Required<LastMessageKey>,
    pub message_timestamp: Optional<Any<Value>>,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct ArchiveBody {
    pub archive: Required<bool>,
    /// The chat: a number or a JID (or give `lastMessage`).
    pub chat: Optional<JidText<123>>,
    pub last_message: Optional<LastMessage>,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct UnreadBody {
    pub last_message: Required<LastMessage>,
    pub chat: Optional<JidText<123>>,
}

/// The chat an archive or unread request names: `chat`, else `lastMessage.key.remoteJid`. A
/// `lastMessage` given is checked even when `chat` names the chat.
pub fn chat_of(
    chat: Optional<JidText<123>>,
    last: Option<LastMessage>,
) -> Result<String, ApiError> {
    let last = last
        .map(|l| l.key.take("lastMessage.key")?.remote_jid.take("remoteJid"))
        .transpose()?;
    match (chat.0, last) {
        (Some(c), _) => jid(&c),
        (None, Some(l)) => jid(&l),
        (None, None) => Err(ApiError::Validation(
            "instance requires property \"chat\" or \"lastMessage\"".into(),
        )),
    }
}

/// Page number and size, refusing what makes no page (0, negative, past the cap).
pub fn page(
    number: Optional<i64>,
    size: Optional<i64>,
    default_size: i64,
) -> Result<Page, ApiError> {
    let number = number.0.unwrap_or(1);
    let size = size.0.unwrap_or(default_size);
    if number < 1 {
        return Err(ApiError::BadRequest("page must be 1 or more".into()));
    }
    if !(1..=MAX_PAGE_SIZE).contains(&size) {
        return Err(ApiError::BadRequest(format!(
            "offset (the page size) must be between 1 and {MAX_PAGE_SIZE}"
        )));
    }
    Ok(Page {
        number: number as u64,
        size: size as u64,
    })
}

fn range(r: Option<TimeRange>) -> Result<(Option<u64>, Option<u64>), ApiError> {
    let Some(r) = r else {
        return Ok((None, None));
    };
    Ok((
        r.gte.0.map(TimeBound::seconds),
        r.lte.0.map(TimeBound::seconds),
    ))
}

impl FindMessagesBody {
    pub fn into_query(self) -> Result<(MessageFilter, Page), ApiError> {
        let page = page(self.page, self.offset, DEFAULT_PAGE_SIZE)?;
        let w = self.filter.0.unwrap_or_default();
        let key = w.key.0.unwrap_or_default();
        let (since, until) = range(w.message_timestamp.0)?;
        let filter = MessageFilter {
            id: key.id.0.or(w.id.0),
            remote_jid: key.remote_jid.0.map(|j| jid(&j)).transpose()?,
            // Evolution filters on `fromMe` only when it is true.
            from_me: key.from_me.0.filter(|f| *f),
            participant: key.participant.0.map(|j| jid(&j)).transpose()?,
            message_type: w.message_type.0,
            since,
            until,
        };
        Ok((filter, page))
    }
}

impl FindChatsBody {
    pub fn into_query(self) -> Result<(ChatFilter, usize, usize), ApiError> {
        let skip = self.skip.0.unwrap_or(0);
        let take = self.take.0.unwrap_or(MAX_PAGE_SIZE);
        if skip < 0 || !(1..=MAX_PAGE_SIZE).contains(&take) {
            return Err(ApiError::BadRequest(format!(
                "skip must be 0 or more and take between 1 and {MAX_PAGE_SIZE}"
            )));
        }
        let w = self.filter.0.unwrap_or_default();
        let (since, until) = range(w.message_timestamp.0)?;
        let filter = ChatFilter {
            remote_jid: w.remote_jid.0.map(|j| jid(&j)).transpose()?,
            since,
            until,
        };
        Ok((filter, skip as usize, take as usize))
    }
}

impl FindByJidBody {
    /// `(remoteJid, id, page)`.
    pub fn into_query(
        self,
        default_size: i64,
    ) -> Result<(Option<String>, Option<String>, Page), ApiError> {
        let page = page(self.page, self.offset, default_size)?;
        let w = self.filter.0.unwrap_or_default();
        Ok((w.remote_jid.0.map(|j| jid(&j)).transpose()?, w.id.0, page))
    }
}
