//! The outbox's limits, black box: webhook config sizes, the per-endpoint backlog cap, dead
//! letters that expire, and rows that cannot be read (quarantined, not fatal) next to rows
//! written in the format before endpoint targets (still delivered).

mod common;

use std::sync::atomic::Ordering;

use common::receiver::{Mode, Receiver};
use common::{KEY, TestServer};
use serde_json::{Value, json};

/// Polls `path` until `pred` holds on its body.
fn assert_400(status: u16, body: &Value, what: &str) {
    assert_eq!(status, 400, "{what}: {body}");
    assert_eq!(body["status"], 400, "{what}: {body}");
    assert_eq!(body["error"], "Bad Request", "{what}: {body}");
    assert!(body["response"]["message"].is_array(), "{what}: {body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_config_sizes_are_capped() {
    // Body limits above the 2 MB header, so the webhook limit is what answers (with the
    // default 1 MiB JSON limit the edge refuses the body first, with 413).
    let s = TestServer::start(&[
        ("ZAPGATE_MAX_BODY_BYTES", "8388608"),
        ("ZAPGATE_MAX_JSON_BYTES", "8388608"),
    ])
    .await;
    s.create_loopback("caps").await;
    let set = |webhook: Value| s.post("/webhook/set/caps", Some(KEY), json!({"webhook": webhook}));
    let url = "http://127.0.0.1:9/hook";

    let big = "a".repeat(2 * 1024 * 1024);
    let (status, body) = set(json!({"enabled": true, "url": url, "headers": {"x-big": big}})).await;
    assert_400(status, &body, "2 MB header value");
    assert!(
        body.to_string().len() < 1024,
        "the answer does not echo the value"
    );

    let long_url = format!("http://127.0.0.1:9/{}", "p".repeat(3000));
    let (status, body) = set(json!({"enabled": true, "url": long_url})).await;
    assert_400(status, &body, "3000-byte url");

    let many: serde_json::Map<String, Value> =
        (0..33).map(|i| (format!("x-h{i}"), json!("v"))).collect();
    let (status, body) = set(json!({"enabled": true, "url": url, "headers": many})).await;
    assert_400(status, &body, "33 headers");

    let (status, body) = set(json!({"enabled": true, "url": url, "secret": "s".repeat(300)})).await;
    assert_400(status, &body, "300-byte secret");

    let (status, body) =
        set(json!({"enabled": true, "url": url, "headers": {"bad name": "v"}})).await;
    assert_400(status, &body, "header name with a space");

    // The same limits at create.
    let (status, body) = s
        .post(
            "/instance/create",
            Some(KEY),
            json!({"instanceName": "caps2", "integration": "LOOPBACK",
                   "webhook": {"url": url, "headers": {"x-big": "b".repeat(9000)}}}),
        )
        .await;
    assert_400(status, &body, "create with 9000 header bytes");

    // Nothing was stored by the refusals; a webhook within the limits is.
    assert_eq!(s.get("/webhook/find/caps", Some(KEY)).await.1, Value::Null);
    let (status, body) = set(json!({"enabled": true, "url": url,
        "headers": {"x-ok": "v".repeat(4000), "jwt_key": "k"}, "secret": "s".repeat(256)}))
    .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_backlog_sends_new_events_to_the_dead_letters_and_says_so() {
    let r = Receiver::start(Mode::Status(500)).await;
    let s = TestServer::start(&[
        ("ZAPGATE_WEBHOOK_MAX_BACKLOG", "3"),
        ("ZAPGATE_WEBHOOK_RETRY_INITIAL_DELAY_MS", "200"),
        ("WEBHOOK_RETRY_MAX_ATTEMPTS", "1000"),
    ])
    .await;
    s.paired_loopback("full", "15550007001").await;
    s.paired_loopback("peer", "15550007002").await;
    let (status, body) = s
        .post(
            "/webhook/set/full",
            Some(KEY),
            json!({"webhook": {"enabled": true, "url": format!("{}/full", r.base),
                               "events": ["SEND_MESSAGE"]}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    for i in 0..5 {
        let (status, body) = s
            .post(
                "/message/sendText/full",
                Some(KEY),
                json!({"number": "15550007002", "text": format!("m{i}")}),
            )
            .await;
        assert_eq!(status, 201, "the caller is not refused: {body}");
    }
    let stats = s.get("/webhook/stats/full", Some(KEY)).await.1;
    let own = &stats["endpoints"][0];
    assert_eq!(stats["maxBacklog"], 3, "{stats}");
    assert_eq!(own["outboxDepth"], 3, "{stats}");
    assert_eq!(own["refusedBacklog"], 2, "{stats}");
    assert_eq!(own["backlogFull"], true, "{stats}");
    let letters = s.get("/webhook/deadLetters/full", Some(KEY)).await.1;
    let letters = letters.as_array().unwrap();
    assert_eq!(letters.len(), 2, "{letters:?}");
    let texts: Vec<&str> = letters
        .iter()
        .map(|l| {
            assert!(
                l["lastError"].as_str().unwrap().contains("backlog full"),
                "{l}"
            );
            l["payload"]["data"]["message"]["conversation"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(
        texts,
        ["m3", "m4"],
        "the newest events are the refused ones"
    );
    let health = s.get("/health", None).await.1;
    assert_eq!(health["status"], "degraded", "{health}");
    let fault = health["faults"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "webhookBacklogFull")
        .unwrap_or_else(|| panic!("no backlog fault: {health}"));
    assert_eq!(fault["active"], true);

    // The endpoint recovers: the backlog drains, the condition ends, the letters replay.
    r.set_mode(Mode::Ok);
    s.wait_for("/webhook/stats/full", |b| {
        b["endpoints"][0]["outboxDepth"] == 0 && b["endpoints"][0]["backlogFull"] == false
    })
    .await;
    s.wait_for("/health", |h| h["status"] == "ok").await;
    let (status, body) = s
        .post(
            "/message/sendText/full",
            Some(KEY),
            json!({"number": "15550007002", "text": "m5"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    s.wait_for("/health", |h| h["status"] == "ok").await;
    let stats = s.get("/webhook/stats/full", Some(KEY)).await.1;
    assert_eq!(stats["endpoints"][0]["backlogFull"], false, "{stats}");
    let (status, body) = s
        .post("/webhook/deadLetters/replay/full", Some(KEY), json!({}))
        .await;
    assert_eq!((status, body), (200, json!({"replayed": 2})));
    s.wait_for("/webhook/stats/full", |b| {
        b["endpoints"][0]["delivered"] == 6
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dead_letters_expire_after_the_retention() {
    let mut r = Receiver::start(Mode::Status(404)).await;
    let s = TestServer::start(&[("ZAPGATE_DEAD_LETTER_RETENTION_MS", "1500")]).await;
    s.post(
        "/instance/create",
        Some(KEY),
        json!({"instanceName": "exp", "integration": "LOOPBACK",
               "webhook": {"url": r.base, "events": ["INSTANCE_CREATE"]}}),
    )
    .await;
    r.expect(|_| true).await;
    let listed = s
        .wait_for("/webhook/deadLetters/exp", |b| {
            b.as_array().unwrap().len() == 1
        })
        .await;
    assert_eq!(listed[0]["lastStatus"], 404);
    s.wait_for("/webhook/deadLetters/exp", |b| {
        b.as_array().unwrap().is_empty()
    })
    .await;
    let stats = s.get("/webhook/stats/exp", Some(KEY)).await.1;
    assert_eq!(stats["deadLetters"], 0, "{stats}");
    assert_eq!(r.seen.load(Ordering::SeqCst), 1, "expired, not redelivered");
}

/// A v1 row, as written before endpoint targets: it carries its own URL, headers and secret.
fn legacy_row(uuid: uuid::Uuid, endpoint: &str, instance_id: &str, url: &str) -> Vec<u8> {
    let mut v = vec![1u8];
    v.extend_from_slice(
        json!({
            "uuid": uuid, "endpoint": endpoint, "instance": "q", "instance_id": instance_id,
            "event": "messages.upsert", "url": url, "headers": {"x-legacy": "1"},
            "secret": null, "body": "{\"legacy\":true}", "created_at_ms": 1,
            "attempt": 0, "next_attempt_at_ms": 0, "last_status": null, "last_error": null,
            "dead_at_ms": null,
        })
        .to_string()
        .as_bytes(),
    );
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_row_is_quarantined_and_the_rest_is_delivered() {
    let mut r = Receiver::start(Mode::Status(500)).await;
    let env = [
        ("ZAPGATE_WEBHOOK_RETRY_INITIAL_DELAY_MS", "100"),
        ("WEBHOOK_RETRY_MAX_ATTEMPTS", "1000"),
    ];
    let s = TestServer::start(&env).await;
    let (status, body) = s
        .post(
            "/instance/create",
            Some(KEY),
            json!({"instanceName": "q", "integration": "LOOPBACK",
                   "webhook": {"url": format!("{}/q", r.base), "events": [],
                               "headers": {"x-target": "stored-once"}}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = s.get("/webhook/find/q", Some(KEY)).await.1["instanceId"]
        .as_str()
        .unwrap()
        .to_string();
    r.expect(|h| h.path == "/q").await;
    let endpoint = format!("i:{id}");
    let dir = s.stop().await;

    {
        let db = sled::open(dir.path.join("db")).expect("open the stopped server's database");
        let outbox = db.open_tree("outbox").unwrap();
        let mut prefix = endpoint.as_bytes().to_vec();
        prefix.push(0);
        let pending: Vec<_> = outbox.scan_prefix(&prefix).map(|i| i.unwrap()).collect();
        assert!(!pending.is_empty(), "the undelivered rows are still there");
        for (_, v) in &pending {
            assert!(
                !String::from_utf8_lossy(v).contains("stored-once"),
                "rows do not copy the endpoint's headers"
            );
        }
        let targets = db.open_tree("outbox_endpoints").unwrap();
        let target = targets.get(endpoint.as_bytes()).unwrap().expect("target");
        assert!(String::from_utf8_lossy(&target).contains("stored-once"));

        // Older than every real row, so it is the first one its worker meets.
        let key = |n: u128| {
            let mut k = prefix.clone();
            k.extend_from_slice(uuid::Uuid::from_u128(n).as_bytes());
            k
        };
        outbox
            .insert(key(1), &b"\x02{ this is not a row"[..])
            .unwrap();
        let legacy_url = format!("{}/legacy", r.base);
        outbox
            .insert(
                key(2),
                legacy_row(uuid::Uuid::from_u128(2), &endpoint, &id, &legacy_url),
            )
            .unwrap();
        db.flush().unwrap();
    }

    r.set_mode(Mode::Ok);
    let s = TestServer::start_in(&dir.path, &env).await;
    let legacy = r.expect(|h| h.path == "/legacy").await;
    assert_eq!(legacy.headers["x-legacy"], "1");
    assert_eq!(legacy.body, json!({"legacy": true}));
    let pending = r.expect(|h| h.path == "/q").await;
    assert_eq!(pending.headers["x-target"], "stored-once");
    let stats = s
        .wait_for("/webhook/stats/q", |b| {
            b["endpoints"][0]["outboxDepth"] == 0
        })
        .await;
    assert_eq!(stats["endpoints"][0]["quarantined"], 1, "{stats}");
    let health = s.get("/health", None).await.1;
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["outboxQuarantined"], 1, "{health}");
    assert!(
        health["faults"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "outboxRowQuarantined" && f["count"] == 1),
        "{health}"
    );
    // The endpoint keeps working after the bad row.
    s.get("/instance/connect/q", Some(KEY)).await;
    r.expect(|h| h.path == "/q" && h.body["event"] == "qrcode.updated")
        .await;
    let dir = s.stop().await;
    let db = sled::open(dir.path.join("db")).unwrap();
    let quarantine = db.open_tree("outbox_quarantine").unwrap();
    assert_eq!(quarantine.len(), 1);
    assert_eq!(
        quarantine.iter().next().unwrap().unwrap().1.as_ref(),
        b"\x02{ this is not a row",
        "kept as it was, for inspection"
    );
}
