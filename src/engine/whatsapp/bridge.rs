//! The bridge between one whatsapp-rust client's event bus and our [`EngineEvent`]s.
//!
//! whatsapp-rust calls [`EventHandler::handle_event`] inline on its dispatch path, so the bridge
//! never blocks: what the instance must see (QR codes, pairing codes, connected, messages,
//! receipts, group changes, calls) is `try_send`-ed on the session's bounded channel; what the supervisor needs to
//! decide the next step (connected? logged out? banned? QR batch used up?) is recorded in
//! [`Facts`]. Lifecycle outcomes (`Reconnecting`, `Failed`, `LoggedOut`) are emitted by the
//! supervisor, not here, once the client has stopped writing to the store.
//!
//! History-sync batches (decoded off the dispatch path) and address-book contacts go through
//! [`history`](super::history) and are never dropped for a full queue.
//!
//! Messages reach the instance through the [`durable`](super::durable) hook, which waits until
//! they are stored before the crate acks them; only batches the crate does not route through
//! the hook (`hook_committed` unset) are forwarded from here.
//!
//! Overflow policy: the actor drains that queue without awaiting the network, so it only fills
//! when the process is overloaded. Then a message or receipt is dropped, counted in `dropped`
//! and logged; a lifecycle event (QR, pairing code, connected), which the instance's state
//! depends on, is handed to a task that waits for room (it may then arrive after later events).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use whatsapp_rust::Client;
use whatsapp_rust::types::events::{Event, EventHandler, LazyHistorySync};
use whatsapp_rust::types::presence::{ChatPresence, ChatPresenceMedia, ReceiptType};

use crate::engine::{EngineEvent, MessageStatus, Presence, Receipt};

/// What happened to one client, read by the supervisor when the client's run loop ends.
#[derive(Debug, Default, Clone)]
pub(super) struct Facts {
    /// `Connected` was seen (logged in, critical sync done).
    pub connected: bool,
    /// A QR scan paired the device; the server now recycles the stream (515).
    pub paired: bool,
    /// Every QR code of the batch was shown without a scan.
    pub qr_exhausted: bool,
    /// The device was unlinked: (code, reason).
    pub logged_out: Option<(u16, String)>,
    /// A condition reconnecting cannot fix (ban, replaced stream, outdated client).
    pub fatal: Option<String>,
    /// The last reason the connection ended, for logs and `Reconnecting`.
    pub last_error: Option<String>,
}

pub(super) struct Bridge {
    instance: String,
    events: mpsc::Sender<EngineEvent>,
    facts: Mutex<Facts>,
    /// Set once the client is built, so `Connected` can report the own JID.
    client: Mutex<Weak<Client>>,
    /// Events the instance queue had no room for.
    dropped: AtomicU64,
}

impl Bridge {
    pub fn new(instance: String, events: mpsc::Sender<EngineEvent>) -> Arc<Bridge> {
        Arc::new(Bridge {
            instance,
            events,
            facts: Mutex::new(Facts::default()),
            client: Mutex::new(Weak::new()),
            dropped: AtomicU64::new(0),
        })
    }

    pub fn attach(&self, client: &Arc<Client>) {
        {
            let mut c = self.client.lock();
            *c = Arc::downgrade(client);
        }
    }

    pub fn facts(&self) -> Facts {
        self.facts.lock().clone()
    }

    fn record(&self, f: impl FnOnce(&mut Facts)) {
        {
            let mut facts = self.facts.lock();
            f(&mut facts);
        }
    }

    /// Messages and receipts: dropped (and counted) when the queue is full.
    fn emit(&self, ev: EngineEvent) {
        match self.events.try_send(ev) {
            Ok(()) | Err(TrySendError::Closed(_)) => {}
            Err(TrySendError::Full(_)) => {
                let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::error!(instance = %self.instance, dropped = n, "instance event queue full; event dropped");
            }
        }
    }

    /// Lifecycle events: never dropped while the instance listens.
    fn emit_lifecycle(&self, ev: EngineEvent) {
        if let Err(TrySendError::Full(ev)) = self.events.try_send(ev) {
            let tx = self.events.clone();
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => {
                    rt.spawn(async move {
                        let _ = tx.send(ev).await;
                    });
                }
                Err(_) => {
                    tracing::error!(instance = %self.instance, "lifecycle event lost: queue full outside a runtime")
                }
            }
        }
    }

    fn on_connected(&self) {
        let client = self.client.lock().upgrade();
        let (jid, push_name) = match &client {
            Some(c) => (
                c.pn().map(|j| j.to_non_ad().to_string()),
                Some(c.push_name()).filter(|n| !n.is_empty()),
            ),
            None => (None, None),
        };
        self.record(|f| f.connected = true);
        self.emit_lifecycle(EngineEvent::Connected {
            jid: jid.unwrap_or_default(),
            push_name,
        });
    }
}

impl Bridge {
    /// A history blob can be megabytes: it is decoded and converted off the dispatch path, and
    /// the batch waits for room in the queue rather than being dropped.
    fn on_history(&self, lazy: LazyHistorySync) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            tracing::error!(instance = %self.instance, "history batch lost: no runtime");
            return;
        };
        let (tx, instance) = (self.events.clone(), self.instance.clone());
        rt.spawn(async move {
            let batch = tokio::task::spawn_blocking(move || lazy.get().map(super::history::batch));
            match batch.await {
                Ok(Some(batch)) => {
                    let _ = tx.send(EngineEvent::History(Box::new(batch))).await;
                }
                _ => tracing::warn!(instance = %instance, "history sync blob could not be decoded"),
            }
        });
    }
}

