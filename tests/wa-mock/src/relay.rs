//! Message and receipt routing between devices. The mock holds no Signal
//! state for real clients: it splits a sender's per-device `<enc>` fanout
//! into one `<message>` per target device, acks the sender, and routes the
//! receipts back. A group message reaches every device of every member with
//! the sender-key `<enc type="skmsg">` and, for the devices the sender listed,
//! their own `<enc type="pkmsg">` carrying the sender key.

use crate::accounts::Registry;
use crate::session::Conn;
use crate::shared::{Counters, now_secs};
use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node, NodeContent, Server};

fn attr(node: &Node, key: &str) -> String {
    node.attrs
        .get(key)
        .map(|v| v.to_string())
        .unwrap_or_default()
}

fn server_ack(class: &str, request: &Node, from: &str) -> Node {
    let mut b = NodeBuilder::new("ack")
        .attr("class", class)
        .attr("id", attr(request, "id"))
        .attr("from", from)
        .attr("t", now_secs().to_string());
    if class == "receipt"
        && let Some(t) = request.attrs.get("type")
    {
        b = b.attr("type", t.to_string());
    }
    b.build()
}

/// Resolves a device JID to `(phone, device)` of a known device. Phones
/// (device 0) are simulated: stanzas to them are acked and dropped.
fn target(reg: &Registry, jid: &Jid) -> Option<(String, u16)> {
    let account = reg.account_for(jid)?;
    account
        .devices
        .contains_key(&jid.device)
        .then(|| (account.phone.clone(), jid.device))
}

pub async fn on_message(conn: &Conn, node: &Node) {
    let Some((phone, device)) = conn.login.clone() else {
        return;
    };
    let to_raw = attr(node, "to");
    conn.send(server_ack("message", node, &to_raw));
    let Ok(to) = to_raw.parse::<Jid>() else {
        return;
    };
    if !matches!(to.server, Server::Pn | Server::Lid | Server::Group) {
        tracing::debug!("dropping message to unsupported chat {to_raw}");
        return;
    }
    // (device jid, its <enc> nodes): either a participants fanout or a
    // single direct `<enc>` addressed by `to`.
    let mut fanout: Vec<(Jid, Vec<Node>)> = Vec::new();
    let mut shared_children = Vec::new();
    for child in node.children().unwrap_or_default() {
        match child.tag.as_ref() {
            "participants" => {
                for to_node in child.get_children_by_tag("to") {
                    if let Some(jid) = to_node.attrs().optional_jid("jid") {
                        let encs = to_node.get_children_by_tag("enc").cloned().collect();
                        fanout.push((jid, encs));
                    }
                }
            }
            "enc" => {}
            _ => shared_children.push(child.clone()),
        }
    }
    let direct: Vec<Node> = node.get_children_by_tag("enc").cloned().collect();
    if to.server == Server::Group {
        let out = Outgoing {
            node,
            fanout,
            shared: direct,
            rest: shared_children,
        };
        return relay_group(conn, &phone, device, &to, out);
    }
    if !direct.is_empty() {
        fanout.push((to.clone(), direct));
    }

    let sender_jid = Jid::pn_device(phone.as_str(), device);
    let t = now_secs().to_string();
    let mut reg = conn.shared.reg();
    for (device_jid, encs) in fanout {
        let Some((target_phone, target_device)) = target(&reg, &device_jid) else {
            continue;
        };
        if target_phone == phone && target_device == device {
            continue;
        }
        let mut attrs = node.attrs.clone();
        attrs
            .0
            .retain(|(k, _)| !matches!(k.as_ref(), "to" | "from" | "t" | "phash"));
        attrs.insert("from", sender_jid.clone());
        attrs.insert("t", t.as_str());
        if target_phone == phone {
            // Self-sync copy to the sender's other devices names the chat.
            attrs.insert("recipient", to.to_non_ad());
        }
        let mut children = encs;
        children.extend(shared_children.iter().cloned());
        let forwarded = Node::new("message", attrs, Some(NodeContent::Nodes(children)));
        reg.deliver(&target_phone, target_device, forwarded);
        Counters::bump(&conn.shared.counters.messages_relayed);
    }
}

/// A group message as the sender wrote it: per-device encs, the encs every
/// device gets, and the other children.
struct Outgoing<'a> {
    node: &'a Node,
    fanout: Vec<(Jid, Vec<Node>)>,
    shared: Vec<Node>,
    rest: Vec<Node>,
}

