//! One task per session: builds a whatsapp-rust client over the instance's sled backend, runs it,
//! and when it stops decides what comes next. whatsapp-rust's own auto-reconnect is switched off,
//! so every connection attempt is a fresh client (a client is single-use after it disconnects)
//! and the schedule is ours:
//!
//! - logged out (remotely or banned for good) -> `LoggedOut`, end;
//! - a fatal condition (temporary ban, replaced stream, outdated client) -> `Failed`, end;
//! - paired by a QR scan, or the QR batch used up -> reconnect at once (a new client logs in, or
//!   shows a new batch; the instance counts QR codes against `QRCODE_LIMIT`);
//! - the connection dropped after `Connected` -> `Reconnecting`, retry after the base delay;
//! - an attempt that never connected -> `Reconnecting`, exponential backoff with jitter, and
//!   `Failed` after `max_attempts` consecutive failures.
//!
//! A watchdog ends a connection that reports connected but has received nothing for longer than
//! the configured silence (twice the keepalive interval), which the schedule then treats as a
//! drop. Every client is shut down (its state flushed) before the next is built, so two clients
//! never share the store, and before `LoggedOut` is reported, so the instance can wipe the keys
//! without a late write bringing them back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use std::time::Duration;

use tokio::sync::{Notify, mpsc, watch};
use whatsapp_rust::Client;
use whatsapp_rust::bot::{Bot, BotHandle};
use whatsapp_rust::pair_code::PairCodeOptions;
use whatsapp_rust::transport::TokioWebSocketTransportFactory;

use super::WaConfig;
use super::bridge::{Bridge, BridgeHandler, Facts};
use super::durable::DurableInbound;
use crate::engine::EngineEvent;
use crate::store::signal::SledBackend;

/// How long each stopping step (logout IQ, flush, run loop exit) may take before the client is
/// aborted. Three steps stay within the session's 5 s close deadline.
pub(super) const STOP_GRACE: Duration = Duration::from_millis(1500);

/// What the session asks of its supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stop {
    Running,
    /// End the session, keep the keys.
    Close,
    /// Unlink the device, then end.
    Logout,
}

pub(super) struct Supervisor {
    pub config: Arc<WaConfig>,
    pub instance: String,
    pub backend: Arc<SledBackend>,
    pub events: mpsc::Sender<EngineEvent>,
    pub pairing_phone: Option<String>,
    /// syncFullHistory: off builds clients that ack history notifications unprocessed.
    pub sync_full_history: bool,
    pub stop: watch::Receiver<Stop>,
    /// The running client, for sends; `None` between attempts.
    pub current: Arc<Mutex<Option<Arc<Client>>>>,
}

/// How one client's life ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    /// The run loop returned on its own (see the facts).
    Finished,
    /// The watchdog cut a silent connection.
    Silent,
    /// An inbound batch could not be made durable, so its ack was withheld: the server
    /// redelivers it only on a new connection.
    Withheld,
    /// The session asked to stop.
    Stopped(Stop),
}

/// What to do after a client ended.
#[derive(Debug, PartialEq)]
pub(super) enum Next {
    Again { after: Duration, reason: String },
    Fail(String),
    LoggedOut(u16, String),
}

impl Supervisor {
    pub async fn run(mut self) {
        let mut failures = 0u32;
        loop {
            if self.stop_requested().is_some() {
                return;
            }
            let bridge = Bridge::new(self.instance.clone(), self.events.clone());
            let withheld = Arc::new(Notify::new());
            let committed = Arc::new(AtomicBool::new(false));
            let end = match self.build(&bridge, &withheld, &committed).await {
                Ok(bot) => {
                    let mut handle = bot.spawn();
                    let client = handle.client();
                    bridge.attach(&client);
                    self.set_current(Some(client.clone()));
                    let (end, finished) =
                        self.watch(&mut handle, &client, &bridge, &withheld).await;
                    // A stop asked meanwhile wins over how the client ended (a logout must
                    // still unlink the device).
                    let end = self.stop_requested().map_or(end, End::Stopped);
                    self.set_current(None);
                    if end == End::Stopped(Stop::Logout) {
                        let _ = tokio::time::timeout(STOP_GRACE, client.logout()).await;
                    }
                    stop_client(handle, &client, finished).await;
                    if let End::Stopped(_) = end {
                        return;
                    }
                    end
                }
                Err(e) => {
                    tracing::warn!(instance = %self.instance, error = %e, "could not build the WhatsApp client");
                    End::Finished
                }
            };
            // Withheld acks count towards `failed` only while no batch gets stored: one slow
            // commit on a healthy connection starts the count over.
            if end == End::Withheld && committed.load(Ordering::Relaxed) {
                failures = 0;
            }
            let next = decide(&bridge.facts(), end, &mut failures, &self.config);
            match next {
                Next::LoggedOut(code, reason) => {
                    let _ = self
                        .events
                        .send(EngineEvent::LoggedOut { code, reason })
                        .await;
                    return;
                }
                Next::Fail(reason) => {
                    tracing::warn!(instance = %self.instance, %reason, "giving up on the session");
                    let _ = self.events.send(EngineEvent::Failed { reason }).await;
                    return;
                }
                Next::Again { after, reason } => {
                    tracing::debug!(instance = %self.instance, ?after, %reason, failures, "reconnecting");
                    if self
                        .events
                        .send(EngineEvent::Reconnecting { reason })
                        .await
                        .is_err()
                    {
                        return;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(after) => {}
                        _ = self.stop.changed() => {}
                    }
                }
            }
        }
    }

