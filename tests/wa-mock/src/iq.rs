//! Dispatch of client `<iq>` requests by namespace, and the small answers
//! that need no state (ping, props, blocklist, privacy, app-state).
//!
//! Anything unknown gets an empty `result`: the client's parsers then fail
//! softly (a logged warning) instead of waiting 75 s for a timeout.

use crate::accounts::SERVER;
use crate::session::Conn;
use crate::{groups, login, pairing, prekeys, usync};
use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Node, NodeContent};

fn attr(node: &Node, key: &str) -> String {
    node.attrs
        .get(key)
        .map(|v| v.to_string())
        .unwrap_or_default()
}

/// `<iq from="s.whatsapp.net" id=... type="result">` with the given children.
pub fn result(request: &Node, children: Vec<Node>) -> Node {
    let b = NodeBuilder::new("iq")
        .attr("from", SERVER)
        .attr("id", attr(request, "id"))
        .attr("type", "result");
    if children.is_empty() {
        b.build()
    } else {
        b.children(children).build()
    }
}

pub fn error(request: &Node, code: u16, text: &str) -> Node {
    NodeBuilder::new("iq")
        .attr("from", SERVER)
        .attr("id", attr(request, "id"))
        .attr("type", "error")
        .children([NodeBuilder::new("error")
            .attr("code", code.to_string())
            .attr("text", text)
            .build()])
        .build()
}

pub fn child_tags(node: &Node) -> impl Iterator<Item = &str> {
    node.children()
        .unwrap_or_default()
        .iter()
        .map(|c| c.tag.as_ref())
}

pub fn handle(conn: &mut Conn, node: &Node) {
    let kind = attr(node, "type");
    if kind == "result" || kind == "error" {
        pairing::on_pair_reply(conn, node);
        return;
    }
    let xmlns = attr(node, "xmlns");
    let reply = match xmlns.as_str() {
        "w:p" => result(node, vec![]),
        "passive" => {
            conn.send(result(node, vec![]));
            if child_tags(node).any(|t| t == "active") {
                login::on_active(conn);
            }
            return;
        }
        "encrypt" => prekeys::handle(conn, node),
        "usync" => usync::handle(conn, node),
        "w:g2" => groups::handle(conn, node),
        "w:sync:app:state" => app_state(node),
        "abt" => result(
            node,
            vec![
                NodeBuilder::new("props")
                    .attr("protocol", "1")
                    .attr("hash", "wa-mock")
                    .attr("refresh", "86400")
                    .build(),
            ],
        ),
        "blocklist" => result(node, vec![NodeBuilder::new("list").build()]),
        "privacy" => result(node, vec![NodeBuilder::new("privacy").build()]),
        "md" => {
            if let Some(remove) = node.get_optional_child("remove-companion-device") {
                login::on_self_remove(conn, remove.attrs().optional_jid("jid"));
            }
            match node.get_optional_child("link_code_companion_reg") {
                Some(reg) if attr(reg, "stage") == "companion_hello" => {
                    pairing::on_pair_code_request(conn, node)
                }
                _ => result(node, vec![]),
            }
        }
        _ => {
            tracing::debug!("unhandled iq xmlns={xmlns}: answering empty result");
            result(node, vec![])
        }
    };
    conn.send(reply);
}

/// Every asked collection exists and is empty at version 0. An empty
/// `<sync/>` would make the client fail its critical sync ("missing sync
/// node") and never emit `Connected`.
fn app_state(node: &Node) -> Node {
    let collections: Vec<Node> = node
        .get_optional_child("sync")
        .and_then(|s| s.children())
        .unwrap_or_default()
        .iter()
        .filter(|c| c.tag == "collection")
        .map(|c| {
            NodeBuilder::new("collection")
                .attr("name", attr(c, "name"))
                .attr("version", "0")
                .build()
        })
        .collect();
    let sync = Node::new(
        "sync",
        Default::default(),
        Some(NodeContent::Nodes(collections)),
    );
    result(node, vec![sync])
}
