//! socket.io (Evolution's `websocket` transport) on the server's port, spoken to by a minimal
//! socket.io v5 / Engine.IO v4 client written here over a plain WebSocket (the protocol as
//! python-socketio and socket.io-client speak it): namespace `/{instance}` with the instance's
//! token, `/` with the global key, refusals for the wrong key.

mod common;

use std::time::Duration;

use common::{DEADLINE, KEY, TestServer};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One socket.io namespace over its own Engine.IO connection.
struct Sio {
    ws: Ws,
    /// `""` for the main namespace, `"/name,"` otherwise (the packet prefix).
    prefix: String,
}

impl Sio {
    /// Opens the WebSocket transport and joins `ns`; `Err` carries the server's refusal.
    async fn connect(s: &TestServer, ns: &str, apikey: &str) -> Result<Sio, String> {
        let url = format!(
            "{}/socket.io/?EIO=4&transport=websocket&apikey={apikey}",
            s.base.replace("http://", "ws://")
        );
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .map_err(|e| format!("websocket: {e}"))?;
        let prefix = if ns == "/" {
            String::new()
        } else {
            format!("{ns},")
        };
        let mut sio = Sio { ws, prefix };
        let open = sio.text().await;
        assert!(open.starts_with('0'), "Engine.IO open packet first: {open}");
        let connect = format!("40{}", sio.prefix);
        sio.ws
            .send(Message::text(connect))
            .await
            .expect("send CONNECT");
        loop {
            let packet = sio.text().await;
            if let Some(rest) = packet.strip_prefix(&format!("40{}", sio.prefix)) {
                assert!(
                    rest.contains("sid"),
                    "CONNECT answer carries a sid: {packet}"
                );
                return Ok(sio);
            }
            if let Some(rest) = packet.strip_prefix(&format!("44{}", sio.prefix)) {
                return Err(rest.to_string());
            }
        }
    }

    /// The next text frame, answering Engine.IO pings on the way.
    async fn text(&mut self) -> String {
        loop {
            let frame = tokio::time::timeout(DEADLINE, self.ws.next())
                .await
                .expect("socket.io frame in time")
                .expect("socket open")
                .expect("frame");
            if let Message::Text(t) = frame {
                if t.as_str() == "2" {
                    self.ws.send(Message::text("3")).await.expect("pong");
                    continue;
                }
                return t.as_str().to_string();
            }
        }
    }

    /// The next EVENT packet on this namespace matching `pred`: (event name, payload).
    async fn event(&mut self, pred: impl Fn(&str, &Value) -> bool) -> (String, Value) {
        let head = format!("42{}", self.prefix);
        loop {
            let packet = self.text().await;
            let Some(body) = packet.strip_prefix(&head) else {
                continue;
            };
            let v: Value = serde_json::from_str(body).expect("EVENT payload is JSON");
            let name = v[0].as_str().unwrap_or_default().to_string();
            if pred(&name, &v[1]) {
                return (name, v[1].clone());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn instance_namespaces_and_the_global_one_receive_their_events() {
    let s = TestServer::start(&[
        ("WEBSOCKET_ENABLED", "true"),
        ("WEBSOCKET_GLOBAL_EVENTS", "true"),
    ])
    .await;
    s.paired_loopback("ana", "15550501001").await;
    s.paired_loopback("bea", "15550501002").await;
    let (_, rows) = s.get("/instance/fetchInstances", Some(KEY)).await;
    let token = |name: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .and_then(|r| r["token"].as_str())
            .unwrap()
            .to_string()
    };
    let (ana, bea) = (token("ana"), token("bea"));
    let (status, row) = s
        .post(
            "/websocket/set/bea",
            Some(&bea),
            json!({"websocket": {"enabled": true, "events": ["MESSAGES_UPSERT"]}}),
        )
        .await;
    assert_eq!(status, 201, "{row}");

    // Who may join which namespace.
    let refused = Sio::connect(&s, "/bea", &ana).await.err();
    assert!(
        refused.is_some_and(|r| r.contains("Unauthorized")),
        "another instance's token"
    );
    let refused = Sio::connect(&s, "/", &bea).await.err();
    assert!(
        refused.is_some(),
        "the main namespace takes the global key only"
    );
    let mut own = Sio::connect(&s, "/bea", &bea).await.expect("own token");
    let mut global = Sio::connect(&s, "/", KEY).await.expect("global key");
    let mut other = Sio::connect(&s, "/ana", KEY)
        .await
        .expect("global key, any namespace");

    let (status, sent) = s
        .post(
            "/message/sendText/ana",
            Some(KEY),
            json!({"number": "15550501002", "text": "over socket.io"}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    let id = sent["key"]["id"].as_str().unwrap().to_string();

    let (name, env) = own
        .event(|n, e| n == "messages.upsert" && e["data"]["key"]["id"] == id.as_str())
        .await;
    assert_eq!(name, "messages.upsert");
    assert_eq!(env["event"], "messages.upsert");
    assert_eq!(env["instance"], "bea");
    assert_eq!(env["data"]["message"]["conversation"], "over socket.io");
    assert!(env.get("destination").is_none());
    assert!(env["date_time"].is_string() && env["server_url"].is_string());

    // Global mode: every instance's events on `/`, the sender's send.message included.
    global
        .event(|n, e| {
            n == "send.message" && e["instance"] == "ana" && e["data"]["key"]["id"] == id.as_str()
        })
        .await;
    global
        .event(|n, e| n == "messages.upsert" && e["instance"] == "bea")
        .await;

    // ana subscribed to nothing: its namespace stays silent while bea's gets the next one.
    let (status, _) = s
        .post(
            "/message/sendText/ana",
            Some(KEY),
            json!({"number": "15550501002", "text": "second"}),
        )
        .await;
    assert_eq!(status, 201);
    own.event(|n, e| n == "messages.upsert" && e["data"]["message"]["conversation"] == "second")
        .await;
    let quiet = tokio::time::timeout(Duration::from_millis(300), other.event(|_, _| true)).await;
    assert!(quiet.is_err(), "no subscription, no events: {quiet:?}");
}
