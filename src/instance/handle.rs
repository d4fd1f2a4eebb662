//! The handle side of an instance: what HTTP handlers and the registry hold. A cheap clone
//! that either queues a [`Command`] for the instance's actor or reads the latest
//! [`InstanceView`] from a `watch`.
//!
//! Sends do not go through the actor's queue: the handle clones the current session and calls
//! it directly, so one slow send never delays QR codes, state changes or other sends.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

use super::actor::{Actor, Command};
use super::{ConnectionState, Settings, Timed, WebhookConfig};
use crate::engine::{EngineError, MessageContent, OutgoingMessage, Presence, Session};
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
        let session = self.shared.session.read().ok().and_then(|s| s.clone());
        match session {
            Some(s) if open => Ok(s),
            _ => Err(InstanceError::NotConnected(self.shared.name.clone())),
        }
    }

    /// Sends a text and returns Evolution's message record (status PENDING). The record is
    /// stored and `send.message` published before this returns.
    pub async fn send_text(
        &self,
        to: String,
        text: String,
        quoted_id: Option<String>,
        mentions: Vec<String>,
    ) -> Result<Value, InstanceError> {
        let session = self.connected_session()?;
        let sent = session
            .send(OutgoingMessage::Text {
                to,
                text: text.clone(),
                quoted_id,
                mentions,
            })
            .await?;
        let record = message_record(
            &self.shared.id,
            &sent.id,
            &sent.remote_jid,
            true,
            Some("Você"),
            "PENDING",
            &MessageContent::Text { text },
            sent.timestamp,
        );
        self.shared
            .messages
            .put(sent.timestamp, &sent.id, &record)?;
        self.shared.message_count.fetch_add(1, Ordering::Relaxed);
        let view = self.view();
        let event = Event::new(
            EventKind::SendMessage,
            &self.shared.name,
            self.shared.id,
            view.record.owner_jid.clone(),
            record.clone(),
        );
        // The 201 leaves only once send.message is durable in the outbox.
        let webhook = view.record.webhook.as_ref();
        if self.shared.deps.publish(event, webhook, &self.shared.token) {
            self.shared.deps.store.sync().await?;
        }
        Ok(record)
    }

    pub async fn set_presence(&self, presence: Presence) -> Result<(), InstanceError> {
        Ok(self.connected_session()?.set_presence(presence).await?)
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
        messages,
        deps,
    });
    tokio::spawn(Actor::new(shared.clone(), record, view_tx).run(cmd_rx));
    Ok(InstanceHandle { shared })
}
/// Evolution's message record (§6 of the reference).
#[allow(clippy::too_many_arguments)]
pub(super) fn message_record(
    instance_id: &Uuid,
    id: &str,
    remote_jid: &str,
    from_me: bool,
    push_name: Option<&str>,
    status: &str,
    content: &MessageContent,
    timestamp: u64,
) -> Value {
    let (message, message_type) = match content {
        MessageContent::Text { text } => (json!({"conversation": text}), "conversation"),
    };
    json!({
        "key": {"remoteJid": remote_jid, "fromMe": from_me, "id": id},
        "pushName": push_name,
        "status": status,
        "message": message,
        "contextInfo": null,
        "messageType": message_type,
        "messageTimestamp": timestamp,
        "instanceId": instance_id,
        "source": if id.starts_with("3EB0") { "web" } else { "unknown" },
    })
}
