//! Retention: messages older than a cutoff are deleted by range (the `msgs` tree is in time
//! order per instance), with their index rows, receipts and counters, a bounded batch at a time.

use sled::Transactional;

use super::{
    ChatRow, HistoryRepo, chat_msg_key, counter, decode_row, encode_row, locate, receipt_prefix,
};
use crate::store::StoreError;
use crate::store::scoped::PREFIX_LEN;

impl HistoryRepo {
    /// Deletes up to `max` of the oldest messages stamped before `cutoff` (Unix seconds);
    /// returns how many went. Call again while it returns `max`.
    pub fn expire_before(&self, cutoff: u64, max: usize) -> Result<usize, StoreError> {
        let t = &self.trees;
        let start = self.key(&0u64.to_be_bytes());
        let end = self.key(&cutoff.to_be_bytes());
        // (msgs key, id, jid) of each message to delete.
        let mut doomed = Vec::new();
        for item in t.msgs.range(start..end).keys().take(max) {
            let k = item?;
            let Some(id) = k.get(PREFIX_LEN + 8..) else {
                continue;
            };
            let id = String::from_utf8_lossy(id).into_owned();
            let jid = t
                .ids
                .get(self.key(id.as_bytes()))?
                .as_deref()
                .and_then(locate)
                .map(|(_, jid)| jid);
            doomed.push((k.to_vec(), id, jid));
        }
        if doomed.is_empty() {
            return Ok(0);
        }
        // Receipts first, by prefix: a crash after this leaves messages without receipts, which
        // the next pass deletes anyway.
        let mut receipts = sled::Batch::default();
        for (_, id, jid) in &doomed {
            if let Some(jid) = jid {
                for k in t
                    .receipts
                    .scan_prefix(self.key(&receipt_prefix(jid, id)))
                    .keys()
                {
                    receipts.remove(k?);
                }
            }
        }
        t.receipts.apply_batch(receipts)?;
        let counts_key = self.key(b"m");
        (&t.msgs, &t.ids, &t.chat_msgs, &t.chats, &t.counts)
            .transaction(|(msgs, ids, chat_msgs, chats, counts)| {
                let mut gone = 0u64;
                for (key, id, jid) in &doomed {
                    if msgs.remove(key.as_slice())?.is_none() {
                        continue;
                    }
                    gone += 1;
                    ids.remove(self.key(id.as_bytes()))?;
                    let Some(jid) = jid else { continue };
                    let ts = u64::from_be_bytes(
                        key[PREFIX_LEN..PREFIX_LEN + 8]
                            .try_into()
                            .unwrap_or_default(),
                    );
                    chat_msgs.remove(self.key(&chat_msg_key(jid, ts, id)))?;
                    let chat_key = self.key(jid.as_bytes());
                    if let Some(v) = chats.get(&chat_key)?
                        && let Ok(mut chat) = decode_row::<ChatRow>(&v)
                    {
                        chat.messages = chat.messages.saturating_sub(1);
                        if let Ok(v) = encode_row(&chat) {
                            chats.insert(chat_key, v)?;
                        }
                    }
                }
                let n = counter(counts.get(&counts_key)?.as_deref()).saturating_sub(gone);
                counts.insert(counts_key.as_slice(), &n.to_be_bytes()[..])?;
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|e| StoreError::Encoding(format!("retention: {e:?}")))?;
        Ok(doomed.len())
    }
}
