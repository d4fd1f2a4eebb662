//! A panicking instance actor is restarted: its session comes back, inbound messages are stored
//! and announced again, sends work, and `/health` shows the fault. Needs a binary built with
//! `--features fault-injection` (run by `.ci/run`).
#![cfg(feature = "fault-injection")]

mod common;

use common::{KEY, TestServer, expect_event};
use serde_json::json;

const SETTINGS: &str = r#"{"rejectCall":false,"groupsIgnore":false,"alwaysOnline":false,"readMessages":false,"readStatus":false,"syncFullHistory":false}"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_actor_is_restarted_and_its_instance_keeps_working() {
    let s = TestServer::start(&[("ZAPGATE_FAULTS", "actor_panic=alice#1")]).await;
    let alice_phone = s.paired_loopback("alice", "15550000001").await;
    s.paired_loopback("bob", "15550000002").await;
    let settings: serde_json::Value = serde_json::from_str(SETTINGS).unwrap();

    // The settings change makes alice's actor panic: that request is answered 503, not lost
    // in silence, and never a 500 with a stack trace.
    let (status, body) = s
        .post("/settings/set/alice", Some(KEY), settings.clone())
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], 503);

    // The fault is counted (once the old actor's state is gone), then a new actor takes over
    // and reconnects the paired session.
    let deadline = tokio::time::Instant::now() + common::DEADLINE;
    let health = loop {
        let (_, health) = s.get("/health", None).await;
        let panics = health["faults"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["kind"] == "actorPanic"))
            .map(|f| f["count"].clone());
        if panics == Some(json!(1)) {
            break health;
        }
        assert!(tokio::time::Instant::now() < deadline, "{health}");
        tokio::task::yield_now().await;
    };
    assert_eq!(health["status"], "degraded", "{health}");
    s.wait_state("alice", "open").await;
    let (_, list) = s
        .get("/instance/fetchInstances?instanceName=alice", Some(KEY))
        .await;
    let last_error = list[0]["zapgate"]["lastError"].as_str().unwrap_or_default();
    assert!(last_error.contains("internal fault"), "{list}");

    // Inbound is stored and announced again.
    let mut alice_events = s.events("instance=alice&events=MESSAGES_UPSERT").await;
    let (status, body) = s
        .post(
            "/message/sendText/bob",
            Some(KEY),
            json!({"number": alice_phone, "text": "still there?"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let got = expect_event(&mut alice_events, |e| {
        e["data"]["message"]["conversation"] == "still there?"
    })
    .await;
    assert_eq!(got["instance"], "alice");

    // Sends and commands work; the fault fired once, so settings now apply.
    let (status, body) = s
        .post(
            "/message/sendText/alice",
            Some(KEY),
            json!({"number": "15550000002", "text": "yes"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = s.post("/settings/set/alice", Some(KEY), settings).await;
    assert_eq!(status, 201, "{body}");
}
