//! The handle side of an instance: what HTTP handlers and the registry hold. A cheap clone
//! that either queues a [`Command`] for the instance's actor or reads the latest
//! [`InstanceView`] from a `watch`.
//!
//! Sends do not go through the actor's queue: the handle clones the current session and calls
//! it directly, so one slow send never delays QR codes, state changes or other sends.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

use super::actor::Command;
use super::counters::{Counters, CountersView};
use super::record::{RecordMeta, key_json, message_record, raw_message};
use super::{ConnectionState, Settings, Timed, WebhookConfig};
use crate::engine::{EngineError, MessageKey, OutgoingMessage, Presence, SentMessage, Session};
use crate::events::{Event, EventKind};
use crate::instance::registry::Deps;
use crate::store::StoreError;
use crate::store::instances::InstanceRecord;
use crate::store::messages::MessageRepo;

/// Commands queued per instance. Bounded: a caller waits when an instance is flooded.
const COMMAND_QUEUE: usize = 64;

/// Errors of the instance layer.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    #[error("The \"{0}\" instance is not connected")]
    NotConnected(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the instance is shutting down")]
    Gone,
}

/// What readers see of an instance, replaced as a whole on every change.
#[derive(Debug, Clone)]
pub struct InstanceView {
    pub record: Arc<InstanceRecord>,
    pub state: Timed,
    pub qr: QrView,
    /// Why the last connection attempt failed, if it did.
    pub last_error: Option<String>,
}

/// The QR shown by a connecting instance, Evolution's `{pairingCode, code, base64, count}`.
#[derive(Debug, Clone, Default)]
pub struct QrView {
    pub code: Option<String>,
    pub base64: Option<String>,
    pub pairing_code: Option<String>,
    pub count: u32,
}

pub(super) struct Shared {
    pub(super) id: Uuid,
    pub(super) name: String,
    pub(super) token: String,
    cmd: mpsc::Sender<Command>,
    view: watch::Receiver<InstanceView>,
    /// The running session, written only by the actor; sends clone it.
    pub(super) session: RwLock<Option<Arc<dyn Session>>>,
    pub(super) messages: MessageRepo,
    /// Messages stored so far (sent and received), for `_count.Message`.
    pub(super) message_count: AtomicU64,
    /// Operator counters, fed by every publish of this instance.
    pub(super) counters: Counters,
    pub(super) deps: Arc<Deps>,
}

/// A cheap-to-clone reference to a running instance.
#[derive(Clone)]
pub struct InstanceHandle {
    shared: Arc<Shared>,
}

impl InstanceHandle {
    pub fn id(&self) -> Uuid {
        self.shared.id
    }

    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Constant-time comparison with the instance token.
    pub fn token_matches(&self, key: &str) -> bool {
        crate::api::auth::constant_time_eq(key, &self.shared.token)
    }

    pub fn token(&self) -> &str {
        &self.shared.token
    }

    pub fn view(&self) -> InstanceView {
        self.shared.view.borrow().clone()
    }

    /// Waits until `pred` holds for the view or `timeout` passes; returns the last view.
    pub async fn wait_view(
        &self,
        timeout: Duration,
        pred: impl Fn(&InstanceView) -> bool,
    ) -> InstanceView {
        let mut rx = self.shared.view.clone();
        let _ = tokio::time::timeout(timeout, rx.wait_for(|v| pred(v))).await;

        rx.borrow().clone()
    }

