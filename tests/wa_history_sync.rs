//! History sync end to end through the real engine (whatsapp-rust) against wa-mock: after
//! pairing, the mock phone uploads a history blob and notifies its companion. With
//! syncFullHistory on, the batch's messages, chats and contacts are stored and announced
//! (`chats.set`, `messages.set`, `contacts.upsert`); with it off, none of it lands.
//!
//! Needs the `wa-mock-peer` feature: `cargo test --features wa-mock-peer --test wa_history_sync`.

#![cfg(feature = "wa-mock-peer")]

mod common;

use common::real::{paired, paired_with};
use common::receiver::{Mode, Receiver};
use common::{DEADLINE, KEY, TestServer, expect_event};
use serde_json::{Value, json};
use wa_mock::{History, HistoryChat, HistoryMessage, Pushname, WaMock};

const ANN_PHONE: &str = "15557790011";
const ANN: &str = "15557790011@s.whatsapp.net";
const BEN: &str = "15557790012@s.whatsapp.net";
const CAROL: &str = "15557790013@s.whatsapp.net";
const GROUP: &str = "120363000000000077@g.us";

fn text(id: &str, from_me: bool, text: &str, timestamp: u64) -> HistoryMessage {
    HistoryMessage {
        id: id.into(),
        from_me,
        text: text.into(),
        timestamp,
        ..HistoryMessage::default()
    }
}

/// What the phone remembers: a direct chat with Ann (two unread, archived), an old group, and
/// Carol's push name without any message.
fn history() -> History {
    History {
        chats: vec![
            HistoryChat {
                jid: ANN.into(),
                name: Some("Ann Smith".into()),
                unread: 2,
                archived: true,
                messages: vec![
                    HistoryMessage {
                        push_name: Some("Annie".into()),
                        ..text("HIST00A1", false, "hello from the past", 1_700_000_000)
                    },
                    text("HIST00A2", true, "hi Ann", 1_700_000_100),
                ],
            },
            HistoryChat {
                jid: GROUP.into(),
                name: Some("Old Team".into()),
                messages: vec![HistoryMessage {
                    participant: Some(BEN.into()),
                    push_name: Some("Ben".into()),
                    ..text("HIST00G1", false, "team news", 1_700_000_200)
                }],
                ..HistoryChat::default()
            },
        ],
        pushnames: vec![Pushname {
            jid: CAROL.into(),
            name: "Carol".into(),
        }],
    }
}

async fn start() -> (WaMock, TestServer) {
    let mock = WaMock::start(0).await.expect("wa-mock");
    let url = mock.url();
    let s = TestServer::start(&[("ZAPGATE_WA_URL", url.as_str())]).await;
    (mock, s)
}

