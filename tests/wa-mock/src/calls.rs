//! Calls the simulated phones place: a voice or video `<offer>` to every companion of an
//! account (`POST /admin/call`), and what companions answer. Signalling only: no relay, no
//! media keys, so a client can ring and reject but never connect.
//!
//! The companions' `<reject>`s are recorded (`GET /admin/calls/rejects`,
//! [`WaMock::wait_call_reject`](crate::WaMock::wait_call_reject)); the offer receipt a
//! companion sends back ("it rings") is acked and kept from the caller's other devices.

use crate::session::Conn;
use crate::shared::{Shared, now_secs};
use serde::Serialize;
use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node};

/// An offer the mock delivered.
#[derive(Debug, Clone, Serialize)]
pub struct Offered {
    pub call_id: String,
    /// Companion JIDs it went to (queued for the offline ones).
    pub devices: Vec<String>,
}

#[derive(Debug)]
pub enum CallError {
    UnknownRecipient,
    NoDevices,
}

/// A companion declined a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallReject {
    pub call_id: String,
    /// The `call-creator` the reject names.
    pub call_creator: String,
    /// The `<call to>` it was addressed to.
    pub to: String,
    /// The companion that rejected, e.g. `15550000002:1@s.whatsapp.net`.
    pub by: String,
}

fn attr(node: &Node, key: &str) -> String {
    node.attrs
        .get(key)
        .map(|v| v.to_string())
        .unwrap_or_default()
}

/// The phone of `from` calls every companion of `to`.
pub fn offer(shared: &Shared, from: &str, to: &str, video: bool) -> Result<Offered, CallError> {
    let mut reg = shared.reg();
    let devices: Vec<u16> = match reg.accounts.get(to) {
        Some(a) => a.devices.keys().copied().collect(),
        None => return Err(CallError::UnknownRecipient),
    };
    if devices.is_empty() {
        return Err(CallError::NoDevices);
    }
    // Every number exists in the mock: the caller gets an account if it had none.
    reg.account_mut(from);
    let call_id = format!("{:032X}", rand::random::<u128>());
    let caller = Jid::pn(from);
    let mut media = vec![
        NodeBuilder::new("audio")
            .attr("enc", "opus")
            .attr("rate", "16000")
            .build(),
        NodeBuilder::new("audio")
            .attr("enc", "opus")
            .attr("rate", "8000")
            .build(),
    ];
    if video {
        media.push(NodeBuilder::new("video").attr("enc", "vp8").build());
    }
    let action = NodeBuilder::new("offer")
        .attr("call-id", call_id.as_str())
        .attr("call-creator", caller.clone())
        .children(media)
        .build();
    let mut delivered = Vec::new();
    for device in devices {
        let stanza = NodeBuilder::new("call")
            .attr("from", caller.clone())
            .attr("id", shared.next_id())
            .attr("t", now_secs().to_string())
            .attr("notify", format!("Contact {from}"))
            .children([action.clone()])
            .build();
        reg.deliver(to, device, stanza);
        delivered.push(Jid::pn_device(to, device).to_string());
    }
    Ok(Offered {
        call_id,
        devices: delivered,
    })
}

fn ack(node: &Node, class: &str) -> Node {
    NodeBuilder::new("ack")
        .attr("class", class)
        .attr("id", attr(node, "id"))
        .attr("from", attr(node, "to"))
        .build()
}

/// A `<call>` from a client: acked; a `<reject>` inside is recorded.
pub fn on_call(conn: &Conn, node: &Node) {
    let Some((phone, device)) = conn.login.clone() else {
        return;
    };
    conn.send(ack(node, "call"));
    for reject in node.get_children_by_tag("reject") {
        let record = CallReject {
            call_id: attr(reject, "call-id"),
            call_creator: attr(reject, "call-creator"),
            to: attr(node, "to"),
            by: Jid::pn_device(phone.as_str(), device).to_string(),
        };
        tracing::debug!(call = %record.call_id, by = %record.by, "call rejected");
        conn.shared
            .call_rejects
            .send_modify(|list| list.push(record));
    }
}

/// Whether a receipt is a companion's "the offer rings here" (`<receipt><offer/></receipt>`).
pub fn is_offer_receipt(node: &Node) -> bool {
    node.get_children_by_tag("offer").next().is_some()
}

/// The caller is the mock's phone: the offer receipt ends here, acked.
pub fn on_offer_receipt(conn: &Conn, node: &Node) {
    if conn.login.is_some() {
        conn.send(ack(node, "receipt"));
    }
}
