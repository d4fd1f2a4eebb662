//! The `call` event's data: Baileys' `WACallEvent`, which Evolution forwards as it is.

use chrono::{DateTime, SecondsFormat};
use serde_json::{Value, json};

use crate::engine::call::Call;

pub fn call_event(call: &Call) -> Value {
    let date = DateTime::from_timestamp(i64::try_from(call.timestamp).unwrap_or(0), 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut data = json!({
        "chatId": call.from,
        "from": call.from,
        "id": call.id,
        "date": date,
        "offline": call.offline,
        "status": call.status.as_str(),
        "isVideo": call.is_video,
        "isGroup": call.is_group,
    });
    if let Some(group) = &call.group_jid {
        data["groupJid"] = json!(group);
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::call::{CallPeer, CallStatus};

    #[test]
    fn payload_is_baileys_call_event() {
        let call = Call {
            id: "ABC".into(),
            from: "15550000001@s.whatsapp.net".into(),
            status: CallStatus::Offer,
            is_video: true,
            is_group: false,
            group_jid: None,
            timestamp: 1_700_000_000,
            offline: false,
            reply_to: CallPeer::default(),
        };
        assert_eq!(
            call_event(&call),
            json!({"chatId": "15550000001@s.whatsapp.net", "from": "15550000001@s.whatsapp.net",
                   "id": "ABC", "date": "2023-11-14T22:13:20.000Z", "offline": false,
                   "status": "offer", "isVideo": true, "isGroup": false})
        );
    }
}
