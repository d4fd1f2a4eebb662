//! Caps on request fields (issue 11): an over-cap text or array is refused with Evolution's 400
//! validation envelope before anything is done; a value at the cap passes the parser.

mod common;

use common::{KEY, TestServer};
use serde_json::{Value, json};

const ANA: &str = "5511900000001";
const BIA: &str = "5511900000002";

/// A 400 whose message is the nested validation array naming `field`.
fn assert_refused(status: u16, body: &Value, field: &str) {
    assert_eq!(status, 400, "{body}");
    let inner = body["response"]["message"][0][0].as_str().unwrap_or("");
    assert!(inner.contains(field), "{field}: {body}");
}

#[tokio::test]
async fn over_cap_fields_are_refused() {
    let s = TestServer::start_paired(&[("ana", ANA), ("bia", BIA)]).await;
    let many = |n: usize| vec![BIA.to_string(); n];

    let (st, b) = s
        .post(
            "/message/sendText/ana",
            Some(KEY),
            json!({"number": BIA, "text": "x".repeat(65_537)}),
        )
        .await;
    assert_refused(st, &b, "text");
    let (st, b) = s
        .post(
            "/message/sendText/ana",
            Some(KEY),
            json!({"number": "5".repeat(129), "text": "hi"}),
        )
        .await;
    assert_refused(st, &b, "number");
    let (st, b) = s
        .post(
            "/message/sendText/ana",
            Some(KEY),
            json!({"number": BIA, "text": "hi", "mentioned": many(1025)}),
        )
        .await;
    assert_refused(st, &b, "mentioned");
    let (st, b) = s
        .post(
            "/chat/whatsappNumbers/ana",
            Some(KEY),
            json!({"numbers": many(501)}),
        )
        .await;
    assert_refused(st, &b, "numbers");
    let key = json!({"id": "X", "remoteJid": format!("{BIA}@s.whatsapp.net"), "fromMe": false});
    let (st, b) = s
        .post(
            "/chat/markMessageAsRead/ana",
            Some(KEY),
            json!({"readMessages": vec![key; 1001]}),
        )
        .await;
    assert_refused(st, &b, "readMessages");
    let values: Vec<String> = (0..13).map(|i| format!("option {i}")).collect();
    let (st, b) = s
        .post(
            "/message/sendPoll/ana",
            Some(KEY),
            json!({"number": BIA, "name": "q", "selectableCount": 1, "values": values}),
        )
        .await;
    assert_refused(st, &b, "values");
    let (st, b) = s
        .post(
            "/group/create/ana",
            Some(KEY),
            json!({"subject": "s".repeat(257), "participants": [BIA]}),
        )
        .await;
    assert_refused(st, &b, "subject");
    let (st, b) = s
        .post(
            "/group/create/ana",
            Some(KEY),
            json!({"subject": "team", "participants": many(1025)}),
        )
        .await;
    assert_refused(st, &b, "participants");

    // At the cap, the parser lets it through (and the send happens).
    let values: Vec<String> = (0..12).map(|i| format!("option {i}")).collect();
    let (st, b) = s
        .post(
            "/message/sendPoll/ana",
            Some(KEY),
            json!({"number": BIA, "name": "q", "selectableCount": 1, "values": values}),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let (st, b) = s
        .post(
            "/message/sendText/ana",
            Some(KEY),
            json!({"number": BIA, "text": "y".repeat(65_536)}),
        )
        .await;
    assert_eq!(st, 201, "{b}");
}
