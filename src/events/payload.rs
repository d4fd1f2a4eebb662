//! What an event says, typed. The instance layer builds these from its own types; Evolution's
//! JSON for them is rendered once, at the edge ([`crate::evolution::event`]), when a webhook
//! row, a transport row or a stream frame is written.

use chrono::{DateTime, Utc};

use super::EventKind;
use crate::engine::call::Call;
use crate::engine::group::GroupEvent;
use crate::engine::{HistoryChat, HistoryContact, MessageContent, MessageKey, Presence, Receipt};
use crate::instance::ConnectionState;
use crate::store::history::StoredMessage;

#[derive(Debug, Clone)]
pub enum Payload {
    /// `messages.upsert`, `send.message`, `messages.edited`: Evolution's message record.
    Message(Box<StoredMessage>),
    /// `send.message.update`: what went out, as Baileys' raw `WAMessage`.
    Sent(Box<SentRecord>),
    /// `messages.delete`: the key of the deleted message, seen from this side of the chat.
    Deleted(MessageKey),
    /// `messages.update`: a status receipt.
    Receipt(Receipt),
    /// `presence.update`.
    Presence { jid: String, presence: Presence },
    /// `connection.update`.
    Connection(ConnectionChange),
    /// `qrcode.updated` with a new code.
    Qr(QrCode),
    /// `qrcode.updated` once the QR limit is reached.
    QrLimitReached,
    /// `status.instance` after a logout: when and why the session ended.
    Closed {
        at: Option<DateTime<Utc>>,
        code: u16,
        reason: String,
    },
    /// `instance.create`, `instance.delete`: the instance's name and id.
    Instance,
    /// `remove.instance`, `logout.instance`: Evolution sends `null`.
    Nothing,
    /// `groups.upsert`, `groups.update`, `group-participants.update`.
    Group(GroupEvent),
    /// `call`: a call offered to the account, or what became of one.
    Call(Call),
    /// `messages.set`: messages of a history-sync batch, as message records.
    Messages(Vec<StoredMessage>),
    /// `chats.set`: chats a history-sync batch made known.
    Chats(Vec<HistoryChat>),
    /// `contacts.upsert`: contacts learned from the history or the address book.
    Contacts(Vec<HistoryContact>),
}

/// A message as it went out (edits and deletes answer with it).
#[derive(Debug, Clone)]
pub struct SentRecord {
    pub key: MessageKey,
    pub content: MessageContent,
    pub timestamp: u64,
}

#[derive(Debug, Clone)]
pub struct ConnectionChange {
    pub state: ConnectionState,
    pub reason: u16,
    /// Who the session belongs to; given when the state is `open` or `refused`.
    pub owner: Option<Owner>,
}

#[derive(Debug, Clone)]
pub struct Owner {
    pub jid: Option<String>,
    pub profile_name: Option<String>,
    pub picture_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct QrCode {
    pub code: String,
    /// The code as a PNG data URI; absent when rendering it failed.
    pub base64: Option<String>,
    pub pairing_code: Option<String>,
}

impl Payload {
    /// The event kind of a group change.
    pub fn group(ev: GroupEvent) -> (EventKind, Payload) {
        let kind = match &ev {
            GroupEvent::Joined(_) => EventKind::GroupsUpsert,
            GroupEvent::Updated(_) => EventKind::GroupsUpdate,
            GroupEvent::Participants { .. } => EventKind::GroupParticipantsUpdate,
        };
        (kind, Payload::Group(ev))
    }

    /// Whether this is one of our own messages (the counters tell directions apart).
    pub fn from_me(&self) -> Option<bool> {
        match self {
            Payload::Message(m) => Some(m.key.from_me),
            Payload::Sent(_) => Some(true),
            _ => None,
        }
    }
}
