//! RabbitMQ deliveries against the machine's broker (feature `broker-tests`): Evolution's
//! exchange, quorum queue and routing key; every acknowledged event of a 1,000-message flood
//! arrives across a SIGKILL of zapgate; a broker that cannot be reached delays only itself.

#![cfg(feature = "broker-tests")]

#[path = "common/brokers.rs"]
mod brokers;
mod common;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use brokers::{Proxy, flood, flood_all, require_rabbitmq, unique, until_count};
use common::receiver::{Mode, Receiver};
use common::{DEADLINE, KEY, TestServer};
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, ExchangeDeclareOptions, ExchangeDeleteOptions,
    QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Connection, ConnectionProperties, ExchangeKind};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// A consumer of one of zapgate's queues, declared the way zapgate declares it (so whichever
/// side comes first, the other's declaration matches). Yields (message-id, envelope).
struct Consumer {
    conn: Connection,
    queue: String,
    exchange: String,
    rx: mpsc::Receiver<(String, Value)>,
    /// Envelopes seen, by the message id of the send they announce.
    seen: HashMap<String, Value>,
    deliveries: usize,
}

impl Consumer {
    async fn start(url: &str, exchange: &str, queue: &str, key: &str) -> Consumer {
        let conn = Connection::connect(url, ConnectionProperties::default())
            .await
            .expect("connect to RabbitMQ");
        let ch = conn.create_channel().await.expect("channel");
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        ch.exchange_declare(
            exchange.into(),
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await
        .expect("exchange");
        let mut args = FieldTable::default();
        args.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("quorum".into()),
        );
        let opts = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        ch.queue_declare(queue.into(), opts, args)
            .await
            .expect("queue");
        ch.queue_bind(
            queue.into(),
            exchange.into(),
            key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bind");
        let mut consumer = ch
            .basic_consume(
                queue.into(),
                "zapgate-test".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("consume");
        let (tx, rx) = mpsc::channel(100_000);
        tokio::spawn(async move {
            while let Some(Ok(d)) = consumer.next().await {
                let id = d
                    .properties
                    .message_id()
                    .as_ref()
                    .map(|s| s.to_string())
                    .unwrap_or_default();
                let body: Value = serde_json::from_slice(&d.data).unwrap_or(Value::Null);
                let _ = d.ack(BasicAckOptions::default()).await;
                if tx.send((id, body)).await.is_err() {
                    return;
                }
            }
        });
        Consumer {
            conn,
            queue: queue.into(),
            exchange: exchange.into(),
            rx,
            seen: HashMap::new(),
            deliveries: 0,
        }
    }

    fn take(&mut self, (_, env): (String, Value)) {
        self.deliveries += 1;
        if let Some(id) = env["data"]["key"]["id"].as_str() {
            self.seen.insert(id.to_string(), env);
        }
    }

    /// Waits until every id in `want` was delivered (repeats allowed).
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
                        self.queue
                    );
                }
            }
        }
    }

    /// Takes what has arrived so far without waiting.
    fn drain(&mut self) {
        while let Ok(m) = self.rx.try_recv() {
            self.take(m);
        }
    }

    async fn delete(self) {
        if let Ok(ch) = self.conn.create_channel().await {
            let _ = ch
                .queue_delete(self.queue.into(), QueueDeleteOptions::default())
                .await;
            let _ = ch
                .exchange_delete(self.exchange.into(), ExchangeDeleteOptions::default())
                .await;
        }
        let _ = self.conn.close(200, "done".into()).await;
    }
}

