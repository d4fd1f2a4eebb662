//! NATS deliveries against the machine's NATS with JetStream (feature `broker-tests`):
//! Evolution's subjects, JetStream-acked publishes that core subscribers see too; every
//! acknowledged event of a 1,000-message flood arrives across a SIGKILL of zapgate; a NATS
//! server out of reach delays only itself.

#![cfg(feature = "broker-tests")]

#[path = "common/brokers.rs"]
mod brokers;
mod common;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use brokers::{Proxy, flood, flood_all, require_nats, unique, until_count};
use common::receiver::{Mode, Receiver};
use common::{DEADLINE, KEY, TestServer};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// A core subscriber on one subject. Yields envelopes keyed by the announced message id.
struct Subscriber {
    client: async_nats::Client,
    subject: String,
    rx: mpsc::Receiver<(Option<String>, Value)>,
    seen: HashMap<String, Value>,
    deliveries: usize,
}

impl Subscriber {
    async fn start(url: &str, subject: &str) -> Subscriber {
        let client = async_nats::connect(url).await.expect("connect to NATS");
        let mut sub = client
            .subscribe(subject.to_string())
            .await
            .expect("subscribe");
        client.flush().await.expect("flush the subscription");
        let (tx, rx) = mpsc::channel(100_000);
        tokio::spawn(async move {
            while let Some(m) = sub.next().await {
                let id = m
                    .headers
                    .as_ref()
                    .and_then(|h| h.get("Nats-Msg-Id"))
                    .map(|v| v.to_string());
                let body: Value = serde_json::from_slice(&m.payload).unwrap_or(Value::Null);
                if tx.send((id, body)).await.is_err() {
                    return;
                }
            }
        });
        Subscriber {
            client,
            subject: subject.into(),
            rx,
            seen: HashMap::new(),
            deliveries: 0,
        }
    }

    fn take(&mut self, (msg_id, env): (Option<String>, Value)) {
        self.deliveries += 1;
        assert!(
            msg_id.is_some_and(|i| i.starts_with("msg_")),
            "every message carries its Nats-Msg-Id"
        );
        if let Some(id) = env["data"]["key"]["id"].as_str() {
            self.seen.insert(id.to_string(), env);
        }
    }

    async fn until_all(&mut self, want: &BTreeSet<String>, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while !want.iter().all(|id| self.seen.contains_key(id)) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.rx.recv()).await {
                Ok(Some(m)) => self.take(m),
                _ => {
                    let missing = want
                        .iter()
                        .filter(|id| !self.seen.contains_key(*id))
                        .count();
                    panic!(
                        "{missing} of {} events never reached {}",
                        want.len(),
                        self.subject
                    );
                }
            }
        }
    }

    fn drain(&mut self) {
        while let Ok(m) = self.rx.try_recv() {
            self.take(m);
        }
    }

    /// Removes this test's messages from the stream zapgate created (the server is shared).
    async fn purge(self, instance: &str) {
        let js = async_nats::jetstream::new(self.client.clone());
        if let Ok(stream) = js.get_stream("EVOLUTION").await {
            let _ = stream.purge().filter(format!("{instance}.>")).await;
        }
    }
}

