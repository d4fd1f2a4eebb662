//! The HTTP edge under hostile clients: bodies counted as they arrive on HTTP/1 and HTTP/2, the
//! key checked before a body is read, slow clients cut off, a connection cap, per-key rates.

mod common;

use std::time::Duration;

use common::{DEADLINE, KEY, TestServer};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MIB: usize = 1024 * 1024;

/// A body of `total` bytes sent in 64 KiB pieces, with no Content-Length.
fn streamed(total: usize) -> reqwest::Body {
    let piece = vec![b' '; 64 * 1024];
    let n = total / piece.len();
    reqwest::Body::wrap_stream(
        futures_util::stream::iter(0..n).map(move |_| Ok::<_, std::io::Error>(piece.clone())),
    )
}

async fn rss(s: &TestServer) -> u64 {
    let (status, body) = s.get("/health", None).await;
    assert_eq!(status, 200, "{body}");
    body["rssBytes"].as_u64().expect("rssBytes")
}

fn h2_client() -> reqwest::Client {
    reqwest::Client::builder()
        .http2_prior_knowledge()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

#[tokio::test(flavor = "multi_thread")]
async fn http2_uploads_are_counted_as_they_arrive() {
    let s = TestServer::start(&[("ZAPGATE_MAX_BODY_BYTES", "1048576")]).await;
    s.create_loopback("inbox").await;
    let before = rss(&s).await;
    let h2 = h2_client();

    // No key: refused before a byte of the 200 MB is read.
    let resp = h2
        .post(s.url("/instance/create"))
        .header("content-type", "application/json")
        .body(streamed(200 * MIB))
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    assert_eq!(resp.status().as_u16(), 401);

    // With the key, on a JSON route and on a media route: 413 once the limit is passed.
    for path in ["/instance/create", "/message/sendMedia/inbox"] {
        let resp = h2
            .post(s.url(path))
            .header("apikey", KEY)
            .header("content-type", "application/json")
            .body(streamed(200 * MIB))
            .send()
            .await
            .expect("answered");
        assert_eq!(resp.status().as_u16(), 413, "{path}");
        let body: Value = resp.json().await.expect("envelope");
        assert_eq!(body["status"], 413);
        assert_eq!(body["error"], "Payload Too Large");
    }
    let after = rss(&s).await;
    assert!(
        after < before + 48 * MIB as u64,
        "RSS grew from {before} to {after} bytes for refused uploads"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn json_and_media_routes_have_their_own_limits() {
    let s = TestServer::start(&[
        ("ZAPGATE_MAX_JSON_BYTES", "2048"),
        ("ZAPGATE_MAX_BODY_BYTES", "65536"),
    ])
    .await;
    s.create_loopback("inbox").await;
    let text = "x".repeat(4000);
    let (status, body) = s
        .post(
            "/message/sendText/inbox",
            Some(KEY),
            json!({"number": "15550000001", "text": text}),
        )
        .await;
    assert_eq!(status, 413, "{body}");
    // The same size is fine where media may travel: the instance is not connected, so the
    // request gets as far as the handler's own answer.
    let (status, body) = s
        .post(
            "/message/sendMedia/inbox",
            Some(KEY),
            json!({"number": "15550000001", "mediatype": "image", "media": "aGk=", "caption": text}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_ne!(body["error"], "Payload Too Large");
}

#[tokio::test(flavor = "multi_thread")]
async fn anonymous_json_floods_are_refused_unread() {
    let s = TestServer::start(&[("ZAPGATE_RATE_LIMIT_ANONYMOUS", "0")]).await;
    s.create_loopback("inbox").await;
    let before = rss(&s).await;
    // Deeply nested JSON is the costliest thing to parse; 64 clients at once, 1 MB each.
    let bomb: String = "[".repeat(MIB - 1) + "]";
    let sends = (0..64).map(|i| {
        let (http, url, bomb) = (
            s.http.clone(),
            s.url("/message/sendText/inbox"),
            bomb.clone(),
        );
        async move {
            let mut req = http
                .post(url)
                .header("content-type", "application/json")
                .body(bomb);
            if i % 2 == 0 {
                req = req.header("apikey", "not-the-key");
            }
            let resp = req.send().await.expect("answered");
            resp.status().as_u16()
        }
    });
    let statuses = futures_util::future::join_all(sends).await;
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    let after = rss(&s).await;
    assert!(
        after < before + 32 * MIB as u64,
        "RSS grew from {before} to {after} bytes"
    );
    // The key is checked before a malformed body is parsed.
    let resp = s
        .http
        .post(s.url("/instance/create"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
}

/// Reads until the server closes the connection; returns what it sent.
async fn until_closed(conn: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let read = tokio::time::timeout(DEADLINE, conn.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "the server kept a slow connection open");
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_clients_are_cut_off_and_connections_are_capped() {
    let s = TestServer::start(&[
        ("ZAPGATE_HEADER_READ_TIMEOUT_SECS", "1"),
        ("ZAPGATE_MAX_CONNECTIONS", "3"),
        ("ZAPGATE_BODY_READ_TIMEOUT_SECS", "1"),
    ])
    .await;
    let addr = s.base.trim_start_matches("http://").to_string();

    // Slowloris: a request head that never ends.
    let mut slow = Vec::new();
    for _ in 0..3 {
        let mut c = TcpStream::connect(&addr).await.unwrap();
        c.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(c);
    }
    // The cap is reached: one more connection is told so and closed.
    let mut extra = TcpStream::connect(&addr).await.unwrap();
    let answer = until_closed(&mut extra).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("too many open connections"), "{answer}");
    // The slow heads are cut off after the header timeout...
    for c in &mut slow {
        c.write_all(b"a").await.ok();
        until_closed(c).await;
    }
    // ...which frees the slots.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Ok(r) = s.http.get(s.url("/health")).send().await
            && r.status().is_success()
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "slots never freed");
        tokio::task::yield_now().await;
    }

    // A body that stalls: 408 once the body timeout passes.
    s.create_loopback("inbox").await;
    let mut c = TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /settings/set/inbox HTTP/1.1\r\nHost: x\r\napikey: {KEY}\r\n\
         content-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"rejectCall\""
    );
    c.write_all(head.as_bytes()).await.unwrap();
    let answer = until_closed(&mut c).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn instance_tokens_are_rate_limited() {
    let s = TestServer::start(&[("ZAPGATE_RATE_LIMIT_TOKEN", "2")]).await;
    let token = s.create_loopback("inbox").await;
    // A burst of twice the rate passes, then 429 with Retry-After and the envelope.
    let mut refused = None;
    for _ in 0..10 {
        let resp = s
            .http
            .get(s.url("/instance/connectionState/inbox"))
            .header("apikey", &token)
            .send()
            .await
            .unwrap();
        if resp.status().as_u16() == 429 {
            refused = Some(resp);
            break;
        }
        assert_eq!(resp.status().as_u16(), 200);
    }
    let resp = refused.expect("a token past its rate was refused");
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], 429);
    assert_eq!(body["error"], "Too Many Requests");
    assert!(
        body["response"]["message"][0]
            .as_str()
            .unwrap()
            .contains("retry in")
    );
    // The global key is not limited by default, and other tokens have their own budget.
    for _ in 0..10 {
        let (status, _) = s.get("/instance/connectionState/inbox", Some(KEY)).await;
        assert_eq!(status, 200);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_body_budget_is_shared_across_requests() {
    let s = TestServer::start(&[
        ("ZAPGATE_MAX_BODY_BYTES", "65536"),
        ("ZAPGATE_MAX_BODY_BYTES_IN_FLIGHT", "65536"),
        ("ZAPGATE_BODY_READ_TIMEOUT_SECS", "4"),
    ])
    .await;
    s.create_loopback("inbox").await;
    let addr = s.base.trim_start_matches("http://").to_string();
    // One client holds the whole budget with a body it never finishes.
    let mut hog = TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /message/sendMedia/inbox HTTP/1.1\r\nHost: x\r\napikey: {KEY}\r\n\
         content-type: application/json\r\ncontent-length: 65536\r\n\r\n"
    );
    hog.write_all(head.as_bytes()).await.unwrap();
    hog.write_all(&vec![b' '; 65000]).await.unwrap();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let (_, health) = s.get("/health", None).await;
        if health["bodyBytesInFlight"].as_u64() >= Some(65000) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{health}");
        tokio::task::yield_now().await;
    }
    // Another body finds no room: after a quarter of the body timeout it is refused with 503,
    // well before the hog's own timeout would free the budget.
    let resp = s
        .http
        .post(s.url("/message/sendMedia/inbox"))
        .header("apikey", KEY)
        .header("content-type", "application/json")
        .body(" ".repeat(4096) + "{}")
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(
        body["response"]["message"][0]
            .as_str()
            .unwrap()
            .contains("in flight")
    );
    let answer = until_closed(&mut hog).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}
