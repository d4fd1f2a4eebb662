//! Writes: every change to the history is a [`Change`], applied with its outbox rows in one
//! transaction over the history trees and the outbox.

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use super::{
    ChatRow, ContactRow, HistoryRepo, ReceiptRow, StoredMessage, activity_key, chat_msg_key,
    counter, decode_row, encode_row, locate, location, msg_key, receipt_prefix,
};
use crate::engine::{HistoryChat, HistoryContact, unix_now};
use crate::store::StoreError;
use crate::store::outbox::{OutboxRepo, OutboxRow};
use crate::store::scoped::prefixed;

/// One change to an instance's history.
pub enum Change<'a> {
    /// A new message (sent or received). `contact` is the sender's push name, to keep in the
    /// contacts (someone else's message only).
    Message {
        message: &'a StoredMessage,
        contact: Option<(&'a str, &'a str)>,
    },
    /// An edit (`text`) or a delete (`None`) of the stored message `target`. `marker` is the id
    /// of the protocol message that carried it, remembered so a redelivery is recognised.
    Rewrite {
        target: &'a str,
        edit: Option<&'a str>,
        marker: Option<&'a str>,
    },
    /// A status receipt: recorded, and the message's status moves forward.
    Receipt(&'a ReceiptRow),
    /// A chat flag changed (archive, unread, read).
    Chat {
        jid: &'a str,
        apply: &'a (dyn Fn(&mut ChatRow) + Sync),
    },
    /// A contact learned from a profile lookup or the address book.
    Contact {
        jid: &'a str,
        apply: &'a (dyn Fn(&mut ContactRow) + Sync),
    },
    /// A history-sync batch, or address-book contacts alone: the chats' rows, the messages not
    /// stored yet (skipped by id, so a batch seen twice stores nothing twice) and the contacts.
    History {
        messages: &'a [StoredMessage],
        chats: &'a [HistoryChat],
        contacts: &'a [HistoryContact],
    },
}

/// The transaction's trees, in this order.
const MSGS: usize = 0;
const IDS: usize = 1;
const CHAT_MSGS: usize = 2;
const CHATS: usize = 3;
const ACTIVITY: usize = 4;
const CONTACTS: usize = 5;
const RECEIPTS: usize = 6;
const COUNTS: usize = 7;
const OUTBOX: usize = 8;
const DLQ: usize = 9;

type Abort = ConflictableTransactionError<StoreError>;

fn abort(e: StoreError) -> Abort {
    ConflictableTransactionError::Abort(e)
}

impl HistoryRepo {
    /// Applies `change` and writes `rows` in one transaction. Returns whether anything changed
    /// (a message already stored, or a rewrite of an unknown message, changes nothing but still
    /// writes its rows and marker). Refused while storage is low.
    pub fn apply(
        &self,
        change: &Change<'_>,
        outbox: &OutboxRepo,
        rows: &[OutboxRow],
    ) -> Result<bool, StoreError> {
        self.store.writable()?;
        let rows = outbox.encoded(rows)?;
        let (otree, dtree) = outbox.trees();
        self.transact(change, &rows.outbox, &rows.dlq, Some([otree, dtree]))
    }

    /// Applies `change` with no event: imports of an earlier layout (not refused while storage
    /// is low: what is imported is already on disk) and chat flags no event reports.
    pub fn apply_without_event(&self, change: &Change<'_>) -> Result<bool, StoreError> {
        self.transact(change, &[], &[], None)
    }

