//! A history batch as Evolution announces it (its `messaging-history.set` handler): `chats.set`
//! with the chats not known before (`[{remoteJid, remoteLid, instanceId, name}]`),
//! `messages.set` with the messages not stored before (message records), and `contacts.upsert`
//! with the contacts learned (`[{remoteJid, pushName, profilePicUrl, instanceId}]`). An empty
//! list is not announced, so a batch seen again announces nothing.

use serde_json::{Value, json};
use uuid::Uuid;

use super::record::message_record;
use crate::engine::jid::user_of;
use crate::engine::{HistoryChat, HistoryContact};
use crate::events::EventKind;
use crate::store::history::StoredMessage;

/// The events of one batch, in Evolution's order.
pub(super) fn evolution(
    instance_id: &Uuid,
    chats: &[&HistoryChat],
    messages: &[StoredMessage],
    contacts: &[&HistoryContact],
) -> Vec<(EventKind, Value)> {
    let mut out = Vec::new();
    if !chats.is_empty() {
        let data: Vec<Value> = chats
            .iter()
            .map(|c| {
                let lid = c.jid.ends_with("@lid").then_some(c.jid.as_str());
                json!({"remoteJid": c.jid, "remoteLid": lid, "instanceId": instance_id, "name": c.name})
            })
            .collect();
        out.push((EventKind::ChatsSet, Value::Array(data)));
    }
    if !messages.is_empty() {
        let data = messages
            .iter()
            .map(|m| message_record(m, instance_id))
            .collect();
        out.push((EventKind::MessagesSet, Value::Array(data)));
    }
    if !contacts.is_empty() {
        let data: Vec<Value> = contacts
            .iter()
            .map(|c| {
                let name = c.name.clone().unwrap_or_else(|| user_of(&c.jid).to_owned());
                json!({"remoteJid": c.jid, "pushName": name, "profilePicUrl": null, "instanceId": instance_id})
            })
            .collect();
        out.push((EventKind::ContactsUpsert, Value::Array(data)));
    }
    out
}
