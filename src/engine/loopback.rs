//! The LOOPBACK engine: the instances of one server form a little WhatsApp of their own.
//!
//! Connecting shows real QR codes that rotate like WhatsApp's; `POST /loopback/scan/{i}` (or
//! `ZAPGATE_LOOPBACK_AUTOPAIR_MS`) plays the phone scanning one. A paired instance gets a phone
//! number, kept in its `i/<id>/session` tree like real keys, and listed in the `loopback` tree,
//! the network's directory (phone -> instance id), so numbers stay reachable across restarts.
//!
//! Delivery never waits on the receiver: `deliver` appends to the receiver's bounded inbox and a
//! per-session pump moves the inbox into that session's event channel. Two instances sending to
//! each other therefore cannot deadlock on each other's full channels.
//!
//! Groups live in [`groups`] (their own tree, `loopback.groups`).

mod groups;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use std::time::Duration;

use base64::Engine as _;
use tokio::sync::{Notify, mpsc};
use uuid::Uuid;

use super::jid::USER_SERVER;
use super::{Engine, EngineError, EngineEvent, Session, SessionContext};
use crate::store::{Store, StoreError};

mod book;
mod calls;
mod ops;
mod outage;
mod status;
use book::Book;
pub use outage::{NotOnline, Outage};

/// Messages waiting for an offline or slow receiver, per account.
const INBOX_CAPACITY: usize = 10_000;
const PHONE_KEY: &[u8] = b"loopback.phone";

#[derive(Debug, Clone)]
pub struct LoopbackConfig {
    /// Lifetime of every QR code after the first (the first lives 3x as long).
    pub qr_interval: Duration,
    /// Pair automatically after showing a QR this long.
    pub autopair: Option<Duration>,
    /// How long sent media stays downloadable.
    pub media_retention: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("the instance is not showing a QR code")]
    NotWaiting,
    #[error("phone number {0} is already paired with another instance")]
    PhoneTaken(String),
}

/// The engine, shared by every loopback session.
pub struct LoopbackEngine {
    net: Arc<Network>,
    config: LoopbackConfig,
}

/// The stand-in WhatsApp: who exists, who is online, what waits for whom.
struct Network {
    store: Store,
    /// Directory tree: phone -> instance id. The source of truth for "is on WhatsApp".
    directory: sled::Tree,
    groups: groups::GroupTable,
    calls: calls::CallTable,
    accounts: Mutex<HashMap<String, Account>>,
    /// Profiles, privacy, blocklists and the media store.
    book: Book,
    /// Sessions showing a QR, by instance: sending a phone (or None) pairs them.
    waiting: Mutex<HashMap<Uuid, mpsc::Sender<Option<String>>>>,
    /// Online sessions, by instance, for `/loopback/drop`.
    live: Mutex<HashMap<Uuid, std::sync::Weak<LoopbackSession>>>,
}

#[derive(Default)]
struct Account {
    inbox: VecDeque<EngineEvent>,
    /// Woken when the inbox gets something; present while a session is online.
    online: Option<Arc<Notify>>,
}

impl LoopbackEngine {
    pub fn new(store: Store, config: LoopbackConfig) -> Result<Self, StoreError> {
        Ok(LoopbackEngine {
            net: Arc::new(Network {
                directory: store.tree("loopback")?,
                book: Book::open(&store, config.media_retention)?,
                groups: groups::GroupTable::open(&store)?,
                calls: calls::CallTable::default(),
                store,
                accounts: Mutex::new(HashMap::new()),
                waiting: Mutex::new(HashMap::new()),
                live: Mutex::new(HashMap::new()),
            }),
            config,
        })
    }

    /// Plays the phone scanning the QR an instance shows. `phone` picks the number to pair.
    pub async fn scan(&self, instance: Uuid, phone: Option<String>) -> Result<(), ScanError> {
        if let Some(p) = &phone
            && let Some(owner) = self.net.owner_of(p)
            && owner != instance
        {
            return Err(ScanError::PhoneTaken(p.clone()));
        }
        let tx = self
            .net
            .waiting
            .lock()
            .get(&instance)
            .cloned()
            .ok_or(ScanError::NotWaiting)?;
        tx.send(phone).await.map_err(|_| ScanError::NotWaiting)
    }

    /// Forgets an instance's number (instance deleted).
    pub fn forget(&self, instance: Uuid) {
        self.net.forget_instance(instance);
    }
}