    fn transact(
        &self,
        change: &Change<'_>,
        outbox_rows: &[(Vec<u8>, Vec<u8>)],
        dlq_rows: &[(Vec<u8>, Vec<u8>)],
        outbox: Option<[&sled::Tree; 2]>,
    ) -> Result<bool, StoreError> {
        let t = &self.trees;
        // Without rows the outbox trees stay out of the transaction.
        let [otree, dtree] = outbox.unwrap_or([&t.msgs, &t.msgs]);
        let used = if outbox.is_some() { 10 } else { 8 };
        let trees = [
            &t.msgs,
            &t.ids,
            &t.chat_msgs,
            &t.chats,
            &t.activity,
            &t.contacts,
            &t.receipts,
            &t.counts,
            otree,
            dtree,
        ];
        let now = unix_now();
        trees[..used]
            .transaction(|tx| {
                let changed = self.apply_in(tx, change, now)?;
                for (k, v) in outbox_rows {
                    tx[OUTBOX].insert(k.as_slice(), v.as_slice())?;
                }
                for (k, v) in dlq_rows {
                    tx[DLQ].insert(k.as_slice(), v.as_slice())?;
                }
                Ok(changed)
            })
            .map_err(|e| match e {
                sled::transaction::TransactionError::Abort(e) => e,
                sled::transaction::TransactionError::Storage(e) => StoreError::Sled(e),
            })
    }

    fn apply_in(
        &self,
        tx: &[TransactionalTree],
        change: &Change<'_>,
        now: u64,
    ) -> Result<bool, Abort> {
        match change {
            Change::Message { message, contact } => {
                let id = message.key.id.as_str();
                if tx[IDS].get(self.key(id.as_bytes()))?.is_some() {
                    return Ok(false);
                }
                self.insert_message(tx, message, now)?;
                if let Some((jid, name)) = contact {
                    self.touch_contact(tx, jid, now, &|c| c.push_name = Some((*name).to_owned()))?;
                }
                Ok(true)
            }
            Change::Rewrite {
                target,
                edit,
                marker,
            } => {
                if let Some(m) = marker {
                    tx[IDS].insert(self.key(m.as_bytes()), &[][..])?;
                }
                let Some(loc) = tx[IDS].get(self.key(target.as_bytes()))? else {
                    return Ok(false);
                };
                let Some((ts, _)) = locate(&loc) else {
                    return Ok(false);
                };
                let key = self.key(&msg_key(ts, target));
                let Some(v) = tx[MSGS].get(&key)? else {
                    return Ok(false);
                };
                let mut m: StoredMessage = decode_row(&v).map_err(abort)?;
                match edit {
                    Some(text) => m.edit(text),
                    None => m.delete(),
                }
                tx[MSGS].insert(key, encode_row(&m).map_err(abort)?)?;
                Ok(true)
            }
            Change::Receipt(r) => {
                let mut k = receipt_prefix(&r.remote_jid, &r.key_id);
                k.extend_from_slice(&r.at_ms.to_be_bytes());
                k.push(r.status as u8);
                tx[RECEIPTS].insert(self.key(&k), encode_row(*r).map_err(abort)?)?;
                let Some((ts, _)) = tx[IDS]
                    .get(self.key(r.key_id.as_bytes()))?
                    .as_deref()
                    .and_then(locate)
                else {
                    return Ok(false);
                };
                let key = self.key(&msg_key(ts, &r.key_id));
                let Some(v) = tx[MSGS].get(&key)? else {
                    return Ok(false);
                };
                let mut m: StoredMessage = decode_row(&v).map_err(abort)?;
                let next = m.status.after(r.status);
                if next == m.status {
                    return Ok(false);
                }
                m.status = next;
                tx[MSGS].insert(key, encode_row(&m).map_err(abort)?)?;
                Ok(true)
            }
            Change::Chat { jid, apply } => {
                let key = self.key(jid.as_bytes());
                let (mut chat, new) = chat_or_new(tx, &key, now)?;
                apply(&mut chat);
                tx[CHATS].insert(key, encode_row(&chat).map_err(abort)?)?;
                if new {
                    self.bump(tx, b"c")?;
                }
                Ok(true)
            }
            Change::Contact { jid, apply } => {
                self.touch_contact(tx, jid, now, *apply)?;
                Ok(true)
            }
            Change::History {
                messages,
                chats,
                contacts,
            } => {
                let mut changed = false;
                // Chats first: a name the phone gives wins over a sender's push name.
                for c in *chats {
                    let key = self.key(c.jid.as_bytes());
                    let (mut chat, new) = chat_or_new(tx, &key, now)?;
                    let before = chat.clone();
                    chat.merge_history(c);
                    if new || chat != before {
                        tx[CHATS].insert(key, encode_row(&chat).map_err(abort)?)?;
                        changed = true;
                    }
                    if new {
                        self.bump(tx, b"c")?;
                    }
                }
                for m in *messages {
                    if tx[IDS].get(self.key(m.key.id.as_bytes()))?.is_some() {
                        continue;
                    }
                    self.insert_message(tx, m, now)?;
                    changed = true;
                }
                for c in *contacts {
                    self.touch_contact(tx, &c.jid, now, &|row| row.merge(c))?;
                }
                Ok(changed || !contacts.is_empty())
            }
        }
    }

