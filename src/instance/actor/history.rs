//! The actor's side of history sync: a batch from the phone (only with syncFullHistory on) or
//! address-book contacts, stored through the ledger in one transaction with its events.

use std::collections::HashSet;

use super::Actor;
use crate::engine::group::is_group_jid;
use crate::engine::{HistoryBatch, HistoryChat, HistoryContact, MessageContent, MessageKey};
use crate::events::{EventKind, Payload};
use crate::store::history::{Change, Origin, Status, StoredMessage};

impl Actor {
    /// Stores a history batch: messages with `Origin::HistorySync` (ids already stored, edits
    /// and deletes are skipped), the chats' names, unread counts and archive flags, and the
    /// contacts; announced as `chats.set`, `messages.set` and `contacts.upsert` with only what
    /// is new, all in one transaction. groupsIgnore leaves group chats out.
    pub(super) fn on_history(&mut self, batch: HistoryBatch) {
        let name = self.shared.name.clone();
        let skip_groups = self.record.settings.groups_ignore;
        let h = &self.shared.history;
        let mut seen = HashSet::new();
        let mut messages = Vec::new();
        for m in batch.messages {
            if (skip_groups && is_group_jid(&m.remote_jid))
                || matches!(
                    m.content,
                    MessageContent::Edit { .. } | MessageContent::Revoke { .. }
                )
                || !seen.insert(m.id.clone())
            {
                continue;
            }
            match h.contains(&m.id) {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(instance = %name, error = %e, "history batch not stored");
                    return;
                }
            }
            messages.push(StoredMessage {
                key: MessageKey {
                    remote_jid: m.remote_jid,
                    from_me: m.from_me,
                    id: m.id,
                    participant: m.participant,
                },
                push_name: m.push_name,
                content: m.content,
                context: m.context,
                status: Status::DeliveryAck,
                timestamp: m.timestamp,
                origin: Origin::HistorySync,
            });
        }
        let chats: Vec<HistoryChat> = batch
            .chats
            .into_iter()
            .filter(|c| !(skip_groups && is_group_jid(&c.jid)))
            .collect();
        // What the events list: chats not known before, contacts the batch changes.
        let new_chats: Vec<&HistoryChat> = chats
            .iter()
            .filter(|c| matches!(h.chat(&c.jid), Ok(None)))
            .collect();
        let changed_contacts: Vec<&HistoryContact> = batch
            .contacts
            .iter()
            .filter(|c| match h.contact(&c.jid) {
                Ok(Some(row)) => {
                    let mut merged = row.clone();
                    merged.merge(c);
                    merged != row
                }
                _ => true,
            })
            .collect();
        let events = batch_events(new_chats, &messages, changed_contacts);
        let change = Change::History {
            messages: &messages,
            chats: &chats,
            contacts: &batch.contacts,
        };
        match self.shared.commit_all(&self.record, events, &change) {
            Ok(wrote) => self.unsynced |= wrote,
            Err(e) => {
                tracing::error!(instance = %name, error = %e, "history batch not stored");
            }
        }
    }

    /// Address-book contacts (app-state sync), whatever syncFullHistory says.
    pub(super) fn on_contacts(&mut self, contacts: Vec<HistoryContact>) {
        self.on_history(HistoryBatch {
            contacts,
            ..HistoryBatch::default()
        });
    }
}

/// A batch's events as Evolution's `messaging-history.set` handler sends them, in its order:
/// `chats.set` with the chats not known before, `messages.set` with the messages not stored
/// before, `contacts.upsert` with the contacts learned. An empty list is not announced, so a
/// batch seen again announces nothing.
fn batch_events(
    chats: Vec<&HistoryChat>,
    messages: &[StoredMessage],
    contacts: Vec<&HistoryContact>,
) -> Vec<(EventKind, Payload)> {
    let mut out = Vec::new();
    if !chats.is_empty() {
        let chats = chats.into_iter().cloned().collect();
        out.push((EventKind::ChatsSet, Payload::Chats(chats)));
    }
    if !messages.is_empty() {
        out.push((EventKind::MessagesSet, Payload::Messages(messages.to_vec())));
    }
    if !contacts.is_empty() {
        let contacts = contacts.into_iter().cloned().collect();
        out.push((EventKind::ContactsUpsert, Payload::Contacts(contacts)));
    }
    out
}
