//! Calls offered to the instance: Evolution's `call` event, `rejectCall` and `msgCall`.

use chrono::{DateTime, SecondsFormat};
use serde_json::{Value, json};

use super::Actor;
use crate::engine::call::{Call, CallStatus};
use crate::engine::{Context, Outgoing, OutgoingMessage};
use crate::events::EventKind;
use crate::instance::InstanceHandle;

impl Actor {
    /// Announces the call and, for an offer with `rejectCall` on, declines it and sends
    /// `msgCall` (when not blank) to the caller as a normal text: stored, `send.message`. The
    /// reject and the reply run off the actor (network calls).
    pub(super) fn on_call(&mut self, call: Call) {
        let settings = &self.record.settings;
        if call.status == CallStatus::Offer && settings.reject_call {
            let reply = Some(settings.msg_call.clone()).filter(|m| !m.trim().is_empty());
            let session = self.shared.session.read().clone();
            let handle = InstanceHandle::of(self.shared.clone());
            let call = call.clone();
            tokio::spawn(async move {
                let name = handle.name().to_string();
                if let Some(s) = session
                    && let Err(e) = s.reject_call(call.clone()).await
                {
                    tracing::warn!(instance = %name, call = %call.id, error = %e, "could not reject a call");
                }
                if let Some(text) = reply {
                    let msg = OutgoingMessage {
                        to: call.from,
                        content: Outgoing::Text(text),
                        context: Context::default(),
                    };
                    if let Err(e) = handle.send(msg).await {
                        tracing::warn!(instance = %name, call = %call.id, error = %e, "could not send msgCall to the caller");
                    }
                }
            });
        }
        self.publish(EventKind::Call, call_payload(&call));
    }
}

/// The `call` event's data: Baileys' `WACallEvent`, which Evolution forwards as it is.
pub(crate) fn call_payload(call: &Call) -> Value {
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
    use crate::engine::call::CallPeer;

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
        let data = call_payload(&call);
        assert_eq!(
            data,
            json!({"chatId": "15550000001@s.whatsapp.net", "from": "15550000001@s.whatsapp.net",
                   "id": "ABC", "date": "2023-11-14T22:13:20.000Z", "offline": false,
                   "status": "offer", "isVideo": true, "isGroup": false})
        );
    }
}
