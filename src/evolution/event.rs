//! Evolution's `data` of each event, from its typed [`Payload`].

use serde_json::{Value, json};
use uuid::Uuid;

use super::call::call_event;
use super::group::group_event;
use super::history::{chats_set, contacts_upsert};
use super::message::{key_json, message_record, raw_message};
use crate::events::payload::{ConnectionChange, Payload};

/// The `data` of an event of the instance `instance` (`instance_id`).
pub fn event_data(payload: &Payload, instance: &str, instance_id: &Uuid) -> Value {
    match payload {
        Payload::Message(m) => message_record(m, instance_id),
        Payload::Sent(s) => raw_message(s),
        Payload::Deleted(key) => key_json(key),
        Payload::Receipt(r) => json!({
            "keyId": r.id,
            "remoteJid": r.remote_jid,
            "fromMe": r.from_me,
            "participant": null,
            "status": r.status,
            "instanceId": instance_id,
        }),
        // Baileys' `presence.update`: `{id, presences: {jid: {lastKnownPresence}}}`.
        Payload::Presence { jid, presence } => json!({
            "id": jid,
            "presences": { jid.as_str(): {"lastKnownPresence": presence.as_str()} },
        }),
        Payload::Connection(c) => connection(c, instance),
        Payload::Qr(q) => json!({"qrcode": {
            "instance": instance,
            "pairingCode": q.pairing_code,
            "code": q.code,
            "base64": q.base64,
        }}),
        Payload::QrLimitReached => {
            json!({"message": "QR code limit reached, please login again", "statusCode": 500})
        }
        // Evolution puts the reason object in as a JSON string.
        Payload::Closed { at, code, reason } => json!({
            "instance": instance,
            "status": "closed",
            "disconnectionAt": at,
            "disconnectionReasonCode": code,
            "disconnectionObject": json!({"reason": reason}).to_string(),
        }),
        Payload::Instance => json!({"instanceName": instance, "instanceId": instance_id}),
        Payload::Nothing => Value::Null,
        Payload::Group(g) => group_event(g),
        Payload::Call(c) => call_event(c),
        Payload::Messages(ms) => ms.iter().map(|m| message_record(m, instance_id)).collect(),
        Payload::Chats(chats) => chats_set(chats, instance_id),
        Payload::Contacts(contacts) => contacts_upsert(contacts, instance_id),
    }
}

fn connection(c: &ConnectionChange, instance: &str) -> Value {
    let mut data = json!({
        "instance": instance,
        "state": c.state.as_str(),
        "statusReason": c.reason,
    });
    if let Some(o) = &c.owner {
        data["wuid"] = json!(o.jid);
        data["profileName"] = json!(o.profile_name);
        data["profilePictureUrl"] = json!(o.picture_url);
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::payload::Owner;
    use crate::instance::ConnectionState;

    #[test]
    fn the_owner_is_named_only_when_given() {
        let id = Uuid::nil();
        let connecting = ConnectionChange {
            state: ConnectionState::Connecting,
            reason: 200,
            owner: None,
        };
        let data = event_data(&Payload::Connection(connecting), "ana", &id);
        assert_eq!(
            data,
            json!({"instance": "ana", "state": "connecting", "statusReason": 200})
        );
        let open = ConnectionChange {
            state: ConnectionState::Open,
            reason: 200,
            owner: Some(Owner {
                jid: Some("5511@s.whatsapp.net".into()),
                profile_name: None,
                picture_url: None,
            }),
        };
        let data = event_data(&Payload::Connection(open), "ana", &id);
        assert_eq!(data["wuid"], "5511@s.whatsapp.net");
        assert_eq!(data["profileName"], Value::Null);
    }
}
