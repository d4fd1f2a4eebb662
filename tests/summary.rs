//! Operator counters in `fetchInstances`' `zapgate.counters` and the compact
//! `GET /instance/summary` (with `changedSince`), against the real binary with LOOPBACK instances.

mod common;

use std::time::{Duration, Instant};

use common::{DEADLINE, KEY, TestServer, next_upsert};
use serde_json::{Value, json};

const ANA: &str = "15550007001";
const BIA: &str = "15550007002";

async fn counters(s: &TestServer, name: &str) -> Value {
    let (status, rows) = s
        .get(
            &format!("/instance/fetchInstances?instanceName={name}"),
            Some(KEY),
        )
        .await;
    assert_eq!(status, 200, "{rows}");
    rows[0]["zapgate"]["counters"].clone()
}

async fn summary(s: &TestServer, query: &str) -> Value {
    let (status, body) = s.get(&format!("/instance/summary{query}"), Some(KEY)).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn names(summary: &Value) -> Vec<&str> {
    summary["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn counters_and_the_compact_summary() {
    let s = TestServer::start_paired(&[("ana", ANA), ("bia", BIA)]).await;
    s.create_loopback("cleo").await;

    let first = summary(&s, "").await;
    assert_eq!(first["instances"], 3);
    assert_eq!(first["states"]["open"], 2);
    assert_eq!(names(&first), ["ana", "bia", "cleo"]);
    assert_eq!(first["rows"][0]["state"], "open");
    let mark = first["generatedAtMs"].as_i64().unwrap();

    let mut bia_events = s.events("instance=bia&events=MESSAGES_UPSERT").await;
    let (status, sent) = s
        .post(
            "/message/sendText/ana",
            Some(KEY),
            json!({"number": BIA, "text": "hi"}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    next_upsert(&mut bia_events).await;

    let ana = counters(&s, "ana").await;
    assert_eq!(ana["messagesOut"], 1, "{ana}");
    assert!(ana["lastActivity"].is_string(), "{ana}");
    let bia = counters(&s, "bia").await;
    assert_eq!(bia["messagesIn"], 1, "{bia}");

    // cleo never connected: its send is refused and it shows no activity.
    let (status, _) = s
        .post(
            "/message/sendText/cleo",
            Some(KEY),
            json!({"number": ANA, "text": "x"}),
        )
        .await;
    assert!(status >= 400);
    let cleo = counters(&s, "cleo").await;
    assert_eq!(
        (cleo["messagesOut"].as_u64(), cleo["lastActivity"].is_null()),
        (Some(0), true)
    );

    // Only what moved since the first answer: ana and bia had messages, cleo did not.
    let changed = summary(&s, &format!("?changedSince={mark}")).await;
    assert_eq!(names(&changed), ["ana", "bia"]);
    assert_eq!(
        changed["instances"], 3,
        "counts still cover the whole fleet"
    );

    // A restart of an open session: one flap out of open, and one reconnect once it is back.
    let (status, body) = s.post("/instance/restart/ana", Some(KEY), json!({})).await;
    assert!(status < 300, "{body}");
    let end = Instant::now() + DEADLINE;
    loop {
        let c = counters(&s, "ana").await;
        if c["reconnects"] == 1 && c["flapsLastHour"] == 1 {
            break;
        }
        assert!(Instant::now() < end, "ana's restart was not counted: {c}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
