//! The mock's world: accounts (one per phone number), their devices and
//! what the server knows about each device (keys, live connection, queued
//! stanzas), plus the QR refs currently on screen.
//!
//! Device 0 of every account is the simulated phone. It has real Signal
//! keys, because clients fan every DM out to the sender's and recipient's
//! phones and fetch a prekey bundle for device 0 before they send.

use crate::peer::Peer;
use crate::signal::PhoneSignal;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use tokio::sync::oneshot;
use wacore::libsignal::protocol::KeyPair;
use wacore_binary::{Jid, Node, Server};

pub const SERVER: &str = "s.whatsapp.net";
const FIRST_PHONE: u64 = 15_550_000_001;
const FIRST_LID: u64 = 100_000_000_000_001;

#[derive(Clone)]
pub struct SignedPreKey {
    pub id: u32,
    pub public: [u8; 32],
    pub signature: Vec<u8>,
}

/// Keys of the simulated phone (device 0). The identity key also signs the
/// ADV device identities of the account's companions.
pub struct PhoneKeys {
    pub identity: KeyPair,
    pub registration_id: u32,
    pub signed_prekey: SignedPreKey,
}

impl PhoneKeys {
    fn generate() -> Self {
        let mut rng = rand::rng();
        let identity = KeyPair::generate(&mut rng);
        let spk = KeyPair::generate(&mut rng);
        let signature = identity
            .private_key
            .calculate_signature(&spk.public_key.serialize(), &mut rng)
            .expect("signing with a fresh key cannot fail")
            .to_vec();
        Self {
            registration_id: rand::random::<u32>() & 0x3fff,
            signed_prekey: SignedPreKey {
                id: 1,
                public: pub32(&spk),
                signature,
            },
            identity,
        }
    }
}

pub fn pub32(kp: &KeyPair) -> [u8; 32] {
    kp.public_key
        .public_key_bytes()
        .try_into()
        .expect("curve25519 public keys are 32 bytes")
}

pub struct Device {
    pub id: u16,
    pub key_index: u32,
    pub noise_pub: [u8; 32],
    pub identity_pub: [u8; 32],
    pub registration_id: u32,
    pub signed_prekey: Option<SignedPreKey>,
    pub prekeys: VecDeque<(u32, [u8; 32])>,
    /// `ADVSignedDeviceIdentity` as returned in `pair-device-sign`; served
    /// in prekey bundles so peers can ADV-check the companion.
    pub device_identity: Option<Vec<u8>>,
    pub peer: Option<Peer>,
    /// Stanzas that arrived while the device was offline.
    pub offline: Vec<Node>,
    /// `<message>`s handed to the current connection that the client has not acked yet (by a
    /// receipt or an `<ack class="message">`). Like WhatsApp's server, the mock redelivers them
    /// on the next login: a client that crashed before acking gets them again.
    pub unacked: Vec<Node>,
}

impl Device {
    pub fn online_peer(&self) -> Option<&Peer> {
        self.peer.as_ref().filter(|p| p.is_open())
    }

    /// Records a stanza sent to the live connection, if it is one the client must ack.
    pub fn sent(&mut self, node: &Node) {
        if node.tag == "message" {
            self.unacked.push(node.clone());
        }
    }

    /// The client acked these message ids; returns those it had not acked before.
    pub fn acked(&mut self, ids: &[String]) -> Vec<String> {
        let mut first = Vec::new();
        self.unacked.retain(|n| {
            let id = n.attrs.get("id").map(|v| v.to_string()).unwrap_or_default();
            let hit = ids.contains(&id);
            if hit {
                first.push(id);
            }
            !hit
        });
        first
    }

    /// The connection is gone: what it never acked goes back to the head of the offline queue.
    pub fn requeue_unacked(&mut self) {
        if self.unacked.is_empty() {
            return;
        }
        let mut queue = std::mem::take(&mut self.unacked);
        queue.append(&mut self.offline);
        self.offline = queue;
    }

    /// Ids of the messages not acked yet, delivered or still queued.
    pub fn pending_ids(&self) -> Vec<String> {
        self.unacked
            .iter()
            .chain(self.offline.iter().filter(|n| n.tag == "message"))
            .filter_map(|n| n.attrs.get("id").map(|v| v.to_string()))
            .collect()
    }
}

/// The account's app-state sync key, shared with each new companion.
#[derive(Clone)]
pub struct AppStateKey {
    pub id: [u8; 6],
    pub data: [u8; 32],
    pub timestamp_ms: i64,
}

pub struct Account {
    pub phone: String,
    pub app_state_key: AppStateKey,
    pub lid: String,
    pub keys: Arc<PhoneKeys>,
    pub signal: Arc<tokio::sync::Mutex<PhoneSignal>>,
    pub devices: BTreeMap<u16, Device>,
    pub next_device: u16,
    /// What the phone's owner set through `status`, `privacy` and `blocklist` IQs.
    pub profile: crate::profile::ProfileState,
}

