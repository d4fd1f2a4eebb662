//! The `w:g2` namespace: groups. The mock keeps groups in the registry and
//! answers the IQs whatsapp-rust's `client.groups()` sends: create, query
//! (metadata), participating, add/remove/promote/demote, subject,
//! description, locked/unlocked, announcement/not_announcement, invite
//! (get, or set = reset), invite info and join by code, and leave.
//!
//! Groups are phone-number addressed (`addressing_mode="pn"`): members are
//! `<phone>@s.whatsapp.net`. Rules are WhatsApp's: the creator is
//! `superadmin`; only admins change participants and settings or see the
//! invite; a locked group lets only admins edit subject and description.
//! Errors are `<error code=..>` IQs: 404 unknown group, 403 not allowed or
//! not a member, 409 a stale description `prev`. Every change is also sent
//! as a `<notification type="w:gp2">` to every device of every member
//! concerned (the author's included, as WhatsApp does). Group *messages*
//! (sender keys) are not relayed.

use crate::iq::{error, result};
use crate::session::Conn;
use crate::shared::now_secs;
use std::collections::BTreeMap;
use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node, Server};

const INVITE_LEN: usize = 22;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Member,
    Admin,
    SuperAdmin,
}

struct Group {
    subject: String,
    subject_owner: String,
    subject_time: i64,
    creator: String,
    creation: i64,
    /// `(id, body)` of the current description.
    description: Option<(String, String)>,
    locked: bool,
    announce: bool,
    invite: String,
    /// Phone numbers and roles, in joining order.
    members: Vec<(String, Role)>,
}

/// A change to announce: the action node of a `w:gp2` notification, the
/// group, its author and the members to tell.
struct Notice {
    group: String,
    author: String,
    to: Vec<String>,
    action: Node,
}

/// Every group, by the user part of its JID (`1203630...`).
#[derive(Default)]
pub struct Groups {
    groups: BTreeMap<String, Group>,
}

fn attr(node: &Node, key: &str) -> String {
    node.attrs
        .get(key)
        .map(|v| v.to_string())
        .unwrap_or_default()
}

fn invite_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..INVITE_LEN)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Phone numbers of the `<participant jid=..>` children of `node`.
fn participant_phones(node: &Node) -> Vec<String> {
    node.get_children_by_tag("participant")
        .filter_map(|p| p.attrs().optional_jid("jid"))
        .filter(|j| j.server == Server::Pn)
        .map(|j| j.user.to_string())
        .collect()
}

impl Groups {
    /// The member phones of a group (by the user part of its JID), if it exists.
    pub fn members_of(&self, group: &str) -> Option<Vec<String>> {
        self.groups.get(group).map(Group::member_phones)
    }
}

impl Group {
    fn role(&self, phone: &str) -> Option<Role> {
        self.members
            .iter()
            .find(|(p, _)| p == phone)
            .map(|(_, r)| *r)
    }

    fn member_phones(&self) -> Vec<String> {
        self.members.iter().map(|(p, _)| p.clone()).collect()
    }

    fn is_admin(&self, phone: &str) -> bool {
        matches!(self.role(phone), Some(Role::Admin | Role::SuperAdmin))
    }

    fn to_node(&self, id: &str) -> Node {
        let mut children: Vec<Node> = self
            .members
            .iter()
            .map(|(phone, role)| {
                let b = NodeBuilder::new("participant").attr("jid", Jid::pn(phone.as_str()));
                match role {
                    Role::Member => b.build(),
                    Role::Admin => b.attr("type", "admin").build(),
                    Role::SuperAdmin => b.attr("type", "superadmin").build(),
                }
            })
            .collect();
        if let Some((desc_id, body)) = &self.description {
            children.push(
                NodeBuilder::new("description")
                    .attr("id", desc_id.as_str())
                    .children([NodeBuilder::new("body")
                        .string_content(body.as_str())
                        .build()])
                    .build(),
            );
        }
        if self.locked {
            children.push(NodeBuilder::new("locked").build());
        }
        if self.announce {
            children.push(NodeBuilder::new("announcement").build());
        }
        NodeBuilder::new("group")
            .attr("id", id)
            .attr("subject", self.subject.as_str())
            .attr("addressing_mode", "pn")
            .attr("creator", Jid::pn(self.creator.as_str()))
            .attr("creation", self.creation.to_string())
            .attr("s_o", Jid::pn(self.subject_owner.as_str()))
            .attr("s_t", self.subject_time.to_string())
            .attr("size", self.members.len().to_string())
            .children(children)
            .build()
    }