async fn subscribe(s: &TestServer, name: &str) {
    let (status, body) = s
        .post(
            &format!("/rabbitmq/set/{name}"),
            Some(KEY),
            json!({"rabbitmq": {"enabled": true, "events": ["SEND_MESSAGE"]}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_acknowledged_event_of_a_flood_arrives_across_a_sigkill() {
    let url = require_rabbitmq().await;
    let env = [("RABBITMQ_ENABLED", "true"), ("RABBITMQ_URI", url.as_str())];
    let s = TestServer::start(&env).await;
    let (a, b) = (unique("zgra"), unique("zgrb"));
    s.paired_loopback(&a, "15550301001").await;
    s.paired_loopback(&b, "15550301002").await;
    subscribe(&s, &a).await;
    // Evolution's names: exchange = instance, queue = {instance}.{event}, key = the event.
    let mut consumer =
        Consumer::start(&url, &a, &format!("{a}.send.message"), "send.message").await;

    let acked = Arc::new(AtomicUsize::new(0));
    let lane = tokio::spawn(flood(
        s.http.clone(),
        s.base.clone(),
        a.clone(),
        "15550301002".into(),
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
    ids.extend(flood_all(&s, &a, "15550301002", 1000 - ids.len(), "after").await);
    assert_eq!(ids.len(), 1000);

    consumer.until_all(&ids, DEADLINE * 3).await;
    let sample = consumer.seen.values().next().cloned().unwrap_or_default();
    assert_eq!(sample["event"], "send.message");
    assert_eq!(sample["instance"], a.as_str());
    assert!(
        sample.get("destination").is_none(),
        "no destination off webhooks"
    );
    eprintln!(
        "rabbitmq: {} deliveries for {} events ({} repeats)",
        consumer.deliveries,
        ids.len(),
        consumer.deliveries.saturating_sub(consumer.seen.len())
    );
    consumer.delete().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broker_out_of_reach_delays_only_itself() {
    let url = require_rabbitmq().await;
    let mut proxy = Proxy::start(&url).await;
    let via_proxy = url.replacen(
        &brokers::host_port(&url),
        &format!("127.0.0.1:{}", proxy.port),
        1,
    );
    let mut hooks = Receiver::start(Mode::Ok).await;
    let s = TestServer::start(&[
        ("RABBITMQ_ENABLED", "true"),
        ("RABBITMQ_URI", via_proxy.as_str()),
        ("ZAPGATE_BROKER_RETRY_MAX_MS", "200"),
        ("ZAPGATE_BROKER_TIMEOUT_MS", "2000"),
    ])
    .await;
    let (a, b) = (unique("zgra"), unique("zgrb"));
    s.paired_loopback(&a, "15550302001").await;
    s.paired_loopback(&b, "15550302002").await;
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
    let mut consumer =
        Consumer::start(&url, &a, &format!("{a}.send.message"), "send.message").await;

    let first = flood_all(&s, &a, "15550302002", 100, "up").await;
    consumer.until_all(&first, DEADLINE).await;

    proxy.down();
    let second = flood_all(&s, &a, "15550302002", 200, "down").await;
    // Webhooks keep flowing while the broker is out of reach.
    let mut hooked = BTreeSet::new();
    while !first.iter().chain(&second).all(|id| hooked.contains(id)) {
        let hit = hooks.expect(|h| h.body["event"] == "send.message").await;
        if let Some(id) = hit.body["data"]["key"]["id"].as_str() {
            hooked.insert(id.to_string());
        }
    }
    let health = s
        .wait_for("/health", |h| {
            h["faults"].as_array().is_some_and(|f| {
                f.iter()
                    .any(|f| f["kind"] == "brokerUnreachable" && f["active"] == true)
            })
        })
        .await;
    assert_eq!(health["status"], "degraded");
    consumer.drain();
    assert!(
        second.iter().all(|id| !consumer.seen.contains_key(id)),
        "nothing can reach the broker while the proxy is down"
    );

    proxy.up().await;
    consumer.until_all(&second, DEADLINE * 2).await;
    s.wait_for("/health", |h| {
        h["faults"].as_array().is_some_and(|f| {
            f.iter()
                .any(|f| f["kind"] == "brokerUnreachable" && f["active"] == false)
        })
    })
    .await;
    consumer.delete().await;
}
