//! Webhooks against a real local receiver: envelope, suffixes, headers, signatures, retries,
//! isolation between endpoints, crash recovery and dead letters.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine as _;
use common::receiver::{Mode, Receiver};
use common::{DEADLINE, KEY, TestServer};
use futures_util::StreamExt;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

const SECRET: &str = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Checks the Standard Webhooks signature of a hit independently of the server's code.
fn assert_signed(hit: &common::receiver::Hit) {
    let id = &hit.headers["webhook-id"];
    let ts = &hit.headers["webhook-timestamp"];
    let key = base64::engine::general_purpose::STANDARD
        .decode(SECRET.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut signed = format!("{id}.{ts}.").into_bytes();
    signed.extend_from_slice(&hit.raw);
    let want = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(hmac_sha256(&key, &signed))
    );
    assert_eq!(hit.headers["webhook-signature"], want);
}

#[tokio::test(flavor = "multi_thread")]
async fn envelopes_suffixes_headers_and_signatures() {
    let mut r = Receiver::start(Mode::Ok).await;
    let global = format!("{}/global", r.base);
    let s = TestServer::start(&[
        ("ZAPGATE_WEBHOOK_SECRET", SECRET),
        ("WEBHOOK_GLOBAL_ENABLED", "true"),
        ("WEBHOOK_GLOBAL_URL", &global),
        ("WEBHOOK_EVENTS_MESSAGES_UPSERT", "true"),
    ])
    .await;
    let alice_url = format!("{}/alice", r.base);
    let (status, created) = s
        .post(
            "/instance/create",
            Some(KEY),
            json!({"instanceName": "alice", "integration": "LOOPBACK", "webhook": {
                "url": alice_url, "byEvents": true, "events": [],
                "headers": {"x-custom": "v1", "jwt_key": "jwt-secret"}}}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["webhook"]["webhookUrl"], alice_url.as_str());
    assert_eq!(created["webhook"]["webhookByEvents"], true);
    s.create_loopback("bob").await;
    let bob_url = format!("{}/bob", r.base);
    let (status, row) = s
        .post(
            "/webhook/set/bob",
            Some(KEY),
            json!({"webhook": {"enabled": true, "url": bob_url, "events": ["MESSAGES_UPSERT"]}}),
        )
        .await;
    assert_eq!(status, 201, "{row}");
    assert_eq!(row["events"], json!(["MESSAGES_UPSERT"]));
    assert_eq!(row["webhookByEvents"], false);
    assert_eq!(s.get("/webhook/find/bob", Some(KEY)).await.1, row);
    // Created with `events: []`: every event, stored as Evolution stores it.
    let alice_row = s.get("/webhook/find/alice", Some(KEY)).await.1;
    assert_eq!(alice_row["enabled"], true);
    let all = alice_row["events"].as_array().expect("events");
    assert_eq!(all.len(), 31, "{alice_row}");
    assert!(all.contains(&json!("QRCODE_UPDATED")) && all.contains(&json!("CALL")));

    let hit = r.expect(|h| h.path == "/alice/instance-create").await;
    assert_eq!(hit.body["data"]["instanceName"], "alice");
    let alice_state = s.get("/instance/connect/alice", Some(KEY)).await.1;
    let qr = r.expect(|h| h.path == "/alice/qrcode-updated").await;
    assert_eq!(qr.body["data"]["qrcode"]["code"], alice_state["code"]);
    assert!(
        qr.body.get("sender").is_none(),
        "no sender before the first login"
    );
    s.post(
        "/loopback/scan/alice?phone=15550003001",
        Some(KEY),
        json!({}),
    )
    .await;
    let open = r
        .expect(|h| h.path == "/alice/connection-update" && h.body["data"]["state"] == "open")
        .await;
    assert_eq!(open.body["data"]["wuid"], "15550003001@s.whatsapp.net");
    s.get("/instance/connect/bob", Some(KEY)).await;
    s.post("/loopback/scan/bob?phone=15550003002", Some(KEY), json!({}))
        .await;
    s.wait_state("bob", "open").await;

    let mut ids = Vec::new();
    for text in ["one", "two"] {
        let (status, sent) = s
            .post(
                "/message/sendText/alice",
                Some(KEY),
                json!({"number": "15550003002", "text": text}),
            )
            .await;
        assert_eq!(status, 201);
        ids.push(sent["key"]["id"].as_str().unwrap().to_string());
    }
    for (id, text) in ids.iter().zip(["one", "two"]) {
        let sent = r
            .expect(|h| {
                h.path == "/alice/send-message" && h.body["data"]["key"]["id"] == id.as_str()
            })
            .await;
        let keys: BTreeSet<&str> = sent
            .body
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from([
                "apikey",
                "data",
                "date_time",
                "destination",
                "event",
                "instance",
                "sender",
                "server_url"
            ])
        );
        assert_eq!(sent.body["event"], "send.message");
        assert_eq!(sent.body["instance"], "alice");
        assert_eq!(
            sent.body["destination"],
            alice_url.as_str(),
            "destination has no suffix"
        );
        assert_eq!(sent.body["sender"], "15550003001@s.whatsapp.net");
        assert_eq!(sent.body["server_url"], s.base.as_str());
        assert!(sent.body["apikey"].is_null());
        assert_eq!(sent.body["data"]["message"]["conversation"], text);
        let when =
            chrono::DateTime::parse_from_rfc3339(sent.body["date_time"].as_str().unwrap()).unwrap();
        assert!(sent.body["date_time"].as_str().unwrap().ends_with('Z'));
        assert!(
            (chrono::Utc::now() - when.with_timezone(&chrono::Utc))
                .num_seconds()
                .abs()
                < 60
        );
        // Custom header, the JWT from jwt_key, and the Standard Webhooks signature.
        assert_eq!(sent.headers["x-custom"], "v1");
        assert!(!sent.headers.contains_key("jwt_key"));
        let jwt = sent.headers["authorization"]
            .strip_prefix("Bearer ")
            .unwrap();
        let (input, sig) = jwt.rsplit_once('.').unwrap();
        let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        assert_eq!(
            b64url.encode(hmac_sha256(b"jwt-secret", input.as_bytes())),
            sig
        );
        let claims: Value =
            serde_json::from_slice(&b64url.decode(input.split('.').nth(1).unwrap()).unwrap())
                .unwrap();
        assert_eq!(
            (claims["app"].clone(), claims["action"].clone()),
            (json!("evolution"), json!("webhook"))
        );
        assert_eq!(
            claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
            600
        );
        assert_signed(&sent);
    }
    // bob: no suffix, only the subscribed event; the global webhook gets it too.
    for id in &ids {
        let got = r
            .expect(|h| h.path == "/bob" && h.body["data"]["key"]["id"] == id.as_str())
            .await;
        assert_eq!(got.body["event"], "messages.upsert");
        assert_eq!(got.body["sender"], "15550003002@s.whatsapp.net");
        assert_signed(&got);
        let g = r
            .expect(|h| h.path == "/global" && h.body["data"]["key"]["id"] == id.as_str())
            .await;
        assert_eq!(g.body["instance"], "bob");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_keep_the_webhook_id_and_404_is_not_retried() {
    let mut flaky = Receiver::start(Mode::FailFirst(3)).await;
    let mut gone = Receiver::start(Mode::Status(404)).await;
    let s = TestServer::start(&[
        ("ZAPGATE_WEBHOOK_SECRET", SECRET),
        ("ZAPGATE_WEBHOOK_RETRY_INITIAL_DELAY_MS", "50"),
        ("WEBHOOK_RETRY_MAX_DELAY_SECONDS", "1"),
    ])
    .await;
    for (name, url) in [("flaky", &flaky.base), ("gone", &gone.base)] {
        let (status, body) = s
            .post(
                "/instance/create",
                Some(KEY),
                json!({"instanceName": name, "integration": "LOOPBACK",
                       "webhook": {"url": url, "events": ["INSTANCE_CREATE"]}}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let mut ids = Vec::new();
    for _ in 0..4 {
        let h = flaky.expect(|_| true).await;
        assert_eq!(h.body["event"], "instance.create");
        ids.push(h.headers["webhook-id"].clone());
    }
    assert!(
        ids.iter().all(|i| *i == ids[0]),
        "same webhook-id on every attempt: {ids:?}"
    );
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let (_, stats) = s.get("/webhook/stats/flaky", Some(KEY)).await;
        if stats["endpoints"][0]["delivered"] == 1 {
            assert_eq!(stats["endpoints"][0]["outboxDepth"], 0);
            assert_eq!(stats["endpoints"][0]["lastStatus"], 200);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{stats}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    gone.expect(|h| h.body["event"] == "instance.create").await;
    let letters = wait_letters(&s, "gone", 1).await;
    assert_eq!(letters[0]["attempts"], 1);
    assert_eq!(letters[0]["lastStatus"], 404);
    assert_eq!(gone.seen.load(Ordering::SeqCst), 1, "a 404 is not retried");
    // Operator routes need the global key.
    let token = s
        .get("/instance/fetchInstances?instanceName=gone", Some(KEY))
        .await
        .1[0]["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        s.get("/webhook/deadLetters/gone", Some(&token)).await.0,
        401
    );
}

async fn wait_letters(s: &TestServer, name: &str, n: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let (status, body) = s
            .get(&format!("/webhook/deadLetters/{name}"), Some(KEY))
            .await;
        assert_eq!(status, 200, "{body}");
        if body.as_array().unwrap().len() >= n {
            return body.as_array().unwrap().clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no dead letters: {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hanging_endpoint_does_not_delay_a_healthy_one() {
    let mut stuck = Receiver::start(Mode::Hang).await;
    let mut healthy = Receiver::start(Mode::Ok).await;
    let s = TestServer::start(&[("ZAPGATE_WEBHOOK_CONCURRENCY", "1")]).await;
    let create = |name: &str, url: &str| json!({"instanceName": name, "integration": "LOOPBACK", "webhook": {"url": url, "events": []}});
    s.post("/instance/create", Some(KEY), create("stuck", &stuck.base))
        .await;
    stuck.expect(|h| h.body["event"] == "instance.create").await;
    // More events for the stuck endpoint queue behind its hanging request.
    s.get("/instance/connect/stuck", Some(KEY)).await;
    s.post(
        "/instance/create",
        Some(KEY),
        create("healthy", &healthy.base),
    )
    .await;
    s.get("/instance/connect/healthy", Some(KEY)).await;
    healthy
        .expect(|h| h.body["event"] == "instance.create")
        .await;
    healthy
        .expect(|h| h.body["event"] == "qrcode.updated")
        .await;
    assert_eq!(
        stuck.answered.load(Ordering::SeqCst),
        0,
        "the stuck request is still hanging"
    );
    assert_eq!(
        stuck.seen.load(Ordering::SeqCst),
        1,
        "the stuck endpoint got nothing else meanwhile"
    );
    let (_, stats) = s.get("/webhook/stats/stuck", Some(KEY)).await;
    assert!(
        stats["endpoints"][0]["outboxDepth"].as_u64().unwrap() >= 2,
        "{stats}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_mid_stream_loses_no_event() {
    const N: usize = 2000;
    const CONCURRENCY: usize = 4;
    let mut r = Receiver::start(Mode::Slow(Duration::from_millis(10))).await;
    let conc = CONCURRENCY.to_string();
    let env = [("ZAPGATE_WEBHOOK_CONCURRENCY", conc.as_str())];
    let s = TestServer::start(&env).await;
    s.paired_loopback("src", "15550004001").await;
    s.paired_loopback("dst", "15550004002").await;
    let (status, _) = s
        .post(
            "/webhook/set/src",
            Some(KEY),
            json!({"webhook": {"enabled": true, "url": r.base, "events": ["SEND_MESSAGE"]}}),
        )
        .await;
    assert_eq!(status, 201);
    let http = s.http.clone();
    let url = s.url("/message/sendText/src");
    let acked: Vec<String> = futures_util::stream::iter(0..N)
        .map(|i| {
            let (http, url) = (http.clone(), url.clone());
            async move {
                let resp = http
                    .post(url)
                    .header("apikey", KEY)
                    .json(&json!({"number": "15550004002", "text": format!("m{i}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status().as_u16(), 201);
                let v: Value = resp.json().await.unwrap();
                v["key"]["id"].as_str().unwrap().to_string()
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let before_kill = r.seen.load(Ordering::SeqCst);
    let dir = s.kill().await;
    assert!(
        before_kill < N,
        "the kill came mid-stream ({before_kill} of {N} delivered)"
    );

    let _s = TestServer::start_in(&dir.path, &env).await;
    let mut counts: HashMap<String, usize> = HashMap::new();
    let want: BTreeSet<String> = acked.into_iter().collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while want.iter().any(|id| !counts.contains_key(id)) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let hit = tokio::time::timeout(left, r.hits.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of {N} events arrived", counts.len()))
            .unwrap();
        if let Some(id) = hit.body["data"]["key"]["id"].as_str() {
            *counts.entry(id.to_string()).or_default() += 1;
        }
    }
    let duplicates: usize = counts.values().map(|c| c - 1).sum();
    println!("delivered before kill: {before_kill}, duplicates after restart: {duplicates}");
    assert!(
        duplicates <= CONCURRENCY,
        "only requests in flight at the kill may be sent twice ({duplicates} duplicates)"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dead_letters_are_listed_and_replayed() {
    let mut r = Receiver::start(Mode::Status(500)).await;
    let s = TestServer::start(&[
        ("ZAPGATE_WEBHOOK_SECRET", SECRET),
        ("WEBHOOK_RETRY_MAX_ATTEMPTS", "2"),
        ("ZAPGATE_WEBHOOK_RETRY_INITIAL_DELAY_MS", "20"),
    ])
    .await;
    s.post(
        "/instance/create",
        Some(KEY),
        json!({"instanceName": "dl", "integration": "LOOPBACK", "webhook": {"url": r.base, "events": ["INSTANCE_CREATE"]}}),
    )
    .await;
    let first = r.expect(|_| true).await;
    r.expect(|_| true).await;
    let letters = wait_letters(&s, "dl", 1).await;
    assert_eq!(letters[0]["attempts"], 2);
    assert_eq!(letters[0]["lastStatus"], 500);
    assert_eq!(letters[0]["event"], "instance.create");
    assert_eq!(letters[0]["id"], first.headers["webhook-id"].as_str());
    r.set_mode(Mode::Ok);
    let (status, body) = s
        .post(
            "/webhook/deadLetters/replay/dl",
            Some(KEY),
            json!({"id": letters[0]["id"]}),
        )
        .await;
    assert_eq!((status, body), (200, json!({"replayed": 1})));
    let again = r.expect(|_| true).await;
    assert_eq!(again.headers["webhook-id"], first.headers["webhook-id"]);
    assert_eq!(again.raw, first.raw, "the same payload, byte for byte");
    let (_, left) = s.get("/webhook/deadLetters/dl", Some(KEY)).await;
    assert_eq!(left, json!([]));
}

/// `/webhook/set` keeps Evolution's rule for `events`: `[]` while enabled means every event
/// (stored as the full list), and a disabled webhook keeps none.
#[tokio::test]
async fn an_empty_event_list_means_every_event_and_disabled_keeps_none() {
    let s = TestServer::start(&[]).await;
    s.create_loopback("cid").await;
    let mut r = Receiver::start(Mode::Ok).await;
    let url = format!("{}/cid", r.base);
    let (status, row) = s
        .post(
            "/webhook/set/cid",
            Some(KEY),
            json!({"webhook": {"enabled": true, "url": url, "events": []}}),
        )
        .await;
    assert_eq!(status, 201, "{row}");
    let events = row["events"].as_array().expect("events");
    assert_eq!(events.len(), 31, "{row}");
    assert_eq!(s.get("/webhook/find/cid", Some(KEY)).await.1, row);
    // Every event is delivered, not only the ones a short list would name.
    s.get("/instance/connect/cid", Some(KEY)).await;
    r.expect(|h| h.path == "/cid" && h.body["event"] == "qrcode.updated")
        .await;

    let (status, off) = s
        .post(
            "/webhook/set/cid",
            Some(KEY),
            json!({"webhook": {"enabled": false, "url": url, "events": ["CALL"]}}),
        )
        .await;
    assert_eq!(status, 201, "{off}");
    assert_eq!(
        (off["enabled"].clone(), off["events"].clone()),
        (json!(false), json!([]))
    );
}
