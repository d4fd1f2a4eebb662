//! In-memory Signal state of a simulated phone, used when the mock plays a
//! phone-side contact that sends an encrypted text (`POST /admin/send`).
//!
//! Only the sending half is needed: identities are trusted on first use and
//! sessions are created from the prekeys the target devices uploaded.

use crate::accounts::{Device, PhoneKeys};
use anyhow::{Result, anyhow};
use async_trait::async_trait;
use std::collections::HashMap;
use wacore::libsignal::protocol::{
    CiphertextMessage, Direction, IdentityChange, IdentityKey, IdentityKeyPair, IdentityKeyStore,
    PreKeyBundle, ProtocolAddress, PublicKey, SessionRecord, SessionStore, SignalProtocolError,
    UsePQRatchet, message_encrypt, process_prekey_bundle,
};

type SignalResult<T> = std::result::Result<T, SignalProtocolError>;

pub struct PhoneSignal {
    identity: IdentityKeyPair,
    registration_id: u32,
    sessions: HashMap<String, SessionRecord>,
    identities: HashMap<String, IdentityKey>,
}

fn key(address: &ProtocolAddress) -> String {
    address.to_string()
}

impl PhoneSignal {
    pub fn new(keys: &PhoneKeys) -> Self {
        Self {
            identity: IdentityKeyPair::from(keys.identity.clone()),
            registration_id: keys.registration_id,
            sessions: HashMap::new(),
            identities: HashMap::new(),
        }
    }

    pub fn has_session(&self, address: &ProtocolAddress) -> bool {
        self.sessions.contains_key(&key(address))
    }

    /// Starts a session from the device's uploaded keys, consuming one
    /// one-time prekey (the caller already popped it from the registry).
    pub async fn start_session(
        &mut self,
        address: &ProtocolAddress,
        device: &DeviceKeys,
    ) -> Result<()> {
        let spk = device
            .signed_prekey
            .as_ref()
            .ok_or_else(|| anyhow!("device has no signed prekey"))?;
        let one_time = match device.one_time {
            Some((id, public)) => Some((id.into(), djb(&public)?)),
            None => None,
        };
        let bundle = PreKeyBundle::new(
            device.registration_id,
            0u32.into(),
            one_time,
            spk.id.into(),
            djb(&spk.public)?,
            spk.signature.clone(),
            IdentityKey::new(djb(&device.identity_pub)?),
        )?;
        let mut identities =
            IdentityView(&mut self.identities, &self.identity, self.registration_id);
        let mut sessions = SessionView(&mut self.sessions);
        // ThreadRng is not Send, and this future crosses tasks.
        let mut rng = rand::make_rng::<rand::rngs::StdRng>();
        process_prekey_bundle(
            address,
            &mut sessions,
            &mut identities,
            &bundle,
            &mut rng,
            UsePQRatchet::No,
        )
        .await?;
        Ok(())
    }

    /// Encrypts `plaintext` (already padded). Returns (`pkmsg`|`msg`, bytes).
    pub async fn encrypt(
        &mut self,
        address: &ProtocolAddress,
        plaintext: &[u8],
    ) -> Result<(&'static str, Vec<u8>)> {
        let mut identities =
            IdentityView(&mut self.identities, &self.identity, self.registration_id);
        let mut sessions = SessionView(&mut self.sessions);
        let ct = message_encrypt(plaintext, address, &mut sessions, &mut identities).await?;
        let kind = match &ct {
            CiphertextMessage::PreKeySignalMessage(_) => "pkmsg",
            _ => "msg",
        };
        Ok((kind, ct.serialize().to_vec()))
    }
}

fn djb(bytes: &[u8; 32]) -> Result<PublicKey> {
    PublicKey::from_djb_public_key_bytes(bytes).map_err(|e| anyhow!("bad public key: {e}"))
}

/// What a session needs from a target device, copied out of the registry
/// so no lock is held across the async Signal calls.
pub struct DeviceKeys {
    pub registration_id: u32,
    pub identity_pub: [u8; 32],
    pub signed_prekey: Option<crate::accounts::SignedPreKey>,
    pub one_time: Option<(u32, [u8; 32])>,
}

impl DeviceKeys {
    pub fn take_from(device: &mut Device) -> Self {
        Self {
            registration_id: device.registration_id,
            identity_pub: device.identity_pub,
            signed_prekey: device.signed_prekey.clone(),
            one_time: device.prekeys.pop_front(),
        }
    }
}

struct IdentityView<'a>(
    &'a mut HashMap<String, IdentityKey>,
    &'a IdentityKeyPair,
    u32,
);

#[async_trait]
impl IdentityKeyStore for IdentityView<'_> {
    async fn get_identity_key_pair(&self) -> SignalResult<IdentityKeyPair> {
        Ok(self.1.clone())
    }

    async fn get_local_registration_id(&self) -> SignalResult<u32> {
        Ok(self.2)
    }

    async fn save_identity(
        &mut self,
        address: &ProtocolAddress,
        identity: &IdentityKey,
    ) -> SignalResult<IdentityChange> {
        let replaced = self
            .0
            .insert(key(address), *identity)
            .is_some_and(|old| old != *identity);
        Ok(IdentityChange::from_changed(replaced))
    }

    async fn is_trusted_identity(
        &self,
        _address: &ProtocolAddress,
        _identity: &IdentityKey,
        _direction: Direction,
    ) -> SignalResult<bool> {
        // A mock phone trusts whatever key a test device presents.
        Ok(true)
    }

    async fn get_identity(&self, address: &ProtocolAddress) -> SignalResult<Option<IdentityKey>> {
        Ok(self.0.get(&key(address)).copied())
    }
}

struct SessionView<'a>(&'a mut HashMap<String, SessionRecord>);

#[async_trait]
impl SessionStore for SessionView<'_> {
    async fn load_session(&self, address: &ProtocolAddress) -> SignalResult<Option<SessionRecord>> {
        Ok(self.0.get(&key(address)).cloned())
    }

    async fn has_session(&self, address: &ProtocolAddress) -> SignalResult<bool> {
        Ok(self.0.contains_key(&key(address)))
    }

    async fn store_session(
        &mut self,
        address: &ProtocolAddress,
        record: SessionRecord,
    ) -> SignalResult<()> {
        self.0.insert(key(address), record);
        Ok(())
    }
}
