//! whatsapp-rust's history sync (`Event::HistorySync`, the phone's `HistorySync` proto) and
//! address-book contact actions, converted to our [`HistoryBatch`] and [`HistoryContact`].
//!
//! The crate downloads, inflates and acks a history blob itself (it sends the `hist_sync`
//! receipt before it dispatches the event), so a batch is not redelivered after a crash here;
//! storing it stays idempotent anyway (messages by id). A session started with syncFullHistory
//! off is built with `skip_history_sync()`: the crate acks every notification unprocessed.

use std::collections::BTreeMap;

use whatsapp_rust::waproto::whatsapp as wa;

use super::convert;
use crate::engine::{HistoryBatch, HistoryChat, HistoryContact, InboundMessage};

fn non_empty(s: &Option<String>) -> Option<String> {
    s.clone().filter(|s| !s.trim().is_empty())
}

/// One history message, `None` when it has no key, timestamp or content kind we handle
/// (Evolution skips those too).
fn message(chat: &str, m: &wa::WebMessageInfo) -> Option<InboundMessage> {
    let key = m.key.as_option()?;
    let (content, context) = convert::from_wa(m.message.as_option()?)?;
    let timestamp = m.message_timestamp.filter(|t| *t > 0)?;
    let remote_jid = non_empty(&key.remote_jid).unwrap_or_else(|| chat.to_owned());
    let participant = non_empty(&key.participant).or_else(|| non_empty(&m.participant));
    Some(InboundMessage {
        id: key.id.clone().filter(|i| !i.is_empty())?,
        participant: participant.filter(|_| remote_jid.ends_with("@g.us")),
        remote_jid,
        from_me: key.from_me.unwrap_or(false),
        push_name: non_empty(&m.push_name),
        timestamp,
        content,
        context,
    })
}

/// The batch in a decoded `HistorySync`: every conversation's messages and chat row, and the
/// contacts from its push names and from the senders' names on the messages.
pub(super) fn batch(hs: &wa::HistorySync) -> HistoryBatch {
    let mut out = HistoryBatch {
        progress: hs.progress,
        ..HistoryBatch::default()
    };
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for p in &hs.pushnames {
        if let (Some(jid), Some(name)) = (non_empty(&p.id), non_empty(&p.pushname)) {
            names.insert(jid, name);
        }
    }
    for conv in &hs.conversations {
        let jid = conv.id.clone();
        if jid.is_empty() {
            continue;
        }
        for hm in &conv.messages {
            let Some(m) = hm.message.as_option().and_then(|m| message(&jid, m)) else {
                continue;
            };
            if let (false, Some(name)) = (m.from_me, &m.push_name) {
                let author = m.participant.as_deref().unwrap_or(&m.remote_jid);
                names
                    .entry(author.to_owned())
                    .or_insert_with(|| name.clone());
            }
            out.messages.push(m);
        }
        out.chats.push(HistoryChat {
            name: non_empty(&conv.name).or_else(|| non_empty(&conv.display_name)),
            unread: conv.unread_count.unwrap_or(0),
            archived: conv.archived.unwrap_or(false),
            last_activity: conv
                .conversation_timestamp
                .or(conv.last_msg_timestamp)
                .filter(|t| *t > 0),
            jid,
        });
    }
    out.contacts = names
        .into_iter()
        .map(|(jid, name)| HistoryContact {
            jid,
            name: Some(name),
            saved: false,
        })
        .collect();
    out
}

/// An address-book entry from app-state sync (`contactAction`): saved, under its full name.
pub(super) fn address_book(
    jid: String,
    action: &wa::sync_action_value::ContactAction,
) -> HistoryContact {
    HistoryContact {
        jid,
        name: non_empty(&action.full_name).or_else(|| non_empty(&action.first_name)),
        saved: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::MessageContent;
    use whatsapp_rust::buffa::MessageField;

    fn text(
        chat: &str,
        id: &str,
        from_me: bool,
        ts: u64,
        push: Option<&str>,
    ) -> wa::HistorySyncMsg {
        wa::HistorySyncMsg {
            message: MessageField::some(wa::WebMessageInfo {
                key: MessageField::some(wa::MessageKey {
                    remote_jid: Some(chat.into()),
                    from_me: Some(from_me),
                    id: Some(id.into()),
                    participant: None,
                }),
                message: MessageField::some(wa::Message {
                    conversation: Some(format!("text {id}")),
                    ..Default::default()
                }),
                message_timestamp: Some(ts),
                push_name: push.map(str::to_owned),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn conversations_become_messages_chats_and_contacts() {
        let a = "15550000001@s.whatsapp.net";
        let hs = wa::HistorySync {
            conversations: vec![wa::Conversation {
                id: a.into(),
                name: Some("Ann".into()),
                unread_count: Some(2),
                archived: Some(true),
                conversation_timestamp: Some(20),
                messages: vec![
                    text(a, "M1", false, 10, Some("Annie")),
                    text(a, "M2", true, 20, None),
                    // No timestamp: skipped, as Evolution does.
                    text(a, "M3", false, 0, None),
                ],
                ..Default::default()
            }],
            pushnames: vec![wa::Pushname {
                id: Some("15550000002@s.whatsapp.net".into()),
                pushname: Some("Bo".into()),
            }],
            progress: Some(100),
            ..Default::default()
        };
        let b = batch(&hs);
        let ids: Vec<&str> = b.messages.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["M1", "M2"]);
        assert!(
            matches!(&b.messages[0].content, MessageContent::Text { text } if text == "text M1")
        );
        assert!(b.messages[1].from_me);
        assert_eq!(
            b.chats,
            [HistoryChat {
                jid: a.into(),
                name: Some("Ann".into()),
                unread: 2,
                archived: true,
                last_activity: Some(20),
            }]
        );
        let contacts: Vec<(&str, Option<&str>)> = b
            .contacts
            .iter()
            .map(|c| (c.jid.as_str(), c.name.as_deref()))
            .collect();
        assert_eq!(
            contacts,
            [
                (a, Some("Annie")),
                ("15550000002@s.whatsapp.net", Some("Bo"))
            ]
        );
        assert_eq!(b.progress, Some(100));
    }
}
