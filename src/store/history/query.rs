//! Reads: every query is a range read over one instance's keys, narrowed by chat and time when
//! the filter gives them. Filters the keys cannot answer (direction, type, author) are applied
//! to the rows of that range only.

use crate::engine::MessageContent;

use super::{
    ChatRow, ContactRow, HistoryRepo, ReceiptRow, StoredMessage, activity_key, chat_prefix,
    decode_row, locate, msg_key, receipt_prefix,
};
use crate::store::StoreError;
use crate::store::scoped::PREFIX_LEN;

/// A page: 1-based number and size.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub number: u64,
    pub size: u64,
}

impl Page {
    fn skip(&self) -> usize {
        usize::try_from(self.number.saturating_sub(1).saturating_mul(self.size))
            .unwrap_or(usize::MAX)
    }

    fn take(&self) -> usize {
        usize::try_from(self.size).unwrap_or(usize::MAX)
    }
}

/// `findMessages`' filter, already in our terms.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub id: Option<String>,
    pub remote_jid: Option<String>,
    pub from_me: Option<bool>,
    pub participant: Option<String>,
    /// Evolution's `messageType` (`conversation`, `imageMessage`...).
    pub message_type: Option<String>,
    /// Inclusive bounds, Unix seconds.
    pub since: Option<u64>,
    pub until: Option<u64>,
}

impl MessageFilter {
    /// Whether rows must be decoded to be filtered (the keys answer id, chat and time).
    fn needs_rows(&self) -> bool {
        self.from_me.is_some() || self.participant.is_some() || self.message_type.is_some()
    }

    fn matches(&self, m: &StoredMessage) -> bool {
        self.from_me.is_none_or(|f| m.key.from_me == f)
            && self
                .participant
                .as_ref()
                .is_none_or(|p| m.key.participant.as_ref() == Some(p))
            && self
                .message_type
                .as_ref()
                .is_none_or(|t| message_type(&m.content) == t)
            && self
                .remote_jid
                .as_ref()
                .is_none_or(|j| &m.key.remote_jid == j)
            && self.since.is_none_or(|s| m.timestamp >= s)
            && self.until.is_none_or(|u| m.timestamp <= u)
    }

    fn bounds(&self) -> ([u8; 8], [u8; 8]) {
        let lo = self.since.unwrap_or(0);
        // Exclusive upper bound: the first second after `until`.
        let hi = self.until.map(|u| u.saturating_add(1)).unwrap_or(u64::MAX);
        (lo.to_be_bytes(), hi.to_be_bytes())
    }
}

/// Evolution's `messageType` of a content, as the record renders it.
pub fn message_type(c: &MessageContent) -> &'static str {
    match c {
        MessageContent::Text { .. } => "conversation",
        MessageContent::Media(m) => m.kind.message_type(),
        MessageContent::Location { .. } => "locationMessage",
        MessageContent::Contacts { contacts } if contacts.len() == 1 => "contactMessage",
        MessageContent::Contacts { .. } => "contactsArrayMessage",
        MessageContent::Reaction { .. } => "reactionMessage",
        MessageContent::Poll { .. } => "pollCreationMessageV3",
        MessageContent::Revoke { .. } | MessageContent::Edit { .. } => "protocolMessage",
        MessageContent::List(_) => "listMessage",
        MessageContent::Buttons(_) => "interactiveMessage",
        MessageContent::TextStatus { .. } => "extendedTextMessage",
    }
}

/// `findChats`' filter.
#[derive(Debug, Clone, Default)]
pub struct ChatFilter {
    pub remote_jid: Option<String>,
    pub since: Option<u64>,
    pub until: Option<u64>,
}

impl HistoryRepo {
    /// One page of messages, newest first, and how many match in all.
    pub fn messages(
        &self,
        filter: &MessageFilter,
        page: Page,
    ) -> Result<(u64, Vec<StoredMessage>), StoreError> {
        if let Some(id) = &filter.id {
            let found: Vec<_> = self
                .get(id)?
                .into_iter()
                .filter(|m| filter.matches(m))
                .collect();
            let total = found.len() as u64;
            return Ok((
                total,
                found
                    .into_iter()
                    .skip(page.skip())
                    .take(page.take())
                    .collect(),
            ));
        }
        let (lo, hi) = filter.bounds();
        let (start, end, chat) = match &filter.remote_jid {
            Some(jid) => {
                let p = chat_prefix(jid);
                (
                    [&p[..], &lo].concat(),
                    [&p[..], &hi].concat(),
                    Some(p.len()),
                )
            }
            None => (lo.to_vec(), hi.to_vec(), None),
        };
        let (tree, start, end) = match chat {
            Some(_) => (&self.trees.chat_msgs, self.key(&start), self.key(&end)),
            None => (&self.trees.msgs, self.key(&start), self.key(&end)),
        };
        // The total without reading rows when the keys alone answer it.
        let unbounded = filter.since.is_none() && filter.until.is_none();
        let known_total = if filter.needs_rows() || !unbounded {
            None
        } else {
            match &filter.remote_jid {
                Some(jid) => Some(self.chat(jid)?.map(|c| c.messages).unwrap_or(0)),
                None => Some(self.counts()?.messages),
            }
        };
        let mut total = 0u64;
        let mut out = Vec::new();
        let (skip, take) = (page.skip(), page.take());
        for item in tree.range(start..end).rev() {
            let (k, v) = item?;
            let row = match chat {
                // chat_msgs: `I jid \0 ts id`: read the row from msgs.
                Some(plen) => {
                    let rest = &k[PREFIX_LEN + plen..];
                    let Some((ts, id)) = rest.split_first_chunk::<8>() else {
                        continue;
                    };
                    let id = String::from_utf8_lossy(id);
                    let wanted =
                        filter.needs_rows() || (total as usize >= skip && out.len() < take);
                    if !wanted {
                        total += 1;
                        if known_total.is_some() && out.len() >= take {
                            break;
                        }
                        continue;
                    }
                    match self
                        .trees
                        .msgs
                        .get(self.key(&msg_key(u64::from_be_bytes(*ts), &id)))?
                    {
                        Some(v) => decode_row::<StoredMessage>(&v)?,
                        None => continue,
                    }
                }
                None => decode_row::<StoredMessage>(&v)?,
            };
            if !filter.matches(&row) {
                continue;
            }
            if total as usize >= skip && out.len() < take {
                out.push(row);
            }
            total += 1;
            if known_total.is_some() && out.len() >= take {
                break;
            }
        }
        Ok((known_total.unwrap_or(total), out))
    }