async fn find_messages(s: &TestServer, name: &str, jid: &str) -> Vec<Value> {
    let (status, body) = s
        .post(
            &format!("/chat/findMessages/{name}"),
            Some(KEY),
            json!({"where": {"key": {"remoteJid": jid}}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["messages"]["records"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn find_contact(s: &TestServer, name: &str, jid: &str) -> Vec<Value> {
    let (status, body) = s
        .post(
            &format!("/chat/findContacts/{name}"),
            Some(KEY),
            json!({"where": {"remoteJid": jid}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body.as_array().cloned().unwrap_or_default()
}

fn ids(records: &[Value]) -> Vec<&str> {
    let mut ids: Vec<&str> = records
        .iter()
        .filter_map(|r| r["key"]["id"].as_str())
        .collect();
    ids.sort_unstable();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_lands_with_sync_full_history_on() {
    const PHONE: &str = "15557790001";
    let (mock, s) = start().await;
    let mut hook = Receiver::start(Mode::Ok).await;
    let events = ["MESSAGES_SET", "CHATS_SET", "CONTACTS_UPSERT"];
    paired_with(
        &s,
        &mock,
        "keeper",
        PHONE,
        json!({"syncFullHistory": true,
               "webhook": {"enabled": true, "url": hook.base, "events": events}}),
    )
    .await;
    mock.send_history(PHONE, &history()).await.expect("history");

    let set = hook.expect(|h| h.body["event"] == "messages.set").await;
    let records = set.body["data"].as_array().expect("messages.set data");
    assert_eq!(
        ids(records),
        ["HIST00A1", "HIST00A2", "HIST00G1"],
        "{}",
        set.body
    );
    let first = records
        .iter()
        .find(|r| r["key"]["id"] == "HIST00A1")
        .expect("HIST00A1");
    assert_eq!(first["key"]["remoteJid"], ANN, "{first}");
    assert_eq!(first["key"]["fromMe"], false, "{first}");
    assert_eq!(first["pushName"], "Annie", "{first}");
    assert_eq!(first["message"]["conversation"], "hello from the past");
    let group = records
        .iter()
        .find(|r| r["key"]["id"] == "HIST00G1")
        .expect("HIST00G1");
    assert_eq!(group["key"]["participant"], BEN, "{group}");

    let chats = hook.expect(|h| h.body["event"] == "chats.set").await;
    let ann_chat = chats.body["data"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["remoteJid"] == ANN).cloned())
        .expect("Ann in chats.set");
    assert_eq!(ann_chat["name"], "Ann Smith", "{ann_chat}");
    let contacts = hook.expect(|h| h.body["event"] == "contacts.upsert").await;
    let carol = contacts.body["data"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["remoteJid"] == CAROL).cloned())
        .expect("Carol in contacts.upsert");
    assert_eq!(carol["pushName"], "Carol", "{carol}");

    // Stored: the messages, the chat's unread count, archive flag and last message, the contacts.
    let ann = find_messages(&s, "keeper", ANN).await;
    assert_eq!(ids(&ann), ["HIST00A1", "HIST00A2"]);
    let (status, chats) = s.post("/chat/findChats/keeper", Some(KEY), json!({})).await;
    assert_eq!(status, 200, "{chats}");
    let chat = chats
        .as_array()
        .and_then(|a| a.iter().find(|c| c["remoteJid"] == ANN).cloned())
        .expect("Ann's chat in findChats");
    assert_eq!(chat["unreadCount"], 2, "{chat}");
    assert_eq!(chat["archived"], true, "{chat}");
    assert_eq!(chat["lastMessage"]["key"]["id"], "HIST00A2", "{chat}");
    let carol = find_contact(&s, "keeper", CAROL).await;
    assert_eq!(carol.len(), 1, "{carol:?}");
    assert_eq!(carol[0]["pushName"], "Carol");
    let ben = find_contact(&s, "keeper", BEN).await;
    assert_eq!(
        ben.first().map(|c| c["pushName"].clone()),
        Some(json!("Ben"))
    );

    // The phone sends the same history again with one newer message: only that one is new.
    let mut again = history();
    again.chats[0]
        .messages
        .push(text("HIST00A3", false, "still there?", 1_700_000_300));
    mock.send_history(PHONE, &again)
        .await
        .expect("history again");
    let set = hook.expect(|h| h.body["event"] == "messages.set").await;
    let records = set.body["data"].as_array().expect("messages.set data");
    assert_eq!(ids(records), ["HIST00A3"], "{}", set.body);
    let ann = find_messages(&s, "keeper", ANN).await;
    assert_eq!(ids(&ann), ["HIST00A1", "HIST00A2", "HIST00A3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_is_dropped_with_sync_full_history_off() {
    const PHONE: &str = "15557790002";
    let (mock, s) = start().await;
    paired(&s, &mock, "skipper", PHONE).await;
    let mut stream = s.events("instance=skipper&events=MESSAGES_UPSERT").await;
    let id = mock.send_history(PHONE, &history()).await.expect("history");
    // The client acks the notification once it has handled (here: declined) it.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while mock.pending(PHONE).contains(&id) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "history notification never acked"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    // A live message after it: once it is stored, the history would have been too.
    mock.send_text(ANN_PHONE, PHONE, "marker")
        .await
        .expect("marker");
    let marker = expect_event(&mut stream, |e| {
        e["data"]["message"]["conversation"] == "marker"
    })
    .await;
    assert_eq!(marker["data"]["key"]["remoteJid"], ANN, "{marker}");

    let ann = find_messages(&s, "skipper", ANN).await;
    assert_eq!(
        ids(&ann),
        [marker["data"]["key"]["id"].as_str().expect("id")]
    );
    assert!(find_messages(&s, "skipper", GROUP).await.is_empty());
    assert!(find_contact(&s, "skipper", CAROL).await.is_empty());
    let (status, chats) = s
        .post("/chat/findChats/skipper", Some(KEY), json!({}))
        .await;
    assert_eq!(status, 200, "{chats}");
    assert_eq!(chats.as_array().map(Vec::len), Some(1), "{chats}");
}
