//! WhatsApp engines behind one trait. The types here are ours, not whatsapp-rust's: the instance
//! actor and the HTTP layer never see an engine's internals.
//!
//! An engine starts a [`Session`] for one instance. The session reports what happens
//! (QR codes, connected, messages, receipts, calls, logout) as [`EngineEvent`]s on the bounded channel
//! it was given, and offers the operations the API needs (send, presence, number check, logout).

pub mod call;
pub mod content;
pub mod group;
pub mod history;
pub mod interactive;
pub mod jid;
pub mod loopback;
pub mod whatsapp;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

pub use history::{HistoryBatch, HistoryChat, HistoryContact};

pub use content::{
    BusinessDayHours, BusinessProfile, ContactCard, Context, Media, MediaKind, MediaRef,
    MessageContent, MessageKey, NewMedia, Outgoing, OutgoingMessage, Privacy, PrivacyValue,
    Profile, Quote,
};
pub use interactive::{Button, ButtonAction, ButtonsMessage, ListMenu, ListRow, ListSection};

use crate::instance::Integration;
use crate::store::{Store, StoreError};

/// What a session needs from its instance.
pub struct SessionContext {
    pub instance_id: Uuid,
    pub instance_name: String,
    /// Phone number the instance was created with, if any.
    pub number: Option<String>,
    /// When set, ask for a pairing code for this phone number instead of (or beside) QR codes.
    pub pairing_phone: Option<String>,
    /// Evolution's syncFullHistory: process the history the phone sends after pairing. When
    /// off, an engine may decline it at the source (the actor drops batches either way).
    pub sync_full_history: bool,
    /// Where the session reports. Bounded: a session that outruns its actor waits.
    pub events: mpsc::Sender<EngineEvent>,
    pub store: Store,
}

/// One running WhatsApp session of one instance. Every operation needs the session to be
/// logged in and fails with [`EngineError::NotConnected`] otherwise.
pub trait Session: Send + Sync {
    /// Uploads media if there is any, then sends.
    fn send(&self, msg: OutgoingMessage) -> BoxFuture<'_, Result<SentMessage, EngineError>>;
    /// Replaces the text (or caption) of one of our messages.
    fn edit(
        &self,
        key: MessageKey,
        text: String,
    ) -> BoxFuture<'_, Result<SentMessage, EngineError>>;
    /// Deletes a message for everyone.
    fn revoke(&self, key: MessageKey) -> BoxFuture<'_, Result<SentMessage, EngineError>>;
    /// Sends read receipts.
    fn mark_read(&self, keys: Vec<MessageKey>) -> BoxFuture<'_, Result<(), EngineError>>;
    /// Which of these phone numbers (digits) have WhatsApp.
    fn check_numbers(
        &self,
        numbers: Vec<String>,
    ) -> BoxFuture<'_, Result<Vec<NumberCheck>, EngineError>>;
    /// Global presence (available / unavailable).
    fn set_presence(&self, presence: Presence) -> BoxFuture<'_, Result<(), EngineError>>;
    /// Typing or recording in one chat (`paused` ends it).
    fn chat_presence(
        &self,
        to: String,
        presence: Presence,
    ) -> BoxFuture<'_, Result<(), EngineError>>;
    fn profile_picture_url(
        &self,
        jid: String,
    ) -> BoxFuture<'_, Result<Option<String>, EngineError>>;
    fn fetch_profile(&self, jid: String) -> BoxFuture<'_, Result<Profile, EngineError>>;
    /// The business profile of `jid`; `None` when it is not a business account.
    fn business_profile(
        &self,
        jid: String,
    ) -> BoxFuture<'_, Result<Option<BusinessProfile>, EngineError>>;
    /// Downloads and decrypts the media of a message.
    fn download(&self, media: Media) -> BoxFuture<'_, Result<Vec<u8>, EngineError>>;
    fn set_blocked(&self, jid: String, blocked: bool) -> BoxFuture<'_, Result<(), EngineError>>;
    fn privacy(&self) -> BoxFuture<'_, Result<Privacy, EngineError>>;
    fn set_privacy(&self, privacy: Privacy) -> BoxFuture<'_, Result<(), EngineError>>;
    fn set_profile_name(&self, name: String) -> BoxFuture<'_, Result<(), EngineError>>;
    fn set_profile_status(&self, status: String) -> BoxFuture<'_, Result<(), EngineError>>;
    /// `None` removes the picture.
    fn set_profile_picture(&self, jpeg: Option<Vec<u8>>) -> BoxFuture<'_, Result<(), EngineError>>;
    /// Declines a call offered to the account (the caller stops ringing).
    fn reject_call(&self, call: call::Call) -> BoxFuture<'_, Result<(), EngineError>>;
    /// Rings `to` (a user JID) for `ring` unless it is answered or rejected first.
    fn offer_call(
        &self,
        to: String,
        is_video: bool,
        ring: Duration,
    ) -> BoxFuture<'_, Result<call::PlacedCall, EngineError>>;
    /// One round trip to WhatsApp (a keepalive ping): the connection carries traffic now.
    fn ping(&self) -> BoxFuture<'_, Result<(), EngineError>>;
    /// Unlinks the device on WhatsApp's side and ends the session. Keys are wiped by the caller.
    fn logout(&self) -> BoxFuture<'_, Result<(), EngineError>>;
    /// Ends the session, keeping its keys so it can log in again without a QR.
    fn close(&self) -> BoxFuture<'_, ()>;
    /// The group operations of this session.
    fn groups(&self) -> &dyn group::GroupOps;
}