    async fn ask(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<(), InstanceError>>) -> Command,
    ) -> Result<(), InstanceError> {
        let (tx, rx) = oneshot::channel();
        self.shared
            .cmd
            .send(make(tx))
            .await
            .map_err(|_| InstanceError::Gone)?;
        rx.await.map_err(|_| InstanceError::Gone)?
    }

    pub async fn connect(&self, pairing_phone: Option<String>) -> Result<(), InstanceError> {
        self.ask(|reply| Command::Connect {
            pairing_phone,
            reply,
        })
        .await
    }

    pub async fn restart(&self) -> Result<(), InstanceError> {
        self.ask(|reply| Command::Restart { reply }).await
    }

    pub async fn logout(&self) -> Result<(), InstanceError> {
        self.ask(|reply| Command::Logout { reply }).await
    }

    pub(crate) async fn delete(&self) -> Result<(), InstanceError> {
        self.ask(|reply| Command::Delete { reply }).await
    }

    pub async fn set_settings(&self, settings: Settings) -> Result<(), InstanceError> {
        self.ask(|reply| Command::SetSettings { settings, reply })
            .await
    }

    pub async fn set_webhook(&self, webhook: Option<WebhookConfig>) -> Result<(), InstanceError> {
        self.ask(|reply| Command::SetWebhook { webhook, reply })
            .await
    }

    pub(crate) async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self
            .shared
            .cmd
            .send(Command::Shutdown { reply: tx })
            .await
            .is_ok()
        {
            let _ = rx.await;
        }
    }

    /// The running session when the instance is open (group operations use it directly).
    pub(crate) fn connected_session(&self) -> Result<Arc<dyn Session>, InstanceError> {
        let open = self.shared.view.borrow().state.state == ConnectionState::Open;
        let session = self.shared.session.read().clone();
        match session {
            Some(s) if open => Ok(s),
            _ => Err(InstanceError::NotConnected(self.shared.name.clone())),
        }
    }

    /// Stores a record, publishes it as `kind` and, when that made an outbox row, waits until it
    /// is durable: the HTTP answer leaves only once the event cannot be lost.
    async fn record_and_publish(
        &self,
        kind: EventKind,
        stored: Option<(u64, &str)>,
        record: Value,
    ) -> Result<Value, InstanceError> {
        if let Some((timestamp, id)) = stored {
            self.shared.messages.put(timestamp, id, &record)?;
            self.shared.message_count.fetch_add(1, Ordering::Relaxed);
        }
        let view = self.view();
        let event = Event::new(
            kind,
            &self.shared.name,
            self.shared.id,
            view.record.owner_jid.clone(),
            record.clone(),
        );
        let webhook = view.record.webhook.as_ref();
        self.shared.counters.observe(kind, &event.data);
        if self.shared.deps.publish(event, webhook, &self.shared.token) {
            self.shared.deps.store.sync().await?;
        }
        Ok(record)
    }

    /// Sends a message and returns Evolution's message record (status PENDING). The record is
    /// stored and `send.message` published before this returns.
    pub async fn send(&self, msg: OutgoingMessage) -> Result<Value, InstanceError> {
        let context = msg.context.clone();
        let sent = match self.send_unrecorded(msg).await {
            Ok(sent) => sent,
            Err(e) => {
                self.shared.counters.send_failed();
                return Err(e);
            }
        };
        let key = MessageKey {
            remote_jid: sent.remote_jid.clone(),
            from_me: true,
            id: sent.id.clone(),
            participant: None,
        };
        let record = message_record(
            RecordMeta {
                instance_id: &self.shared.id,
                key: &key,
                push_name: Some("Você"),
                status: "PENDING",
                timestamp: sent.timestamp,
            },
            &sent.content,
            &context,
        );
        self.record_and_publish(
            EventKind::SendMessage,
            Some((sent.timestamp, &sent.id)),
            record,
        )
        .await
    }

    async fn send_unrecorded(&self, msg: OutgoingMessage) -> Result<SentMessage, InstanceError> {
        let session = self.connected_session()?;
        // Refused before anything goes out: a message sent but not recorded would be sent
        // again by a client retrying the 507.
        self.shared.deps.store.writable()?;
        Ok(session.send(msg).await?)
    }

    /// The operator counters (messages, send errors, reconnects, flaps, last activity).
    pub fn counters(&self) -> CountersView {
        self.shared.counters.read()
    }

    /// A stored message by id.
    pub fn message(&self, id: &str) -> Result<Option<Value>, InstanceError> {
        Ok(self.shared.messages.get(id)?)
    }

    /// Edits one of our messages; returns Baileys' raw `WAMessage` of the edit, as Evolution.
    pub async fn edit(&self, key: MessageKey, text: String) -> Result<Value, InstanceError> {
        let session = self.connected_session()?;
        self.shared.deps.store.writable()?;
        let sent = session.edit(key.clone(), text.clone()).await?;
        self.shared
            .messages
            .update(&key.id, |r| mark_edited(r, &text))?;
        let edit_key = MessageKey {
            remote_jid: sent.remote_jid.clone(),
            from_me: true,
            id: sent.id.clone(),
            participant: None,
        };
        let raw = raw_message(&edit_key, &sent.content, sent.timestamp);
        self.record_and_publish(EventKind::SendMessageUpdate, None, raw)
            .await
    }

    /// Deletes a message for everyone; returns the raw `WAMessage` of the revoke.
    pub async fn revoke(&self, key: MessageKey) -> Result<Value, InstanceError> {
        let session = self.connected_session()?;
        self.shared.deps.store.writable()?;
        let sent = session.revoke(key.clone()).await?;
        self.shared.messages.update(&key.id, mark_deleted)?;
        let raw = raw_message(&key, &sent.content, sent.timestamp);
        self.record_and_publish(EventKind::MessagesDelete, None, key_json(&key))
            .await?;
        Ok(raw)
    }

    pub async fn mark_read(&self, keys: Vec<MessageKey>) -> Result<(), InstanceError> {
        Ok(self.connected_session()?.mark_read(keys).await?)
    }

    pub async fn set_presence(&self, presence: Presence) -> Result<(), InstanceError> {
        Ok(self.connected_session()?.set_presence(presence).await?)
    }

    pub async fn chat_presence(&self, to: String, presence: Presence) -> Result<(), InstanceError> {
        Ok(self
            .connected_session()?
            .chat_presence(to, presence)
            .await?)
    }

    /// The connected session, for operations that need no bookkeeping here (profiles, privacy,
    /// blocking, number checks).
    pub fn session(&self) -> Result<Arc<dyn Session>, InstanceError> {
        self.connected_session()
    }

    pub fn message_count(&self) -> u64 {
        self.shared.message_count.load(Ordering::Relaxed)
    }

    /// Latest stored messages, newest first.
    pub fn latest_messages(&self, limit: usize) -> Result<Vec<Value>, InstanceError> {
        Ok(self.shared.messages.latest(limit)?)
    }
}

