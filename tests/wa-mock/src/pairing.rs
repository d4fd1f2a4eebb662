//! QR pairing: the `pair-device` refs shown to an unregistered client, the
//! simulated phone scanning one (`pair-success` with an ADV identity signed
//! by the phone), and the client's `pair-device-sign` answer, after which
//! the stream is recycled with a 515 so the client logs in.

use crate::accounts::{Device, InFlightPair, Registration, SERVER, SignedPreKey, Unpaired};
use crate::session::Conn;
use crate::shared::{Counters, Shared, now_secs};
use anyhow::{Result, anyhow};
use base64::Engine as _;
use base64::prelude::BASE64_STANDARD;
use hmac::{KeyInit, Mac};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::oneshot;
use wacore::pair::PairUtils;
use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node};
use waproto::buffa::Message as _;
use waproto::whatsapp as wa;

const REFS_PER_CONNECTION: usize = 6;
const RECYCLE_DELAY: Duration = Duration::from_millis(500);
const ADV_ACCOUNT_SIGNATURE_PREFIX: [u8; 2] = [6, 0];

fn bytes_at(v: &Option<Vec<u8>>, len: usize, what: &str) -> Result<Vec<u8>> {
    let b = v
        .clone()
        .ok_or_else(|| anyhow!("registration lacks {what}"))?;
    if b.len() != len {
        return Err(anyhow!("{what}: expected {len} bytes, got {}", b.len()));
    }
    Ok(b)
}

fn be_uint(b: &[u8]) -> u32 {
    b.iter().fold(0u32, |acc, x| (acc << 8) | u32::from(*x))
}

/// A fresh client: remember its keys and show it QR refs unique to this
/// connection, so a scan names exactly one socket.
pub fn on_register(conn: &Conn, payload: &wa::ClientPayload, noise_pub: [u8; 32]) -> Result<()> {
    let reg = payload
        .device_pairing_data
        .as_option()
        .ok_or_else(|| anyhow!("no devicePairingData"))?;
    let registration = Registration {
        noise_pub,
        identity_pub: bytes_at(&reg.e_ident, 32, "eIdent")?
            .try_into()
            .expect("32"),
        registration_id: be_uint(&bytes_at(&reg.e_regid, 4, "eRegid")?),
        signed_prekey: SignedPreKey {
            id: be_uint(&bytes_at(&reg.e_skey_id, 3, "eSkeyId")?),
            public: bytes_at(&reg.e_skey_val, 32, "eSkeyVal")?
                .try_into()
                .expect("32"),
            signature: bytes_at(&reg.e_skey_sig, 64, "eSkeySig")?,
        },
    };
    let refs: Vec<String> = (0..REFS_PER_CONNECTION)
        .map(|_| format!("2@{:032x}", rand::random::<u128>()))
        .collect();
    {
        let mut reg = conn.shared.reg();
        for r in &refs {
            reg.qr_refs.insert(
                r.clone(),
                Unpaired {
                    peer: conn.peer.clone(),
                    registration: registration.clone(),
                },
            );
        }
    }
    let ref_nodes = refs
        .into_iter()
        .map(|r| NodeBuilder::new("ref").bytes(r.into_bytes()).build());
    conn.send(
        NodeBuilder::new("iq")
            .attr("from", SERVER)
            .attr("type", "set")
            .attr("id", conn.shared.next_id())
            .attr("xmlns", "md")
            .children([NodeBuilder::new("pair-device").children(ref_nodes).build()])
            .build(),
    );
    Ok(())
}

#[derive(Debug)]
pub enum ScanError {
    UnknownRef,
    BadQr(String),
    Failed(String),
}

pub struct Paired {
    pub phone: String,
    pub jid: String,
    pub lid: String,
}

