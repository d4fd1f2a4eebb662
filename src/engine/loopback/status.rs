//! Status posts on the loopback network: each listed account on the network receives the post
//! in its `status@broadcast` chat, the poster as the participant; others are skipped, as WhatsApp
//! skips contacts that cannot see one's status.

use super::LoopbackSession;
use crate::engine::jid::{STATUS_BROADCAST, user_of};
use crate::engine::{
    Context, EngineError, EngineEvent, InboundMessage, MessageContent, MessageStatus, Receipt,
    SentMessage, new_message_id, unix_now,
};

impl LoopbackSession {
    /// Delivers `content` as a status of ours to `recipients` (JIDs).
    pub(super) fn post_status(
        &self,
        content: MessageContent,
        recipients: &[String],
    ) -> Result<SentMessage, EngineError> {
        let (from, from_jid) = self.own_jid()?;
        let sent = SentMessage {
            id: new_message_id(),
            remote_jid: STATUS_BROADCAST.to_string(),
            timestamp: unix_now(),
            content,
        };
        let push_name = self.push_name(&from);
        for jid in recipients {
            let Some(phone) = self.net.registered(user_of(jid)) else {
                continue;
            };
            if phone == from || self.net.book.has_blocked(&phone, &from) {
                continue;
            }
            let inbound = InboundMessage {
                id: sent.id.clone(),
                remote_jid: STATUS_BROADCAST.to_string(),
                from_me: false,
                participant: Some(from_jid.clone()),
                push_name: Some(push_name.clone()),
                timestamp: sent.timestamp,
                content: sent.content.clone(),
                context: Context::default(),
            };
            // A full inbox drops this one viewer's copy, as a status is best effort.
            self.net
                .push(&phone, EngineEvent::Message(Box::new(inbound)));
        }
        self.net.push(
            &from,
            EngineEvent::Receipt(Receipt {
                id: sent.id.clone(),
                remote_jid: STATUS_BROADCAST.to_string(),
                from_me: true,
                status: MessageStatus::ServerAck,
            }),
        );
        Ok(sent)
    }
}
