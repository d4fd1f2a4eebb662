//! The handle side of an instance: what HTTP handlers and the registry hold. A cheap clone
//! that either queues a [`Command`] for the instance's actor or reads the latest
//! [`InstanceView`] from a `watch`.
//!
//! Sends do not go through the actor's queue: the handle clones the current session and calls
//! it directly, so one slow send never delays QR codes, state changes or other sends.

use std::sync::Arc;

use parking_lot::RwLock;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

use super::actor::Command;
use super::counters::{Counters, CountersView};
use super::vitals::Vitals;
use super::{ConnectionState, Settings, Timed, WebhookConfig};
use crate::engine::call::PlacedCall;
use crate::engine::{EngineError, MessageKey, OutgoingMessage, Presence, SentMessage, Session};
use crate::events::EventKind;
use crate::events::payload::{Payload, SentRecord};
use crate::instance::registry::Deps;
use crate::store::StoreError;
use crate::store::history::{Change, HistoryRepo, Origin, Status, StoredMessage};
use crate::store::instances::InstanceRecord;

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
    /// How long the engine said the current code stays valid, in seconds.
    pub ttl_secs: Option<u64>,
}

pub(super) struct Shared {
    pub(super) id: Uuid,
    pub(super) name: String,
    pub(super) token: String,
    cmd: mpsc::Sender<Command>,
    view: watch::Receiver<InstanceView>,
    /// The running session, written only by the actor; sends clone it.
    pub(super) session: RwLock<Option<Arc<dyn Session>>>,
    pub(super) history: HistoryRepo,
    /// Operator counters, fed by every publish of this instance.
    pub(super) counters: Counters,
    /// Transitions, attempts, errors and health checks (`/sessions/*`), fed by the actor.
    pub(super) vitals: Vitals,
    pub(super) deps: Arc<Deps>,
    /// Group picture URLs recently fetched (`groups.rs`).
    pub(super) group_pictures: super::groups::PictureCache,
}

/// A cheap-to-clone reference to a running instance.
#[derive(Clone)]
pub struct InstanceHandle {
    shared: Arc<Shared>,
}

impl InstanceHandle {
    /// A handle on the instance whose state this is (the actor's own sends use it).
    pub(super) fn of(shared: Arc<Shared>) -> InstanceHandle {
        InstanceHandle { shared }
    }

    pub(super) fn shared(&self) -> &Shared {
        &self.shared
    }

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

    /// The tenant key that created the instance (`None`: the global key), read in place.
    pub fn owner(&self) -> Option<uuid::Uuid> {
        self.shared.view.borrow().record.owner
    }

    /// When the instance was created, read in place.
    pub fn created_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.shared.view.borrow().record.created_at
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

