//! The private-target rule for requests the server makes on a caller's behalf (issue 11):
//! media URLs and webhook targets given with an instance token may not reach private,
//! loopback or link-local addresses unless `ZAPGATE_PRIVATE_TARGETS` lists them; failures say
//! only "could not fetch media" (no port oracle); a closed instance fetches nothing; a
//! `directPath` must be a plain path. A real file server on 127.0.0.1 stands for the internal
//! network, and counts every connection it accepts.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::receiver::{Mode, Receiver};
use common::{KEY, TestServer};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ANA: &str = "5511900000001";
const BIA: &str = "5511900000002";
const SECRET: &str = "internal secret, never to be fetched";

/// A file server on 127.0.0.1 answering every request with [`SECRET`] (or 404 when told, or a
/// redirect to `location`).
struct FileServer {
    port: u16,
    connections: Arc<AtomicUsize>,
}

impl FileServer {
    async fn start(status: u16) -> FileServer {
        Self::start_with(status, None).await
    }

    async fn redirecting_to(location: String) -> FileServer {
        Self::start_with(302, Some(location)).await
    }

    async fn start_with(status: u16, location: Option<String>) -> FileServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let seen = connections.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                seen.fetch_add(1, Ordering::SeqCst);
                let location = location.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let _ = sock.read(&mut buf).await;
                    let reason = match status {
                        200 => "OK",
                        302 => "Found",
                        _ => "Not Found",
                    };
                    let extra = location
                        .map(|l| format!("location: {l}\r\n"))
                        .unwrap_or_default();
                    let resp = format!(
                        "HTTP/1.1 {status} {reason}\r\n{extra}content-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{SECRET}",
                        SECRET.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                });
            }
        });
        FileServer { port, connections }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/secret.txt", self.port)
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// A port nothing listens on (bound, then released).
async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

/// A server with the rule at its default (no private target listed), ana paired.
async fn strict_server(extra: &[(&str, &str)]) -> (TestServer, String) {
    let mut env = vec![("ZAPGATE_PRIVATE_TARGETS", "")];
    env.extend_from_slice(extra);
    let s = TestServer::start(&env).await;
    let token = paired_with_token(&s, "ana", ANA).await;
    s.paired_loopback("bia", BIA).await;
    (s, token)
}

/// Creates, connects and scans a LOOPBACK instance; returns its token.
async fn paired_with_token(s: &TestServer, name: &str, phone: &str) -> String {
    let token = s.create_loopback(name).await;
    let (status, _) = s.get(&format!("/instance/connect/{name}"), Some(KEY)).await;
    assert_eq!(status, 200);
    let scan = format!("/loopback/scan/{name}?phone={phone}");
    let (status, _) = s.post(&scan, Some(KEY), json!({})).await;
    assert_eq!(status, 200);
    s.wait_state(name, "open").await;
    token
}

async fn send_media(s: &TestServer, name: &str, key: &str, media: &str) -> (u16, Value) {
    s.post(
        &format!("/message/sendMedia/{name}"),
        Some(key),
        json!({"number": BIA, "mediatype": "document", "fileName": "s.txt", "media": media}),
    )
    .await
}

fn message_of(body: &Value) -> Value {
    body["response"]["message"].clone()
}

