//! One task per instance. The actor owns the instance's engine session, its state machine and
//! its record, and is the only writer of its [`InstanceView`]. Everyone else goes through an
//! [`InstanceHandle`](super::InstanceHandle).

mod call;
mod history;
mod inbound;
mod upkeep;

use std::sync::Arc;

use chrono::Utc;
use tokio::sync::{mpsc, oneshot, watch};

use super::handle::{InstanceError, InstanceView, QrView, Shared};
use super::vitals::Transition;
use super::{ConnectionState, Settings, Timed, WebhookConfig};
use crate::engine::{EngineEvent, Presence, Session, SessionContext};
use crate::events::payload::{ConnectionChange, Owner, QrCode};
use crate::events::{Event, EventKind, Payload};
use crate::store::instances::InstanceRecord;

/// Engine events queued per session before the session itself waits.
const ENGINE_QUEUE: usize = 1024;
/// Engine events handled before a flush, at most, when they keep arriving.
const DRAIN_CAP: usize = 256;

pub(crate) enum Command {
    Connect {
        pairing_phone: Option<String>,
        reply: oneshot::Sender<Result<(), InstanceError>>,
    },
    Restart {
        reply: oneshot::Sender<Result<(), InstanceError>>,
    },
    Logout {
        reply: oneshot::Sender<Result<(), InstanceError>>,
    },
    Delete {
        reply: oneshot::Sender<Result<(), InstanceError>>,
    },
    SetSettings {
        settings: Settings,
        reply: oneshot::Sender<Result<(), InstanceError>>,
    },
    SetWebhook {
        webhook: Option<WebhookConfig>,
        reply: oneshot::Sender<Result<(), InstanceError>>,
    },
    /// Graceful stop at server shutdown: close the session, keep everything.
    Shutdown { reply: oneshot::Sender<()> },
}

/// How an actor restarted after a fault begins.
pub(super) struct Resume {
    /// The instance was paired: start its session again.
    pub reconnect: bool,
    /// Shown as the instance's last error.
    pub reason: String,
}

pub(super) struct Actor {
    shared: Arc<Shared>,
    record: InstanceRecord,
    view: watch::Sender<InstanceView>,
    /// Events of the current session; replaced with the session, so a stale session's
    /// events can never reach the new state.
    engine_rx: Option<mpsc::Receiver<EngineEvent>>,
    pairing_phone: Option<String>,
    /// Outbox rows were written since the last flush; flushed before the next step.
    unsynced: bool,
    /// Engines waiting to ack messages to WhatsApp until the next flush has made them durable.
    durable_acks: Vec<oneshot::Sender<()>>,
}

impl Actor {
    pub(super) fn new(
        shared: Arc<Shared>,
        record: InstanceRecord,
        view: watch::Sender<InstanceView>,
    ) -> Self {
        Actor {
            shared,
            record,
            view,
            engine_rx: None,
            pairing_phone: None,
            unsynced: false,
            durable_acks: Vec::new(),
        }
    }

    /// Handles commands and engine events until a delete, a shutdown or the end of the queue.
    /// `resume` is set for an actor restarted by its supervisor: a paired instance gets its
    /// session back at once, and the fault stays visible as the last error.
    pub(super) async fn run(mut self, cmds: &mut mpsc::Receiver<Command>, resume: Option<Resume>) {
        if let Some(resume) = resume {
            if resume.reconnect
                && let Err(e) = self.start_session(None).await
            {
                tracing::warn!(instance = %self.shared.name, error = %e, "could not resume the session");
            }
            self.update(|v| v.last_error = Some(resume.reason));
        }
        let reap_at = self.reap_deadline();
        loop {
            let reap = async {
                match reap_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                cmd = cmds.recv() => match cmd {
                    None => break,
                    Some(Command::Delete { reply }) => {
                        let r = self.delete().await;
                        let _ = reply.send(r);
                        break;
                    }
                    Some(Command::Shutdown { reply }) => {
                        if self.state() == ConnectionState::Open {
                            self.stamp_activity();
                        }
                        self.stop_session().await;
                        let _ = reply.send(());
                        break;
                    }
                    Some(cmd) => self.handle(cmd).await,
                },
                Some(ev) = recv_engine(&mut self.engine_rx) => {
                    self.on_engine(ev).await;
                    // Drain what queued meanwhile so one flush covers the whole batch, up to a
                    // cap so a steady stream cannot hold back the flush (and the acks) forever.
                    for _ in 0..DRAIN_CAP {
                        let Some(ev) = self.engine_rx.as_mut().and_then(|rx| rx.try_recv().ok()) else {
                            break;
                        };
                        self.on_engine(ev).await;
                    }
                }
                // Evolution's DEL_INSTANCE: only an instance that was never paired goes; a
                // paired one restored at start-up (or reconnecting) is not "never connected".
                _ = reap, if reap_at.is_some() && self.never_paired() => {
                    tracing::info!(instance = %self.shared.name, "DEL_INSTANCE: removing an instance that was never paired");
                    if self.delete().await.is_ok() {
                        self.shared.deps.forget(self.shared.id, &self.shared.name);
                    }
                    break;
                }
            }
            self.flush_events().await;
        }
    }