/// `EventHandler` is implemented on a newtype so the client holds the bridge by `Arc`.
pub(super) struct BridgeHandler(pub Arc<Bridge>);

impl EventHandler for BridgeHandler {
    fn handle_event(&self, event: Arc<Event>) {
        let b = &self.0;
        match &*event {
            Event::PairingQrCode(q) => b.emit_lifecycle(EngineEvent::Qr {
                code: q.code.clone(),
                ttl: q.timeout,
            }),
            Event::PairingCode(p) => b.emit_lifecycle(EngineEvent::PairingCode {
                code: p.code.clone(),
            }),
            Event::PairingQrCodesExhausted(_) => b.record(|f| f.qr_exhausted = true),
            Event::PairSuccess(_) => b.record(|f| f.paired = true),
            Event::PairError(e) => {
                let reason = format!("pairing failed: {}", e.error);
                b.record(|f| f.last_error = Some(reason));
            }
            Event::Connected(_) => b.on_connected(),
            Event::Disconnected(d) => {
                let reason = d.reason.to_string();
                b.record(|f| f.last_error = Some(reason));
            }
            Event::LoggedOut(l) => {
                let code = u16::try_from(l.reason.code()).unwrap_or(401);
                let reason = format!("logged out ({:?})", l.reason);
                b.record(|f| f.logged_out = Some((code, reason)));
            }
            Event::StreamReplaced(_) => {
                b.record(|f| f.fatal = Some("replaced by another connection (409)".into()))
            }
            Event::TemporaryBan(t) => {
                let reason = format!("temporarily banned ({:?}) for {}", t.code, t.expire);
                b.record(|f| f.fatal = Some(reason));
            }
            Event::ClientOutdated(_) => b.record(|f| {
                f.fatal = Some(
                    "client version rejected as outdated (405); check ZAPGATE_WA_VERSION".into(),
                )
            }),
            Event::ConnectFailure(c) => {
                let reason = format!(
                    "connect failure {} ({:?}){}",
                    c.reason.code(),
                    c.reason,
                    c.message
                        .as_deref()
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                );
                let fatal = !c.reason.should_reconnect();
                b.record(|f| {
                    if fatal {
                        f.fatal = Some(reason.clone());
                    }
                    f.last_error = Some(reason);
                });
            }
            Event::StreamError(s) => {
                let reason = format!("stream error {}", s.code);
                b.record(|f| f.last_error = Some(reason));
            }
            // Committed through the durability hook: the instance already has these.
            Event::Messages(batch) if batch.hook_committed => {}
            // Batches the crate does not route through the hook (newsletters, recovered
            // placeholders): this event is their only delivery.
            Event::Messages(batch) => {
                for m in batch.messages.iter() {
                    match super::durable::inbound(m) {
                        Some(msg) => b.emit(EngineEvent::Message(Box::new(msg))),
                        None => {
                            tracing::debug!(instance = %b.instance, id = %m.info.id, "message kind not handled; skipped")
                        }
                    }
                }
            }
            Event::ChatPresence(p) => {
                let presence = match (&p.state, &p.media) {
                    (ChatPresence::Composing, ChatPresenceMedia::Audio) => Presence::Recording,
                    (ChatPresence::Composing, _) => Presence::Composing,
                    _ => Presence::Paused,
                };
                b.emit(EngineEvent::Presence {
                    jid: p.source.sender.to_non_ad().to_string(),
                    presence,
                });
            }
            Event::Presence(p) => b.emit(EngineEvent::Presence {
                jid: p.from.to_non_ad().to_string(),
                presence: if p.unavailable {
                    Presence::Unavailable
                } else {
                    Presence::Available
                },
            }),
            Event::Receipt(r) => {
                let status = match r.r#type {
                    ReceiptType::Delivered => MessageStatus::DeliveryAck,
                    ReceiptType::Read => MessageStatus::Read,
                    ReceiptType::Played => MessageStatus::Played,
                    _ => return,
                };
                let remote_jid = r.source.chat.to_non_ad().to_string();
                for id in &r.message_ids {
                    b.emit(EngineEvent::Receipt(Receipt {
                        id: id.to_string(),
                        remote_jid: remote_jid.clone(),
                        from_me: true,
                        status,
                    }));
                }
            }
            Event::HistorySync(h) => b.on_history((**h).clone()),
            Event::ContactUpdate(c) => {
                let contact =
                    super::history::address_book(c.jid.to_non_ad().to_string(), &c.action);
                b.emit_lifecycle(EngineEvent::Contacts(vec![contact]));
            }
            Event::GroupUpdate(u) => {
                if let Some(ev) = super::groups::group_event(u) {
                    b.emit(EngineEvent::Group(ev));
                }
            }
            Event::IncomingCall(c) => {
                if let Some(call) = super::calls::incoming(c) {
                    b.emit(EngineEvent::Call(call));
                }
            }
            Event::MissedCall(m) => {
                if let Some(call) = super::calls::missed(m) {
                    b.emit(EngineEvent::Call(call));
                }
            }
            Event::ServerAck(a) if a.class.as_deref() == Some("message") => {
                b.emit(EngineEvent::Receipt(Receipt {
                    id: a.id.clone(),
                    remote_jid: a
                        .from
                        .as_ref()
                        .map(|j| j.to_non_ad().to_string())
                        .unwrap_or_default(),
                    from_me: true,
                    status: MessageStatus::ServerAck,
                }));
            }
            _ => {}
        }
    }
}
