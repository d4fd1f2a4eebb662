//! The history routes on LOOPBACK, black-box: `findMessages` (filters, pages, edges), `findChats`,
//! `findContacts`, `findStatusMessage`, `findChatByRemoteJid`, `archiveChat`, `markChatUnread`
//! and `_count`, across a SIGKILL, and an instance delete that takes its history and nothing else.

mod common;

use common::{KEY, TestServer, expect_event, jid};
use serde_json::{Value, json};

const ANA: &str = "15550007001";
const BIA: &str = "15550007002";
const CAI: &str = "15550007003";

async fn send(s: &TestServer, from: &str, to: &str, text: &str) -> Value {
    let (status, r) = s
        .post(
            &format!("/message/sendText/{from}"),
            Some(KEY),
            json!({"number": to, "text": text}),
        )
        .await;
    assert_eq!(status, 201, "{r}");
    r
}

async fn find(s: &TestServer, who: &str, body: Value) -> Value {
    let (status, r) = s
        .post(&format!("/chat/findMessages/{who}"), Some(KEY), body)
        .await;
    assert_eq!(status, 200, "{r}");
    r["messages"].clone()
}

async fn post_ok(s: &TestServer, path: &str, body: Value, want: u16) -> Value {
    let (status, r) = s.post(path, Some(KEY), body).await;
    assert_eq!(status, want, "{path}: {r}");
    r
}

/// ana's history once she has sent 7 texts to bia and 3 to cai, and received 2 from bia.
async fn seeded() -> TestServer {
    let s = TestServer::start_paired(&[("ana", ANA), ("bia", BIA), ("cai", CAI)]).await;
    for i in 0..7 {
        send(&s, "ana", BIA, &format!("to bia {i}")).await;
    }
    for i in 0..2 {
        send(&s, "bia", ANA, &format!("from bia {i}")).await;
    }
    for i in 0..3 {
        send(&s, "ana", CAI, &format!("to cai {i}")).await;
    }
    s.wait_for("/instance/fetchInstances?instanceName=ana", |rows| {
        rows[0]["_count"]["Message"] == 12
    })
    .await;
    s
}