    fn state(&self) -> ConnectionState {
        self.view.borrow().state.state
    }

    async fn handle(&mut self, cmd: Command) {
        if matches!(cmd, Command::SetSettings { .. })
            && crate::fault::hit(crate::fault::Point::ActorPanic, &self.shared.name)
        {
            panic!("injected fault: actor_panic");
        }
        match cmd {
            Command::Connect {
                pairing_phone,
                reply,
            } => {
                let r = if self.state().has_session() && pairing_phone.is_none() {
                    Ok(())
                } else {
                    self.start_session(pairing_phone).await
                };
                self.flush_events().await;
                let _ = reply.send(r);
            }
            Command::Restart { reply } => {
                // An operator's restart is a fresh start: failures before it no longer count.
                self.shared.vitals.reset_attempts();
                let pairing = self.pairing_phone.clone();
                let r = self.start_session(pairing).await;
                self.flush_events().await;
                let _ = reply.send(r);
            }
            Command::Logout { reply } => {
                let r = if self.state() == ConnectionState::Close {
                    Err(InstanceError::NotConnected(self.shared.name.clone()))
                } else {
                    let session = self.take_session();
                    if let Some(s) = session
                        && let Err(e) = s.logout().await
                    {
                        tracing::warn!(instance = %self.shared.name, error = %e, "engine logout failed; wiping keys anyway");
                    }
                    self.on_logged_out(401, "logged out through the API").await
                };
                self.flush_events().await;
                let _ = reply.send(r);
            }
            Command::SetSettings { settings, reply } => {
                self.record.settings = settings;
                let r = self.persist(true).await;
                self.flush_events().await;
                let _ = reply.send(r);
            }
            Command::SetWebhook { webhook, reply } => {
                self.record.webhook = webhook;
                let r = self.persist(true).await;
                self.flush_events().await;
                let _ = reply.send(r);
            }
            Command::Delete { .. } | Command::Shutdown { .. } => {}
        }
    }

    fn take_session(&mut self) -> Option<Arc<dyn Session>> {
        self.engine_rx = None;
        self.shared.session.write().take()
    }

    async fn stop_session(&mut self) {
        if let Some(s) = self.take_session() {
            s.close().await;
        }
    }

    /// Starts a fresh session, closing any running one first.
    async fn start_session(&mut self, pairing_phone: Option<String>) -> Result<(), InstanceError> {
        self.stop_session().await;
        self.pairing_phone = pairing_phone.clone();
        let (tx, rx) = mpsc::channel(ENGINE_QUEUE);
        let engine = self
            .shared
            .deps
            .engines
            .for_integration(self.record.integration);
        let ctx = SessionContext {
            instance_id: self.shared.id,
            instance_name: self.shared.name.clone(),
            number: self.record.number.clone(),
            pairing_phone,
            sync_full_history: self.record.settings.sync_full_history,
            events: tx,
            store: self.shared.deps.store.clone(),
        };
        match engine.start(ctx) {
            Ok(session) => {
                *self.shared.session.write() = Some(session);
                self.engine_rx = Some(rx);
                self.update(|v| {
                    v.qr = QrView::default();
                    v.last_error = None;
                });
                self.set_state(ConnectionState::Connecting, 200);
                Ok(())
            }
            Err(e) => {
                self.update(|v| v.last_error = Some(e.to_string()));
                Err(e.into())
            }
        }
    }

