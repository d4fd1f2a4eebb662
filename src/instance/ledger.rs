//! The ledger: the one path through which every change to an instance's history goes (sent,
//! received, edited, deleted messages, receipts, chat and contact changes), written with the
//! outbox rows of the event that announces it in one transaction. Reads of the history for the
//! API are here too, so handlers never see the store.

use super::handle::{InstanceError, InstanceHandle, Shared};
use crate::events::{Event, EventKind, Payload};
use crate::store::StoreError;
use crate::store::history::{
    Change, ChatFilter, ChatRow, ContactRow, Counts, MessageFilter, Page, ReceiptRow, StoredMessage,
};
use crate::store::instances::InstanceRecord;

impl Shared {
    /// Writes `change` and the outbox rows of the event `kind` with `payload` in one transaction,
    /// then puts the event on the live bus. Returns whether outbox rows were written (the
    /// caller flushes before claiming the event durable). On an error nothing was written and
    /// nothing announced.
    pub(super) fn commit(
        &self,
        record: &InstanceRecord,
        kind: EventKind,
        payload: Payload,
        change: &Change<'_>,
    ) -> Result<bool, StoreError> {
        self.commit_all(record, vec![(kind, payload)], change)
    }

    /// [`commit`](Self::commit) with several events (or none) announcing one change.
    pub(super) fn commit_all(
        &self,
        record: &InstanceRecord,
        events: Vec<(EventKind, Payload)>,
        change: &Change<'_>,
    ) -> Result<bool, StoreError> {
        let events = events
            .into_iter()
            .map(|(kind, payload)| {
                self.counters.observe(kind, &payload);
                Event::new(kind, &self.name, self.id, record.owner_jid.clone(), payload)
            })
            .collect();
        self.deps.publish_all_with(
            events,
            record.webhook.as_ref(),
            &self.token,
            |outbox, rows| self.history.apply(change, outbox, rows).map(|_| ()),
        )
    }
}

/// A page of `findMessages`.
pub struct MessagePage {
    pub total: u64,
    pub records: Vec<StoredMessage>,
}

/// One row of `findChats`.
pub struct ChatView {
    pub remote_jid: String,
    pub chat: ChatRow,
    pub last: Option<StoredMessage>,
    pub contact: Option<ContactRow>,
}

impl InstanceHandle {
    /// A stored message by id.
    pub fn message(&self, id: &str) -> Result<Option<StoredMessage>, InstanceError> {
        Ok(self.shared().history.get(id)?)
    }

    /// Messages, chats and contacts stored (`_count`).
    pub fn counts(&self) -> Result<Counts, InstanceError> {
        Ok(self.shared().history.counts()?)
    }

    pub fn find_messages(
        &self,
        filter: &MessageFilter,
        page: Page,
    ) -> Result<MessagePage, InstanceError> {
        let (total, records) = self.shared().history.messages(filter, page)?;
        Ok(MessagePage { total, records })
    }

    pub fn find_chats(
        &self,
        filter: &ChatFilter,
        skip: usize,
        take: usize,
    ) -> Result<Vec<ChatView>, InstanceError> {
        let h = &self.shared().history;
        h.chats(filter, skip, take)?
            .into_iter()
            .map(|(remote_jid, chat, last)| {
                let contact = h.contact(&remote_jid)?;
                Ok(ChatView {
                    remote_jid,
                    chat,
                    last,
                    contact,
                })
            })
            .collect()
    }

    pub fn find_chat(&self, jid: &str) -> Result<Option<ChatRow>, InstanceError> {
        Ok(self.shared().history.chat(jid)?)
    }

    pub fn find_contacts(
        &self,
        remote_jid: Option<&str>,
        page: Page,
    ) -> Result<Vec<(String, ContactRow)>, InstanceError> {
        Ok(self.shared().history.contacts(remote_jid, page)?)
    }

    pub fn find_receipts(
        &self,
        remote_jid: Option<&str>,
        id: Option<&str>,
        page: Page,
    ) -> Result<Vec<ReceiptRow>, InstanceError> {
        Ok(self.shared().history.receipts(remote_jid, id, page)?)
    }

    /// Deletes up to `max` messages stamped before `cutoff` (retention); returns how many.
    pub fn expire_history(&self, cutoff: u64, max: usize) -> Result<usize, InstanceError> {
        Ok(self.shared().history.expire_before(cutoff, max)?)
    }

    /// A profile picture's URL, kept in the contact (Evolution's `profilePicUrl`).
    pub async fn profile_picture_url(&self, jid: &str) -> Result<Option<String>, InstanceError> {
        let url = self
            .connected_session()?
            .profile_picture_url(jid.to_owned())
            .await?;
        let kept = url.clone();
        let change = Change::Contact {
            jid,
            apply: &move |c: &mut ContactRow| c.profile_pic_url = kept.clone(),
        };
        // Lazily durable: the URL can be fetched again.
        self.shared().history.apply_without_event(&change)?;
        Ok(url)
    }

    /// Archives or unarchives a chat (kept here; WhatsApp's app-state sync of it is the
    /// engine's, when it has one).
    pub async fn archive_chat(&self, jid: &str, archived: bool) -> Result<(), InstanceError> {
        self.change_chat(jid, &move |c: &mut ChatRow| c.archived = archived)
            .await
    }

    /// Marks a chat unread until it is read again.
    pub async fn mark_chat_unread(&self, jid: &str) -> Result<(), InstanceError> {
        self.change_chat(jid, &|c: &mut ChatRow| c.marked_unread = true)
            .await
    }

    /// A chat was read: no unread messages, no unread mark.
    pub(crate) async fn chat_read(&self, jid: &str) -> Result<(), InstanceError> {
        self.change_chat(jid, &|c: &mut ChatRow| {
            c.unread = 0;
            c.marked_unread = false;
        })
        .await
    }

    async fn change_chat(
        &self,
        jid: &str,
        apply: &(dyn Fn(&mut ChatRow) + Sync),
    ) -> Result<(), InstanceError> {
        let s = self.shared();
        s.deps.store.writable()?;
        let change = Change::Chat { jid, apply };
        s.history.apply_without_event(&change)?;
        s.deps.store.sync().await?;
        Ok(())
    }
}