    /// `Some` when the session asked to stop (a dropped session counts as `Close`).
    fn stop_requested(&self) -> Option<Stop> {
        if self.stop.has_changed().is_err() {
            return Some(Stop::Close);
        }
        match *self.stop.borrow() {
            Stop::Running => None,
            s => Some(s),
        }
    }

    fn set_current(&self, client: Option<Arc<Client>>) {
        {
            let mut c = self.current.lock();
            *c = client;
        }
    }

    async fn build(
        &self,
        bridge: &Arc<Bridge>,
        withheld: &Arc<Notify>,
        committed: &Arc<AtomicBool>,
    ) -> anyhow::Result<Bot> {
        let paired = self.backend.is_paired()?;
        let mut builder = Bot::builder()
            .with_backend_arc(self.backend.clone())
            .with_transport_factory(
                TokioWebSocketTransportFactory::new().with_url(&self.config.url),
            )
            .with_http_client(self.config.http.clone())
            .with_event_handler(BridgeHandler(bridge.clone()))
            .with_inbound_durability_hook(DurableInbound {
                instance: self.instance.clone(),
                events: self.events.clone(),
                withheld: withheld.clone(),
                committed: committed.clone(),
            });
        if let Some(v) = self.config.version {
            builder = builder.with_version(v);
        }
        if !self.sync_full_history {
            builder = builder.skip_history_sync();
        }
        if !paired && let Some(phone) = &self.pairing_phone {
            builder = builder.with_pair_code(PairCodeOptions {
                phone_number: phone.clone(),
                ..PairCodeOptions::default()
            });
        }
        let bot = builder.build().await?;
        // Our schedule decides every reconnect: one client, one connection.
        bot.client()
            .enable_auto_reconnect
            .store(false, std::sync::atomic::Ordering::Relaxed);
        Ok(bot)
    }

    /// Waits until the client's run loop ends, the watchdog fires, or a stop is asked. Returns
    /// how it ended and whether the run loop has already returned.
    async fn watch(
        &mut self,
        handle: &mut BotHandle,
        client: &Arc<Client>,
        bridge: &Bridge,
        withheld: &Notify,
    ) -> (End, bool) {
        let silence = self.config.watchdog;
        let mut tick = tokio::time::interval((silence / 4).max(Duration::from_millis(50)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = &mut *handle => return (End::Finished, true),
                changed = self.stop.changed() => {
                    if changed.is_err() {
                        return (End::Stopped(Stop::Close), false);
                    }
                    if let Some(s) = self.stop_requested() {
                        return (End::Stopped(s), false);
                    }
                }
                _ = withheld.notified() => {
                    tracing::warn!(instance = %self.instance, "an inbound batch was not stored; reconnecting so WhatsApp redelivers it");
                    return (End::Withheld, false);
                }
                _ = tick.tick() => {
                    if bridge.facts().connected && is_silent(client, silence) {
                        tracing::warn!(instance = %self.instance, ?silence, "connection silent; forcing a reconnect");
                        return (End::Silent, false);
                    }
                }
            }
        }
    }
}

/// Whether a connected client has heard nothing for longer than `silence`.
fn is_silent(client: &Client, silence: Duration) -> bool {
    let last = client.stats().last_data_received_ms;
    if last == 0 {
        return false;
    }
    let now = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
    now.saturating_sub(last) > silence.as_millis() as u64
}

/// Flushes and stops a client (its state lands in the store), aborting its task when it does
/// not stop within [`STOP_GRACE`]. `disconnect` is idempotent, so a client that already logged
/// out or whose loop already ended is just flushed.
async fn stop_client(mut handle: BotHandle, client: &Arc<Client>, finished: bool) {
    if tokio::time::timeout(STOP_GRACE, client.disconnect())
        .await
        .is_err()
    {
        tracing::warn!("WhatsApp client did not flush in time");
    }
    if !finished && tokio::time::timeout(STOP_GRACE, &mut handle).await.is_err() {
        tracing::warn!("WhatsApp client did not stop in time; aborting it");
        handle.abort();
    }
}