    async fn on_engine(&mut self, ev: EngineEvent) {
        match ev {
            EngineEvent::Qr { code, ttl } => self.on_qr(code, ttl).await,
            EngineEvent::PairingCode { code } => self.update(|v| v.qr.pairing_code = Some(code)),
            EngineEvent::Connected { jid, push_name } => {
                self.record.owner_jid = Some(jid.clone());
                self.record.profile_name = push_name.clone();
                self.record.paired = true;
                self.record.connection_status = ConnectionState::Open;
                self.record.last_active_at = Some(Utc::now());
                if let Err(e) = self.persist(true).await {
                    tracing::error!(instance = %self.shared.name, error = %e, "could not persist pairing");
                }
                self.update(|v| v.qr = QrView::default());
                self.set_state(ConnectionState::Open, 200);
                // Evolution's alwaysOnline: the account shows online while connected.
                if self.record.settings.always_online {
                    self.in_background(
                        |s| async move { s.set_presence(Presence::Available).await },
                    );
                }
            }
            EngineEvent::Reconnecting { reason } => {
                tracing::debug!(instance = %self.shared.name, %reason, "reconnecting");
                self.shared.vitals.attempt(&reason);
                // Kept after the session is back, so an operator sees why it dropped.
                self.update(|v| v.last_error = Some(reason.clone()));
                self.set_state_because(ConnectionState::Connecting, 200, Some(reason));
            }
            EngineEvent::Failed { reason } => {
                self.take_session();
                self.shared.vitals.attempt(&reason);
                self.update(|v| v.last_error = Some(reason.clone()));
                self.set_state_because(ConnectionState::Failed, 503, Some(reason));
            }
            EngineEvent::LoggedOut { code, reason } => {
                self.take_session();
                if let Err(e) = self.on_logged_out(code, &reason).await {
                    tracing::error!(instance = %self.shared.name, error = %e, "could not wipe keys after logout");
                }
            }
            EngineEvent::Message(m) => {
                self.on_message(*m);
            }
            EngineEvent::DurableMessages { messages, done } => {
                let mut all_stored = true;
                for m in messages {
                    all_stored &= self.on_message(m);
                }
                // Even a batch of duplicates waits for a flush: the first copy may not be on
                // disk yet, and messages are stored even when no webhook row was written.
                self.unsynced = true;
                // A batch with a message that could not be stored is not acked (`done` dropped):
                // WhatsApp redelivers it and the stored ones are skipped as duplicates then.
                if all_stored {
                    self.durable_acks.push(done);
                }
            }
            EngineEvent::Receipt(r) => self.on_receipt(r),
            EngineEvent::Presence { jid, presence } => self.on_presence(jid, presence),
            EngineEvent::Group(g) => {
                let (kind, payload) = Payload::group(g);
                self.publish(kind, payload);
            }
            EngineEvent::Call(c) => self.on_call(c),
            EngineEvent::History(batch) if self.record.settings.sync_full_history => {
                self.on_history(*batch)
            }
            EngineEvent::History(_) => {
                tracing::debug!(instance = %self.shared.name, "history batch dropped: syncFullHistory is off")
            }
            EngineEvent::Contacts(contacts) => self.on_contacts(contacts),
        }
    }

    async fn on_qr(&mut self, code: String, ttl: std::time::Duration) {
        let count = self.view.borrow().qr.count + 1;
        if count > self.shared.deps.config.qrcode_limit {
            self.stop_session().await;
            self.update(|v| v.qr = QrView::default());
            self.publish(EventKind::QrcodeUpdated, Payload::QrLimitReached);
            let reason = "the QR code limit was reached without a scan".to_string();
            self.set_state_because(ConnectionState::Refused, 428, Some(reason));
            return;
        }
        let base64 = match crate::qr::png_data_uri(&code, self.shared.deps.config.qr_rgb()) {
            Ok(b) => Some(b),
            Err(e) => {
                tracing::error!(instance = %self.shared.name, error = %e, "QR rendering failed");
                None
            }
        };
        self.update(|v| {
            v.qr.code = Some(code.clone());
            v.qr.base64 = base64.clone();
            v.qr.count = count;
            v.qr.ttl_secs = Some(ttl.as_secs());
        });
        let pairing_code = self.view.borrow().qr.pairing_code.clone();
        let qr = QrCode {
            code,
            base64,
            pairing_code,
        };
        self.publish(EventKind::QrcodeUpdated, Payload::Qr(qr));
        self.set_state(ConnectionState::Connecting, 200);
    }

