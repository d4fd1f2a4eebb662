//! The `fetchInstances` row: Evolution returns its Prisma `Instance` row with the `Setting`
//! relation and `_count`; clients read `name`, `connectionStatus`, `ownerJid`, `profileName`,
//! `token`, `integration`, `Setting` and `_count`. zapgate adds its own live details under
//! `zapgate`, where no Evolution client looks.

use crate::store::history::Counts;
use serde_json::{Value, json};

use crate::instance::InstanceView;
use crate::instance::counters::CountersView;

pub fn instance_row(
    view: &InstanceView,
    token: &str,
    counts: &Counts,
    counters: &CountersView,
) -> Value {
    let r = &view.record;
    let s = &r.settings;
    json!({
        "id": r.id,
        "name": r.name,
        "connectionStatus": view.state.state.as_persisted_status(),
        "ownerJid": r.owner_jid,
        "profileName": r.profile_name,
        "profilePicUrl": r.profile_pic_url,
        "integration": r.integration.as_str(),
        "number": r.number,
        "businessId": r.business_id,
        "token": token,
        "clientName": "zapgate",
        "disconnectionReasonCode": r.disconnection_reason_code,
        "disconnectionObject": null,
        "disconnectionAt": r.disconnection_at,
        "createdAt": r.created_at,
        "updatedAt": r.updated_at,
        "Chatwoot": null,
        "Proxy": null,
        "Rabbitmq": null,
        "Nats": null,
        "Sqs": null,
        "Websocket": null,
        "Setting": {
            "rejectCall": s.reject_call,
            "msgCall": s.msg_call,
            "groupsIgnore": s.groups_ignore,
            "alwaysOnline": s.always_online,
            "readMessages": s.read_messages,
            "readStatus": s.read_status,
            "syncFullHistory": s.sync_full_history,
            "wavoipToken": s.wavoip_token,
            "instanceId": r.id,
        },
        "_count": {"Message": counts.messages, "Contact": counts.contacts, "Chat": counts.chats},
        "zapgate": {
            "state": view.state.state.as_str(),
            "since": view.state.since,
            "qrCount": view.qr.count,
            "paired": r.paired,
            "lastError": view.last_error,
            "secondsInState": (chrono::Utc::now() - view.state.since).num_seconds().max(0),
            "counters": {
                "messagesIn": counters.messages_in,
                "messagesOut": counters.messages_out,
                "sendErrors": counters.send_errors,
                "reconnects": counters.reconnects,
                "flapsLastHour": counters.flaps_last_hour,
                "lastActivity": counters.last_activity,
            },
        },
    })
}