/// Plays the phone scanning `qr`: waits until the client has countersigned
/// its identity (or failed), so callers can wait for the login next.
pub async fn scan(shared: &Shared, qr: &str, phone: Option<String>) -> Result<Paired, ScanError> {
    let (pairing_ref, _noise, identity_pub) =
        PairUtils::parse_qr_code(qr).map_err(|e| ScanError::BadQr(e.to_string()))?;
    let adv_secret = qr
        .split(',')
        .nth(3)
        .and_then(|s| BASE64_STANDARD.decode(s).ok())
        .filter(|s| s.len() == 32)
        .ok_or_else(|| ScanError::BadQr("bad adv secret".into()))?;

    let (done_tx, done_rx) = oneshot::channel();
    let (peer, paired, stanza) = {
        let mut reg = shared.reg();
        let unpaired = reg
            .qr_refs
            .get(&pairing_ref)
            .filter(|u| u.peer.is_open())
            .cloned()
            .ok_or(ScanError::UnknownRef)?;
        if unpaired.registration.identity_pub != identity_pub {
            return Err(ScanError::BadQr("identity key does not match".into()));
        }
        let conn_id = unpaired.peer.conn_id;
        reg.qr_refs.retain(|_, u| u.peer.conn_id != conn_id);
        let phone = match phone {
            Some(p) => p,
            None => reg.allocate_phone(),
        };
        let account = reg.account_mut(&phone);
        let device_id = account.next_device;
        account.next_device += 1;
        let identity = build_device_identity(account, device_id, &identity_pub, &adv_secret)
            .map_err(|e| ScanError::Failed(e.to_string()))?;
        let r = &unpaired.registration;
        account.devices.insert(
            device_id,
            Device {
                id: device_id,
                key_index: u32::from(device_id),
                noise_pub: r.noise_pub,
                identity_pub: r.identity_pub,
                registration_id: r.registration_id,
                signed_prekey: Some(r.signed_prekey.clone()),
                prekeys: VecDeque::new(),
                device_identity: None,
                peer: None,
                offline: Vec::new(),
                unacked: Vec::new(),
            },
        );
        let paired = Paired {
            phone: phone.clone(),
            jid: account.pn_jid(device_id).to_string(),
            lid: Jid::lid_device(account.lid.as_str(), device_id).to_string(),
        };
        let iq_id = shared.next_id();
        let stanza = pair_success(&iq_id, &paired, identity);
        reg.pairing.insert(
            conn_id,
            InFlightPair {
                phone,
                device: device_id,
                iq_id,
                done: done_tx,
            },
        );
        (unpaired.peer, paired, stanza)
    };
    peer.send(stanza);
    match tokio::time::timeout(Duration::from_secs(20), done_rx).await {
        Ok(Ok(Ok(()))) => Ok(paired),
        Ok(Ok(Err(e))) => Err(ScanError::Failed(e)),
        _ => Err(ScanError::Failed(
            "client did not answer pair-success".into(),
        )),
    }
}

/// `ADVSignedDeviceIdentityHMAC` for a new companion: details signed by the
/// phone's identity key over `[6,0] || details || companion identity`,
/// wrapped in an HMAC keyed with the QR's adv secret.
fn build_device_identity(
    account: &crate::accounts::Account,
    device_id: u16,
    companion_identity: &[u8; 32],
    adv_secret: &[u8],
) -> Result<Vec<u8>> {
    let details = wa::ADVDeviceIdentity {
        raw_id: Some(account_raw_id(&account.phone)),
        timestamp: Some(now_secs() as u64),
        key_index: Some(u32::from(device_id)),
        ..Default::default()
    }
    .encode_to_vec();
    let message = [
        &ADV_ACCOUNT_SIGNATURE_PREFIX[..],
        &details,
        companion_identity,
    ]
    .concat();
    let signature = account
        .keys
        .identity
        .private_key
        .calculate_signature(&message, &mut rand::rng())
        .map_err(|e| anyhow!("sign: {e}"))?;
    let signed = wa::ADVSignedDeviceIdentity {
        details: Some(details),
        account_signature_key: Some(account.keys.identity.public_key.public_key_bytes().to_vec()),
        account_signature: Some(signature.to_vec()),
        device_signature: None,
    }
    .encode_to_vec();
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(adv_secret).map_err(|e| anyhow!("hmac: {e}"))?;
    mac.update(&signed);
    Ok(wa::ADVSignedDeviceIdentityHMAC {
        details: Some(signed),
        hmac: Some(mac.finalize().into_bytes().to_vec()),
        ..Default::default()
    }
    .encode_to_vec())
}