async fn subscribe(s: &TestServer, name: &str) {
    let (status, body) = s
        .post(
            &format!("/nats/set/{name}"),
            Some(KEY),
            json!({"nats": {"enabled": true, "events": ["SEND_MESSAGE"]}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_acknowledged_event_of_a_flood_arrives_across_a_sigkill() {
    let url = require_nats().await;
    let env = [("NATS_ENABLED", "true"), ("NATS_URI", url.as_str())];
    let s = TestServer::start(&env).await;
    let (a, b) = (unique("zgna"), unique("zgnb"));
    s.paired_loopback(&a, "15550401001").await;
    s.paired_loopback(&b, "15550401002").await;
    subscribe(&s, &a).await;
    // Evolution's subject: {instance}.{event}.
    let mut sub = Subscriber::start(&url, &format!("{a}.send.message")).await;

    let acked = Arc::new(AtomicUsize::new(0));
    let lane = tokio::spawn(flood(
        s.http.clone(),
        s.base.clone(),
        a.clone(),
        "15550401002".into(),
        1000,
        16,
        "before".into(),
        acked.clone(),
    ));
    until_count(&acked, 300, "sends before the kill").await;
    let dir = s.kill().await;
    let mut ids = lane.await.expect("flood");
    assert!(
        ids.len() >= 300 && ids.len() < 1000,
        "killed mid-flood: {}",
        ids.len()
    );

    let s = TestServer::start_in(&dir.path, &env).await;
    s.wait_state(&a, "open").await;
    s.wait_state(&b, "open").await;
    ids.extend(flood_all(&s, &a, "15550401002", 1000 - ids.len(), "after").await);
    assert_eq!(ids.len(), 1000);

    sub.until_all(&ids, DEADLINE * 3).await;
    let sample = sub.seen.values().next().cloned().unwrap_or_default();
    assert_eq!(sample["event"], "send.message");
    assert_eq!(sample["instance"], a.as_str());
    eprintln!(
        "nats: {} deliveries for {} events ({} repeats)",
        sub.deliveries,
        ids.len(),
        sub.deliveries.saturating_sub(sub.seen.len())
    );
    // JetStream stored each event once (Nats-Msg-Id deduplicates republished rows).
    let js = async_nats::jetstream::new(sub.client.clone());
    let mut stream = js
        .get_stream("EVOLUTION")
        .await
        .expect("zapgate created the stream");
    let info = stream.info().await.expect("stream info");
    assert!(
        info.config.subjects.iter().any(|s| s == "*.send.message"),
        "{:?}",
        info.config.subjects
    );
    sub.purge(&a).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_nats_server_out_of_reach_delays_only_itself() {
    let url = require_nats().await;
    let mut proxy = Proxy::start(&url).await;
    let via_proxy = format!("nats://127.0.0.1:{}", proxy.port);
    let mut hooks = Receiver::start(Mode::Ok).await;
    let s = TestServer::start(&[
        ("NATS_ENABLED", "true"),
        ("NATS_URI", via_proxy.as_str()),
        ("ZAPGATE_BROKER_RETRY_MAX_MS", "200"),
        ("ZAPGATE_BROKER_TIMEOUT_MS", "2000"),
    ])
    .await;
    let (a, b) = (unique("zgna"), unique("zgnb"));
    s.paired_loopback(&a, "15550402001").await;
    s.paired_loopback(&b, "15550402002").await;
    let hook = format!("{}/hook", hooks.base);
    let (status, body) = s
        .post(
            &format!("/webhook/set/{a}"),
            Some(KEY),
            json!({"webhook": {"enabled": true, "url": hook, "events": ["SEND_MESSAGE"]}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    subscribe(&s, &a).await;
    let mut sub = Subscriber::start(&url, &format!("{a}.send.message")).await;

    let first = flood_all(&s, &a, "15550402002", 100, "up").await;
    sub.until_all(&first, DEADLINE).await;

    proxy.down();
    let second = flood_all(&s, &a, "15550402002", 200, "down").await;
    let mut hooked = BTreeSet::new();
    while !first.iter().chain(&second).all(|id| hooked.contains(id)) {
        let hit = hooks.expect(|h| h.body["event"] == "send.message").await;
        if let Some(id) = hit.body["data"]["key"]["id"].as_str() {
            hooked.insert(id.to_string());
        }
    }
    s.wait_for("/health", |h| {
        h["faults"].as_array().is_some_and(|f| {
            f.iter()
                .any(|f| f["kind"] == "brokerUnreachable" && f["active"] == true)
        })
    })
    .await;
    sub.drain();
    assert!(
        second.iter().all(|id| !sub.seen.contains_key(id)),
        "nothing can reach NATS while the proxy is down"
    );

    proxy.up().await;
    sub.until_all(&second, DEADLINE * 2).await;
    sub.purge(&a).await;
}
