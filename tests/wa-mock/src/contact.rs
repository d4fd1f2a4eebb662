//! What simulated phones send over Signal: a contact's text behind
//! `POST /admin/send` (the phone of account `from` encrypts to every
//! companion of account `to`, from the prekeys they uploaded) and the
//! app-state key share a primary gives a newly linked companion (and, in
//! `history.rs`, its history-sync notification).

use crate::pairing::account_raw_id;
use crate::shared::{Shared, now_secs};
use crate::signal::DeviceKeys;
use anyhow::{Result, anyhow};
use wacore::libsignal::protocol::ProtocolAddress;
use wacore::messages::MessageUtils;
use wacore_binary::Jid;
use wacore_binary::builder::NodeBuilder;
use waproto::buffa::{Message as _, MessageField};
use waproto::whatsapp as wa;

pub struct Sent {
    pub id: String,
    pub devices: Vec<String>,
}

#[derive(Debug)]
pub enum SendError {
    UnknownRecipient,
    NoDevices,
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for SendError {
    fn from(e: anyhow::Error) -> Self {
        Self::Failed(e)
    }
}

pub async fn send_text(
    shared: &Shared,
    from: &str,
    to: &str,
    text: &str,
) -> Result<Sent, SendError> {
    if !shared.reg().accounts.contains_key(to) {
        return Err(SendError::UnknownRecipient);
    }
    let message = wa::Message {
        conversation: Some(text.to_string()),
        ..Default::default()
    };
    phone_send(
        shared,
        from,
        to,
        None,
        &message,
        Some(format!("Contact {from}")),
    )
    .await
}

/// The phone hands a companion the account's app-state key, as a real
/// primary does after linking. Sent on every login, not just the first:
/// a client without a push name redoes its initial app-state sync on each
/// start and waits a 10 s grace for this share before it.
pub async fn share_app_state_key(
    shared: &Shared,
    phone: &str,
    device: u16,
) -> Result<(), SendError> {
    let key = {
        let reg = shared.reg();
        match reg.accounts.get(phone) {
            Some(a) if a.devices.contains_key(&device) => a.app_state_key.clone(),
            _ => return Ok(()),
        }
    };
    let fingerprint = wa::message::AppStateSyncKeyFingerprint {
        raw_id: Some(account_raw_id(phone)),
        current_index: Some(0),
        device_indexes: vec![0, u32::from(device)],
    };
    let share = wa::message::AppStateSyncKeyShare {
        keys: vec![wa::message::AppStateSyncKey {
            key_id: MessageField::some(wa::message::AppStateSyncKeyId {
                key_id: Some(key.id.to_vec()),
            }),
            key_data: MessageField::some(wa::message::AppStateSyncKeyData {
                key_data: Some(key.data.to_vec()),
                fingerprint: MessageField::some(fingerprint),
                timestamp: Some(key.timestamp_ms),
            }),
        }],
    };
    let message = wa::Message {
        protocol_message: MessageField::some(wa::message::ProtocolMessage {
            r#type: Some(wa::message::protocol_message::Type::APP_STATE_SYNC_KEY_SHARE),
            app_state_sync_key_share: MessageField::some(share),
            ..Default::default()
        }),
        ..Default::default()
    };
    phone_send(shared, phone, phone, Some(device), &message, None).await?;
    Ok(())
}

/// Encrypts `message` from the phone (device 0) of `from` to the companions
/// of `to` (all, or just `only`), starting Signal sessions from uploaded
/// prekeys where needed, and delivers (or queues) one stanza per device.
pub(crate) async fn phone_send(
    shared: &Shared,
    from: &str,
    to: &str,
    only: Option<u16>,
    message: &wa::Message,
    notify: Option<String>,
) -> Result<Sent, SendError> {
    let (signal, targets) = {
        let mut reg = shared.reg();
        let signal = reg.account_mut(from).signal.clone();
        let targets: Vec<u16> = match reg.accounts.get(to) {
            Some(a) => a
                .devices
                .keys()
                .copied()
                .filter(|d| only.is_none_or(|o| o == *d))
                .collect(),
            None => return Err(SendError::UnknownRecipient),
        };
        (signal, targets)
    };
    if targets.is_empty() {
        return Err(SendError::NoDevices);
    }
    let plaintext = MessageUtils::pad_message_v2(message.encode_to_vec());
    let id = format!("3EB0{:016X}", rand::random::<u64>());
    let sender = Jid::pn(from);
    let mut signal = signal.lock().await;
    let mut delivered = Vec::new();
    for device in targets {
        let address = ProtocolAddress::new(&format!("{to}.{device}"), 0u32.into());
        if !signal.has_session(&address) {
            let keys = {
                let mut reg = shared.reg();
                let dev = reg
                    .accounts
                    .get_mut(to)
                    .and_then(|a| a.devices.get_mut(&device));
                match dev {
                    Some(d) => DeviceKeys::take_from(d),
                    None => continue,
                }
            };
            signal.start_session(&address, &keys).await?;
        }
        let (kind, ciphertext) = signal.encrypt(&address, &plaintext).await?;
        let mut node = NodeBuilder::new("message")
            .attr("from", sender.clone())
            .attr("id", id.as_str())
            .attr("type", "text")
            .attr("t", now_secs().to_string());
        if let Some(name) = &notify {
            node = node.attr("notify", name.as_str());
        }
        let node = node
            .children([NodeBuilder::new("enc")
                .attr("v", "2")
                .attr("type", kind)
                .bytes(ciphertext)
                .build()])
            .build();
        shared.reg().deliver(to, device, node);
        delivered.push(Jid::pn_device(to, device).to_string());
    }
    if delivered.is_empty() {
        return Err(SendError::Failed(anyhow!(
            "no device could be encrypted to"
        )));
    }
    Ok(Sent {
        id,
        devices: delivered,
    })
}