/// The schedule: what to do after a client ended with `facts`.
pub(super) fn decide(facts: &Facts, end: End, failures: &mut u32, config: &WaConfig) -> Next {
    if let Some((code, reason)) = &facts.logged_out {
        return Next::LoggedOut(*code, reason.clone());
    }
    if let Some(reason) = &facts.fatal {
        return Next::Fail(reason.clone());
    }
    let reason = match (end, &facts.last_error) {
        (End::Silent, _) => "connection silent past the watchdog".to_string(),
        (End::Withheld, _) => "inbound messages could not be stored".to_string(),
        (_, Some(e)) => e.clone(),
        (_, None) if facts.connected => "connection ended".to_string(),
        (_, None) => "could not connect to ZAPGATE_WA_URL".to_string(),
    };
    // Counted like failed attempts, not reset by the connection: a store that keeps failing
    // backs off and ends in `failed` instead of reconnecting every few seconds.
    if end != End::Withheld && (facts.paired || facts.qr_exhausted) {
        *failures = 0;
        return Next::Again {
            after: Duration::ZERO,
            reason,
        };
    }
    if facts.connected && end != End::Withheld {
        *failures = 0;
        return Next::Again {
            after: config.backoff.next(0),
            reason,
        };
    }
    *failures += 1;
    if *failures >= config.max_attempts {
        return Next::Fail(format!(
            "gave up after {} failed connection attempts: {reason}",
            *failures
        ));
    }
    Next::Again {
        after: config.backoff.next(*failures - 1),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::whatsapp::Backoff;
    use whatsapp_rust::http::UreqHttpClient;

    fn config(max_attempts: u32) -> WaConfig {
        WaConfig {
            url: "ws://127.0.0.1:1/ws/chat".into(),
            version: Some((2, 3000, 1)),
            backoff: Backoff {
                base: Duration::from_millis(100),
                max: Duration::from_secs(1),
            },
            max_attempts,
            watchdog: Duration::from_secs(60),
            http: UreqHttpClient::new(),
        }
    }

    fn delay(n: Next) -> Duration {
        match n {
            Next::Again { after, .. } => after,
            other => panic!("expected a retry, got {other:?}"),
        }
    }

    #[test]
    fn failed_attempts_back_off_then_give_up() {
        let c = config(3);
        let mut failures = 0;
        let never = Facts::default();
        let d1 = delay(decide(&never, End::Finished, &mut failures, &c));
        let d2 = delay(decide(&never, End::Finished, &mut failures, &c));
        assert!(d2 > d1 && d1 >= Duration::from_millis(75));
        match decide(&never, End::Finished, &mut failures, &c) {
            Next::Fail(reason) => assert!(reason.contains("3 failed"), "{reason}"),
            other => panic!("expected Fail, got {other:?}"),
        }
    }

    #[test]
    fn withheld_acks_reconnect_with_backoff_and_give_up() {
        let c = config(3);
        let mut failures = 0;
        let connected = Facts {
            connected: true,
            paired: true,
            ..Facts::default()
        };
        let d1 = delay(decide(&connected, End::Withheld, &mut failures, &c));
        let d2 = delay(decide(&connected, End::Withheld, &mut failures, &c));
        assert!(d2 > d1, "{d1:?} then {d2:?}");
        match decide(&connected, End::Withheld, &mut failures, &c) {
            Next::Fail(reason) => assert!(reason.contains("could not be stored"), "{reason}"),
            other => panic!("expected Fail, got {other:?}"),
        }
        // A connection that ends normally clears the count.
        let mut failures = 2;
        decide(&connected, End::Finished, &mut failures, &c);
        assert_eq!(failures, 0);
    }

    #[test]
    fn a_connection_resets_the_count_and_pairing_reconnects_at_once() {
        let c = config(2);
        let mut failures = 1;
        let connected = Facts {
            connected: true,
            ..Facts::default()
        };
        assert!(
            delay(decide(&connected, End::Silent, &mut failures, &c)) <= Duration::from_millis(100)
        );
        assert_eq!(failures, 0);
        let paired = Facts {
            paired: true,
            ..Facts::default()
        };
        assert_eq!(
            delay(decide(&paired, End::Finished, &mut failures, &c)),
            Duration::ZERO
        );
        let exhausted = Facts {
            qr_exhausted: true,
            ..Facts::default()
        };
        assert_eq!(
            delay(decide(&exhausted, End::Finished, &mut failures, &c)),
            Duration::ZERO
        );
    }

    #[test]
    fn logout_wins_over_everything_and_bans_fail() {
        let c = config(5);
        let mut failures = 0;
        let out = Facts {
            connected: true,
            fatal: Some("x".into()),
            logged_out: Some((401, "logged out".into())),
            ..Facts::default()
        };
        assert_eq!(
            decide(&out, End::Finished, &mut failures, &c),
            Next::LoggedOut(401, "logged out".into())
        );
        let banned = Facts {
            fatal: Some("temporarily banned".into()),
            ..Facts::default()
        };
        assert_eq!(
            decide(&banned, End::Finished, &mut failures, &c),
            Next::Fail("temporarily banned".into())
        );
    }
}