    /// Keeps an admin while there are members.
    fn ensure_admin(&mut self) {
        if !self.members.iter().any(|(_, r)| *r != Role::Member)
            && let Some(first) = self.members.first_mut()
        {
            first.1 = Role::Admin;
        }
    }
}

pub fn handle(conn: &Conn, node: &Node) -> Node {
    let Some((phone, _)) = conn.login.clone() else {
        return error(node, 401, "not-authorized");
    };
    let Some(op) = node.children().and_then(|c| c.first()) else {
        return error(node, 400, "bad-request");
    };
    let to = attr(node, "to");
    let group_id = to.split_once('@').map(|(u, _)| u.to_string());
    let mut reg = conn.shared.reg();
    let mut notices = Vec::new();
    let groups = &mut reg.groups;
    let reply = match (op.tag.as_ref(), group_id.as_deref()) {
        ("create", _) => create(groups, node, op, &phone, &mut notices),
        ("participating", _) => {
            let list: Vec<Node> = groups
                .groups
                .iter()
                .filter(|(_, g)| g.role(&phone).is_some())
                .map(|(id, g)| g.to_node(id))
                .collect();
            result(
                node,
                vec![NodeBuilder::new("groups").children(list).build()],
            )
        }
        ("leave", _) => {
            for g in op.get_children_by_tag("group") {
                let id = attr(g, "id");
                let id = id.split('@').next().unwrap_or_default().to_string();
                leave(groups, &id, &phone, &mut notices);
            }
            result(node, vec![])
        }
        ("invite", None | Some("")) => by_invite(groups, node, op, &phone, &mut notices),
        (_, Some(id)) if !id.is_empty() => on_group(groups, node, op, id, &phone, &mut notices),
        _ => error(node, 400, "bad-request"),
    };
    let t = now_secs().to_string();
    for n in notices {
        let notification = NodeBuilder::new("notification")
            .attr("type", "w:gp2")
            .attr("from", Jid::group(n.group.as_str()))
            .attr("id", conn.shared.next_id())
            .attr("t", t.as_str())
            .attr("participant", Jid::pn(n.author.as_str()))
            .attr("addressing_mode", "pn")
            .children([n.action])
            .build();
        for phone in &n.to {
            let devices: Vec<u16> = reg
                .accounts
                .get(phone)
                .map(|a| a.devices.keys().copied().collect())
                .unwrap_or_default();
            for device in devices {
                reg.deliver(phone, device, notification.clone());
            }
        }
    }
    reply
}

/// `<{tag}><participant jid=../>...</{tag}>`.
fn participants_node(tag: &str, phones: &[String]) -> Node {
    NodeBuilder::new_dynamic(tag.to_string())
        .children(
            phones
                .iter()
                .map(|p| {
                    NodeBuilder::new("participant")
                        .attr("jid", Jid::pn(p.as_str()))
                        .build()
                })
                .collect::<Vec<_>>(),
        )
        .build()
}

fn create(
    groups: &mut Groups,
    node: &Node,
    op: &Node,
    phone: &str,
    notices: &mut Vec<Notice>,
) -> Node {
    let subject = attr(op, "subject");
    if subject.trim().is_empty() {
        return error(node, 400, "bad-request");
    }
    let now = now_secs();
    let mut members = vec![(phone.to_string(), Role::SuperAdmin)];
    for p in participant_phones(op) {
        if !members.iter().any(|(m, _)| *m == p) {
            members.push((p, Role::Member));
        }
    }
    let description = op.get_optional_child("description").and_then(|d| {
        d.get_optional_child("body")
            .and_then(|b| b.content_as_string())
            .map(|body| (attr(d, "id"), body.to_string()))
    });
    let id = loop {
        let id = format!("1203630{:011}", rand::random_range(0..100_000_000_000u64));
        if !groups.groups.contains_key(&id) {
            break id;
        }
    };
    let group = Group {
        subject,
        subject_owner: phone.to_string(),
        subject_time: now,
        creator: phone.to_string(),
        creation: now,
        description,
        locked: false,
        announce: false,
        invite: invite_code(),
        members,
    };
    let reply = result(node, vec![group.to_node(&id)]);
    notices.push(Notice {
        group: id.clone(),
        author: phone.to_string(),
        to: group.member_phones(),
        action: NodeBuilder::new("create")
            .children([group.to_node(&id)])
            .build(),
    });
    groups.groups.insert(id, group);
    reply
}

