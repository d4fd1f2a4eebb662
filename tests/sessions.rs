//! The sessions dialect (`/sessions*`, `/status`), `/metrics`, `/health`'s counts, the session
//! limit and housekeeping, against the real binary with LOOPBACK instances.

mod common;

use std::collections::BTreeMap;

use common::{KEY, TestServer, expect_event, jid};
use serde_json::{Value, json};

const ANA: &str = "15550009001";
const BIA: &str = "15550009002";

async fn create_session(s: &TestServer, id: &str) -> Value {
    let (status, body) = s
        .post(
            &format!("/sessions/{id}"),
            Some(KEY),
            json!({"integration": "LOOPBACK"}),
        )
        .await;
    assert_eq!(status, 201, "create {id}: {body}");
    assert_eq!(body["success"], true, "{body}");
    body
}

async fn scan(s: &TestServer, id: &str, phone: &str) {
    let (status, body) = s
        .post(
            &format!("/loopback/scan/{id}?phone={phone}"),
            Some(KEY),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "scan {id}: {body}");
}

async fn status_of(s: &TestServer, id: &str) -> Value {
    let (status, body) = s.get(&format!("/sessions/{id}/status"), Some(KEY)).await;
    assert_eq!(status, 200, "{body}");
    body["session"]["status"].clone()
}