/// Spawns the actor of `record` and returns its handle.
pub(crate) fn spawn(record: InstanceRecord, deps: Arc<Deps>) -> Result<InstanceHandle, StoreError> {
    let messages = MessageRepo::open(&deps.store, record.id)?;
    let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_QUEUE);
    let view = InstanceView {
        state: Timed::now(ConnectionState::Close),
        qr: QrView::default(),
        last_error: None,
        record: Arc::new(record.clone()),
    };
    let (view_tx, view_rx) = watch::channel(view);
    let shared = Arc::new(Shared {
        id: record.id,
        name: record.name.clone(),
        token: record.token.clone(),
        cmd: cmd_tx,
        view: view_rx,
        session: RwLock::new(None),
        message_count: AtomicU64::new(messages.count() as u64),
        counters: Counters::default(),
        messages,
        deps,
    });
    tokio::spawn(super::supervisor::supervise(
        shared.clone(),
        record,
        view_tx,
        cmd_rx,
    ));
    Ok(InstanceHandle { shared })
}

/// An edited message keeps its record with the new text and status `EDITED`.
pub(super) fn mark_edited(record: &mut Value, text: &str) {
    record["status"] = json!("EDITED");
    if let Some(m) = record.get_mut("message").and_then(Value::as_object_mut) {
        if m.contains_key("conversation") {
            m.insert("conversation".into(), json!(text));
        } else if let Some(body) = m.values_mut().find(|b| b.get("caption").is_some()) {
            body["caption"] = json!(text);
        }
    }
}

/// A message deleted for everyone stays, flagged, as Evolution's `DATABASE_DELETE_MESSAGE=false`.
pub(super) fn mark_deleted(record: &mut Value) {
    record["status"] = json!("DELETED");
    record["key"]["deleted"] = json!(true);
}
