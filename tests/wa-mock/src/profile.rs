//! What an account's owner sets about themselves: the about text (`status`), the privacy
//! settings (`privacy`), the blocklist (`blocklist`) and the profile picture
//! (`w:profile:picture`, read only: nobody in the mock has a picture). State lives on the
//! account and every answer is read back from it.

use std::collections::BTreeMap;

use crate::iq::{error, result};
use crate::session::Conn;
use crate::shared::now_secs;
use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node};

/// The categories a fresh account reports, with WhatsApp's defaults.
const PRIVACY_DEFAULTS: &[(&str, &str)] = &[
    ("last", "all"),
    ("online", "all"),
    ("profile", "all"),
    ("status", "contacts"),
    ("groupadd", "all"),
    ("readreceipts", "all"),
    ("calladd", "all"),
    ("messages", "all"),
];

#[derive(Debug, Default, Clone)]
pub struct ProfileState {
    /// The about text; `None` until set.
    pub status: Option<String>,
    /// Privacy categories changed from the defaults.
    pub privacy: BTreeMap<String, String>,
    /// Blocked accounts, by phone number, with when they were blocked.
    pub blocked: BTreeMap<String, u64>,
}

impl ProfileState {
    pub fn blocked(&self, phone: &str) -> bool {
        self.blocked.contains_key(phone)
    }

    fn privacy_value(&self, category: &str) -> Option<String> {
        self.privacy.get(category).cloned().or_else(|| {
            PRIVACY_DEFAULTS
                .iter()
                .find(|(c, _)| *c == category)
                .map(|(_, v)| v.to_string())
        })
    }
}

fn attr(node: &Node, key: &str) -> Option<String> {
    node.attrs.get(key).map(|v| v.to_string())
}

fn owner(conn: &Conn) -> Option<String> {
    conn.login.as_ref().map(|(phone, _)| phone.clone())
}

/// `<iq xmlns="status" type="set"><status>text</status></iq>`.
pub fn status(conn: &Conn, node: &Node) -> Node {
    let Some(phone) = owner(conn) else {
        return error(node, 401, "not-authorized");
    };
    if attr(node, "type").as_deref() != Some("set") {
        return error(node, 400, "bad-request");
    }
    let Some(text) = node
        .get_optional_child("status")
        .and_then(|s| s.content_as_string())
        .map(|s| s.to_string())
    else {
        return error(node, 400, "bad-request");
    };
    conn.shared.reg().account_mut(&phone).profile.status = Some(text);
    result(node, vec![])
}

/// `get` lists every category; `set` changes the ones named and echoes them.
pub fn privacy(conn: &Conn, node: &Node) -> Node {
    let Some(phone) = owner(conn) else {
        return error(node, 401, "not-authorized");
    };
    let mut reg = conn.shared.reg();
    let state = &mut reg.account_mut(&phone).profile;
    let category = |name: &str, value: &str| {
        NodeBuilder::new("category")
            .attr("name", name)
            .attr("value", value)
            .build()
    };
    match attr(node, "type").as_deref() {
        Some("get") => {
            let all = PRIVACY_DEFAULTS
                .iter()
                .map(|(c, _)| category(c, &state.privacy_value(c).unwrap_or_default()))
                .collect::<Vec<_>>();
            result(
                node,
                vec![NodeBuilder::new("privacy").children(all).build()],
            )
        }
        Some("set") => {
            let asked: Vec<(String, String)> = node
                .get_optional_child("privacy")
                .map(|p| {
                    p.get_children_by_tag("category")
                        .filter_map(|c| Some((attr(c, "name")?, attr(c, "value")?)))
                        .collect()
                })
                .unwrap_or_default();
            if asked.is_empty()
                || asked
                    .iter()
                    .any(|(c, _)| !PRIVACY_DEFAULTS.iter().any(|(d, _)| d == c))
            {
                return error(node, 400, "bad-request");
            }
            let echoed = asked
                .iter()
                .map(|(c, v)| category(c, v))
                .collect::<Vec<_>>();
            for (c, v) in asked {
                state.privacy.insert(c, v);
            }
            result(
                node,
                vec![NodeBuilder::new("privacy").children(echoed).build()],
            )
        }
        _ => error(node, 400, "bad-request"),
    }
}

/// `get` lists the blocked accounts; `set` with `<item jid action=block|unblock>` changes it.
pub fn blocklist(conn: &Conn, node: &Node) -> Node {
    let Some(phone) = owner(conn) else {
        return error(node, 401, "not-authorized");
    };
    let mut reg = conn.shared.reg();
    match attr(node, "type").as_deref() {
        Some("get") => {
            let items = reg
                .account_mut(&phone)
                .profile
                .blocked
                .iter()
                .map(|(p, t)| {
                    NodeBuilder::new("item")
                        .attr("jid", Jid::pn(p.as_str()))
                        .attr("t", t.to_string())
                        .build()
                })
                .collect::<Vec<_>>();
            result(node, vec![NodeBuilder::new("list").children(items).build()])
        }
        Some("set") => {
            let Some(item) = node.get_optional_child("item") else {
                return error(node, 400, "bad-request");
            };
            let who = item
                .attrs()
                .optional_jid("jid")
                .and_then(|j| reg.phone_for(&j));
            let Some(who) = who else {
                return error(node, 404, "item-not-found");
            };
            let blocked = &mut reg.account_mut(&phone).profile.blocked;
            match attr(item, "action").as_deref() {
                Some("block") => {
                    blocked.insert(who, now_secs() as u64);
                }
                Some("unblock") => {
                    blocked.remove(&who);
                }
                _ => return error(node, 400, "bad-request"),
            }
            result(node, vec![])
        }
        _ => error(node, 400, "bad-request"),
    }
}

/// Nobody has a picture in the mock: `get` answers WhatsApp's 404 inside `<picture>`.
pub fn picture(_conn: &Conn, node: &Node) -> Node {
    if attr(node, "type").as_deref() == Some("get") {
        let missing = NodeBuilder::new("picture")
            .children([NodeBuilder::new("error")
                .attr("code", "404")
                .attr("text", "item-not-found")
                .build()])
            .build();
        return result(node, vec![missing]);
    }
    error(node, 405, "not-allowed")
}