    fn insert_message(
        &self,
        tx: &[TransactionalTree],
        m: &StoredMessage,
        now: u64,
    ) -> Result<(), Abort> {
        let (id, jid, ts) = (m.key.id.as_str(), m.key.remote_jid.as_str(), m.timestamp);
        tx[MSGS].insert(self.key(&msg_key(ts, id)), encode_row(m).map_err(abort)?)?;
        tx[IDS].insert(self.key(id.as_bytes()), location(ts, jid))?;
        tx[CHAT_MSGS].insert(self.key(&chat_msg_key(jid, ts, id)), &[][..])?;
        let chat_key = self.key(jid.as_bytes());
        let (mut chat, new) = chat_or_new(tx, &chat_key, now)?;
        if chat.last_message.is_none() || ts >= chat.updated_at {
            if chat.last_message.is_some() {
                tx[ACTIVITY].remove(self.key(&activity_key(chat.updated_at, jid)))?;
            }
            chat.updated_at = ts;
            chat.last_message = Some((id.to_owned(), ts));
            tx[ACTIVITY].insert(self.key(&activity_key(ts, jid)), &[][..])?;
        }
        chat.messages += 1;
        if m.counts_unread() {
            chat.unread = chat.unread.saturating_add(1);
        }
        if chat.name.is_none() && !m.key.from_me && !jid.ends_with("@g.us") {
            chat.name = m.push_name.clone();
        }
        tx[CHATS].insert(chat_key, encode_row(&chat).map_err(abort)?)?;
        self.bump(tx, b"m")?;
        if new {
            self.bump(tx, b"c")?;
        }
        Ok(())
    }

    fn touch_contact(
        &self,
        tx: &[TransactionalTree],
        jid: &str,
        now: u64,
        apply: &(dyn Fn(&mut ContactRow) + Sync),
    ) -> Result<(), Abort> {
        let key = self.key(jid.as_bytes());
        let old = match tx[CONTACTS].get(&key)? {
            Some(v) => Some(decode_row::<ContactRow>(&v).map_err(abort)?),
            None => None,
        };
        let mut c = old.clone().unwrap_or(ContactRow {
            created_at: now,
            ..ContactRow::default()
        });
        apply(&mut c);
        if old.as_ref() == Some(&c) {
            return Ok(());
        }
        c.updated_at = now;
        tx[CONTACTS].insert(key, encode_row(&c).map_err(abort)?)?;
        if old.is_none() {
            self.bump(tx, b"k")?;
        }
        Ok(())
    }

    fn bump(&self, tx: &[TransactionalTree], tag: &[u8]) -> Result<(), Abort> {
        let key = prefixed(self.instance, tag);
        let n = counter(tx[COUNTS].get(&key)?.as_deref()) + 1;
        tx[COUNTS].insert(key, &n.to_be_bytes()[..])?;
        Ok(())
    }
}

/// The chat row at `key`, or a new one created `now`; and whether it is new.
fn chat_or_new(tx: &[TransactionalTree], key: &[u8], now: u64) -> Result<(ChatRow, bool), Abort> {
    Ok(match tx[CHATS].get(key)? {
        Some(v) => (decode_row::<ChatRow>(&v).map_err(abort)?, false),
        None => (
            ChatRow {
                created_at: now,
                ..ChatRow::default()
            },
            true,
        ),
    })
}