#[tokio::test]
async fn find_messages_filters_and_pages_like_evolution() {
    let s = seeded().await;
    let all = find(&s, "ana", json!({})).await;
    assert_eq!(all["total"], 12, "{all}");
    assert_eq!(all["pages"], 1);
    assert_eq!(all["currentPage"], 1);
    let records = all["records"].as_array().unwrap();
    assert_eq!(records.len(), 12);
    let ts: Vec<u64> = records
        .iter()
        .map(|r| r["messageTimestamp"].as_u64().unwrap())
        .collect();
    assert!(ts.windows(2).all(|w| w[0] >= w[1]), "newest first: {ts:?}");
    let r = &records[0];
    for field in [
        "id",
        "key",
        "pushName",
        "messageType",
        "message",
        "messageTimestamp",
        "instanceId",
        "source",
        "status",
        "MessageUpdate",
    ] {
        assert!(r.get(field).is_some(), "{field} missing from {r}");
    }

    // One chat, paged by 4 (`offset` is the page size).
    let chat = json!({"key": {"remoteJid": BIA}});
    let p1 = find(&s, "ana", json!({"where": chat, "page": 1, "offset": 4})).await;
    assert_eq!(
        (p1["total"].as_u64(), p1["pages"].as_u64()),
        (Some(9), Some(3)),
        "{p1}"
    );
    assert_eq!(p1["records"].as_array().unwrap().len(), 4);
    let p3 = find(&s, "ana", json!({"where": chat, "page": 3, "offset": 4})).await;
    assert_eq!(p3["records"].as_array().unwrap().len(), 1);
    assert_eq!(p3["currentPage"], 3);
    let past = find(&s, "ana", json!({"where": chat, "page": 9, "offset": 4})).await;
    assert_eq!(past["total"], 9);
    assert_eq!(past["records"], json!([]));
    for r in p1["records"].as_array().unwrap() {
        assert_eq!(r["key"]["remoteJid"], jid(BIA));
    }

    // Filters: fromMe (only true filters, as Evolution), id, messageType, time.
    let mine = find(
        &s,
        "ana",
        json!({"where": {"key": {"remoteJid": BIA, "fromMe": true}}}),
    )
    .await;
    assert_eq!(mine["total"], 7);
    let ignored = find(
        &s,
        "ana",
        json!({"where": {"key": {"remoteJid": BIA, "fromMe": false}}}),
    )
    .await;
    assert_eq!(ignored["total"], 9);
    let id = records[3]["key"]["id"].clone();
    let one = find(&s, "ana", json!({"where": {"key": {"id": id}}})).await;
    assert_eq!(one["total"], 1);
    assert_eq!(one["records"][0]["key"]["id"], id);
    let images = find(&s, "ana", json!({"where": {"messageType": "imageMessage"}})).await;
    assert_eq!(images["total"], 0);
    let texts = find(&s, "ana", json!({"where": {"messageType": "conversation"}})).await;
    assert_eq!(texts["total"], 12);
    let future = find(&s, "ana", json!({"where": {"messageTimestamp": {"gte": "2999-01-01", "lte": "2999-12-31T00:00:00Z"}}})).await;
    assert_eq!(future["total"], 0);
    let now_ms = ts[0] * 1000 + 999;
    let window = find(&s, "ana", json!({"where": {"key": {"remoteJid": CAI}, "messageTimestamp": {"gte": 0, "lte": now_ms}}})).await;
    assert_eq!(window["total"], 3);

    // Bad input: a 400 envelope, never a 500.
    for bad in [
        json!({"page": 0}),
        json!({"offset": -1}),
        json!({"offset": 0}),
        json!({"page": "x"}),
        json!({"where": {"key": {"remoteJid": "not a jid!"}}}),
        json!({"where": {"messageTimestamp": {"gte": "yesterday"}}}),
        json!({"where": {"key": {"fromMe": "yes"}}}),
        json!({"where": []}),
    ] {
        let (status, r) = s
            .post("/chat/findMessages/ana", Some(KEY), bad.clone())
            .await;
        assert_eq!(status, 400, "{bad} -> {r}");
        assert_eq!(r["status"], 400, "{r}");
    }
    let (status, _) = s
        .post("/chat/findMessages/nobody", Some(KEY), json!({}))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn chats_contacts_flags_and_counts() {
    let s = seeded().await;
    // Chats by last activity: cai got the last message.
    let (status, chats) = s.post("/chat/findChats/ana", Some(KEY), json!({})).await;
    assert_eq!(status, 200, "{chats}");
    let chats = chats.as_array().unwrap().clone();
    assert_eq!(chats.len(), 2, "{chats:?}");
    assert_eq!(chats[0]["remoteJid"], jid(CAI));
    assert_eq!(chats[1]["remoteJid"], jid(BIA));
    assert_eq!(
        chats[0]["lastMessage"]["message"]["conversation"],
        "to cai 2"
    );
    assert_eq!(chats[1]["unreadCount"], 2, "bia's two messages are unread");
    for field in [
        "remoteJid",
        "pushName",
        "profilePicUrl",
        "updatedAt",
        "windowStart",
        "windowExpires",
        "windowActive",
        "unreadCount",
        "isSaved",
        "lastMessage",
    ] {
        assert!(chats[0].get(field).is_some(), "{field} missing");
    }
    let second = post_ok(
        &s,
        "/chat/findChats/ana",
        json!({"skip": 1, "take": 1}),
        200,
    )
    .await;
    assert_eq!(second.as_array().unwrap().len(), 1);
    assert_eq!(second[0]["remoteJid"], jid(BIA));
    let only = post_ok(
        &s,
        "/chat/findChats/ana",
        json!({"where": {"remoteJid": BIA}}),
        200,
    )
    .await;
    assert_eq!(only[0]["remoteJid"], jid(BIA));
    post_ok(&s, "/chat/findChats/ana", json!({"take": 0}), 400).await;
    post_ok(&s, "/chat/findChats/ana", json!({"skip": -3}), 400).await;

    // Contacts come from push names.
    let contacts = post_ok(&s, "/chat/findContacts/ana", json!({}), 200).await;
    let bia = contacts
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["remoteJid"] == jid(BIA))
        .unwrap_or_else(|| panic!("bia not in {contacts}"));
    assert_eq!(bia["pushName"], "bia");
    assert_eq!(bia["type"], "contact");
    assert_eq!(bia["isGroup"], false);
    let one = post_ok(
        &s,
        "/chat/findContacts/ana",
        json!({"where": {"remoteJid": BIA}}),
        200,
    )
    .await;
    assert_eq!(one.as_array().unwrap().len(), 1);
    post_ok(&s, "/chat/findContacts/ana", json!({"page": 0}), 400).await;

    // findChatByRemoteJid: a row, null, or 400 without the query.
    let (status, row) = s
        .get(
            &format!("/chat/findChatByRemoteJid/ana?remoteJid={BIA}"),
            Some(KEY),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(row["remoteJid"], jid(BIA));
    assert_eq!(row["unreadMessages"], 2);
    let (status, none) = s
        .get(
            "/chat/findChatByRemoteJid/ana?remoteJid=15559999999",
            Some(KEY),
        )
        .await;
    assert_eq!((status, none), (200, Value::Null));
    let (status, _) = s.get("/chat/findChatByRemoteJid/ana", Some(KEY)).await;
    assert_eq!(status, 400);

    // Archive, unarchive, mark unread; reading clears the unread state.
    let a = post_ok(
        &s,
        "/chat/archiveChat/ana",
        json!({"archive": true, "chat": BIA}),
        201,
    )
    .await;
    assert_eq!(a, json!({"chatId": jid(BIA), "archived": true}));
    let (_, row) = s
        .get(
            &format!("/chat/findChatByRemoteJid/ana?remoteJid={BIA}"),
            Some(KEY),
        )
        .await;
    assert_eq!(row["archived"], true);
    let last = json!({"key": {"remoteJid": jid(BIA), "fromMe": false, "id": "X"}});
    let u = post_ok(
        &s,
        "/chat/archiveChat/ana",
        json!({"archive": false, "lastMessage": last}),
        201,
    )
    .await;
    assert_eq!(u["archived"], false);
    post_ok(&s, "/chat/archiveChat/ana", json!({"chat": BIA}), 400).await;
    post_ok(&s, "/chat/archiveChat/ana", json!({"archive": true}), 400).await;
    post_ok(
        &s,
        "/chat/archiveChat/ana",
        json!({"archive": "yes", "chat": BIA}),
        400,
    )
    .await;
    let m = post_ok(
        &s,
        "/chat/markChatUnread/ana",
        json!({"lastMessage": last}),
        201,
    )
    .await;
    assert_eq!(m, json!({"chatId": jid(BIA), "markedChatUnread": true}));
    post_ok(&s, "/chat/markChatUnread/ana", json!({}), 400).await;
    let (_, row) = s
        .get(
            &format!("/chat/findChatByRemoteJid/ana?remoteJid={BIA}"),
            Some(KEY),
        )
        .await;
    assert_eq!(
        (row["archived"].clone(), row["markedUnread"].clone()),
        (json!(false), json!(true))
    );

    let (_, rows) = s
        .get("/instance/fetchInstances?instanceName=ana", Some(KEY))
        .await;
    assert_eq!(
        rows[0]["_count"],
        json!({"Message": 12, "Contact": 1, "Chat": 2}),
        "{}",
        rows[0]["_count"]
    );

    // A profile lookup is kept as a contact.
    let pic = post_ok(
        &s,
        "/chat/fetchProfilePictureUrl/ana",
        json!({"number": CAI}),
        200,
    )
    .await;
    assert_eq!(pic["wuid"], jid(CAI));
    let cai = post_ok(
        &s,
        "/chat/findContacts/ana",
        json!({"where": {"remoteJid": CAI}}),
        200,
    )
    .await;
    assert_eq!(cai[0]["profilePicUrl"], pic["profilePictureUrl"], "{cai}");

    // fetchInstances selects by number and answers 404 for what matches nothing.
    let (status, rows) = s
        .get(&format!("/instance/fetchInstances?number={ANA}"), Some(KEY))
        .await;
    assert_eq!(status, 200, "{rows}");
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{rows}");
    assert_eq!(rows[0]["name"], "ana");
    let (status, _) = s
        .get("/instance/fetchInstances?number=15550000000", Some(KEY))
        .await;
    assert_eq!(status, 404);
    let (status, _) = s
        .get(
            &format!("/instance/fetchInstances?instanceId={}", uuid_like()),
            Some(KEY),
        )
        .await;
    assert_eq!(status, 404);
}

/// An instance id nobody has.
fn uuid_like() -> &'static str {
    "00000000-0000-4000-8000-000000000000"
}