impl Engine for LoopbackEngine {
    fn start(&self, ctx: SessionContext) -> Result<Arc<dyn Session>, EngineError> {
        let keys = ctx.store.scoped("loopback.sessions", ctx.instance_id)?;
        let stored_phone = keys
            .get(PHONE_KEY)
            .map_err(StoreError::from)?
            .map(|v| String::from_utf8_lossy(&v).into_owned());
        let session = Arc::new(LoopbackSession {
            id: ctx.instance_id,
            name: ctx.instance_name.clone(),
            net: self.net.clone(),
            keys,
            events: ctx.events.clone(),
            phone: Mutex::new(None),
            stop: Arc::new(Notify::new()),
            stopped: AtomicBool::new(false),
        });
        let runner = session.clone();
        let config = self.config.clone();
        tokio::spawn(async move {
            let phone = match stored_phone {
                Some(p) => Some(p),
                None => runner.show_qr_until_paired(&ctx, &config).await,
            };
            if let Some(phone) = phone {
                runner.go_online(phone).await;
            }
        });
        Ok(session)
    }
}

struct LoopbackSession {
    id: Uuid,
    name: String,
    net: Arc<Network>,
    keys: crate::store::scoped::Scoped,
    events: mpsc::Sender<EngineEvent>,
    /// Set once online.
    phone: Mutex<Option<String>>,
    /// Fired by close/logout to stop the QR loop and the inbox pump.
    stop: Arc<Notify>,
    /// Set by close/logout; checked after going online in case the stop came first.
    stopped: AtomicBool,
}

impl LoopbackSession {
    /// Emits rotating QR codes until a scan arrives or the session is stopped. Returns the paired
    /// phone, already durable in the session tree and the directory.
    async fn show_qr_until_paired(
        &self,
        ctx: &SessionContext,
        config: &LoopbackConfig,
    ) -> Option<String> {
        let (pair_tx, mut pair_rx) = mpsc::channel::<Option<String>>(1);
        {
            let mut w = self.net.waiting.lock();
            w.insert(self.id, pair_tx);
        }
        if let Some(phone) = &ctx.pairing_phone {
            let code = pairing_code();
            tracing::debug!(instance = %self.name, phone = %phone, "loopback pairing code issued");
            let _ = self.events.send(EngineEvent::PairingCode { code }).await;
        }
        let autopair = config.autopair.map(|d| tokio::time::Instant::now() + d);
        let mut ttl = config.qr_interval * 3;
        let scanned = loop {
            let code = qr_string();
            if self
                .events
                .send(EngineEvent::Qr { code, ttl })
                .await
                .is_err()
            {
                break None;
            }
            let rotate = tokio::time::sleep(ttl);
            let auto = async {
                match autopair {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                p = pair_rx.recv() => break p.map(|p| p.or_else(|| ctx.number.clone())),
                _ = auto => break Some(ctx.number.clone()),
                _ = self.stop.notified() => break None,
                _ = rotate => {}
            }
            ttl = config.qr_interval;
        };
        {
            let mut w = self.net.waiting.lock();
            w.remove(&self.id);
        }
        let wanted = scanned?;
        match self.net.claim_phone(self.id, wanted).await {
            Ok(phone) => {
                if self.keys.insert(PHONE_KEY, phone.as_bytes()).is_err()
                    || self.net.store.sync().await.is_err()
                {
                    tracing::error!(instance = %self.name, "could not persist loopback pairing");
                    return None;
                }
                Some(phone)
            }
            Err(e) => {
                tracing::error!(instance = %self.name, error = %e, "loopback pairing failed");
                None
            }
        }
    }

    /// Marks the account online, reports Connected and pumps the inbox until stopped.
    async fn go_online(self: Arc<Self>, phone: String) {
        let notify = self.net.attach(&phone);
        {
            let mut live = self.net.live.lock();
            live.insert(self.id, Arc::downgrade(&self));
        }
        let name = self.name.clone();
        if let Err(e) = self
            .net
            .book
            .update(&phone, |c| c.default_name = Some(name))
        {
            tracing::warn!(instance = %self.name, error = %e, "could not record the loopback profile name");
        }
        {
            let mut p = self.phone.lock();
            *p = Some(phone.clone());
        }
        if self.stopped.load(Ordering::SeqCst) {
            self.net.detach(&phone);
            return;
        }
        let connected = EngineEvent::Connected {
            jid: format!("{phone}@{USER_SERVER}"),
            push_name: Some(self.name.clone()),
        };
        if self.events.send(connected).await.is_err() {
            return;
        }
        loop {
            for ev in self.net.drain_inbox(&phone) {
                if self.events.send(ev).await.is_err() {
                    return;
                }
            }
            tokio::select! {
                _ = notify.notified() => {}
                _ = self.stop.notified() => return,
            }
        }
    }

    fn own_phone(&self) -> Result<String, EngineError> {
        self.phone.lock().clone().ok_or(EngineError::NotConnected)
    }

    fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.stop.notify_waiters();
        // notify_one stores a permit so a loop that was not waiting yet still sees it.
        self.stop.notify_one();
        if let Some(phone) = self.phone.lock().take() {
            self.net.detach(&phone);
        }
        {
            let mut w = self.net.waiting.lock();
            w.remove(&self.id);
        }
        let mut live = self.net.live.lock();
        // Only this session's entry: a newer session of the instance may be online already.
        if live
            .get(&self.id)
            .is_some_and(|w| std::ptr::eq(w.as_ptr(), self))
        {
            live.remove(&self.id);
        }
    }
}

