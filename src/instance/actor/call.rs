//! Calls offered to the instance: Evolution's `call` event, `rejectCall` and `msgCall`.

use super::Actor;
use crate::engine::call::{Call, CallStatus};
use crate::engine::{Context, Outgoing, OutgoingMessage};
use crate::events::{EventKind, Payload};
use crate::instance::InstanceHandle;

impl Actor {
    /// Announces the call and, for an offer, declines it when `rejectCall` is on and sends
    /// `msgCall` (when not blank) to the caller as a normal text: stored, `send.message`. As
    /// Evolution, the text goes out whether or not the call is rejected. The reject and the
    /// reply run off the actor (network calls).
    pub(super) fn on_call(&mut self, call: Call) {
        let settings = &self.record.settings;
        let reject = settings.reject_call;
        let reply = Some(settings.msg_call.clone()).filter(|m| !m.trim().is_empty());
        if call.status == CallStatus::Offer && (reject || reply.is_some()) {
            let session = self.shared.session.read().clone();
            let handle = InstanceHandle::of(self.shared.clone());
            let call = call.clone();
            tokio::spawn(async move {
                let name = handle.name().to_string();
                if reject
                    && let Some(s) = session
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
        self.publish(EventKind::Call, Payload::Call(call));
    }
}
