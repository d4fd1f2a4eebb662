//! The instance settings do what Evolution's do, on LOOPBACK: `readMessages` marks someone
//! else's new messages read as they arrive (the sender sees READ). `groupsIgnore` is shown in
//! `groups.rs`.

mod common;

use common::{KEY, TestServer, expect_event};
use serde_json::json;

const ANA: &str = "15550008001";
const BIA: &str = "15550008002";

fn settings(read_messages: bool) -> serde_json::Value {
    json!({"rejectCall": false, "msgCall": "", "groupsIgnore": false, "alwaysOnline": true,
           "readMessages": read_messages, "readStatus": false, "syncFullHistory": false})
}

#[tokio::test]
async fn read_messages_marks_incoming_messages_read() {
    let s = TestServer::start_paired(&[("ana", ANA), ("bia", BIA)]).await;
    let (status, r) = s.post("/settings/set/bia", Some(KEY), settings(true)).await;
    assert_eq!(status, 201, "{r}");
    let mut ana = s.events("instance=ana&events=MESSAGES_UPDATE").await;
    let (status, sent) = s
        .post(
            "/message/sendText/ana",
            Some(KEY),
            json!({"number": BIA, "text": "seen?"}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    let id = sent["key"]["id"].clone();
    expect_event(&mut ana, |e| {
        e["data"]["keyId"] == id && e["data"]["status"] == "READ"
    })
    .await;
}