impl Network {
    /// The form `phone` is registered under on this network (see `jid::number_variants`).
    fn registered(&self, phone: &str) -> Option<String> {
        super::jid::number_variants(phone)
            .into_iter()
            .find(|v| self.owner_of(v).is_some())
    }

    fn owner_of(&self, phone: &str) -> Option<Uuid> {
        self.directory
            .get(phone.as_bytes())
            .ok()
            .flatten()
            .and_then(|v| Uuid::from_slice(&v).ok())
    }

    /// Reserves `wanted` for the instance when it is free, else the next number of our range.
    async fn claim_phone(&self, id: Uuid, wanted: Option<String>) -> Result<String, StoreError> {
        if let Some(w) = wanted.filter(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_digit())) {
            let swapped = self.directory.compare_and_swap(
                w.as_bytes(),
                None as Option<&[u8]>,
                Some(id.as_bytes().as_slice()),
            )?;
            if swapped.is_ok() || self.owner_of(&w) == Some(id) {
                return Ok(w);
            }
        }
        loop {
            let n = self.store.next_counter("loopback_seq")?;
            let phone = format!("1555{n:07}");
            let swapped = self.directory.compare_and_swap(
                phone.as_bytes(),
                None as Option<&[u8]>,
                Some(id.as_bytes().as_slice()),
            )?;
            if swapped.is_ok() {
                return Ok(phone);
            }
        }
    }

    /// The number leaves the network (logout, delete), and with it its groups.
    fn release_phone(&self, phone: &str) {
        self.leave_all_groups(phone);
        let _ = self.directory.remove(phone.as_bytes());
        self.book.forget(phone);
        {
            let mut a = self.accounts.lock();
            a.remove(phone);
        }
    }

    fn forget_instance(&self, id: Uuid) {
        let phones: Vec<String> = self
            .directory
            .iter()
            .filter_map(|r| r.ok())
            .filter(|(_, v)| v.as_ref() == id.as_bytes())
            .map(|(k, _)| String::from_utf8_lossy(&k).into_owned())
            .collect();
        for p in phones {
            self.release_phone(&p);
        }
    }

    fn attach(&self, phone: &str) -> Arc<Notify> {
        let notify = Arc::new(Notify::new());
        {
            let mut a = self.accounts.lock();
            a.entry(phone.to_string()).or_default().online = Some(notify.clone());
        }
        notify
    }

    fn detach(&self, phone: &str) {
        if let Some(acc) = self.accounts.lock().get_mut(phone) {
            acc.online = None;
        }
    }

    fn is_online(&self, phone: &str) -> bool {
        self.accounts
            .lock()
            .get(phone)
            .is_some_and(|acc| acc.online.is_some())
    }

    /// Queues an event for an account; false when its inbox is full.
    fn push(&self, phone: &str, ev: EngineEvent) -> bool {
        let mut a = self.accounts.lock();
        let acc = a.entry(phone.to_string()).or_default();
        if acc.inbox.len() >= INBOX_CAPACITY {
            return false;
        }
        acc.inbox.push_back(ev);
        if let Some(n) = &acc.online {
            n.notify_one();
        }
        true
    }

    fn drain_inbox(&self, phone: &str) -> Vec<EngineEvent> {
        self.accounts
            .lock()
            .get_mut(phone)
            .map(|acc| acc.inbox.drain(..).collect())
            .unwrap_or_default()
    }
}

/// A QR payload shaped like WhatsApp's: ref, noise key, identity key, adv secret.
fn qr_string() -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let part = || b64.encode(Uuid::new_v4().as_bytes());
    format!(
        "2@{},{},{},{}",
        Uuid::new_v4().simple(),
        b64.encode([Uuid::new_v4().into_bytes(), Uuid::new_v4().into_bytes()].concat()),
        part(),
        part()
    )
}

/// Eight characters from WhatsApp's pairing-code alphabet.
fn pairing_code() -> String {
    const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTVWXYZ";
    Uuid::new_v4()
        .as_bytes()
        .iter()
        .take(8)
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect()
}
