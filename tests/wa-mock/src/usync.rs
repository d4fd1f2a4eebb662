//! The `usync` namespace: contact, LID and device-list lookups.
//!
//! Every phone number "is on WhatsApp" in the mock: an unknown number gets
//! a phone-only account on first lookup, so tests can message any number
//! and the mock phone behind it acks like a real contact's phone would.

use crate::accounts::Account;
use crate::iq::result;
use crate::pairing::account_raw_id;
use crate::session::Conn;
use crate::shared::now_secs;
use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node, NodeContent, Server};
use waproto::buffa::Message as _;
use waproto::whatsapp as wa;

pub fn handle(conn: &Conn, node: &Node) -> Node {
    let Some(usync) = node.get_optional_child("usync") else {
        return result(node, vec![]);
    };
    let wanted: Vec<String> = usync
        .get_optional_child("query")
        .and_then(|q| q.children())
        .unwrap_or_default()
        .iter()
        .map(|c| c.tag.to_string())
        .collect();
    let users = usync
        .get_optional_child("list")
        .map(|l| l.get_children_by_tag("user").cloned().collect::<Vec<_>>())
        .unwrap_or_default();

    let mut reg = conn.shared.reg();
    let mut out = Vec::with_capacity(users.len());
    for user in users {
        let contact = user
            .get_optional_child("contact")
            .and_then(|c| c.content_as_string())
            .map(|s| s.to_string());
        let asked = user.attrs().optional_jid("jid").or_else(|| {
            let digits: String = contact
                .as_deref()?
                .chars()
                .filter(char::is_ascii_digit)
                .collect();
            (!digits.is_empty()).then(|| Jid::pn(digits))
        });
        let Some(mut asked) = asked else { continue };
        if asked.server == Server::Pn {
            // Like WhatsApp, a mobile number written with or without the digit Brazil, Mexico
            // and Argentina added resolves to the account that exists under the other form.
            if let Some(other) = other_form(&asked.user)
                .filter(|o| reg.account_for(&Jid::pn(o.as_str())).is_some())
                .filter(|_| reg.account_for(&asked).is_none())
            {
                asked = Jid::pn(other);
            }
            reg.account_mut(&asked.user);
        }
        let Some(account) = reg.account_for(&asked) else {
            continue;
        };
        let jid = if asked.server == Server::Lid {
            account.lid_jid()
        } else {
            Jid::pn(account.phone.as_str())
        };
        let mut children = Vec::new();
        for protocol in &wanted {
            match protocol.as_str() {
                "contact" => {
                    let mut c = NodeBuilder::new("contact").attr("type", "in");
                    if let Some(text) = &contact {
                        c = c.string_content(text.as_str());
                    }
                    children.push(c.build());
                }
                "lid" => children.push(
                    NodeBuilder::new("lid")
                        .attr("val", account.lid_jid())
                        .build(),
                ),
                "devices" => children.push(devices(account)),
                "status" => {
                    if let Some(text) = &account.profile.status {
                        children.push(
                            NodeBuilder::new("status")
                                .string_content(text.as_str())
                                .build(),
                        );
                    }
                }
                _ => {}
            }
        }
        out.push(
            NodeBuilder::new("user")
                .attr("jid", jid)
                .children(children)
                .build(),
        );
    }
    drop(reg);

    let mut usync_reply = NodeBuilder::new("usync");
    for key in ["sid", "mode", "context"] {
        if let Some(v) = usync.attrs.get(key) {
            usync_reply = usync_reply.attr(key, v.to_string());
        }
    }
    let list = Node::new("list", Default::default(), Some(NodeContent::Nodes(out)));
    let reply = usync_reply
        .attr("index", "0")
        .attr("last", "true")
        .children([list])
        .build();
    result(node, vec![reply])
}

/// `<devices><device-list>` with the phone (0) and every companion, plus
/// the `key-index-list` without which clients skip companions entirely.
fn devices(account: &Account) -> Node {
    let mut list = vec![NodeBuilder::new("device").attr("id", "0").build()];
    for d in account.devices.values() {
        list.push(
            NodeBuilder::new("device")
                .attr("id", d.id.to_string())
                .attr("key-index", d.key_index.to_string())
                .build(),
        );
    }
    let indexes = account.key_indexes();
    let ts = now_secs() as u64;
    let details = wa::ADVKeyIndexList {
        raw_id: Some(account_raw_id(&account.phone)),
        timestamp: Some(ts),
        current_index: Some(indexes.iter().copied().max().unwrap_or(0)),
        valid_indexes: indexes,
        ..Default::default()
    }
    .encode_to_vec();
    // Clients decode but do not verify this signature; sign it anyway so the
    // blob looks like what a phone produces.
    let signature = account
        .keys
        .identity
        .private_key
        .calculate_signature(&[&[6u8, 2][..], &details].concat(), &mut rand::rng())
        .map(|s| s.to_vec())
        .unwrap_or_default();
    let signed = wa::ADVSignedKeyIndexList {
        details: Some(details),
        account_signature: Some(signature),
        account_signature_key: Some(account.keys.identity.public_key.public_key_bytes().to_vec()),
    }
    .encode_to_vec();
    NodeBuilder::new("devices")
        .children([
            NodeBuilder::new("device-list").children(list).build(),
            NodeBuilder::new("key-index-list")
                .attr("ts", ts.to_string())
                .bytes(signed)
                .build(),
        ])
        .build()
}

/// The same mobile number with the added digit removed or put back: Brazil's `9` after the area
/// code, Mexico's `1` and Argentina's `9` after the country code.
fn other_form(user: &str) -> Option<String> {
    if !user.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match (&user[..2.min(user.len())], user.len()) {
        ("55", 12) => Some(format!("{}9{}", &user[..4], &user[4..])),
        ("55", 13) if &user[4..5] == "9" => Some(format!("{}{}", &user[..4], &user[5..])),
        ("52", 12) => Some(format!("521{}", &user[2..])),
        ("54", 12) => Some(format!("549{}", &user[2..])),
        ("52" | "54", 13) => Some(format!("{}{}", &user[..2], &user[3..])),
        _ => None,
    }
}