    /// Chats with a stored message, by last activity, newest first; each with its newest
    /// message when it is still stored.
    pub fn chats(
        &self,
        filter: &ChatFilter,
        skip: usize,
        take: usize,
    ) -> Result<Vec<(String, ChatRow, Option<StoredMessage>)>, StoreError> {
        let with_last = |jid: String, chat: ChatRow| -> Result<_, StoreError> {
            let last = match &chat.last_message {
                Some((id, _)) => self.get(id)?,
                None => None,
            };
            Ok((jid, chat, last))
        };
        let in_range = |c: &ChatRow| {
            filter.since.is_none_or(|s| c.updated_at >= s)
                && filter.until.is_none_or(|u| c.updated_at <= u)
        };
        if let Some(jid) = &filter.remote_jid {
            return match self.chat(jid)? {
                Some(c) if c.last_message.is_some() && in_range(&c) && skip == 0 && take > 0 => {
                    Ok(vec![with_last(jid.clone(), c)?])
                }
                _ => Ok(Vec::new()),
            };
        }
        let lo = self.key(&activity_key(filter.since.unwrap_or(0), ""));
        let hi = self.key(
            &filter
                .until
                .map(|u| u.saturating_add(1))
                .unwrap_or(u64::MAX)
                .to_be_bytes(),
        );
        let mut out = Vec::new();
        for item in self
            .trees
            .activity
            .range(lo..hi)
            .rev()
            .skip(skip)
            .take(take)
        {
            let (k, _) = item?;
            let Some(jid) = k.get(PREFIX_LEN + 8..) else {
                continue;
            };
            let jid = String::from_utf8_lossy(jid).into_owned();
            if let Some(chat) = self.chat(&jid)? {
                out.push(with_last(jid, chat)?);
            }
        }
        Ok(out)
    }

    /// Contacts in JID order, or the one asked for.
    pub fn contacts(
        &self,
        remote_jid: Option<&str>,
        page: Page,
    ) -> Result<Vec<(String, ContactRow)>, StoreError> {
        if let Some(jid) = remote_jid {
            let found = self.contact(jid)?.map(|c| (jid.to_owned(), c));
            return Ok(found
                .into_iter()
                .skip(page.skip())
                .take(page.take())
                .collect());
        }
        let mut out = Vec::new();
        for item in self
            .trees
            .contacts
            .scan_prefix(self.instance.as_bytes())
            .skip(page.skip())
            .take(page.take())
        {
            let (k, v) = item?;
            let jid = String::from_utf8_lossy(&k[PREFIX_LEN..]).into_owned();
            out.push((jid, decode_row(&v)?));
        }
        Ok(out)
    }

    /// Receipts, oldest first: of one message, of one chat, or all.
    pub fn receipts(
        &self,
        remote_jid: Option<&str>,
        id: Option<&str>,
        page: Page,
    ) -> Result<Vec<ReceiptRow>, StoreError> {
        // A message id without its chat: the chat is where the message is stored.
        let located;
        let remote_jid = match (remote_jid, id) {
            (None, Some(id)) => {
                located = self
                    .trees
                    .ids
                    .get(self.key(id.as_bytes()))?
                    .as_deref()
                    .and_then(locate)
                    .map(|(_, jid)| jid);
                located.as_deref()
            }
            (jid, _) => jid,
        };
        let prefix = match (remote_jid, id) {
            (Some(jid), Some(id)) => receipt_prefix(jid, id),
            (Some(jid), None) => chat_prefix(jid),
            (None, Some(_)) => return Ok(Vec::new()),
            (None, None) => Vec::new(),
        };
        let mut out = Vec::new();
        for item in self
            .trees
            .receipts
            .scan_prefix(self.key(&prefix))
            .skip(page.skip())
            .take(page.take())
        {
            let (_, v) = item?;
            out.push(decode_row(&v)?);
        }
        Ok(out)
    }
}
