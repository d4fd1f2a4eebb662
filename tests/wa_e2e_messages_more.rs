//! Round video notes and the interactive sends through the real engine (whatsapp-rust) against
//! wa-mock: a `sendPtv` reaches the other instance as a `ptvMessage`; a text status goes out;
//! lists and buttons, not carried by this engine yet, get a clear 400 and send nothing.
//!
//! Needs the `wa-mock-peer` feature: `cargo test --features wa-mock-peer --test wa_e2e_messages_more`.

#![cfg(feature = "wa-mock-peer")]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::real::paired;
use common::{KEY, TestServer, expect_event};
use serde_json::json;
use wa_mock::WaMock;

const ALICE: &str = "15557781001";
const BOB: &str = "15557781002";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ptv_goes_through_and_interactive_sends_are_refused() {
    let mock = WaMock::start(0).await.expect("wa-mock");
    let url = mock.url();
    let s = TestServer::start(&[("ZAPGATE_WA_URL", url.as_str())]).await;
    tokio::join!(
        paired(&s, &mock, "alice", ALICE),
        paired(&s, &mock, "bob", BOB),
    );
    let mut bob = s.events("instance=bob&events=MESSAGES_UPSERT").await;

    let mp4: Vec<u8> = b"\0\0\0\x18ftypmp42"
        .iter()
        .copied()
        .chain((0..4000u32).map(|i| (i * 13 % 251) as u8))
        .collect();
    let (status, sent) = s
        .post(
            "/message/sendPtv/alice",
            Some(KEY),
            json!({"number": BOB, "video": B64.encode(&mp4)}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(sent["messageType"], "ptvMessage", "{sent}");
    let id = sent["key"]["id"].clone();
    let got = expect_event(&mut bob, |e| {
        e["event"] == "messages.upsert" && e["data"]["key"]["id"] == id
    })
    .await;
    assert_eq!(got["data"]["messageType"], "ptvMessage", "{got}");
    assert_eq!(
        got["data"]["message"]["ptvMessage"]["fileLength"],
        mp4.len().to_string(),
        "{got}"
    );

    let list = json!({"number": BOB, "title": "t", "buttonText": "b", "footerText": "f",
        "sections": [{"title": "s", "rows": [{"title": "r", "rowId": "1"}]}]});
    let buttons = json!({"number": BOB, "description": "d",
        "buttons": [{"type": "reply", "displayText": "Yes", "id": "y"}]});
    for (route, body) in [("sendList", list), ("sendButtons", buttons)] {
        let (status, err) = s
            .post(&format!("/message/{route}/alice"), Some(KEY), body)
            .await;
        assert_eq!(status, 400, "{route}: {err}");
        assert!(
            err["response"]["message"]
                .to_string()
                .contains("not supported on this engine yet"),
            "{route}: {err}"
        );
    }
    s.stop().await;
    mock.shutdown().await;
}

/// The post is encrypted for bob (his LID learned by the lookup) and the server takes it;
/// wa-mock does not route `status@broadcast`, so bob's side is covered on LOOPBACK only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_status_goes_out_to_its_viewer() {
    let mock = WaMock::start(0).await.expect("wa-mock");
    let url = mock.url();
    let s = TestServer::start(&[("ZAPGATE_WA_URL", url.as_str())]).await;
    tokio::join!(
        paired(&s, &mock, "alice", ALICE),
        paired(&s, &mock, "bob", BOB),
    );
    let (status, sent) = s
        .post(
            "/message/sendStatus/alice",
            Some(KEY),
            json!({"type": "text", "content": "out today", "backgroundColor": "#336699",
                "font": 1, "statusJidList": [BOB]}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(sent["key"]["remoteJid"], "status@broadcast", "{sent}");
    assert_eq!(sent["messageType"], "extendedTextMessage", "{sent}");
    assert_eq!(
        sent["message"]["extendedTextMessage"]["backgroundArgb"], 0xFF33_6699u32,
        "{sent}"
    );
    s.stop().await;
    mock.shutdown().await;
}
