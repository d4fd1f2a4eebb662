//! Operator counters in `fetchInstances`' `zapgate.counters` and the compact
//! `GET /instance/summary` (with `changedSince`), against the real binary with LOOPBACK instances.

mod common;

use std::time::{Duration, Instant};

use common::receiver::{Mode, Receiver};
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

/// A summary row carries the instance's webhook: its backlog, the last status and the failures
/// since the last success; a row without a webhook has none.
#[tokio::test]
async fn summary_rows_carry_the_webhook_delivery() {
    let s = TestServer::start(&[]).await;
    s.create_loopback("dora").await;
    s.create_loopback("eli").await;
    let mut ok = Receiver::start(Mode::Ok).await;
    let failing = Receiver::start(Mode::Status(503)).await;
    for (name, url) in [("dora", &ok.base), ("eli", &failing.base)] {
        let (status, row) = s
            .post(
                &format!("/webhook/set/{name}"),
                Some(KEY),
                json!({"webhook": {"enabled": true, "url": url, "events": ["QRCODE_UPDATED"]}}),
            )
            .await;
        assert_eq!(status, 201, "{row}");
        s.get(&format!("/instance/connect/{name}"), Some(KEY)).await;
    }
    ok.expect(|h| h.body["event"] == "qrcode.updated").await;
    let end = Instant::now() + DEADLINE;
    loop {
        let all = summary(&s, "").await;
        let row = |n: &str| {
            all["rows"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["name"] == n)
                .cloned()
                .unwrap()
        };
        let (dora, eli) = (row("dora"), row("eli"));
        if dora["webhook"]["lastStatus"] == 200 && eli["webhook"]["lastStatus"] == 503 {
            assert_eq!(dora["webhook"]["failing"], 0, "{dora}");
            assert!(eli["webhook"]["failing"].as_u64() >= Some(1), "{eli}");
            assert!(eli["webhook"]["backlog"].as_u64() >= Some(1), "{eli}");
            break;
        }
        assert!(
            Instant::now() < end,
            "no delivery outcome in the summary: {all}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Without a webhook there is nothing to show.
    s.create_loopback("fay").await;
    let fay = summary(&s, "").await["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "fay")
        .cloned()
        .unwrap();
    assert!(fay.get("webhook").is_none_or(Value::is_null), "{fay}");
}
