//! The `encrypt` namespace: prekey upload, count, rotation, digest and the
//! bundle fetch (`<key><user jid/></key>`) that senders need before their
//! first message to a device.

use crate::accounts::{Account, SignedPreKey};
use crate::iq::{child_tags, error, result};
use crate::session::Conn;
use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node, NodeContent};

fn bytes(node: Option<&Node>) -> Option<&[u8]> {
    match &node?.content {
        Some(NodeContent::Bytes(b)) => Some(b),
        _ => None,
    }
}

fn be_uint(b: &[u8]) -> u32 {
    b.iter().fold(0u32, |acc, x| (acc << 8) | u32::from(*x))
}

fn key32(b: Option<&[u8]>) -> Option<[u8; 32]> {
    b?.try_into().ok()
}

fn parse_skey(skey: &Node) -> Option<SignedPreKey> {
    Some(SignedPreKey {
        id: be_uint(bytes(skey.get_optional_child("id"))?),
        public: key32(bytes(skey.get_optional_child("value")))?,
        signature: bytes(skey.get_optional_child("signature"))?.to_vec(),
    })
}

pub fn handle(conn: &Conn, node: &Node) -> Node {
    let tags: Vec<&str> = child_tags(node).collect();
    let Some((phone, device)) = conn.login.clone() else {
        return error(node, 401, "not-authorized");
    };
    let mut reg = conn.shared.reg();
    if tags.contains(&"key") {
        let users = node
            .get_optional_child("key")
            .map(|k| k.get_children_by_tag("user").collect::<Vec<_>>())
            .unwrap_or_default();
        let list = users
            .into_iter()
            .filter_map(|u| u.attrs().optional_jid("jid"))
            .map(|jid| {
                if jid.server == wacore_binary::Server::Pn {
                    reg.account_mut(&jid.user);
                }
                match reg.account_for_mut(&jid) {
                    Some(account) => bundle(account, &jid),
                    None => missing(&jid),
                }
            })
            .collect::<Vec<_>>();
        return result(node, vec![NodeBuilder::new("list").children(list).build()]);
    }
    let Some(dev) = reg
        .accounts
        .get_mut(&phone)
        .and_then(|a| a.devices.get_mut(&device))
    else {
        return error(node, 404, "item-not-found");
    };
    if tags.contains(&"registration") {
        if let Some(id) = key32(bytes(node.get_optional_child("identity"))) {
            dev.identity_pub = id;
        }
        if let Some(skey) = node.get_optional_child("skey").and_then(parse_skey) {
            dev.signed_prekey = Some(skey);
        }
        let keys = node
            .get_optional_child("list")
            .map(|l| l.get_children_by_tag("key").collect::<Vec<_>>())
            .unwrap_or_default();
        for k in keys {
            if let (Some(id), Some(value)) = (
                bytes(k.get_optional_child("id")),
                key32(bytes(k.get_optional_child("value"))),
            ) {
                dev.prekeys.push_back((be_uint(id), value));
            }
        }
        return result(node, vec![]);
    }
    if tags.contains(&"rotate") {
        if let Some(skey) = node
            .get_optional_child_by_tag(&["rotate", "skey"])
            .and_then(parse_skey)
        {
            dev.signed_prekey = Some(skey);
        }
        return result(node, vec![]);
    }
    if tags.contains(&"count") {
        let count = dev.prekeys.len().to_string();
        return result(
            node,
            vec![NodeBuilder::new("count").attr("value", count).build()],
        );
    }
    // `digest`: the client only logs a 503; a real digest buys nothing here.
    error(node, 503, "service-unavailable")
}

fn missing(jid: &Jid) -> Node {
    NodeBuilder::new("user")
        .attr("jid", jid.clone())
        .children([NodeBuilder::new("error")
            .attr("code", "404")
            .attr("text", "item-not-found")
            .build()])
        .build()
}

/// One device's bundle. Device 0 is the simulated phone; companions hand
/// out one uploaded one-time prekey per fetch, as the real server does.
fn bundle(account: &mut Account, jid: &Jid) -> Node {
    let (reg_id, identity, skey, one_time, device_identity) = if jid.device == 0 {
        let k = &account.keys;
        (
            k.registration_id,
            crate::accounts::pub32(&k.identity).to_vec(),
            k.signed_prekey.clone(),
            None,
            None,
        )
    } else {
        let Some(dev) = account.devices.get_mut(&jid.device) else {
            return missing(jid);
        };
        let Some(skey) = dev.signed_prekey.clone() else {
            return missing(jid);
        };
        (
            dev.registration_id,
            dev.identity_pub.to_vec(),
            skey,
            dev.prekeys.pop_front(),
            dev.device_identity.clone(),
        )
    };
    let id3 = |id: u32| id.to_be_bytes()[1..].to_vec();
    let mut children = vec![
        NodeBuilder::new("registration")
            .bytes(reg_id.to_be_bytes().to_vec())
            .build(),
        NodeBuilder::new("type").bytes(vec![5]).build(),
        NodeBuilder::new("identity").bytes(identity).build(),
        NodeBuilder::new("skey")
            .children([
                NodeBuilder::new("id").bytes(id3(skey.id)).build(),
                NodeBuilder::new("value")
                    .bytes(skey.public.to_vec())
                    .build(),
                NodeBuilder::new("signature").bytes(skey.signature).build(),
            ])
            .build(),
    ];
    if let Some((id, value)) = one_time {
        children.push(
            NodeBuilder::new("key")
                .children([
                    NodeBuilder::new("id").bytes(id3(id)).build(),
                    NodeBuilder::new("value").bytes(value.to_vec()).build(),
                ])
                .build(),
        );
    }
    if let Some(di) = device_identity {
        children.push(NodeBuilder::new("device-identity").bytes(di).build());
    }
    NodeBuilder::new("user")
        .attr("jid", jid.clone())
        .children(children)
        .build()
}
