//! What a history sync brings, in our own types: the messages, chats and contacts the phone
//! hands a newly linked device (and address-book contacts learned later).

use super::InboundMessage;

/// One history-sync batch. Messages keep their original ids and timestamps; a batch seen again
/// (a redelivery) stores nothing twice.
#[derive(Debug, Clone, Default)]
pub struct HistoryBatch {
    pub messages: Vec<InboundMessage>,
    pub chats: Vec<HistoryChat>,
    pub contacts: Vec<HistoryContact>,
    /// How far the phone is through its history (0–100), when it says.
    pub progress: Option<u32>,
}

impl HistoryBatch {
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty() && self.chats.is_empty() && self.contacts.is_empty()
    }
}

/// A conversation as the phone lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryChat {
    pub jid: String,
    /// The group subject or the name the phone shows for the chat.
    pub name: Option<String>,
    pub unread: u32,
    pub archived: bool,
    /// Unix seconds of the chat's last activity, when known.
    pub last_activity: Option<u64>,
}

/// A contact: a push name from the history, or an address-book entry (`saved`).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryContact {
    pub jid: String,
    /// The push name, or for an address-book entry the name it is saved under.
    pub name: Option<String>,
    /// From the address book (Evolution's `isSaved`).
    pub saved: bool,
}