    /// The session is gone for good: wipe its keys, keep the instance and its history.
    async fn on_logged_out(&mut self, code: u16, reason: &str) -> Result<(), InstanceError> {
        self.shared.deps.store.purge_session_keys(self.shared.id)?;
        self.record.paired = false;
        self.record.connection_status = ConnectionState::Close;
        self.record.disconnection_reason_code = Some(code);
        self.record.disconnection_at = Some(Utc::now());
        self.persist(true).await?;
        self.update(|v| v.qr = QrView::default());
        self.set_state_because(ConnectionState::Close, code, Some(reason.to_string()));
        let closed = Payload::Closed {
            at: self.record.disconnection_at,
            code,
            reason: reason.to_string(),
        };
        self.publish(EventKind::StatusInstance, closed);
        self.publish(EventKind::LogoutInstance, Payload::Nothing);
        Ok(())
    }

    /// Runs a session call off the actor (a slow network call must not hold up events); a
    /// failure is logged, there is nobody to answer.
    pub(super) fn in_background<F, Fut>(&self, call: F)
    where
        F: FnOnce(Arc<dyn Session>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<(), crate::engine::EngineError>> + Send,
    {
        let Some(session) = self.shared.session.read().clone() else {
            return;
        };
        let name = self.shared.name.clone();
        tokio::spawn(async move {
            if let Err(e) = call(session).await {
                tracing::debug!(instance = %name, error = %e, "background session call failed");
            }
        });
    }

    async fn delete(&mut self) -> Result<(), InstanceError> {
        if let Some(s) = self.take_session() {
            if self.state() == ConnectionState::Open {
                let _ = s.logout().await;
            } else {
                s.close().await;
            }
        }
        self.publish(EventKind::InstanceDelete, Payload::Instance);
        self.publish(EventKind::RemoveInstance, Payload::Nothing);
        self.shared
            .deps
            .remove_instance_data(self.shared.id)
            .await?;
        Ok(())
    }

    fn set_state(&mut self, state: ConnectionState, reason: u16) {
        self.set_state_because(state, reason, None);
    }

    /// Changes the state; `why` is kept in the instance's timeline (a drop, a failure).
    fn set_state_because(&mut self, state: ConnectionState, reason: u16, why: Option<String>) {
        let from = self.state();
        if from == state {
            return;
        }
        let now = Timed::now(state);
        self.update(|v| v.state = now);
        let transition = Transition {
            at: now.since,
            state,
            code: reason,
            reason: why,
        };
        self.shared.vitals.transition(from, transition);
        if from == ConnectionState::Open {
            self.stamp_activity();
        }
        let owner =
            matches!(state, ConnectionState::Open | ConnectionState::Refused).then(|| Owner {
                jid: self.record.owner_jid.clone(),
                profile_name: self.record.profile_name.clone(),
                picture_url: self.record.profile_pic_url.clone(),
            });
        let change = ConnectionChange {
            state,
            reason,
            owner,
        };
        self.publish(EventKind::ConnectionUpdate, Payload::Connection(change));
    }

    fn update(&self, f: impl FnOnce(&mut InstanceView)) {
        self.view.send_modify(f);
    }

    async fn persist(&mut self, durable: bool) -> Result<(), InstanceError> {
        self.record.updated_at = Utc::now();
        let repo = &self.shared.deps.instances;
        if durable {
            repo.put_durable(&self.record).await?;
        } else {
            repo.put(&self.record)?;
        }
        let rec = Arc::new(self.record.clone());
        self.update(|v| v.record = rec);
        Ok(())
    }

    fn event(&self, kind: EventKind, payload: Payload) -> Event {
        Event::new(
            kind,
            &self.shared.name,
            self.shared.id,
            self.record.owner_jid.clone(),
            payload,
        )
    }

    fn publish(&mut self, kind: EventKind, payload: Payload) {
        self.shared.counters.observe(kind, &payload);
        let event = self.event(kind, payload);
        let webhook = self.record.webhook.as_ref();
        self.unsynced |= self.shared.deps.publish(event, webhook, &self.shared.token);
    }

    /// Makes the events published so far durable (one group-committed flush per batch), then
    /// lets the engine ack the messages that flush covered. On a failed flush the acks are
    /// dropped unsent, so WhatsApp redelivers those messages.
    async fn flush_events(&mut self) {
        if !std::mem::take(&mut self.unsynced) {
            return;
        }
        let acks = std::mem::take(&mut self.durable_acks);
        match self.shared.deps.store.sync().await {
            Ok(()) => {
                for done in acks {
                    let _ = done.send(());
                }
            }
            Err(e) => {
                tracing::error!(instance = %self.shared.name, error = %e, "could not flush webhook rows");
            }
        }
    }
}

async fn recv_engine(rx: &mut Option<mpsc::Receiver<EngineEvent>>) -> Option<EngineEvent> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
