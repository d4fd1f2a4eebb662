//! The stored history, typed: messages, chats, contacts, receipts. Rendered to Evolution's JSON
//! only at the edge (`instance::record`); stored with [`codec`](super::codec).

use serde::{Deserialize, Serialize};

use crate::engine::{
    Context, HistoryChat, HistoryContact, Media, MessageContent, MessageKey, MessageStatus,
};

/// Where a stored message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Origin {
    /// Sent through this server's API.
    Api,
    /// Received live (including our own messages typed on another device).
    Live,
    /// A history-sync batch after pairing.
    HistorySync,
}

/// A stored message's status: Evolution's receipt statuses, then what happened to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Status {
    Error,
    Pending,
    ServerAck,
    DeliveryAck,
    Read,
    Played,
    Edited,
    Deleted,
}

impl Status {
    /// Evolution's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Error => "ERROR",
            Status::Pending => "PENDING",
            Status::ServerAck => "SERVER_ACK",
            Status::DeliveryAck => "DELIVERY_ACK",
            Status::Read => "READ",
            Status::Played => "PLAYED",
            Status::Edited => "EDITED",
            Status::Deleted => "DELETED",
        }
    }

    /// The status after a receipt: receipts only move forward (a late "delivered" never
    /// undoes "read"), and never undo an edit or a delete.
    pub fn after(self, receipt: Status) -> Status {
        if self >= Status::Edited || receipt <= self {
            self
        } else {
            receipt
        }
    }
}

impl From<MessageStatus> for Status {
    fn from(s: MessageStatus) -> Status {
        match s {
            MessageStatus::Error => Status::Error,
            MessageStatus::Pending => Status::Pending,
            MessageStatus::ServerAck => Status::ServerAck,
            MessageStatus::DeliveryAck => Status::DeliveryAck,
            MessageStatus::Read => Status::Read,
            MessageStatus::Played => Status::Played,
        }
    }
}

/// One stored message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredMessage {
    pub key: MessageKey,
    pub push_name: Option<String>,
    pub content: MessageContent,
    pub context: Context,
    pub status: Status,
    /// Unix seconds, as WhatsApp gives them.
    pub timestamp: u64,
    pub origin: Origin,
}

impl StoredMessage {
    /// The text, or the caption of media: what a quote shows and an edit replaces.
    pub fn text(&self) -> Option<&str> {
        match &self.content {
            MessageContent::Text { text } => Some(text),
            MessageContent::Media(m) => m.caption.as_deref(),
            _ => None,
        }
    }

    pub fn media(&self) -> Option<&Media> {
        match &self.content {
            MessageContent::Media(m) => Some(m),
            _ => None,
        }
    }

    /// Applies an edit: new text (or caption), status `Edited`.
    pub fn edit(&mut self, text: &str) {
        match &mut self.content {
            MessageContent::Text { text: t } => *t = text.to_owned(),
            MessageContent::Media(m) if m.caption.is_some() => m.caption = Some(text.to_owned()),
            _ => {}
        }
        self.status = Status::Edited;
    }

    /// "Deleted for everyone": kept, flagged, as Evolution with `DATABASE_DELETE_MESSAGE=false`.
    pub fn delete(&mut self) {
        self.status = Status::Deleted;
    }

    /// Whether it counts as unread in its chat when it arrives.
    pub fn counts_unread(&self) -> bool {
        !self.key.from_me
            && self.origin == Origin::Live
            && !matches!(
                self.content,
                MessageContent::Reaction { .. }
                    | MessageContent::Revoke { .. }
                    | MessageContent::Edit { .. }
            )
    }
}

/// One chat: a row per remote JID that has a stored message or was touched by a chat action.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRow {
    /// The group subject or the contact's name, when known.
    pub name: Option<String>,
    pub unread: u32,
    pub archived: bool,
    /// Set by `markChatUnread`, cleared by reading the chat.
    pub marked_unread: bool,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds of the last activity (the newest message's timestamp): the sort key.
    pub updated_at: u64,
    /// Key id and timestamp of the newest stored message.
    pub last_message: Option<(String, u64)>,
    pub messages: u64,
}

impl ChatRow {
    /// What a history-sync conversation says about this chat: its name, the phone's unread
    /// count (history messages do not count themselves), archived, and its last activity while
    /// no message of it is stored. Applying it twice changes nothing more.
    pub fn merge_history(&mut self, c: &HistoryChat) {
        if c.name.is_some() {
            self.name.clone_from(&c.name);
        }
        self.unread = self.unread.max(c.unread);
        self.archived = c.archived;
        if self.last_message.is_none()
            && let Some(t) = c.last_activity
        {
            self.updated_at = self.updated_at.max(t);
        }
    }
}

/// One contact of the account: from push names, profile lookups and the address book.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContactRow {
    pub push_name: Option<String>,
    pub profile_pic_url: Option<String>,
    /// Seen in the address book (Evolution's `isSaved`).
    pub saved: bool,
    /// Unix seconds.
    pub created_at: u64,
    pub updated_at: u64,
}

impl ContactRow {
    /// A history push name fills a missing push name (a live one is newer); an address-book
    /// entry marks the contact saved and names it, as Evolution's contacts.upsert does.
    pub fn merge(&mut self, c: &HistoryContact) {
        if c.saved {
            self.saved = true;
            if c.name.is_some() {
                self.push_name.clone_from(&c.name);
            }
        } else if self.push_name.is_none() {
            self.push_name.clone_from(&c.name);
        }
    }
}

/// One status change of one message (Evolution's `MessageUpdate` row).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiptRow {
    pub key_id: String,
    pub remote_jid: String,
    pub from_me: bool,
    pub participant: Option<String>,
    pub status: Status,
    /// Unix milliseconds when it was recorded.
    pub at_ms: u64,
}

/// Counters kept per instance, so `_count` never scans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub messages: u64,
    pub chats: u64,
    pub contacts: u64,
}
