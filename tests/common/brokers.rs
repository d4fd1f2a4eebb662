//! What the broker tests share: the local brokers' addresses (overridable by env), a clear
//! failure when one is not running, a TCP proxy a test can cut and restore (so the shared
//! broker itself is never stopped), and a flood of LOOPBACK sends that survives a SIGKILL.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::{KEY, TestServer};

/// `ZAPGATE_TEST_AMQP_URL`, or the machine's RabbitMQ.
pub fn amqp_url() -> String {
    std::env::var("ZAPGATE_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// `ZAPGATE_TEST_NATS_URL`, or the machine's NATS.
pub fn nats_url() -> String {
    std::env::var("ZAPGATE_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// `host:port` of a broker URL (credentials and path dropped).
pub fn host_port(url: &str) -> String {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    authority
        .rsplit('@')
        .next()
        .unwrap_or(authority)
        .to_string()
}

/// Fails the test at once, saying how to start the broker, when nothing listens at `url`.
pub async fn require(what: &str, url: &str, how: &str) {
    let addr = host_port(url);
    let reached = tokio::time::timeout(Duration::from_secs(3), TcpStream::connect(&addr)).await;
    if !matches!(reached, Ok(Ok(_))) {
        panic!(
            "{what} is not reachable at {addr}: the broker tests (feature `broker-tests`) need \
             it running. Start it with `{how}`, or point the tests elsewhere with the variable \
             named in tests/common/brokers.rs."
        );
    }
}

pub async fn require_rabbitmq() -> String {
    let url = amqp_url();
    require("RabbitMQ", &url, "rabbitmq-server -detached").await;
    url
}

pub async fn require_nats() -> String {
    let url = nats_url();
    require(
        "NATS (with JetStream)",
        &url,
        "nats-server -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server &",
    )
    .await;
    url
}

/// A unique suffix, so runs against the shared brokers never meet each other's queues.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

/// A TCP proxy on 127.0.0.1 to a broker. `down` closes the listener and every connection
/// through it (the broker looks unreachable to zapgate); `up` listens on the same port again.
pub struct Proxy {
    pub port: u16,
    upstream: String,
    running: Option<JoinHandle<()>>,
}

impl Proxy {
    pub async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let mut p = Proxy {
            port,
            upstream: host_port(upstream),
            running: None,
        };
        p.serve(listener);
        p
    }

    fn serve(&mut self, listener: TcpListener) {
        let upstream = self.upstream.clone();
        self.running = Some(tokio::spawn(async move {
            // Dropped with this task: aborts every connection it carries.
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                conns.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        }));
    }

    pub fn down(&mut self) {
        if let Some(t) = self.running.take() {
            t.abort();
        }
    }

    pub async fn up(&mut self) {
        let deadline = tokio::time::Instant::now() + super::DEADLINE;
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(l) => break l,
                Err(e) => {
                    assert!(tokio::time::Instant::now() < deadline, "rebind proxy: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        self.serve(listener);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.down();
    }
}

/// Sends `count` texts from `from` to `to` (`in_flight` at a time) on the server at `base`;
/// returns the message ids of the sends answered 201, counting them in `acked` as they come.
/// A send that fails (the server was killed meanwhile) ends its lane: never acknowledged.
#[allow(clippy::too_many_arguments)]
pub async fn flood(
    http: reqwest::Client,
    base: String,
    from: String,
    to: String,
    count: usize,
    in_flight: usize,
    tag: String,
    acked: Arc<AtomicUsize>,
) -> BTreeSet<String> {
    let next = Arc::new(AtomicUsize::new(0));
    let url = format!("{base}/message/sendText/{from}");
    let mut lanes = Vec::new();
    for _ in 0..in_flight {
        let (http, url, next, acked) = (http.clone(), url.clone(), next.clone(), acked.clone());
        let (to, tag) = (to.to_string(), tag.to_string());
        lanes.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= count {
                    return ids;
                }
                let sent = http
                    .post(&url)
                    .header("apikey", KEY)
                    .json(&json!({"number": to, "text": format!("{tag}-{i}")}))
                    .send()
                    .await;
                let Ok(resp) = sent else {
                    return ids;
                };
                if resp.status().as_u16() != 201 {
                    return ids;
                }
                let Ok(body) = resp.json::<serde_json::Value>().await else {
                    return ids;
                };
                if let Some(id) = body["key"]["id"].as_str() {
                    ids.push(id.to_string());
                    acked.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }
    let mut all = BTreeSet::new();
    for lane in lanes {
        all.extend(lane.await.expect("flood lane"));
    }
    all
}

/// Waits until `counter` reaches `n`.
pub async fn until_count(counter: &AtomicUsize, n: usize, what: &str) {
    let deadline = tokio::time::Instant::now() + super::DEADLINE * 3;
    while counter.load(Ordering::SeqCst) < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: {} of {n}",
            counter.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Sends `count` texts with the server alive throughout; every one must be acknowledged.
pub async fn flood_all(
    s: &TestServer,
    from: &str,
    to: &str,
    count: usize,
    tag: &str,
) -> BTreeSet<String> {
    let acked = Arc::new(AtomicUsize::new(0));
    let ids = flood(
        s.http.clone(),
        s.base.clone(),
        from.into(),
        to.into(),
        count,
        16,
        tag.into(),
        acked,
    )
    .await;
    assert_eq!(ids.len(), count, "every send acknowledged");
    ids
}