#[tokio::test]
async fn a_token_cannot_make_the_server_fetch_from_its_own_network() {
    let (s, token) = strict_server(&[]).await;
    let files = FileServer::start(200).await;

    let (status, body) = send_media(&s, "ana", &token, &files.url()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(message_of(&body), json!(["could not fetch media"]));
    // The same through a name that resolves to loopback, and a v4-mapped literal.
    let by_name = format!("http://localhost:{}/secret.txt", files.port);
    let mapped = format!("http://[::ffff:127.0.0.1]:{}/secret.txt", files.port);
    for url in [by_name, mapped] {
        let (status, body) = send_media(&s, "ana", &token, &url).await;
        assert_eq!(status, 400, "{url}: {body}");
        assert_eq!(message_of(&body), json!(["could not fetch media"]));
    }
    // The profile picture takes a URL too.
    let (status, _) = s
        .post(
            "/chat/updateProfilePicture/ana",
            Some(&token),
            json!({"picture": files.url()}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(files.connections(), 0, "the file server was reached");

    // The global key's holder is trusted: the same URL is fetched and sent.
    let (status, body) = send_media(&s, "ana", KEY, &files.url()).await;
    assert_eq!(status, 201, "{body}");
    assert!(files.connections() >= 1);
}

#[tokio::test]
async fn open_and_closed_ports_answer_alike() {
    let (s, token) = strict_server(&[]).await;
    let open = FileServer::start(200).await;
    let closed = format!("http://127.0.0.1:{}/secret.txt", closed_port().await);
    let a = send_media(&s, "ana", &token, &open.url()).await;
    let b = send_media(&s, "ana", &token, &closed).await;
    assert_eq!(a.0, 400);
    assert_eq!(a, b, "refused targets must be indistinguishable");

    // Where fetching is allowed, failures still say nothing about the cause: a 404 from an
    // open port, a closed port, and a name that does not resolve answer the same.
    let s2 = TestServer::start(&[("ZAPGATE_PRIVATE_TARGETS", "*")]).await;
    let token2 = paired_with_token(&s2, "ana", ANA).await;
    s2.paired_loopback("bia", BIA).await;
    let missing = FileServer::start(404).await;
    let answers = [
        send_media(&s2, "ana", &token2, &missing.url()).await,
        send_media(&s2, "ana", &token2, &closed).await,
        send_media(&s2, "ana", &token2, "http://no-such-host.invalid/x").await,
    ];
    assert_eq!(answers[0].0, 400, "{:?}", answers[0]);
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    assert_eq!(message_of(&answers[0].1), json!(["could not fetch media"]));
    assert_eq!(
        missing.connections(),
        1,
        "the allowed target was really tried"
    );
}

#[tokio::test]
async fn the_opt_in_lets_a_listed_target_through() {
    let files = FileServer::start(200).await;
    let listed = format!("127.0.0.1:{}", files.port);
    let (s, token) = strict_server(&[("ZAPGATE_PRIVATE_TARGETS", &listed)]).await;
    let (status, body) = send_media(&s, "ana", &token, &files.url()).await;
    assert_eq!(status, 201, "{body}");
    // Another port of the same host is not listed.
    let other = format!("http://127.0.0.1:{}/x", closed_port().await);
    let (status, _) = send_media(&s, "ana", &token, &other).await;
    assert_eq!(status, 400);
    drop(s);

    // A listed target cannot redirect a token's request to one that is not listed.
    let hidden = FileServer::start(200).await;
    let hop = FileServer::redirecting_to(hidden.url()).await;
    let listed = format!("127.0.0.1:{}", hop.port);
    let (s, token) = strict_server(&[("ZAPGATE_PRIVATE_TARGETS", &listed)]).await;
    let (status, body) = send_media(&s, "ana", &token, &hop.url()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(hop.connections(), 1);
    assert_eq!(hidden.connections(), 0, "the redirect was followed");
    // The global key's requests follow it.
    let (status, body) = send_media(&s, "ana", KEY, &hop.url()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(hidden.connections(), 1);

    // The deprecated switch still opens everything.
    let s2 = TestServer::start(&[
        ("ZAPGATE_PRIVATE_TARGETS", ""),
        ("ZAPGATE_WEBHOOK_ALLOW_PRIVATE", "true"),
    ])
    .await;
    let token2 = paired_with_token(&s2, "ana", ANA).await;
    s2.paired_loopback("bia", BIA).await;
    let (status, body) = send_media(&s2, "ana", &token2, &files.url()).await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn a_closed_instance_fetches_nothing() {
    let s = TestServer::start(&[("ZAPGATE_PRIVATE_TARGETS", "*")]).await;
    let token = s.create_loopback("shut").await;
    let files = FileServer::start(200).await;
    for key in [token.as_str(), KEY] {
        let (status, body) = send_media(&s, "shut", key, &files.url()).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(
            message_of(&body),
            json!(["The \"shut\" instance is not connected"])
        );
    }
    assert_eq!(files.connections(), 0);
}

#[tokio::test]
async fn a_direct_path_must_be_a_plain_path() {
    let (s, token) = strict_server(&[]).await;
    for bad in [
        ".attacker.example/x",
        "//attacker.example/x",
        "@attacker.example/x",
        "/v/../../x",
        "/v/%2e%2e/x",
        "https://attacker.example/x",
        "/v/x\\y",
        "/v/x\ny",
    ] {
        let (status, body) = s
            .post(
                "/chat/getBase64FromMediaMessage/ana",
                Some(&token),
                json!({"message": {"key": {"id": "X1"}, "message": {"imageMessage": {
                    "directPath": bad,
                    "mediaKey": "AAAA",
                    "fileSha256": "AAAA",
                    "fileEncSha256": "AAAA",
                }}}}),
            )
            .await;
        assert_eq!(status, 400, "{bad:?}: {body}");
        assert!(
            message_of(&body)[0]
                .as_str()
                .is_some_and(|m| m.contains("directPath")),
            "{bad:?}: {body}"
        );
    }
}

#[tokio::test]
async fn webhooks_set_with_a_token_follow_the_rule() {
    let mut rx = Receiver::start(Mode::Ok).await;
    let port = rx
        .base
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    let (s, token) = strict_server(&[]).await;
    let hook = |url: &str| json!({"webhook": {"enabled": true, "url": url, "events": ["MESSAGES_UPSERT"]}});

    let (status, body) = s
        .post(
            "/webhook/set/ana",
            Some(&token),
            hook(&format!("{}/in", rx.base)),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = s
        .post(
            "/webhook/set/ana",
            Some(&token),
            hook(&format!("http://localhost:{port}/in")),
        )
        .await;
    assert_eq!(status, 400);

    // The global key may point it anywhere, and deliveries follow.
    let (status, body) = s
        .post(
            "/webhook/set/ana",
            Some(KEY),
            hook(&format!("{}/in", rx.base)),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, _) = s
        .post(
            "/message/sendText/bia",
            Some(KEY),
            json!({"number": ANA, "text": "hello"}),
        )
        .await;
    assert_eq!(status, 201);
    let hit = rx.expect(|h| h.body["event"] == "messages.upsert").await;
    assert_eq!(hit.body["data"]["message"]["conversation"], "hello");
    drop(s);

    // Listed by host and port, a token may set it too.
    let listed = format!("127.0.0.1:{port}");
    let (s, token) = strict_server(&[("ZAPGATE_PRIVATE_TARGETS", &listed)]).await;
    let (status, body) = s
        .post(
            "/webhook/set/ana",
            Some(&token),
            hook(&format!("{}/in", rx.base)),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, _) = s
        .post(
            "/message/sendText/bia",
            Some(KEY),
            json!({"number": ANA, "text": "listed"}),
        )
        .await;
    assert_eq!(status, 201);
    let hit = rx
        .expect(|h| h.body["data"]["message"]["conversation"] == "listed")
        .await;
    assert_eq!(hit.body["instance"], "ana");
}

#[tokio::test]
async fn the_rule_is_applied_again_at_delivery() {
    let rx = Receiver::start(Mode::Ok).await;
    let port = rx
        .base
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    let listed = format!("127.0.0.1:{port}");
    let (s, token) = strict_server(&[("ZAPGATE_PRIVATE_TARGETS", &listed)]).await;
    let hook = json!({"webhook": {"enabled": true, "url": format!("{}/in", rx.base), "events": ["MESSAGES_UPSERT"]}});
    let (status, body) = s.post("/webhook/set/ana", Some(&token), hook).await;
    assert_eq!(status, 201, "{body}");
    let dir = s.stop().await;

    // The operator takes the target off the list: the token's webhook is no longer delivered.
    let s = TestServer::start_in(&dir.path, &[("ZAPGATE_PRIVATE_TARGETS", "")]).await;
    s.wait_state("ana", "open").await;
    s.wait_state("bia", "open").await;
    let (status, _) = s
        .post(
            "/message/sendText/bia",
            Some(KEY),
            json!({"number": ANA, "text": "not for you"}),
        )
        .await;
    assert_eq!(status, 201);
    let deadline = tokio::time::Instant::now() + common::DEADLINE;
    let letters = loop {
        let (status, letters) = s.get("/webhook/deadLetters/ana", Some(KEY)).await;
        assert_eq!(status, 200, "{letters}");
        if letters.as_array().is_some_and(|l| !l.is_empty()) {
            break letters;
        }
        assert!(tokio::time::Instant::now() < deadline, "no dead letter");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    };
    assert_eq!(letters[0]["event"], "messages.upsert");
    assert!(letters[0]["lastStatus"].is_null(), "{letters}");
    assert_eq!(
        rx.seen.load(Ordering::SeqCst),
        0,
        "the receiver was reached"
    );
}