    /// Waits (bounded by `wait`) for the first QR, the pairing code when asked for, or a state
    /// other than `connecting`; both dialects' login routes answer from what this returns.
    pub async fn wait_for_qr(&self, wait: Duration, want_pairing_code: bool) -> InstanceView {
        self.wait_view(wait, |v| {
            v.state.state != ConnectionState::Connecting
                || (v.qr.code.is_some() && (!want_pairing_code || v.qr.pairing_code.is_some()))
        })
        .await
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

    /// Writes `change` with the event `kind` (through the ledger) and waits until it is durable:
    /// the HTTP answer leaves only once neither the change nor its event can be lost.
    async fn commit(
        &self,
        kind: EventKind,
        payload: Payload,
        change: &Change<'_>,
    ) -> Result<(), InstanceError> {
        let view = self.view();
        self.shared.commit(&view.record, kind, payload, change)?;
        // Flushed even without outbox rows: the answer says the message (or its edit or
        // delete) is stored, and a crash right after it must not undo that.
        self.shared.deps.store.sync().await?;
        Ok(())
    }

    /// Sends a message and returns it as stored (status PENDING). It is stored and
    /// `send.message` published before this returns.
    pub async fn send(&self, msg: OutgoingMessage) -> Result<StoredMessage, InstanceError> {
        let context = msg.context.clone();
        let sent = match self.send_unrecorded(msg).await {
            Ok(sent) => sent,
            Err(e) => {
                self.shared.counters.send_failed();
                self.shared.vitals.note_error(format!("send: {e}"));
                return Err(e);
            }
        };
        let stored = StoredMessage {
            key: MessageKey {
                remote_jid: sent.remote_jid,
                from_me: true,
                id: sent.id,
                participant: None,
            },
            push_name: Some("Você".into()),
            content: sent.content,
            context,
            status: Status::Pending,
            timestamp: sent.timestamp,
            origin: Origin::Api,
        };
        let change = Change::Message {
            message: &stored,
            contact: None,
        };
        let payload = Payload::Message(Box::new(stored.clone()));
        self.commit(EventKind::SendMessage, payload, &change)
            .await?;
        Ok(stored)
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

    /// Drops out of `open` within `window`, for flap detection.
    pub fn flaps_within(&self, window: Duration) -> u64 {
        self.shared.counters.flaps_within(window)
    }

    /// The state and whether a QR code is shown, read in place (no copy of the view): cheap
    /// enough to ask of every instance on every `/health`.
    pub fn state_glance(&self) -> (ConnectionState, bool) {
        let v = self.shared.view.borrow();
        (v.state.state, v.qr.code.is_some())
    }

    /// Edits one of our messages; returns the edit as it went out (Evolution answers with
    /// Baileys' raw `WAMessage` of it).
    pub async fn edit(&self, key: MessageKey, text: String) -> Result<SentRecord, InstanceError> {
        let session = self.connected_session()?;
        self.shared.deps.store.writable()?;
        let sent = session.edit(key.clone(), text.clone()).await?;
        let edit = SentRecord {
            key: MessageKey {
                remote_jid: sent.remote_jid,
                from_me: true,
                id: sent.id,
                participant: None,
            },
            content: sent.content,
            timestamp: sent.timestamp,
        };
        let change = Change::Rewrite {
            target: &key.id,
            edit: Some(&text),
            marker: None,
        };
        let payload = Payload::Sent(Box::new(edit.clone()));
        self.commit(EventKind::SendMessageUpdate, payload, &change)
            .await?;
        Ok(edit)
    }

    /// Deletes a message for everyone; returns the revoke as it went out, under the deleted
    /// message's key (Evolution answers with its raw `WAMessage`).
    pub async fn revoke(&self, key: MessageKey) -> Result<SentRecord, InstanceError> {
        let session = self.connected_session()?;
        self.shared.deps.store.writable()?;
        let sent = session.revoke(key.clone()).await?;
        let change = Change::Rewrite {
            target: &key.id,
            edit: None,
            marker: None,
        };
        self.commit(
            EventKind::MessagesDelete,
            Payload::Deleted(key.clone()),
            &change,
        )
        .await?;
        Ok(SentRecord {
            key,
            content: sent.content,
            timestamp: sent.timestamp,
        })
    }

    /// Sends read receipts, then clears the unread state of the chats they are in.
    pub async fn mark_read(&self, keys: Vec<MessageKey>) -> Result<(), InstanceError> {
        let chats: std::collections::BTreeSet<String> =
            keys.iter().map(|k| k.remote_jid.clone()).collect();
        self.connected_session()?.mark_read(keys).await?;
        for jid in chats {
            self.chat_read(&jid).await?;
        }
        Ok(())
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

    /// Rings `to` (a user JID) for `ring`, or until the callee rejects.
    pub async fn offer_call(
        &self,
        to: String,
        is_video: bool,
        ring: Duration,
    ) -> Result<PlacedCall, InstanceError> {
        Ok(self
            .connected_session()?
            .offer_call(to, is_video, ring)
            .await?)
    }

    /// The connected session, for operations that need no bookkeeping here (profiles, privacy,
    /// blocking, number checks).
    pub fn session(&self) -> Result<Arc<dyn Session>, InstanceError> {
        self.connected_session()
    }
}

/// Spawns the actor of `record` and returns its handle.
pub(crate) fn spawn(record: InstanceRecord, deps: Arc<Deps>) -> Result<InstanceHandle, StoreError> {
    let history = deps.history.repo(&deps.store, record.id);
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
        counters: Counters::default(),
        vitals: Vitals::default(),
        history,
        deps,
        group_pictures: Default::default(),
    });
    tokio::spawn(super::supervisor::supervise(
        shared.clone(),
        record,
        view_tx,
        cmd_rx,
    ));
    Ok(InstanceHandle { shared })
}
