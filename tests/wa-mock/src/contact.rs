//! The scripted phone-side contact behind `POST /admin/send`: the mock
//! phone of account `from` Signal-encrypts a text to every companion of
//! account `to`, using the prekeys those companions uploaded.

use crate::shared::{Shared, now_secs};
use crate::signal::DeviceKeys;
use anyhow::{Result, anyhow};
use wacore::libsignal::protocol::ProtocolAddress;
use wacore::messages::MessageUtils;
use wacore_binary::Jid;
use wacore_binary::builder::NodeBuilder;
use waproto::buffa::Message as _;
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
    let (signal, targets) = {
        let mut reg = shared.reg();
        if !reg.accounts.contains_key(to) {
            return Err(SendError::UnknownRecipient);
        }
        let signal = reg.account_mut(from).signal.clone();
        let targets: Vec<u16> = reg.accounts[to].devices.keys().copied().collect();
        (signal, targets)
    };
    if targets.is_empty() {
        return Err(SendError::NoDevices);
    }
    let plaintext = MessageUtils::pad_message_v2(
        wa::Message {
            conversation: Some(text.to_string()),
            ..Default::default()
        }
        .encode_to_vec(),
    );
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
        let node = NodeBuilder::new("message")
            .attr("from", sender.clone())
            .attr("id", id.as_str())
            .attr("type", "text")
            .attr("t", now_secs().to_string())
            .attr("notify", format!("Contact {from}"))
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