fn relay_group(conn: &Conn, phone: &str, device: u16, group: &Jid, out: Outgoing<'_>) {
    let mut reg = conn.shared.reg();
    let Some(members) = reg.groups.members_of(&group.user) else {
        tracing::debug!("dropping message to unknown group {group}");
        return;
    };
    if !members.iter().any(|m| m == phone) {
        tracing::debug!("dropping message from non-member {phone} to {group}");
        return;
    }
    let mut own: Vec<((String, u16), Vec<Node>)> = Vec::new();
    for (jid, encs) in out.fanout {
        if let Some(t) = target(&reg, &jid) {
            own.push((t, encs));
        }
    }
    let sender_jid = Jid::pn_device(phone, device);
    let t = now_secs().to_string();
    for member in members {
        let devices: Vec<u16> = reg
            .accounts
            .get(&member)
            .map(|a| a.devices.keys().copied().collect())
            .unwrap_or_default();
        for d in devices {
            if member == phone && d == device {
                continue;
            }
            let mut children: Vec<Node> = own
                .iter()
                .filter(|((p, dev), _)| *p == member && *dev == d)
                .flat_map(|(_, encs)| encs.iter().cloned())
                .collect();
            children.extend(out.shared.iter().cloned());
            if children.is_empty() {
                continue;
            }
            children.extend(out.rest.iter().cloned());
            let mut attrs = out.node.attrs.clone();
            attrs.0.retain(|(k, _)| {
                !matches!(k.as_ref(), "to" | "from" | "t" | "phash" | "participant")
            });
            attrs.insert("from", group.to_non_ad());
            attrs.insert("participant", sender_jid.clone());
            attrs.insert("t", t.as_str());
            let forwarded = Node::new("message", attrs, Some(NodeContent::Nodes(children)));
            reg.deliver(&member, d, forwarded);
            Counters::bump(&conn.shared.counters.messages_relayed);
        }
    }
}

/// The message ids a receipt covers: its `id` and, for an aggregate
/// receipt, every `<list><item id>`.
fn receipt_ids(node: &Node) -> Vec<String> {
    let mut ids = vec![attr(node, "id")];
    for list in node.get_children_by_tag("list") {
        for item in list.get_children_by_tag("item") {
            ids.push(attr(item, "id"));
        }
    }
    ids
}

/// The client's transport ack for messages it received: the mock stops
/// holding them for redelivery.
fn client_acked(conn: &Conn, ids: &[String]) {
    let Some((phone, device)) = conn.login.as_ref() else {
        return;
    };
    let first = conn
        .shared
        .reg()
        .accounts
        .get_mut(phone)
        .and_then(|a| a.devices.get_mut(device))
        .map(|dev| dev.acked(ids))
        .unwrap_or_default();
    let observer = conn.shared.ack_observer.lock().ok().and_then(|o| o.clone());
    if let Some(observe) = observer {
        first.iter().for_each(|id| observe(id));
    }
}

/// A bare `<ack class="message">` from a client (used where no receipt goes out).
pub fn on_message_ack(conn: &Conn, node: &Node) {
    client_acked(conn, &[attr(node, "id")]);
}

/// Routes a receipt to the device(s) of the account it names and acks it.
/// Any receipt also acks, for the mock's redelivery, the messages it names.
pub fn on_receipt(conn: &Conn, node: &Node) {
    let Some((phone, device)) = conn.login.clone() else {
        return;
    };
    client_acked(conn, &receipt_ids(node));
    let to_raw = attr(node, "to");
    conn.send(server_ack("receipt", node, &to_raw));
    let Ok(to) = to_raw.parse::<Jid>() else {
        return;
    };
    let mut reg = conn.shared.reg();
    let Some(account) = reg.account_for(&to) else {
        return;
    };
    let target_phone = account.phone.clone();
    let targets: Vec<u16> = if to.device != 0 {
        vec![to.device]
    } else {
        account.devices.keys().copied().collect()
    };
    let mut attrs = node.attrs.clone();
    attrs
        .0
        .retain(|(k, _)| !matches!(k.as_ref(), "to" | "from" | "t"));
    attrs.insert("from", Jid::pn_device(phone.as_str(), device));
    attrs.insert("t", now_secs().to_string());
    let receipt = Node::new("receipt", attrs, node.content.clone());
    for target_device in targets {
        if target_phone == phone && target_device == device {
            continue;
        }
        reg.deliver(&target_phone, target_device, receipt.clone());
    }
}

/// Typing indicators: `<chatstate to=user>` reaches the online companions of that account as
/// `<chatstate from=sender-user>`. Ephemeral, so nothing is queued for offline devices.
pub fn on_chatstate(conn: &Conn, node: &Node) {
    let Some((phone, _)) = conn.login.clone() else {
        return;
    };
    let Ok(to) = attr(node, "to").parse::<Jid>() else {
        return;
    };
    let mut reg = conn.shared.reg();
    let Some(account) = reg.account_for(&to) else {
        return;
    };
    if account.phone == phone || account.profile.blocked(&phone) {
        return;
    }
    let target_phone = account.phone.clone();
    let online: Vec<u16> = account
        .devices
        .values()
        .filter(|d| d.online_peer().is_some())
        .map(|d| d.id)
        .collect();
    let mut attrs = node.attrs.clone();
    attrs
        .0
        .retain(|(k, _)| !matches!(k.as_ref(), "to" | "from"));
    attrs.insert("from", Jid::pn(phone.as_str()));
    let stanza = Node::new("chatstate", attrs, node.content.clone());
    for device in online {
        reg.deliver(&target_phone, device, stanza.clone());
    }
}
