//! What the other side sends: messages (with edits and deletes), receipts and presences, stored
//! through the ledger and announced.

use chrono::Utc;

use super::Actor;
use crate::engine::group::is_group_jid;
use crate::engine::{InboundMessage, MessageContent, MessageKey, Presence, Receipt};
use crate::events::{EventKind, Payload};
use crate::store::history::{Change, Origin, ReceiptRow, Status, StoredMessage};

impl Actor {
    /// Stores and announces one inbound message. False when it could not be stored, so the
    /// engine must not ack it; duplicates and ignored messages count as handled.
    pub(super) fn on_message(&mut self, m: InboundMessage) -> bool {
        // Evolution's groupsIgnore: group messages are neither stored nor announced.
        if self.record.settings.groups_ignore && is_group_jid(&m.remote_jid) {
            return true;
        }
        let name = &self.shared.name;
        // Engines may hand a message over twice (redelivery after a crash before the ack).
        // Edits and deletes leave a marker under their own id, so they are caught here too.
        match self.shared.history.contains(&m.id) {
            Ok(true) => {
                tracing::debug!(instance = %name, id = %m.id, "duplicate message skipped");
                return true;
            }
            Ok(false) => {}
            Err(e) => {
                tracing::error!(instance = %name, error = %e, "could not check for a duplicate");
                return false;
            }
        }
        let key = MessageKey {
            remote_jid: m.remote_jid.clone(),
            from_me: m.from_me,
            id: m.id.clone(),
            participant: m.participant.clone(),
        };
        let stored = StoredMessage {
            key: key.clone(),
            push_name: m.push_name.clone(),
            content: m.content,
            context: m.context,
            status: Status::DeliveryAck,
            timestamp: m.timestamp,
            origin: Origin::Live,
        };
        // The sender's push name is kept as a contact (the author inside a group).
        let author = stored
            .key
            .participant
            .as_deref()
            .unwrap_or(&stored.key.remote_jid);
        let contact = match (&stored.push_name, stored.key.from_me) {
            (Some(n), false) => Some((author, n.as_str())),
            _ => None,
        };
        let (kind, payload, change) = match &stored.content {
            // Evolution reports a delete as the key of the deleted message and keeps the row.
            // The key is seen from this side of the chat, as Baileys builds it: the revoke's own
            // chat, direction and author with the deleted message's id. The key inside the
            // protocol message is the sender's view (remoteJid = us, fromMe = true).
            MessageContent::Revoke { key: target } => {
                if !self.may_touch(&target.id, &stored, true) {
                    return true;
                }
                let deleted = MessageKey {
                    id: target.id.clone(),
                    ..key
                };
                let change = Change::Rewrite {
                    target: &target.id,
                    edit: None,
                    marker: Some(&stored.key.id),
                };
                (EventKind::MessagesDelete, Payload::Deleted(deleted), change)
            }
            MessageContent::Edit { key: target, text } => {
                if !self.may_touch(&target.id, &stored, false) {
                    return true;
                }
                let change = Change::Rewrite {
                    target: &target.id,
                    edit: Some(text),
                    marker: Some(&stored.key.id),
                };
                let payload = Payload::Message(Box::new(stored.clone()));
                (EventKind::MessagesEdited, payload, change)
            }
            _ => {
                let change = Change::Message {
                    message: &stored,
                    contact,
                };
                let payload = Payload::Message(Box::new(stored.clone()));
                (EventKind::MessagesUpsert, payload, change)
            }
        };
        // What is stored and its announcement are written in one transaction, so the duplicate
        // check above never skips a message whose event a crash lost, nor announces one twice.
        match self.shared.commit(&self.record, kind, payload, &change) {
            Ok(wrote) => {
                self.unsynced |= wrote;
                if kind == EventKind::MessagesUpsert && self.reads_at_once(&stored.key) {
                    let key = stored.key.clone();
                    self.in_background(|s| async move { s.mark_read(vec![key]).await });
                }
                true
            }
            Err(e) => {
                tracing::error!(instance = %self.shared.name, error = %e, "could not store message");
                false
            }
        }
    }

    /// Evolution's readMessages (chats) and readStatus (`status@broadcast`): someone else's new
    /// message is marked read as it arrives.
    fn reads_at_once(&self, key: &MessageKey) -> bool {
        let s = &self.record.settings;
        !key.from_me
            && if key.remote_jid == "status@broadcast" {
                s.read_status
            } else {
                s.read_messages
            }
    }

    /// An edit or delete may only touch a message of the chat it arrives in, by the message's
    /// author (a group admin may delete anyone's): ids are chosen by senders, so one chat or
    /// member must not reach another's. A message this side never stored passes (there is
    /// nothing to touch); a phone-number JID and a LID cannot be compared here and pass.
    fn may_touch(&self, target_id: &str, m: &StoredMessage, revoke: bool) -> bool {
        let stored = match self.shared.history.get(target_id) {
            Ok(Some(r)) => r.key,
            _ => return true,
        };
        let same_chat = same_user(&stored.remote_jid, &m.key.remote_jid);
        let group = is_group_jid(&m.key.remote_jid);
        let same_author = stored.from_me == m.key.from_me
            && (!group
                || m.key.from_me
                || same_user(
                    stored.participant.as_deref().unwrap_or(""),
                    m.key.participant.as_deref().unwrap_or(""),
                ));
        if same_chat && (same_author || (revoke && group)) {
            return true;
        }
        tracing::warn!(instance = %self.shared.name, id = %target_id, chat = %m.key.remote_jid, "edit or delete of a message from another chat or author ignored");
        false
    }

    pub(super) fn on_presence(&mut self, jid: String, presence: Presence) {
        self.publish(
            EventKind::PresenceUpdate,
            Payload::Presence { jid, presence },
        );
    }

    /// A status receipt: kept (findStatusMessage), the message's status moved forward, and
    /// `messages.update` announced, in one transaction.
    pub(super) fn on_receipt(&mut self, r: Receipt) {
        let row = ReceiptRow {
            key_id: r.id.clone(),
            remote_jid: r.remote_jid.clone(),
            from_me: r.from_me,
            participant: None,
            status: r.status.into(),
            at_ms: u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0),
        };
        match self.shared.commit(
            &self.record,
            EventKind::MessagesUpdate,
            Payload::Receipt(r),
            &Change::Receipt(&row),
        ) {
            Ok(wrote) => self.unsynced |= wrote,
            Err(e) => {
                tracing::error!(instance = %self.shared.name, error = %e, "could not store a receipt")
            }
        }
    }
}

/// Whether two JIDs may name the same account: equal, or a phone-number JID and a LID, which
/// only the engine's mapping could tell apart.
fn same_user(a: &str, b: &str) -> bool {
    let server = |j: &str| j.rsplit_once('@').map(|(_, s)| s.to_owned());
    let pn_lid = |x: Option<String>, y: Option<String>| {
        matches!(
            (x.as_deref(), y.as_deref()),
            (Some("s.whatsapp.net"), Some("lid")) | (Some("lid"), Some("s.whatsapp.net"))
        )
    };
    a == b || pn_lid(server(a), server(b))
}
