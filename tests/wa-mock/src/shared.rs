//! State shared by every connection and the admin API: the Noise identity,
//! the account registry, id allocation and the shutdown signal.

use crate::accounts::Registry;
use crate::noise::ServerIdentity;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;

/// Counters for tests that want to assert on protocol paths taken.
#[derive(Default)]
pub struct Counters {
    pub xx_handshakes: AtomicU64,
    pub ik_handshakes: AtomicU64,
    pub logins: AtomicU64,
    pub ik_logins: AtomicU64,
    pub messages_relayed: AtomicU64,
    pub pair_code_requests: AtomicU64,
}

impl Counters {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Called with each message id a client acks for the first time.
pub type AckObserver = Arc<dyn Fn(&str) + Send + Sync>;

pub struct Shared {
    pub server: ServerIdentity,
    pub counters: Counters,
    /// Set by tests that act the instant a message is acked (e.g. kill the client).
    pub ack_observer: Mutex<Option<AckObserver>>,
    registry: Mutex<Registry>,
    next_id: AtomicU64,
    pub shutdown: watch::Sender<bool>,
    pub media: crate::media::MediaHost,
    /// Every `<reject>` a companion sent for a call (see `calls`).
    pub call_rejects: watch::Sender<Vec<crate::calls::CallReject>>,
    /// The "stop writing" switch of every logged-in connection, by phone.
    silencers: Mutex<HashMap<String, Vec<Arc<AtomicBool>>>>,
}

impl Shared {
    pub fn new(server: ServerIdentity) -> Self {
        Self {
            server,
            counters: Counters::default(),
            ack_observer: Mutex::new(None),
            registry: Mutex::new(Registry::default()),
            next_id: AtomicU64::new(1),
            shutdown: watch::channel(false).0,
            media: Default::default(),
            call_rejects: watch::channel(Vec::new()).0,
            silencers: Mutex::new(HashMap::new()),
        }
    }

    /// Registers a logged-in connection's switch so [`Shared::silence`] can reach it.
    pub fn register_silencer(&self, phone: &str, switch: Arc<AtomicBool>) {
        let mut s = self.silencers.lock().unwrap_or_else(|p| p.into_inner());
        let list = s.entry(phone.to_string()).or_default();
        list.retain(|w| Arc::strong_count(w) > 1);
        list.push(switch);
    }

    /// Makes the phone's current connections go silent (no more frames to the client, pings
    /// unanswered) without closing them, as a half-dead network does. Later connections are not
    /// affected. Returns how many connections went silent.
    pub fn silence(&self, phone: &str) -> usize {
        let mut s = self.silencers.lock().unwrap_or_else(|p| p.into_inner());
        let list = s.remove(phone).unwrap_or_default();
        let live: Vec<_> = list
            .into_iter()
            .filter(|w| Arc::strong_count(w) > 1)
            .collect();
        for w in &live {
            w.store(true, Ordering::SeqCst);
        }
        live.len()
    }

    /// The registry lock. Never held across an `.await`; a panicking holder
    /// only poisons test state, so recover rather than cascade.
    pub fn reg(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn next_num(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Stanza id for server-initiated IQs and messages.
    pub fn next_id(&self) -> String {
        format!("mock.{}", self.next_num())
    }
}

pub fn now_secs() -> i64 {
    wacore::time::now_secs()
}