#[tokio::test]
async fn statuses_edits_deletes_survive_sigkill_and_deletes_take_only_their_history() {
    let s = seeded().await;
    let mut ana = s.events("instance=ana&events=MESSAGES_UPDATE").await;
    let read = send(&s, "ana", BIA, "read me").await;
    let edited = send(&s, "ana", BIA, "typo").await;
    let gone = send(&s, "ana", BIA, "oops").await;
    let read_id = read["key"]["id"].as_str().unwrap().to_owned();
    // bia reads the first: ana gets READ.
    post_ok(
        &s,
        "/chat/markMessageAsRead/bia",
        json!({"readMessages": [{"remoteJid": jid(ANA), "fromMe": false, "id": read_id}]}),
        201,
    )
    .await;
    expect_event(&mut ana, |e| {
        e["data"]["keyId"] == read_id && e["data"]["status"] == "READ"
    })
    .await;
    post_ok(
        &s,
        "/chat/updateMessage/ana",
        json!({"number": BIA, "key": {"id": edited["key"]["id"], "remoteJid": jid(BIA), "fromMe": true}, "text": "fixed"}),
        200,
    )
    .await;
    let (status, r) = s
        .call(
            reqwest::Method::DELETE,
            "/chat/deleteMessageForEveryone/ana",
            Some(KEY),
            Some(json!({"id": gone["key"]["id"], "remoteJid": jid(BIA), "fromMe": true})),
        )
        .await;
    assert_eq!(status, 201, "{r}");

    let s = TestServer::start_in(&s.kill().await.path, &[]).await;
    s.wait_state("ana", "open").await;
    let status_of = |m: &Value, id: &Value| -> Value {
        m["records"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"]["id"] == *id)
            .unwrap_or_else(|| panic!("{id} not found"))
            .clone()
    };
    let all = find(&s, "ana", json!({"where": {"key": {"remoteJid": BIA}}})).await;
    assert_eq!(all["total"], 12);
    let r = status_of(&all, &read["key"]["id"]);
    assert_eq!(r["status"], "READ");
    assert!(
        r["MessageUpdate"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["status"] == "READ"),
        "{r}"
    );
    let e = status_of(&all, &edited["key"]["id"]);
    assert_eq!(
        (e["status"].clone(), e["message"]["conversation"].clone()),
        (json!("EDITED"), json!("fixed"))
    );
    let d = status_of(&all, &gone["key"]["id"]);
    assert_eq!(
        (d["status"].clone(), d["key"]["deleted"].clone()),
        (json!("DELETED"), json!(true))
    );
    let receipts = post_ok(
        &s,
        "/chat/findStatusMessage/ana",
        json!({"where": {"id": read_id}}),
        200,
    )
    .await;
    let receipts = receipts.as_array().unwrap();
    assert!(
        receipts
            .iter()
            .any(|r| r["status"] == "READ" && r["keyId"] == read_id && r["remoteJid"] == jid(BIA)),
        "{receipts:?}"
    );
    post_ok(
        &s,
        "/chat/findStatusMessage/ana",
        json!({"offset": 5000}),
        400,
    )
    .await;

    // Deleting bia takes bia's history only; a new bia starts empty.
    let (status, _) = s.delete("/instance/delete/bia", Some(KEY)).await;
    assert_eq!(status, 200);
    let after = find(&s, "ana", json!({})).await;
    assert_eq!(after["total"], 15);
    s.create_loopback("bia").await;
    let empty = find(&s, "bia", json!({})).await;
    assert_eq!(
        (empty["total"].clone(), empty["records"].clone()),
        (json!(0), json!([]))
    );
}

#[tokio::test]
async fn retention_deletes_old_messages_by_range() {
    let s = TestServer::start_paired(&[("ana", ANA), ("bia", BIA)]).await;
    // Restarted with a retention of one second: what was sent before is soon past it.
    let s = TestServer::start_in(
        &s.stop().await.path,
        &[("ZAPGATE_MESSAGE_RETENTION_SECS", "1")],
    )
    .await;
    s.wait_state("ana", "open").await;
    s.wait_state("bia", "open").await;
    for i in 0..5 {
        send(&s, "ana", BIA, &format!("short-lived {i}")).await;
    }
    let rows = s
        .wait_for("/instance/fetchInstances?instanceName=ana", |rows| {
            rows[0]["_count"]["Message"] == 0
        })
        .await;
    assert_eq!(rows[0]["_count"]["Chat"], 1, "the chat row stays");
    let left = find(&s, "ana", json!({"where": {"key": {"remoteJid": BIA}}})).await;
    assert_eq!(
        (left["total"].clone(), left["records"].clone()),
        (json!(0), json!([]))
    );
}
