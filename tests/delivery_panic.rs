//! A webhook delivery task that panics (fault injected with `ZAPGATE_FAULTS`): its row is not
//! left marked in flight (it is retried, then dead-lettered like any failure), the panic is
//! counted in `/webhook/stats` and `/health`, and the endpoint's worker keeps delivering.
//! Needs a binary built with the `fault-injection` feature:
//! `cargo test -p zapgate --features fault-injection --test delivery_panic`.

#![cfg(feature = "fault-injection")]

mod common;

use common::receiver::{Mode, Receiver};
use common::{KEY, TestServer};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_delivery_task_neither_loses_its_row_nor_stops_the_worker() {
    let mut r = Receiver::start(Mode::Ok).await;
    let s = TestServer::start(&[
        // Only `send.message` deliveries to this endpoint panic (by-events URL suffix).
        ("ZAPGATE_FAULTS", "delivery_panic=/boom/send-message"),
        ("WEBHOOK_RETRY_MAX_ATTEMPTS", "3"),
        ("ZAPGATE_WEBHOOK_RETRY_INITIAL_DELAY_MS", "50"),
        // One delivery at a time: the worker that survives the panic is the one that delivers.
        ("ZAPGATE_WEBHOOK_CONCURRENCY", "1"),
    ])
    .await;
    s.paired_loopback("boom", "15550009001").await;
    s.paired_loopback("calm", "15550009002").await;
    let (status, body) = s
        .post(
            "/webhook/set/boom",
            Some(KEY),
            json!({"webhook": {"enabled": true, "url": format!("{}/boom", r.base),
                               "byEvents": true, "events": ["SEND_MESSAGE", "MESSAGES_UPSERT"]}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    let (status, body) = s
        .post(
            "/message/sendText/boom",
            Some(KEY),
            json!({"number": "15550009002", "text": "this delivery panics"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // The row was retried after each panic (not stuck in flight) and then dead-lettered.
    let letters = s
        .wait_for("/webhook/deadLetters/boom", |b| {
            b.as_array().is_some_and(|a| !a.is_empty())
        })
        .await;
    assert_eq!(letters[0]["event"], "send.message", "{letters}");
    assert_eq!(letters[0]["attempts"], 3, "{letters}");
    assert_eq!(
        letters[0]["lastError"], "delivery task panicked",
        "{letters}"
    );

    // The same endpoint's worker still delivers what does not panic.
    let (status, body) = s
        .post(
            "/message/sendText/calm",
            Some(KEY),
            json!({"number": "15550009001", "text": "inbound after the panics"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let hit = r.expect(|h| h.path == "/boom/messages-upsert").await;
    assert_eq!(
        hit.body["data"]["message"]["conversation"],
        "inbound after the panics"
    );

    // The receiver saw it before the worker settled it: wait for the bookkeeping.
    let stats = s
        .wait_for("/webhook/stats/boom", |b| {
            b["endpoints"][0]["delivered"] == 1
        })
        .await;
    let own = &stats["endpoints"][0];
    assert_eq!(own["deliveryPanics"], 3, "{stats}");
    assert_eq!(own["outboxDepth"], 0, "{stats}");
    let health = s.get("/health", None).await.1;
    assert_eq!(health["status"], "degraded", "{health}");
    assert!(
        health["faults"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "deliveryPanic" && f["count"] == 3 && f["failing"] == true),
        "{health}"
    );
    // The server is still serving.
    assert_eq!(s.get("/", None).await.0, 200);
}

/// The endpoint's worker itself panics (not one of its delivery tasks): it is started again,
/// the event waiting for it is still delivered, and `/health` shows the fault.
#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_worker_is_started_again() {
    let mut r = Receiver::start(Mode::Ok).await;
    let global = format!("{}/global", r.base);
    let s = TestServer::start(&[
        ("ZAPGATE_FAULTS", "worker_panic=global#1"),
        ("WEBHOOK_GLOBAL_ENABLED", "true"),
        ("WEBHOOK_GLOBAL_URL", &global),
        ("WEBHOOK_EVENTS_MESSAGES_UPSERT", "true"),
    ])
    .await;
    s.paired_loopback("ana", "15550009101").await;
    s.paired_loopback("bia", "15550009102").await;
    let (status, body) = s
        .post(
            "/message/sendText/ana",
            Some(KEY),
            json!({"number": "15550009102", "text": "through a restarted worker"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let hit = r
        .expect(|h| h.body["data"]["message"]["conversation"] == "through a restarted worker")
        .await;
    assert_eq!(hit.body["event"], "messages.upsert");
    let health = s
        .wait_for("/health", |h| {
            h["faults"]
                .as_array()
                .is_some_and(|f| f.iter().any(|f| f["kind"] == "webhookWorkerPanic"))
        })
        .await;
    assert_eq!(health["status"], "degraded", "{health}");
}