/// Starts sessions of one integration.
pub trait Engine: Send + Sync {
    fn start(&self, ctx: SessionContext) -> Result<Arc<dyn Session>, EngineError>;
}

/// The engines of this process, one per integration.
#[derive(Clone)]
pub struct Engines {
    pub loopback: Arc<loopback::LoopbackEngine>,
    pub whatsapp: Arc<dyn Engine>,
}

impl Engines {
    pub fn for_integration(&self, integration: Integration) -> Arc<dyn Engine> {
        match integration {
            Integration::Loopback => self.loopback.clone(),
            Integration::WhatsAppBaileys => self.whatsapp.clone(),
        }
    }
}

/// What a session reports to its instance. Not `Clone`: [`EngineEvent::DurableMessages`]
/// carries a one-shot acknowledgement.
#[derive(Debug)]
pub enum EngineEvent {
    /// A new QR code to show; `ttl` is how long it stays valid.
    Qr {
        code: String,
        ttl: Duration,
    },
    /// A pairing code for the phone number asked for.
    PairingCode {
        code: String,
    },
    /// Logged in and connected.
    Connected {
        jid: String,
        push_name: Option<String>,
    },
    /// The connection dropped; the session is reconnecting on its own.
    Reconnecting {
        reason: String,
    },
    /// The session gave up reconnecting.
    Failed {
        reason: String,
    },
    /// The device was unlinked (from the phone, by a ban, or by our logout).
    LoggedOut {
        code: u16,
        reason: String,
    },
    Message(Box<InboundMessage>),
    /// Messages the engine acks to WhatsApp only once `done` fires: the actor sends on it after
    /// the records are stored and the outbox rows flushed. Dropping `done` unsent withholds the
    /// ack, so WhatsApp redelivers. Already-stored ids are skipped but still acknowledged.
    DurableMessages {
        messages: Vec<InboundMessage>,
        done: oneshot::Sender<()>,
    },
    Receipt(Receipt),
    /// A contact's presence or typing state changed.
    Presence {
        jid: String,
        presence: Presence,
    },
    /// A group the account is in changed.
    Group(group::GroupEvent),
    /// A call was offered to the account, or one of its calls changed.
    Call(call::Call),
    /// A history-sync batch from the phone.
    History(Box<HistoryBatch>),
    /// Contacts learned outside a message (the address book).
    Contacts(Vec<HistoryContact>),
}

/// A message that arrived (or that we sent from another device).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InboundMessage {
    pub id: String,
    /// The chat: the sender's JID for a direct message, the group's for a group message.
    pub remote_jid: String,
    pub from_me: bool,
    /// The sender inside a group.
    pub participant: Option<String>,
    pub push_name: Option<String>,
    pub timestamp: u64,
    pub content: MessageContent,
    pub context: Context,
}

/// What the engine tells about a message it accepted for sending.
#[derive(Debug, Clone)]
pub struct SentMessage {
    pub id: String,
    pub remote_jid: String,
    pub timestamp: u64,
    /// What went out: media now carries where it was uploaded.
    pub content: MessageContent,
}

/// A change of a sent message's status.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Receipt {
    pub id: String,
    pub remote_jid: String,
    pub from_me: bool,
    pub status: MessageStatus,
}

/// Evolution's message status names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessageStatus {
    Error,
    Pending,
    ServerAck,
    DeliveryAck,
    Read,
    Played,
}

/// Result of a number check.
#[derive(Debug, Clone, Serialize)]
pub struct NumberCheck {
    pub number: String,
    pub jid: String,
    pub exists: bool,
}

/// Presence values Evolution accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    Available,
    Unavailable,
    Composing,
    Recording,
    Paused,
}

impl Presence {
    pub fn parse(s: &str) -> Option<Presence> {
        Some(match s {
            "available" => Presence::Available,
            "unavailable" => Presence::Unavailable,
            "composing" => Presence::Composing,
            "recording" => Presence::Recording,
            "paused" => Presence::Paused,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Available => "available",
            Presence::Unavailable => "unavailable",
            Presence::Composing => "composing",
            Presence::Recording => "recording",
            Presence::Paused => "paused",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the session is not connected")]
    NotConnected,
    #[error("{jid} is not on WhatsApp")]
    NotOnWhatsApp { jid: String, number: String },
    #[error("{0}")]
    Unavailable(String),
    #[error("recipient queue is full")]
    Busy,
    /// The request cannot be carried out as asked (unknown message, not allowed...).
    #[error("{0}")]
    Rejected(String),
    /// The thing asked about does not exist (for this account), e.g. an unknown group.
    #[error("{0}")]
    NotFound(String),
    /// The account's role does not allow it, e.g. a non-admin changing a locked group.
    #[error("{0}")]
    Forbidden(String),
    /// The request breaks a WhatsApp rule (too long a subject, ...).
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A fresh message id in WhatsApp Web's format (`3EB0` + 36 upper-case hex digits).
pub fn new_message_id() -> String {
    let a = Uuid::new_v4().simple().to_string().to_uppercase();
    let b = Uuid::new_v4().simple().to_string().to_uppercase();
    format!("3EB0{}{}", a, &b[..4])
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
