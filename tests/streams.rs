//! Event streams and the keys that open them (issue 11): a token's stream is bound to its
//! instance by id and ends when that instance is deleted, so it never sees an instance created
//! later under the same name (and the same token); each key holds a bounded number of streams.

mod common;

use std::time::Duration;

use common::{DEADLINE, KEY, TestServer};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// Everything a stream sends until the server closes it; panics if it stays open.
async fn drain_until_closed(rx: &mut mpsc::Receiver<(String, Value)>) -> Vec<(String, Value)> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(ev)) => got.push(ev),
            Ok(None) => return got,
            Err(_) => panic!("the stream was not closed; it sent {got:?}"),
        }
    }
}

#[tokio::test]
async fn a_token_stream_ends_with_its_instance() {
    let s = TestServer::start(&[]).await;
    let token = s.create_loopback("shop").await;
    let mut old = s.sse(&token, "").await;
    // The stream works while the instance lives.
    let (status, _) = s.get("/instance/connect/shop", Some(&token)).await;
    assert_eq!(status, 200);
    let first = tokio::time::timeout(DEADLINE, old.recv())
        .await
        .expect("an event in time")
        .expect("stream open");
    assert_eq!(first.1["instance"], "shop");

    let (status, body) = s.delete("/instance/delete/shop", Some(KEY)).await;
    assert_eq!(status, 200, "{body}");
    // Same name, same token: only the instance id tells them apart.
    let (status, body) = s
        .post(
            "/instance/create",
            Some(KEY),
            json!({"instanceName": "shop", "integration": "LOOPBACK", "token": token}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let mut watcher = s.events("instance=shop&events=QRCODE_UPDATED").await;
    let (status, _) = s.get("/instance/connect/shop", Some(KEY)).await;
    assert_eq!(status, 200);
    let new_qr = common::expect_event(&mut watcher, |e| e["event"] == "qrcode.updated").await;
    let new_code = new_qr["data"]["qrcode"]["code"].clone();

    let rest = drain_until_closed(&mut old).await;
    let last = rest.last().expect("a closing event");
    assert_eq!(last.0, "error", "{rest:?}");
    assert!(
        last.1["reason"].as_str().unwrap_or("").contains("deleted"),
        "{last:?}"
    );
    // The old instance's own last events (its deletion) may arrive; nothing after them but the
    // closing error, and nothing of the new instance (same name, same token).
    let deleted = rest
        .iter()
        .position(|(k, _)| k == "instance.delete")
        .unwrap_or(rest.len() - 1);
    assert!(
        rest[deleted..]
            .iter()
            .all(|(k, _)| matches!(k.as_str(), "instance.delete" | "remove.instance" | "error")),
        "the old stream saw events after the delete: {rest:?}"
    );
    assert!(
        !rest
            .iter()
            .any(|(k, v)| k == "instance.create" || v["data"]["qrcode"]["code"] == new_code),
        "the old stream saw the new instance: {rest:?}"
    );

    // The new instance's own stream works with the same token.
    let mut new = s.sse(&token, "").await;
    let (status, _) = s
        .post("/instance/restart/shop", Some(&token), json!({}))
        .await;
    assert!(status < 300, "restart: {status}");
    let ev = tokio::time::timeout(DEADLINE, new.recv())
        .await
        .expect("an event in time")
        .expect("stream open");
    assert_eq!(ev.1["instance"], "shop");
}

#[tokio::test]
async fn streams_per_key_are_capped() {
    let s = TestServer::start(&[("ZAPGATE_MAX_STREAMS_PER_KEY", "2")]).await;
    let token = s.create_loopback("cap").await;
    // One WebSocket and one SSE stream: both count against the key.
    let ws_url = format!(
        "{}/events/ws?apikey={token}",
        s.base.replacen("http", "ws", 1)
    );
    let (mut a, _) = tokio_tungstenite::connect_async(ws_url)
        .await
        .expect("websocket");
    let _b = s.sse(&token, "").await;
    let resp = s
        .http
        .get(s.url("/events"))
        .header("apikey", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], 429);
    assert_eq!(body["error"], "Too Many Requests");
    assert!(body["response"]["message"][0].as_str().is_some(), "{body}");
    // Another key has its own allowance.
    let _g = s.sse(KEY, "").await;

    // A closed stream gives its place back.
    use futures_util::SinkExt;
    a.send(tokio_tungstenite::tungstenite::Message::Close(None))
        .await
        .expect("close");
    drop(a);
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let resp = s
            .http
            .get(s.url("/events"))
            .header("apikey", &token)
            .timeout(Duration::from_secs(3600))
            .send()
            .await
            .unwrap();
        if resp.status().as_u16() == 200 {
            break;
        }
        assert_eq!(resp.status().as_u16(), 429);
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slot was never freed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