impl Account {
    pub fn pn_jid(&self, device: u16) -> Jid {
        Jid::pn_device(self.phone.as_str(), device)
    }

    pub fn lid_jid(&self) -> Jid {
        Jid::lid(self.lid.as_str())
    }

    /// Key indexes of companions; the phone (device 0) has none.
    pub fn key_indexes(&self) -> Vec<u32> {
        self.devices.values().map(|d| d.key_index).collect()
    }
}

/// Registration data from a not-yet-paired connection's ClientPayload.
#[derive(Clone)]
pub struct Registration {
    pub noise_pub: [u8; 32],
    pub identity_pub: [u8; 32],
    pub registration_id: u32,
    pub signed_prekey: SignedPreKey,
}

/// A connection showing QR refs.
#[derive(Clone)]
pub struct Unpaired {
    pub peer: Peer,
    pub registration: Registration,
}

/// A `pair-success` sent and waiting for the client's `pair-device-sign`.
pub struct InFlightPair {
    pub phone: String,
    pub device: u16,
    pub iq_id: String,
    pub done: oneshot::Sender<Result<(), String>>,
}

#[derive(Default)]
pub struct Registry {
    pub accounts: BTreeMap<String, Account>,
    pub qr_refs: HashMap<String, Unpaired>,
    pub pairing: HashMap<u64, InFlightPair>,
    pub groups: crate::groups::Groups,
    next_phone: u64,
    next_lid: u64,
}

impl Registry {
    /// Returns the account, creating it (and its phone keys) on first use.
    pub fn account_mut(&mut self, phone: &str) -> &mut Account {
        if !self.accounts.contains_key(phone) {
            let lid = (FIRST_LID + self.next_lid).to_string();
            self.next_lid += 1;
            let keys = Arc::new(PhoneKeys::generate());
            let signal = PhoneSignal::new(&keys);
            self.accounts.insert(
                phone.to_string(),
                Account {
                    phone: phone.to_string(),
                    app_state_key: AppStateKey {
                        id: rand::random(),
                        data: rand::random(),
                        timestamp_ms: wacore::time::now_millis(),
                    },
                    lid,
                    keys,
                    signal: Arc::new(tokio::sync::Mutex::new(signal)),
                    devices: BTreeMap::new(),
                    next_device: 1,
                    profile: Default::default(),
                },
            );
        }
        self.accounts.get_mut(phone).expect("inserted above")
    }

    /// A phone number no account uses yet.
    pub fn allocate_phone(&mut self) -> String {
        loop {
            let phone = (FIRST_PHONE + self.next_phone).to_string();
            self.next_phone += 1;
            if !self.accounts.contains_key(&phone) {
                return phone;
            }
        }
    }

    /// Finds the account a JID names, by phone number or by LID.
    pub fn phone_for(&self, jid: &Jid) -> Option<String> {
        match jid.server {
            Server::Pn => self
                .accounts
                .contains_key(jid.user.as_str())
                .then(|| jid.user.to_string()),
            Server::Lid => self
                .accounts
                .values()
                .find(|a| a.lid == jid.user.as_str())
                .map(|a| a.phone.clone()),
            _ => None,
        }
    }

    pub fn account_for(&self, jid: &Jid) -> Option<&Account> {
        self.phone_for(jid).and_then(|p| self.accounts.get(&p))
    }

    pub fn account_for_mut(&mut self, jid: &Jid) -> Option<&mut Account> {
        let phone = self.phone_for(jid)?;
        self.accounts.get_mut(&phone)
    }

    /// Forgets everything tied to a closed connection.
    pub fn connection_closed(&mut self, conn_id: u64) {
        self.qr_refs.retain(|_, u| u.peer.conn_id != conn_id);
        self.pairing.remove(&conn_id);
        for account in self.accounts.values_mut() {
            for device in account.devices.values_mut() {
                if device.peer.as_ref().is_some_and(|p| p.conn_id == conn_id) {
                    device.peer = None;
                    device.requeue_unacked();
                }
            }
        }
    }

    /// Delivers to a device now, or queues it for its next login.
    pub fn deliver(&mut self, phone: &str, device: u16, node: Node) -> bool {
        let Some(dev) = self
            .accounts
            .get_mut(phone)
            .and_then(|a| a.devices.get_mut(&device))
        else {
            return false;
        };
        match dev.online_peer() {
            Some(peer) => {
                let sent = peer.send(node.clone());
                if sent {
                    dev.sent(&node);
                } else {
                    dev.offline.push(node);
                }
                sent
            }
            None => {
                dev.offline.push(node);
                false
            }
        }
    }
}