/// Stable per-account id; clients only compare it between ADV blobs.
pub fn account_raw_id(phone: &str) -> u32 {
    phone
        .bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
}

fn pair_success(iq_id: &str, paired: &Paired, identity: Vec<u8>) -> Node {
    NodeBuilder::new("iq")
        .attr("from", SERVER)
        .attr("type", "set")
        .attr("id", iq_id)
        .attr("xmlns", "md")
        .attr("t", now_secs().to_string())
        .children([NodeBuilder::new("pair-success")
            .children([
                NodeBuilder::new("device-identity").bytes(identity).build(),
                NodeBuilder::new("platform").attr("name", "android").build(),
                NodeBuilder::new("device")
                    .attr("jid", paired.jid.as_str())
                    .attr("lid", paired.lid.as_str())
                    .build(),
            ])
            .build()])
        .build()
}

/// The client's reply to `pair-success`: `pair-device-sign` (success) or an
/// IQ error. Returns true if the IQ belonged to a pairing in flight.
pub fn on_pair_reply(conn: &Conn, node: &Node) -> bool {
    let id = node
        .attrs
        .get("id")
        .map(|v| v.to_string())
        .unwrap_or_default();
    let mut reg = conn.shared.reg();
    let conn_id = conn.peer.conn_id;
    if reg.pairing.get(&conn_id).is_none_or(|p| p.iq_id != id) {
        return false;
    }
    let pending = reg.pairing.remove(&conn_id).expect("checked above");
    let signed = node
        .get_optional_child_by_tag(&["pair-device-sign", "device-identity"])
        .and_then(|n| match &n.content {
            Some(wacore_binary::NodeContent::Bytes(b)) => Some(b.clone()),
            _ => None,
        });
    let outcome = match signed {
        Some(bytes) => {
            if let Some(dev) = reg
                .accounts
                .get_mut(&pending.phone)
                .and_then(|a| a.devices.get_mut(&pending.device))
            {
                dev.device_identity = Some(bytes);
            }
            Ok(())
        }
        None => {
            // The client refused the identity: forget the half-made device.
            if let Some(a) = reg.accounts.get_mut(&pending.phone) {
                a.devices.remove(&pending.device);
            }
            Err(format!(
                "client rejected pair-success: {}",
                wacore::xml::DisplayableNode(node)
            ))
        }
    };
    drop(reg);
    if outcome.is_ok() {
        // Normal stream recycle after pairing: the client reconnects at once
        // and logs in. Delayed because whatsapp-rust finishes its
        // pair-success handler (which marks the *current* connection as
        // expected to drop) after sending `pair-device-sign`; a 515 that
        // wins that race makes it drop its fresh login connection too.
        let peer = conn.peer.clone();
        tokio::spawn(async move {
            tokio::time::sleep(RECYCLE_DELAY).await;
            peer.close_with(NodeBuilder::new("stream:error").attr("code", "515").build());
        });
    }
    let _ = pending.done.send(outcome);
    true
}

/// Stage one of pairing by code: the companion asks for a code for a phone number (it makes the
/// code itself and sends it wrapped). The mock answers with a fresh pairing ref, which is what
/// lets the client show its code; the phone side of the flow (typing the code in) is not played.
pub fn on_pair_code_request(conn: &Conn, request: &Node) -> Node {
    Counters::bump(&conn.shared.counters.pair_code_requests);
    let pairing_ref = format!("mock-ref-{}", conn.shared.next_num()).into_bytes();
    crate::iq::result(
        request,
        vec![
            NodeBuilder::new("link_code_companion_reg")
                .children([NodeBuilder::new("link_code_pairing_ref")
                    .bytes(pairing_ref)
                    .build()])
                .build(),
        ],
    )
}