fn ids(list: &Value) -> Vec<&str> {
    list["sessions"]
        .as_array()
        .unwrap_or_else(|| panic!("no sessions in {list}"))
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_session_from_creation_to_deletion() {
    let s = TestServer::start(&[]).await;

    let created = create_session(&s, "ana").await;
    let st = &created["session"]["status"];
    assert_eq!(created["session"]["id"], "ana");
    assert_eq!(st["connected"], false);
    assert!(
        st["qr_code"].as_str().is_some_and(|q| q.starts_with("2@")),
        "{created}"
    );
    assert!(
        st["qr_image"]
            .as_str()
            .is_some_and(|q| q.starts_with("data:image/png;base64,")),
        "{created}"
    );
    let (status, qr) = s.get("/sessions/ana/qr", Some(KEY)).await;
    assert_eq!(status, 200, "{qr}");
    assert_eq!(
        (qr["status"].as_str(), qr["connected"].as_bool()),
        (Some("waiting_for_scan"), Some(false))
    );
    assert_eq!(qr["session_id"], "ana");
    assert!(qr["qr_code"].is_string(), "{qr}");

    scan(&s, "ana", ANA).await;
    let st = status_of(&s, "ana").await;
    assert_eq!(st["connected"], true, "{st}");
    assert_eq!(st["number"], ANA);
    assert_eq!(st["name"], "ana");
    assert!(st["qr_code"].is_null(), "{st}");
    let (_, qr) = s.get("/sessions/ana/qr", Some(KEY)).await;
    assert_eq!(qr["status"], "connected", "{qr}");

    // A second session to talk to: a message sent through /sessions arrives.
    create_session(&s, "bia").await;
    scan(&s, "bia", BIA).await;
    let mut bia_events = s.events("instance=bia&events=MESSAGES_UPSERT").await;
    let (status, sent) = s
        .post(
            "/sessions/ana/send",
            Some(KEY),
            json!({"to": BIA, "message": "hello bia"}),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["success"], true);
    assert_eq!(sent["to"], jid(BIA));
    let got = expect_event(&mut bia_events, |e| {
        e["event"] == "messages.upsert" && e["data"]["key"]["id"] == sent["message_id"]
    })
    .await;
    assert_eq!(got["data"]["message"]["conversation"], "hello bia", "{got}");

    let (_, all) = s.get("/sessions", Some(KEY)).await;
    assert_eq!(
        (all["total"].as_u64(), ids(&all)),
        (Some(2), vec!["ana", "bia"])
    );
    let (_, connected) = s.get("/sessions/connected", Some(KEY)).await;
    assert_eq!(ids(&connected), ["ana", "bia"]);

    // A health check pings through the engine, and is recorded.
    let (status, check) = s
        .post("/sessions/ana/health-check", Some(KEY), json!({}))
        .await;
    assert_eq!(status, 200, "{check}");
    assert_eq!(check["check"]["healthy"], true, "{check}");
    assert!(check["check"]["rtt_ms"].is_u64(), "{check}");

    // The phone side drops the connection for good: ana fails, and shows up as a problem.
    let (status, dropped) = s
        .post("/loopback/drop/ana?then=fail", Some(KEY), json!({}))
        .await;
    assert_eq!(status, 200, "{dropped}");
    assert_eq!(dropped["instance"]["state"], "failed", "{dropped}");
    let (_, problems) = s.get("/sessions/problematic", Some(KEY)).await;
    assert_eq!(ids(&problems), ["ana"], "{problems}");
    let row = &problems["sessions"][0];
    assert_eq!(row["problems"][0]["kind"], "failed", "{row}");
    assert!(
        row["problems"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("did not come back")),
        "{row}"
    );
    let st = status_of(&s, "ana").await;
    assert_eq!(
        (st["connected"].as_bool(), st["reconnect_attempts"].as_u64()),
        (Some(false), Some(1))
    );
    assert!(
        st["last_disconnect_reason"]
            .as_str()
            .is_some_and(|r| r.contains("did not come back")),
        "{st}"
    );
    let (status, check) = s
        .post("/sessions/ana/health-check", Some(KEY), json!({}))
        .await;
    assert_eq!(status, 200, "{check}");
    assert_eq!(check["check"]["healthy"], false, "{check}");

    let (_, details) = s.get("/sessions/ana/details", Some(KEY)).await;
    let states: Vec<&str> = details["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["connecting", "open", "failed"], "{details}");
    assert_eq!(details["summary"]["state"], "failed");
    assert_eq!(details["summary"]["messagesOut"], 1, "{details}");
    assert_eq!(details["last_health_check"]["healthy"], false, "{details}");
    assert!(
        !details["last_errors"].as_array().unwrap().is_empty(),
        "{details}"
    );

    let (status, reset) = s
        .post("/sessions/ana/reset-attempts", Some(KEY), json!({}))
        .await;
    assert_eq!(status, 200, "{reset}");
    assert_eq!(reset["session"]["status"]["reconnect_attempts"], 0);

    // A restart brings the paired session back without a QR code.
    let (status, restarted) = s.post("/sessions/ana/restart", Some(KEY), json!({})).await;
    assert_eq!(status, 200, "{restarted}");
    s.wait_for("/sessions/ana/status", |b| {
        b["session"]["status"]["connected"] == true
    })
    .await;
    let (_, problems) = s.get("/sessions/problematic", Some(KEY)).await;
    assert_eq!(problems["total"], 0, "{problems}");

    // A drop that comes back counts an attempt; a restart starts the count again.
    let (status, back) = s.post("/loopback/drop/ana", Some(KEY), json!({})).await;
    assert_eq!(
        (status, back["instance"]["state"].as_str()),
        (200, Some("open")),
        "{back}"
    );
    assert_eq!(status_of(&s, "ana").await["reconnect_attempts"], 1);
    let (status, _) = s.post("/instance/restart/ana", Some(KEY), json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(status_of(&s, "ana").await["reconnect_attempts"], 0);

    let (_, stats) = s.get("/sessions/stats", Some(KEY)).await;
    let st = &stats["stats"];
    assert_eq!(st["sessions"]["total"], 2, "{stats}");
    assert!(st["messages_out"].as_u64() >= Some(1), "{stats}");
    assert!(st["rss_bytes"].as_u64() > Some(0), "{stats}");
    let (status, server) = s.get("/status", Some(KEY)).await;
    assert_eq!(status, 200, "{server}");
    assert_eq!(server["sessions"]["total"], 2);

    // Mistakes are answered in the dialect, never 500.
    let (status, body) = s.get("/sessions/nobody/status", Some(KEY)).await;
    assert_eq!(status, 404);
    assert_eq!(body["success"], false);
    assert!(
        body["message"].as_str().unwrap().contains("nobody"),
        "{body}"
    );
    let (status, body) = s.get("/sessions", Some("wrong")).await;
    assert_eq!((status, &body["success"]), (401, &json!(false)), "{body}");
    let (status, body) = s
        .post("/sessions/ana/send", Some(KEY), json!({"to": BIA}))
        .await;
    assert_eq!((status, &body["success"]), (400, &json!(false)), "{body}");
    let (status, body) = s.post("/sessions/%20blank", Some(KEY), json!({})).await;
    assert_eq!((status, &body["success"]), (400, &json!(false)), "{body}");

    let (status, deleted) = s.delete("/sessions/bia", Some(KEY)).await;
    assert_eq!(status, 200, "{deleted}");
    let (status, _) = s.get("/sessions/bia/status", Some(KEY)).await;
    assert_eq!(status, 404);

    // cleanup-inactive: only sessions without a running session, idle long enough.
    s.create_loopback("idle").await;
    let (status, dry) = s
        .post(
            "/sessions/cleanup-inactive?inactive_minutes=0&dry_run=true",
            Some(KEY),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!(dry["removed"], json!(["idle"]), "{dry}");
    let (_, untouched) = s
        .post("/sessions/cleanup-inactive", Some(KEY), json!({}))
        .await;
    assert_eq!(
        untouched["removed"],
        json!([]),
        "a day has not passed: {untouched}"
    );
    let (_, done) = s
        .post(
            "/sessions/cleanup-inactive?inactive_minutes=0",
            Some(KEY),
            json!({}),
        )
        .await;
    assert_eq!(done["removed"], json!(["idle"]), "{done}");
    let (_, all) = s.get("/sessions", Some(KEY)).await;
    assert_eq!(ids(&all), ["ana"]);
}

#[tokio::test]
async fn the_session_limit_holds_on_every_create_route() {
    let s = TestServer::start(&[("ZAPGATE_MAX_SESSIONS", "2")]).await;
    s.create_loopback("one").await;
    create_session(&s, "two").await;

    let (status, body) = s
        .post(
            "/instance/create",
            Some(KEY),
            json!({"instanceName": "three", "integration": "LOOPBACK"}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["response"]["message"][0]
            .as_str()
            .is_some_and(|m| m.contains("ZAPGATE_MAX_SESSIONS")),
        "{body}"
    );
    let (status, body) = s
        .post(
            "/sessions/three",
            Some(KEY),
            json!({"integration": "LOOPBACK"}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["success"], false);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("maximum of 2")),
        "{body}"
    );
    // A bare POST (no body, no Content-Type) is a create too, and refused the same way.
    let (status, body) = s
        .call(reqwest::Method::POST, "/sessions/four", Some(KEY), None)
        .await;
    assert_eq!((status, &body["success"]), (403, &json!(false)), "{body}");

    let (_, health) = s.get("/health", None).await;
    assert_eq!(
        (health["instances"].as_u64(), health["maxSessions"].as_u64()),
        (Some(2), Some(2))
    );

    // Room again once one goes.
    let (status, _) = s.delete("/sessions/one", Some(KEY)).await;
    assert_eq!(status, 200);
    create_session(&s, "three").await;
}

/// `name{labels} value` lines of a text exposition, by name and label text.
fn parse_exposition(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a sample line");
        out.insert(series.to_string(), value.parse::<f64>().expect("a number"));
    }
    out
}

async fn metrics(s: &TestServer) -> BTreeMap<String, f64> {
    let resp = s
        .http
        .get(s.url("/metrics"))
        .header("apikey", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    let text = resp.text().await.unwrap();
    assert!(text.trim_end().ends_with("# EOF"), "{text}");
    parse_exposition(&text)
}

#[tokio::test]
async fn metrics_and_health_count_the_fleet() {
    let s = TestServer::start_paired(&[("ana", ANA), ("bia", BIA)]).await;
    s.create_loopback("cleo").await; // connecting, QR shown
    let (status, _) = s.get("/instance/connect/cleo", Some(KEY)).await;
    assert_eq!(status, 200);
    s.create_loopback("dora").await; // close

    let (status, health) = s.get("/health", None).await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["instances"], 4, "{health}");
    assert_eq!(
        (
            health["connected"].as_u64(),
            health["waitingForQr"].as_u64(),
            health["disconnected"].as_u64()
        ),
        (Some(2), Some(1), Some(1)),
        "{health}"
    );
    assert!(
        health["uptimeSeconds"].is_u64() && health["maxSessions"].is_null(),
        "{health}"
    );

    let (status, body) = s.get("/metrics", Some("wrong")).await;
    assert_eq!(status, 401, "{body}");

    let mut bia_events = s.events("instance=bia&events=MESSAGES_UPSERT").await;
    let (status, sent) = s
        .post(
            "/message/sendText/ana",
            Some(KEY),
            json!({"number": BIA, "text": "counted"}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    common::next_upsert(&mut bia_events).await;

    let m = metrics(&s).await;
    let at = |k: &str| *m.get(k).unwrap_or_else(|| panic!("no {k} in {m:?}"));
    assert_eq!(at(r#"zapgate_instances{state="open"}"#), 2.0);
    assert_eq!(at(r#"zapgate_instances{state="connecting"}"#), 1.0);
    assert_eq!(at(r#"zapgate_instances{state="close"}"#), 1.0);
    assert_eq!(at(r#"zapgate_instances{state="failed"}"#), 0.0);
    assert_eq!(at("zapgate_instances_waiting_for_qr"), 1.0);
    assert_eq!(
        at(r#"zapgate_instance_up{instance="ana",integration="LOOPBACK"}"#),
        1.0
    );
    assert_eq!(
        at(r#"zapgate_instance_up{instance="dora",integration="LOOPBACK"}"#),
        0.0
    );
    assert_eq!(
        at(r#"zapgate_instance_messages_sent_total{instance="ana"}"#),
        1.0
    );
    assert_eq!(
        at(r#"zapgate_instance_messages_received_total{instance="bia"}"#),
        1.0
    );
    assert_eq!(at(r#"zapgate_instance_outbox_depth{instance="cleo"}"#), 0.0);
    // Exactly the instances present carry per-instance series.
    let instances: std::collections::BTreeSet<&str> = m
        .keys()
        .filter_map(|k| k.strip_prefix("zapgate_instance_up{instance=\""))
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    assert_eq!(
        instances.into_iter().collect::<Vec<_>>(),
        ["ana", "bia", "cleo", "dora"]
    );
    // Requests are counted by operation, not by path.
    assert!(at(r#"zapgate_http_responses_total{operation="health",status="200"}"#) >= 1.0);
    assert!(at(r#"zapgate_http_request_duration_seconds_count{operation="send_text"}"#) >= 1.0);
    assert!(
        !m.keys().any(|k| k.contains("/message/")),
        "no raw paths as labels"
    );

    // Deleted instances leave the exposition.
    let (status, _) = s.delete("/instance/delete/dora", Some(KEY)).await;
    assert_eq!(status, 200);
    let m = metrics(&s).await;
    assert!(!m.keys().any(|k| k.contains("\"dora\"")), "{m:?}");
    assert_eq!(m[r#"zapgate_instances{state="close"}"#], 0.0);
}

#[tokio::test]
async fn unused_instances_are_removed_and_announced() {
    let s = TestServer::start(&[("ZAPGATE_DEL_INSTANCE_SECS", "3")]).await;
    let mut removals = s.events("events=REMOVE_INSTANCE").await;
    // Paired, then disconnected, before its DEL_INSTANCE moment, which passes before the
    // other's: by the time `never` goes, `kept` has outlived its own moment while not open.
    s.paired_loopback("kept", ANA).await;
    let (status, body) = s
        .post("/loopback/drop/kept?then=fail", Some(KEY), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    s.create_loopback("never").await;
    let gone = expect_event(&mut removals, |e| e["event"] == "remove.instance").await;
    assert_eq!(gone["instance"], "never", "{gone}");
    // The event leaves before the registry forgets the name: wait for the list.
    s.wait_for("/sessions", |all| ids(all) == ["kept"]).await;
    assert_eq!(s.state("kept").await, "failed");
}

#[tokio::test]
async fn the_session_expiry_sweeps_instances_unused_for_its_time() {
    let s = TestServer::start(&[("ZAPGATE_SESSION_EXPIRY_SECS", "2")]).await;
    let mut removals = s.events("events=REMOVE_INSTANCE").await;
    s.paired_loopback("busy", ANA).await;
    s.create_loopback("stale").await;
    let gone = expect_event(&mut removals, |e| e["event"] == "remove.instance").await;
    assert_eq!(gone["instance"], "stale", "{gone}");
    s.wait_for("/sessions", |all| ids(all) == ["busy"]).await;
}

fn problem_kinds(list: &Value, id: &str) -> Vec<String> {
    list["sessions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["id"] == id)
        .flat_map(|r| r["problems"].as_array().cloned().unwrap_or_default())
        .map(|p| p["kind"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn flapping_and_stuck_sessions_are_problems() {
    let s = TestServer::start(&[
        ("ZAPGATE_FLAP_THRESHOLD", "1"),
        ("ZAPGATE_STUCK_CONNECTING_SECS", "1"),
    ])
    .await;
    s.paired_loopback("flap", ANA).await;
    for _ in 0..2 {
        let (status, back) = s.post("/loopback/drop/flap", Some(KEY), json!({})).await;
        assert_eq!(
            (status, back["instance"]["state"].as_str()),
            (200, Some("open")),
            "{back}"
        );
    }
    s.create_loopback("stuck").await;
    let (status, _) = s.get("/instance/connect/stuck", Some(KEY)).await;
    assert_eq!(status, 200);

    let problems = s
        .wait_for("/sessions/problematic", |b| {
            problem_kinds(b, "flap") == ["flapping"]
                && problem_kinds(b, "stuck") == ["stuck_connecting"]
        })
        .await;
    assert_eq!(problems["thresholds"]["flap_threshold"], 1, "{problems}");
    let text = problems.to_string();
    assert!(text.contains("2 times"), "{problems}");
    assert!(text.contains("QR code nobody scanned"), "{problems}");

    assert_eq!(status_of(&s, "flap").await["reconnect_attempts"], 2);
    let (_, details) = s.get("/sessions/flap/details", Some(KEY)).await;
    let states: Vec<&str> = details["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        [
            "connecting",
            "open",
            "connecting",
            "open",
            "connecting",
            "open"
        ],
        "{details}"
    );
    assert_eq!(details["summary"]["reconnects"], 2, "{details}");
}
