//! Test harness: unmodified whatsapp-rust clients wired to a wa-mock, event
//! waits with deadlines, and a tiny HTTP client for the admin API.

#![allow(dead_code)]

use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wa_mock::WaMock;
use wacore::store::InMemoryBackend;
use wacore::types::events::{Event, EventHandler};
use whatsapp_rust::async_channel;
use whatsapp_rust::bot::{Bot, BotHandle};
use whatsapp_rust::client::Client;
use whatsapp_rust::http::UreqHttpClient;
use whatsapp_rust::transport::TokioWebSocketTransportFactory;

/// Generous: the first login after pairing waits ~10 s for an app-state key
/// share the mock phone does not send.
pub const STEP: Duration = Duration::from_secs(45);

pub struct TestClient {
    pub handle: BotHandle,
    pub client: Arc<Client>,
    pub events: Events,
    pub backend: Arc<InMemoryBackend>,
}

/// Forwards every event into a channel the test can wait on.
struct Forward(async_channel::Sender<Arc<Event>>);

impl EventHandler for Forward {
    fn handle_event(&self, event: Arc<Event>) {
        let _ = self.0.try_send(event);
    }
}

/// Logs from both sides (whatsapp-rust logs through `log`) when `RUST_LOG`
/// is set, e.g. `RUST_LOG=warn,wa_mock=debug`.
pub fn init_logs() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// Builds and spawns a client over `backend` (fresh or reused).
pub async fn start_client(mock: &WaMock, backend: Arc<InMemoryBackend>) -> TestClient {
    init_logs();
    let (tx, events) = async_channel::unbounded();
    let handler = Forward(tx);
    let bot = Bot::builder()
        .with_backend_arc(backend.clone())
        .with_transport_factory(TokioWebSocketTransportFactory::new().with_url(mock.url()))
        .with_http_client(UreqHttpClient::new())
        .with_version((2, 3000, 1_000_000_000))
        .skip_history_sync()
        .with_event_handler(handler)
        .build()
        .await
        .expect("bot builds");
    let handle = bot.spawn();
    let client = handle.client();
    TestClient {
        handle,
        client,
        events: Events {
            rx: events,
            skipped: Mutex::new(Vec::new()),
        },
        backend,
    }
}

/// A client's events. whatsapp-rust dispatches events concurrently (not
/// in order), so waits keep what they skip instead of discarding it.
pub struct Events {
    rx: async_channel::Receiver<Arc<Event>>,
    skipped: Mutex<Vec<Arc<Event>>>,
}

/// Waits until `pick` returns `Some` for an event (seen before or new),
/// failing after `STEP`. The matching event is consumed.
pub async fn wait_for<T>(
    events: &Events,
    what: &str,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> T {
    {
        let mut skipped = events.skipped.lock().unwrap();
        if let Some((i, v)) = skipped
            .iter()
            .enumerate()
            .find_map(|(i, e)| pick(e).map(|v| (i, v)))
        {
            skipped.remove(i);
            return v;
        }
    }
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        let event = tokio::time::timeout_at(deadline, events.rx.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .unwrap_or_else(|_| panic!("event channel closed waiting for {what}"));
        if std::env::var_os("WA_MOCK_TEST_EVENTS").is_some() {
            eprintln!("[{what}] event: {event:?}");
        }
        match pick(&event) {
            Some(v) => return v,
            None => events.skipped.lock().unwrap().push(event),
        }
    }
}

/// Full QR flow over the admin HTTP API: QR -> scan -> PairSuccess -> Connected.
/// Returns the client and its phone number.
pub async fn pair(mock: &WaMock, phone: Option<&str>) -> (TestClient, String) {
    let c = start_client(mock, Arc::new(InMemoryBackend::new())).await;
    let qr = wait_for(&c.events, "QR code", |e| match e {
        Event::PairingQrCode(q) => Some(q.code.clone()),
        _ => None,
    })
    .await;
    let mut body = serde_json::json!({ "qr": qr });
    if let Some(p) = phone {
        body["phone"] = p.into();
    }
    let (status, reply) = http(mock, "POST", "/admin/scan", Some(body)).await;
    assert_eq!(status, 200, "scan failed: {reply}");
    let phone = reply["phone"].as_str().expect("phone").to_string();
    let paired_jid = wait_for(&c.events, "PairSuccess", |e| match e {
        Event::PairSuccess(p) => Some(p.id.to_string()),
        _ => None,
    })
    .await;
    assert_eq!(paired_jid, reply["jid"].as_str().unwrap());
    wait_for(&c.events, "Connected", |e| {
        matches!(e, Event::Connected(_)).then_some(())
    })
    .await;
    (c, phone)
}

/// One HTTP/1.1 request to the mock's admin API; returns (status, json).
pub async fn http(mock: &WaMock, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let addr = mock.admin_base().trim_start_matches("http://").to_string();
    let mut stream = TcpStream::connect(&addr).await.expect("connect admin");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(STEP, stream.read_to_end(&mut raw))
        .await
        .expect("admin reply in time")
        .unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("http reply");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}
