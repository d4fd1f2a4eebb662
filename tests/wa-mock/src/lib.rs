//! wa-mock: a loopback WhatsApp Web protocol peer for tests.
//!
//! It serves `ws://127.0.0.1:PORT/ws/chat` (Noise XX/IK, binary nodes) for
//! unmodified whatsapp-rust clients built with `danger-skip-cert-chain-verify`,
//! and an admin HTTP API on the same port that plays the phones:
//! `POST /admin/scan`, `POST /admin/send`, `POST /admin/history`, `POST /admin/logout`,
//! `POST /admin/call`, `GET /admin/calls/rejects`, `GET /admin/accounts`. [`WaMock`] is the library entry point; the
//! admin operations are also available as methods for in-process callers.

mod accounts;
mod admin;
mod calls;
mod contact;
mod frames;
mod groups;
mod history;
mod http;
mod iq;
mod login;
mod media;
mod noise;
mod pairing;
mod peer;
mod prekeys;
mod profile;
mod relay;
mod session;
mod shared;
mod signal;
mod usync;

pub use admin::{AccountInfo, DeviceInfo};
pub use calls::{CallReject, Offered};
pub use history::{History, HistoryChat, HistoryMessage, Pushname};

use anyhow::{Context, Result, anyhow};
use shared::Shared;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Startup options. `port` 0 picks an ephemeral port.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub port: u16,
    /// Where the Noise static key is persisted, so clients that cached it
    /// for IK can reconnect to a restarted mock. `None` = fresh key.
    pub state_dir: Option<PathBuf>,
}

/// Result of a simulated QR scan.
#[derive(Debug, Clone)]
pub struct Paired {
    pub phone: String,
    /// Companion device JID, e.g. `15550000001:1@s.whatsapp.net`.
    pub jid: String,
    pub lid: String,
}

/// Snapshot of protocol counters, for assertions on the paths clients took.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    pub xx_handshakes: u64,
    pub ik_handshakes: u64,
    pub logins: u64,
    /// Logins whose handshake was Noise IK (reconnects of a paired device).
    pub ik_logins: u64,
    pub messages_relayed: u64,
    /// Encrypted blobs the media host holds.
    pub media_blobs: usize,
    /// `link_code_companion_reg` stage-one requests answered (pairing by code).
    pub pair_code_requests: u64,
}

/// A running mock. Dropping it stops the server too; [`WaMock::shutdown`]
/// additionally waits for the accept loop to end.
pub struct WaMock {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

impl WaMock {
    /// Starts on `127.0.0.1:port` (0 = ephemeral) with a fresh server key.
    pub async fn start(port: u16) -> Result<Self> {
        Self::start_with(Config {
            port,
            ..Config::default()
        })
        .await
    }