/// `<invite code>` to `@g.us`: `get` shows the group, `set` joins it.
fn by_invite(
    groups: &mut Groups,
    node: &Node,
    op: &Node,
    phone: &str,
    notices: &mut Vec<Notice>,
) -> Node {
    let code = attr(op, "code");
    let Some((id, g)) = groups
        .groups
        .iter_mut()
        .find(|(_, g)| !code.is_empty() && g.invite == code)
    else {
        return error(node, 404, "item-not-found");
    };
    if attr(node, "type") != "set" {
        return result(node, vec![g.to_node(id)]);
    }
    if g.role(phone).is_none() {
        g.members.push((phone.to_string(), Role::Member));
        notices.push(Notice {
            group: id.clone(),
            author: phone.to_string(),
            to: g.member_phones(),
            action: participants_node("add", &[phone.to_string()]),
        });
    }
    let joined = NodeBuilder::new("group")
        .attr("jid", Jid::group(id.as_str()))
        .build();
    result(node, vec![joined])
}

fn leave(groups: &mut Groups, id: &str, phone: &str, notices: &mut Vec<Notice>) {
    let empty = match groups.groups.get_mut(id) {
        Some(g) if g.role(phone).is_some() => {
            notices.push(Notice {
                group: id.to_string(),
                author: phone.to_string(),
                to: g.member_phones(),
                action: participants_node("remove", &[phone.to_string()]),
            });
            g.members.retain(|(p, _)| p != phone);
            g.ensure_admin();
            g.members.is_empty()
        }
        _ => false,
    };
    if empty {
        groups.groups.remove(id);
    }
}

