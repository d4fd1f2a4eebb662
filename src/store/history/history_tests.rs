//! `Change::History`: a batch stored twice is stored once, chats and contacts merge.

use tempfile::TempDir;
use uuid::Uuid;

use super::{Change, HistoryRepo, HistoryTrees, Origin, Status, StoredMessage};
use crate::engine::{Context, HistoryChat, HistoryContact, MessageContent, MessageKey};
use crate::store::Store;

const ANN: &str = "15550000001@s.whatsapp.net";

fn repo() -> (TempDir, HistoryRepo) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), 16).expect("store");
    let trees = HistoryTrees::open(&store).expect("trees");
    let repo = trees.repo(&store, Uuid::new_v4());
    (dir, repo)
}

fn message(id: &str, ts: u64, origin: Origin) -> StoredMessage {
    StoredMessage {
        key: MessageKey {
            remote_jid: ANN.into(),
            from_me: false,
            id: id.into(),
            participant: None,
        },
        push_name: Some("Annie".into()),
        content: MessageContent::Text { text: id.into() },
        context: Context::default(),
        status: Status::DeliveryAck,
        timestamp: ts,
        origin,
    }
}

#[tokio::test]
async fn a_batch_seen_twice_is_stored_once() {
    let (_dir, h) = repo();
    // A live message already stored keeps its row (and its unread count).
    let live = message("LIVE", 50, Origin::Live);
    h.apply_without_event(&Change::Message {
        message: &live,
        contact: None,
    })
    .expect("live");
    let messages = [
        message("H1", 10, Origin::HistorySync),
        message("LIVE", 50, Origin::HistorySync),
    ];
    let chats = [HistoryChat {
        jid: ANN.into(),
        name: Some("Ann Smith".into()),
        unread: 3,
        archived: true,
        last_activity: Some(50),
    }];
    let contacts = [
        HistoryContact {
            jid: ANN.into(),
            name: Some("Annie".into()),
            saved: false,
        },
        HistoryContact {
            jid: "15550000002@s.whatsapp.net".into(),
            name: Some("Bo Saved".into()),
            saved: true,
        },
    ];
    let change = Change::History {
        messages: &messages,
        chats: &chats,
        contacts: &contacts,
    };
    assert!(h.apply_without_event(&change).expect("first"));
    let after_first = h.counts().expect("counts");
    h.apply_without_event(&change).expect("again");
    let after_second = h.counts().expect("counts");
    assert_eq!(after_first, after_second);
    assert_eq!(
        (
            after_second.messages,
            after_second.chats,
            after_second.contacts
        ),
        (2, 1, 2)
    );
    assert_eq!(
        h.get("LIVE").expect("get").expect("live").origin,
        Origin::Live
    );
    assert_eq!(
        h.get("H1").expect("get").expect("h1").origin,
        Origin::HistorySync
    );
    let chat = h.chat(ANN).expect("chat").expect("row");
    assert_eq!(chat.name.as_deref(), Some("Ann Smith"));
    assert_eq!((chat.unread, chat.archived, chat.messages), (3, true, 2));
    assert_eq!(chat.last_message, Some(("LIVE".into(), 50)));
    let bo = h
        .contact("15550000002@s.whatsapp.net")
        .expect("contact")
        .expect("row");
    assert!(bo.saved);
    assert_eq!(bo.push_name.as_deref(), Some("Bo Saved"));
}