    pub async fn start_with(config: Config) -> Result<Self> {
        let server = noise::ServerIdentity::load_or_generate(config.state_dir.as_deref())?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port))
            .await
            .with_context(|| format!("bind 127.0.0.1:{}", config.port))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(server));
        media::start(shared.clone()).await?;
        let task = tokio::spawn(http::serve(listener, shared.clone()));
        tracing::info!("wa-mock listening on ws://{addr}/ws/chat");
        Ok(Self {
            addr,
            shared,
            task: Some(task),
        })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `ws://127.0.0.1:P/ws/chat`, for `TokioWebSocketTransportFactory::with_url`.
    pub fn url(&self) -> String {
        format!("ws://{}/ws/chat", self.addr)
    }

    /// `http://127.0.0.1:P`, the base of the `/admin/*` routes.
    pub fn admin_base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Same as `POST /admin/scan`.
    pub async fn scan(&self, qr: &str, phone: Option<&str>) -> Result<Paired> {
        pairing::scan(&self.shared, qr, phone.map(str::to_string))
            .await
            .map(|p| Paired {
                phone: p.phone,
                jid: p.jid,
                lid: p.lid,
            })
            .map_err(|e| anyhow!("scan failed: {e:?}"))
    }

    /// Same as `POST /admin/send`; returns the message id.
    pub async fn send_text(&self, from: &str, to: &str, text: &str) -> Result<String> {
        contact::send_text(&self.shared, from, to, text)
            .await
            .map(|s| s.id)
            .map_err(|e| anyhow!("send failed: {e:?}"))
    }

    /// Same as `POST /admin/call`: the phone of `from` calls every companion of `to`.
    pub fn offer_call(&self, from: &str, to: &str, video: bool) -> Result<Offered> {
        calls::offer(&self.shared, from, to, video).map_err(|e| anyhow!("call failed: {e:?}"))
    }

    /// Every call reject companions sent so far (`GET /admin/calls/rejects`).
    pub fn call_rejects(&self) -> Vec<CallReject> {
        self.shared.call_rejects.borrow().clone()
    }

    /// Waits until a companion rejects `call_id`, at most `within`.
    pub async fn wait_call_reject(
        &self,
        call_id: &str,
        within: std::time::Duration,
    ) -> Option<CallReject> {
        let mut rx = self.shared.call_rejects.subscribe();
        let list = tokio::time::timeout(
            within,
            rx.wait_for(|list| list.iter().any(|r| r.call_id == call_id)),
        )
        .await
        .ok()?
        .ok()?;
        list.iter().find(|r| r.call_id == call_id).cloned()
    }

    /// Same as `POST /admin/history`: the phone of `phone` sends its companions a history-sync
    /// notification with `history`. Returns the notification's message id.
    pub async fn send_history(&self, phone: &str, history: &History) -> Result<String> {
        history::send(&self.shared, phone, history)
            .await
            .map(|s| s.id)
            .map_err(|e| anyhow!("history sync failed: {e:?}"))
    }

    /// The phone's current connections stop sending anything, without closing: a half-dead
    /// network. Later connections are not affected. Returns how many went silent.
    pub fn silence(&self, phone: &str) -> usize {
        self.shared.silence(phone)
    }

    /// Same as `POST /admin/logout`; false if the account does not exist.
    pub fn logout(&self, phone: &str) -> bool {
        login::logout(&self.shared, phone, None).is_some()
    }

    /// Ids of the messages to `phone`'s companions that no client acked yet:
    /// delivered to a connection that has not acked them, or queued for the
    /// next login (where they are delivered again).
    pub fn pending(&self, phone: &str) -> Vec<String> {
        self.shared
            .reg()
            .accounts
            .get(phone)
            .map(|a| a.devices.values().flat_map(|d| d.pending_ids()).collect())
            .unwrap_or_default()
    }

    /// Calls `observe` with each message id a client acks for the first time,
    /// on the connection's reader, before the mock reads its next stanza.
    pub fn on_ack(&self, observe: impl Fn(&str) + Send + Sync + 'static) {
        if let Ok(mut o) = self.shared.ack_observer.lock() {
            *o = Some(std::sync::Arc::new(observe));
        }
    }

    /// Same as `GET /admin/accounts`.
    pub fn accounts(&self) -> Vec<AccountInfo> {
        admin::accounts(&self.shared)
    }

    pub fn stats(&self) -> Stats {
        use std::sync::atomic::Ordering::Relaxed;
        let c = &self.shared.counters;
        Stats {
            xx_handshakes: c.xx_handshakes.load(Relaxed),
            ik_handshakes: c.ik_handshakes.load(Relaxed),
            logins: c.logins.load(Relaxed),
            ik_logins: c.ik_logins.load(Relaxed),
            messages_relayed: c.messages_relayed.load(Relaxed),
            media_blobs: self.shared.media.blob_count(),
            pair_code_requests: c.pair_code_requests.load(Relaxed),
        }
    }

    /// Stops accepting, closes every client connection, waits for the loop.
    pub async fn shutdown(mut self) {
        self.shared.shutdown.send_replace(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for WaMock {
    fn drop(&mut self) {
        self.shared.shutdown.send_replace(true);
    }
}