fn on_group(
    groups: &mut Groups,
    node: &Node,
    op: &Node,
    id: &str,
    phone: &str,
    notices: &mut Vec<Notice>,
) -> Node {
    let Some(g) = groups.groups.get_mut(id) else {
        return error(node, 404, "item-not-found");
    };
    if g.role(phone).is_none() {
        return error(node, 403, "forbidden");
    }
    let tag = op.tag.as_ref();
    let admin_only = matches!(
        tag,
        "add"
            | "remove"
            | "promote"
            | "demote"
            | "locked"
            | "unlocked"
            | "announcement"
            | "not_announcement"
            | "invite"
    ) || (g.locked
        && matches!(
            tag,
            "subject" | "description" | "ephemeral" | "not_ephemeral"
        ));
    if admin_only && !g.is_admin(phone) {
        return error(node, 403, "forbidden");
    }
    let before = g.member_phones();
    let (reply, action) = match tag {
        "query" => (result(node, vec![g.to_node(id)]), None),
        "add" | "remove" | "promote" | "demote" => {
            let caller_super = g.role(phone) == Some(Role::SuperAdmin);
            let mut done = Vec::new();
            let changes: Vec<Node> = participant_phones(op)
                .into_iter()
                .map(|p| {
                    let code = change(g, tag, &p, caller_super);
                    let b = NodeBuilder::new("participant").attr("jid", Jid::pn(p.as_str()));
                    if code == 200 {
                        done.push(p);
                        b.build()
                    } else {
                        b.attr("error", code.to_string()).build()
                    }
                })
                .collect();
            g.ensure_admin();
            let reply = result(
                node,
                vec![
                    NodeBuilder::new_dynamic(tag.to_string())
                        .children(changes)
                        .build(),
                ],
            );
            let action = (!done.is_empty()).then(|| participants_node(tag, &done));
            (reply, action)
        }
        "subject" => match op.content_as_string() {
            Some(s) if !s.trim().is_empty() => {
                g.subject = s.to_string();
                g.subject_owner = phone.to_string();
                g.subject_time = now_secs();
                let action = NodeBuilder::new("subject")
                    .attr("subject", g.subject.as_str())
                    .attr("s_o", Jid::pn(phone))
                    .attr("s_t", g.subject_time.to_string())
                    .build();
                (result(node, vec![]), Some(action))
            }
            _ => (error(node, 400, "bad-request"), None),
        },
        "description" => {
            let prev = op.attrs.get("prev").map(|v| v.to_string());
            if prev != g.description.as_ref().map(|(i, _)| i.clone()) {
                return error(node, 409, "conflict");
            }
            let body = op
                .get_optional_child("body")
                .and_then(|b| b.content_as_string());
            let desc_id = attr(op, "id");
            g.description = match (attr(op, "delete").as_str(), body) {
                ("true", _) | (_, None) => None,
                (_, Some(body)) => Some((desc_id.clone(), body.to_string())),
            };
            let inner = match &g.description {
                Some((_, body)) => NodeBuilder::new("body").string_content(body.as_str()),
                None => NodeBuilder::new("delete"),
            };
            let action = NodeBuilder::new("description")
                .attr("id", desc_id)
                .children([inner.build()])
                .build();
            (result(node, vec![]), Some(action))
        }
        "locked" | "unlocked" | "announcement" | "not_announcement" => {
            match tag {
                "locked" | "unlocked" => g.locked = tag == "locked",
                _ => g.announce = tag == "announcement",
            }
            let action = NodeBuilder::new_dynamic(tag.to_string()).build();
            (result(node, vec![]), Some(action))
        }
        // Disappearing messages: the timer is the members' business, told by notification.
        "ephemeral" | "not_ephemeral" => {
            let action = match attr(op, "expiration").parse::<u32>() {
                Ok(secs) if tag == "ephemeral" && secs > 0 => NodeBuilder::new("ephemeral")
                    .attr("expiration", secs.to_string())
                    .build(),
                _ => NodeBuilder::new("not_ephemeral").build(),
            };
            (result(node, vec![]), Some(action))
        }
        "invite" => {
            if attr(node, "type") == "set" {
                g.invite = invite_code();
            }
            let invite = NodeBuilder::new("invite")
                .attr("code", g.invite.as_str())
                .build();
            (result(node, vec![invite]), None)
        }
        _ => (error(node, 400, "bad-request"), None),
    };
    if let Some(action) = action {
        let mut to = before;
        for p in g.member_phones() {
            if !to.contains(&p) {
                to.push(p);
            }
        }
        notices.push(Notice {
            group: id.to_string(),
            author: phone.to_string(),
            to,
            action,
        });
    }
    reply
}

/// One participant change; WhatsApp's per-participant code.
fn change(g: &mut Group, action: &str, phone: &str, caller_super: bool) -> u16 {
    let pos = g.members.iter().position(|(p, _)| p == phone);
    match (action, pos) {
        ("add", Some(_)) => 409,
        ("add", None) => {
            g.members.push((phone.to_string(), Role::Member));
            200
        }
        (_, None) => 404,
        ("remove" | "demote", Some(i)) if g.members[i].1 == Role::SuperAdmin && !caller_super => {
            403
        }
        ("remove", Some(i)) => {
            g.members.remove(i);
            200
        }
        ("promote", Some(i)) => {
            if g.members[i].1 == Role::Member {
                g.members[i].1 = Role::Admin;
            }
            200
        }
        (_, Some(i)) => {
            g.members[i].1 = Role::Member;
            200
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn participant_changes_follow_the_rules() {
        let mut g = Group {
            subject: "s".into(),
            subject_owner: "1".into(),
            subject_time: 0,
            creator: "1".into(),
            creation: 0,
            description: None,
            locked: false,
            announce: false,
            invite: invite_code(),
            members: vec![("1".into(), Role::SuperAdmin), ("2".into(), Role::Member)],
        };
        assert_eq!(change(&mut g, "add", "2", true), 409);
        assert_eq!(change(&mut g, "add", "3", true), 200);
        assert_eq!(change(&mut g, "promote", "3", true), 200);
        assert!(g.is_admin("3"));
        assert_eq!(change(&mut g, "remove", "1", false), 403);
        assert_eq!(change(&mut g, "demote", "9", true), 404);
        assert_eq!(change(&mut g, "remove", "2", true), 200);
        assert_eq!(g.invite.len(), INVITE_LEN);
        let node = g.to_node("120363000");
        assert_eq!(node.get_children_by_tag("participant").count(), 2);
    }
}
