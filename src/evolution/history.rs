//! What a history-sync batch or the address book makes known, as Evolution announces it:
//! `chats.set` items `{remoteJid, remoteLid, instanceId, name}` and `contacts.upsert` items
//! `{remoteJid, pushName, profilePicUrl, instanceId}`.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::engine::jid::user_of;
use crate::engine::{HistoryChat, HistoryContact};

pub fn chats_set(chats: &[HistoryChat], instance_id: &Uuid) -> Value {
    chats
        .iter()
        .map(|c| {
            let lid = c.jid.ends_with("@lid").then_some(c.jid.as_str());
            json!({"remoteJid": c.jid, "remoteLid": lid, "instanceId": instance_id, "name": c.name})
        })
        .collect()
}

/// A contact without a name is shown by its number, as Evolution does.
pub fn contacts_upsert(contacts: &[HistoryContact], instance_id: &Uuid) -> Value {
    contacts
        .iter()
        .map(|c| {
            let name = c.name.clone().unwrap_or_else(|| user_of(&c.jid).to_owned());
            json!({"remoteJid": c.jid, "pushName": name, "profilePicUrl": null, "instanceId": instance_id})
        })
        .collect()
}
