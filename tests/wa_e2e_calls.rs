//! Calls through the real engine (whatsapp-rust) against wa-mock: the mock phone of alice calls
//! bob's instance, which has `rejectCall` and `msgCall` set. Bob announces the `call` event,
//! rejects the offer (the mock records the `<reject>`) and texts alice, whose own instance
//! receives it.
//!
//! Needs the `wa-mock-peer` feature: `cargo test --features wa-mock-peer --test wa_e2e_calls`.

#![cfg(feature = "wa-mock-peer")]

mod common;

use common::real::paired;
use common::{DEADLINE, KEY, TestServer, expect_event};
use serde_json::json;
use wa_mock::WaMock;

const ALICE: &str = "15557790001";
const BOB: &str = "15557790002";
const ALICE_JID: &str = "15557790001@s.whatsapp.net";
const BOB_JID: &str = "15557790002@s.whatsapp.net";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offered_call_is_rejected_and_answered_with_msg_call() {
    let mock = WaMock::start(0).await.expect("wa-mock");
    let url = mock.url();
    let s = TestServer::start(&[("ZAPGATE_WA_URL", url.as_str())]).await;
    tokio::join!(
        paired(&s, &mock, "alice", ALICE),
        paired(&s, &mock, "bob", BOB),
    );
    let (status, r) = s
        .post(
            "/settings/set/bob",
            Some(KEY),
            json!({"rejectCall": true, "msgCall": "busy, text me", "groupsIgnore": false,
                   "alwaysOnline": false, "readMessages": false, "readStatus": false,
                   "syncFullHistory": false}),
        )
        .await;
    assert_eq!(status, 201, "{r}");
    let mut bob = s.events("instance=bob&events=CALL,SEND_MESSAGE").await;
    let mut alice = s.events("instance=alice&events=MESSAGES_UPSERT").await;

    // Alice's phone calls bob (video).
    let offered = mock.offer_call(ALICE, BOB, true).expect("offer");
    assert!(!offered.devices.is_empty());
    let call = expect_event(&mut bob, |e| {
        e["event"] == "call" && e["data"]["id"] == offered.call_id.as_str()
    })
    .await;
    let data = &call["data"];
    assert_eq!(data["status"], "offer", "{data}");
    assert_eq!(data["from"], ALICE_JID, "{data}");
    assert_eq!(data["isVideo"], true, "{data}");
    assert_eq!(data["isGroup"], false, "{data}");
    assert_eq!(data["offline"], false, "{data}");

    // Bob's device rejected it on the wire.
    let reject = mock
        .wait_call_reject(&offered.call_id, DEADLINE)
        .await
        .expect("bob never rejected the call");
    assert_eq!(reject.call_creator, ALICE_JID, "{reject:?}");
    assert!(reject.by.starts_with(BOB), "{reject:?}");

    // And texted alice through the normal send path: send.message on bob, the text at alice.
    let sent = expect_event(&mut bob, |e| {
        e["event"] == "send.message" && e["data"]["message"]["conversation"] == "busy, text me"
    })
    .await;
    assert_eq!(sent["data"]["key"]["remoteJid"], ALICE_JID, "{sent}");
    let got = expect_event(&mut alice, |e| {
        e["event"] == "messages.upsert" && e["data"]["message"]["conversation"] == "busy, text me"
    })
    .await;
    assert_eq!(got["data"]["key"]["remoteJid"], BOB_JID, "{got}");
    assert_eq!(got["data"]["key"]["fromMe"], false, "{got}");

    // The real engine cannot place calls: a 400 in Evolution's envelope.
    let (status, answer) = s
        .post(
            "/call/offer/alice",
            Some(KEY),
            json!({"number": BOB, "callDuration": 5}),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"], "Bad Request", "{answer}");
    mock.shutdown().await;
}
