//! The real WhatsApp Web engine on whatsapp-rust (`WHATSAPP-BAILEYS` instances).
//!
//! Each session owns one [`supervisor`] task on the shared tokio runtime; the supervisor builds
//! a whatsapp-rust client over the instance's sled backend ([`SledBackend`], trees
//! `i/<id>/session...`), runs it, and rebuilds it on our own reconnect schedule. The [`bridge`]
//! turns the client's events into [`EngineEvent`]s. This file holds the engine, its
//! configuration and the [`Session`] operations (send, number check, presence, logout, close),
//! which act on whichever client is current; [`groups`] holds the group operations.

mod backoff;
mod bridge;
pub mod cert_probe;
mod groups;
mod supervisor;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use whatsapp_rust::Client;
use whatsapp_rust::Jid;
use whatsapp_rust::http::UreqHttpClient;
use whatsapp_rust::wacore::proto_helpers::MessageBuilderExt;
use whatsapp_rust::waproto::whatsapp as wa;

pub use backoff::Backoff;
use supervisor::{Stop, Supervisor};

use super::jid::user_of;
use super::{
    Engine, EngineError, NumberCheck, OutgoingMessage, Presence, SentMessage, Session,
    SessionContext, unix_now,
};
use crate::store::signal::SledBackend;

/// WhatsApp's own endpoint, the default of `ZAPGATE_WA_URL`.
pub const DEFAULT_WA_URL: &str = "wss://web.whatsapp.com/ws/chat";

/// `close`/`logout` return within this, whatever the network does.
const CLOSE_DEADLINE: Duration = Duration::from_secs(5);

/// Engine settings, from [`crate::config::Config`].
pub struct WaConfig {
    /// WebSocket endpoint (`ZAPGATE_WA_URL`).
    pub url: String,
    /// WA Web version announced at login; `None` lets whatsapp-rust fetch it (network).
    pub version: Option<(u32, u32, u32)>,
    /// Delay schedule between failed attempts.
    pub backoff: Backoff,
    /// Consecutive failed attempts before the session reports `Failed`.
    pub max_attempts: u32,
    /// A connected session silent for longer than this is reconnected (2x keepalive).
    pub watchdog: Duration,
    /// Shared by every client: clones share one connection pool.
    pub http: UreqHttpClient,
}

/// Parses `2.3000.1026131876` into the version triple.
pub fn parse_version(s: &str) -> Option<(u32, u32, u32)> {
    let mut it = s.trim().split('.').map(|p| p.parse::<u32>().ok());
    let v = (it.next()??, it.next()??, it.next()??);
    it.next().is_none().then_some(v)
}

pub struct WhatsAppEngine {
    config: Arc<WaConfig>,
}

impl WhatsAppEngine {
    pub fn new(config: WaConfig) -> WhatsAppEngine {
        WhatsAppEngine {
            config: Arc::new(config),
        }
    }
}

impl Engine for WhatsAppEngine {
    fn start(&self, ctx: SessionContext) -> Result<Arc<dyn Session>, EngineError> {
        let backend = SledBackend::open(&ctx.store, ctx.instance_id)?.into_arc();
        let (stop_tx, stop_rx) = watch::channel(Stop::Running);
        let current = Arc::new(Mutex::new(None));
        let supervisor = Supervisor {
            config: self.config.clone(),
            instance: ctx.instance_name.clone(),
            backend,
            events: ctx.events,
            pairing_phone: ctx.pairing_phone,
            stop: stop_rx,
            current: current.clone(),
        };
        let task = tokio::spawn(supervisor.run());
        Ok(Arc::new(WaSession {
            name: ctx.instance_name,
            stop: stop_tx,
            current,
            task: Mutex::new(Some(task)),
        }))
    }
}

/// One instance's session. Dropping it stops the supervisor (its `watch` sender goes away).
struct WaSession {
    name: String,
    stop: watch::Sender<Stop>,
    /// The client of the current attempt, `None` between attempts.
    current: Arc<Mutex<Option<Arc<Client>>>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl WaSession {
    fn client(&self) -> Result<Arc<Client>, EngineError> {
        self.current
            .lock()
            .ok()
            .and_then(|c| c.clone())
            .filter(|c| c.is_logged_in())
            .ok_or(EngineError::NotConnected)
    }

    /// Asks the supervisor to stop and waits for it, at most [`CLOSE_DEADLINE`].
    async fn stop_with(&self, how: Stop) {
        let _ = self.stop.send(how);
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(mut task) = task
            && tokio::time::timeout(CLOSE_DEADLINE, &mut task)
                .await
                .is_err()
        {
            tracing::warn!(instance = %self.name, "session did not stop in time; aborting it");
            task.abort();
        }
    }
}

fn parse_jid(s: &str) -> Result<Jid, EngineError> {
    s.parse::<Jid>()
        .map_err(|e| EngineError::Unavailable(format!("invalid JID {s}: {e}")))
}

impl Session for WaSession {
    fn send(&self, msg: OutgoingMessage) -> BoxFuture<'_, Result<SentMessage, EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            let OutgoingMessage::Text {
                to, text, mentions, ..
            } = msg;
            let jid = parse_jid(&to)?;
            let message = if mentions.is_empty() {
                wa::Message::text(text)
            } else {
                let context = wa::ContextInfo {
                    mentioned_jid: mentions,
                    ..Default::default()
                };
                wa::Message::text_with_context(text, context)
            };
            let sent = client
                .send_message(jid, message)
                .await
                .map_err(|e| EngineError::Unavailable(format!("send failed: {e}")))?;
            Ok(SentMessage {
                id: sent.message_id,
                remote_jid: to,
                timestamp: unix_now(),
            })
        })
    }

    fn check_numbers(
        &self,
        numbers: Vec<String>,
    ) -> BoxFuture<'_, Result<Vec<NumberCheck>, EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            let jids: Vec<Jid> = numbers
                .iter()
                .map(|n| Jid::pn(user_of(n).to_string()))
                .collect();
            let found = client
                .contacts()
                .is_on_whatsapp(&jids)
                .await
                .map_err(|e| EngineError::Unavailable(format!("number check failed: {e}")))?;
            Ok(numbers
                .into_iter()
                .zip(jids)
                .map(|(number, jid)| {
                    let hit = found.iter().find(|r| r.jid.user == jid.user);
                    NumberCheck {
                        number,
                        jid: hit.map_or_else(|| jid.to_string(), |r| r.jid.to_string()),
                        exists: hit.is_some_and(|r| r.is_registered),
                    }
                })
                .collect())
        })
    }

    fn set_presence(&self, presence: Presence) -> BoxFuture<'_, Result<(), EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            let r = match presence {
                Presence::Unavailable => client.presence().set_unavailable().await,
                // Typing states need a chat; the global presence they imply is "available".
                _ => client.presence().set_available().await,
            };
            r.map_err(|e| EngineError::Unavailable(format!("presence failed: {e}")))
        })
    }

    fn logout(&self) -> BoxFuture<'_, Result<(), EngineError>> {
        Box::pin(async move {
            self.stop_with(Stop::Logout).await;
            Ok(())
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.stop_with(Stop::Close))
    }

    fn groups(&self) -> &dyn super::group::GroupOps {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        assert_eq!(
            parse_version("2.3000.1026131876"),
            Some((2, 3000, 1026131876))
        );
        assert_eq!(parse_version("2.3000"), None);
        assert_eq!(parse_version("2.3000.1.4"), None);
        assert_eq!(parse_version("a.b.c"), None);
    }
}
