//! Inbound messages are at-least-once on the real engine, and stored once.
//!
//! The real server binary runs a `WHATSAPP-BAILEYS` instance against wa-mock; a contact's phone
//! (wa-mock's simulated primary) sends to it. wa-mock, like WhatsApp's server, holds every
//! message it handed to a connection until the client acks it, and delivers what was not acked
//! again after the next login. zapgate acks a message only once it is stored and its webhook row
//! flushed (the engine's durability hook), so:
//!
//! - messages that reached a frozen server (SIGSTOP) and were lost with it (SIGKILL) before any
//!   processing are delivered again after the restart;
//! - a message sent while the server is down arrives after the restart;
//! - a SIGKILL at the instant the server acks a message (sent by the mock's ack observer, in
//!   the same microsecond-scale window an ack-on-decrypt engine would lose it) loses nothing,
//!   and the rest of that burst arrives after the restart;
//!
//! and every message is stored exactly once and announced by exactly one `messages.upsert`
//! event (the outbox may POST one event again after a crash; it is then byte-identical).
//!
//! Needs the `wa-mock-peer` feature: `cargo test --features wa-mock-peer --test wa_durable`.

#![cfg(feature = "wa-mock-peer")]

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::real::{LOGIN, paired};
use common::receiver::{Hit, Mode, Receiver};
use common::{KEY, TestServer};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::json;
use wa_mock::WaMock;
use zapgate::engine::MessageContent;
use zapgate::store::Store;
use zapgate::store::history::HistoryTrees;

const INBOX: &str = "15557780001";
const CONTACT: &str = "15557780099";
const BURST: usize = 12;

async fn wait_until(what: &str, within: Duration, mut ok: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !ok().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Every `messages.upsert` webhook seen so far, by message id.
#[derive(Default)]
struct Upserts(BTreeMap<String, Vec<Hit>>);

impl Upserts {
    fn take(&mut self, r: &mut Receiver) {
        while let Ok(h) = r.hits.try_recv() {
            if h.body["event"] == "messages.upsert"
                && let Some(id) = h.body["data"]["key"]["id"].as_str()
            {
                self.0.entry(id.to_string()).or_default().push(h);
            }
        }
    }

    async fn wait_for(&mut self, r: &mut Receiver, ids: &[String]) {
        let deadline = tokio::time::Instant::now() + LOGIN;
        loop {
            self.take(r);
            let missing: Vec<&String> = ids.iter().filter(|id| !self.0.contains_key(*id)).collect();
            if missing.is_empty() {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no messages.upsert for {missing:?} of {ids:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Exactly one event per message: one POST, or an identical re-POST of the same event.
    fn assert_once(&self, id: &str, text: &str) {
        let hits = &self.0[id];
        assert_eq!(hits[0].body["data"]["message"]["conversation"], text);
        assert_eq!(hits[0].body["data"]["key"]["fromMe"], false);
        assert!(
            hits.iter().all(|h| h.raw == hits[0].raw),
            "{id} announced by {} different events: {:?}",
            hits.len(),
            hits.iter()
                .map(|h| (&h.headers, &h.body))
                .collect::<Vec<_>>()
        );
    }
}

async fn none_pending(mock: &WaMock, ids: &[String]) {
    wait_until("the client acked every message", LOGIN, async || {
        let pending = mock.pending(INBOX);
        !ids.iter().any(|id| pending.contains(id))
    })
    .await;
}

async fn send(mock: &WaMock, text: &str) -> String {
    mock.send_text(CONTACT, INBOX, text).await.expect("send")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_messages_survive_sigkill_and_are_stored_once() {
    let mock = WaMock::start(0).await.expect("wa-mock");
    let url = mock.url();
    let env = [("ZAPGATE_WA_URL", url.as_str())];
    let mut hooks = Receiver::start(Mode::Ok).await;
    let s = TestServer::start(&env).await;
    let inbox_id = paired(&s, &mock, "inbox", INBOX).await;
    let (status, body) = s
        .post(
            "/webhook/set/inbox",
            Some(KEY),
            json!({"webhook": {"enabled": true, "url": hooks.base, "events": ["MESSAGES_UPSERT"]}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let mut seen = Upserts::default();
    let mut texts: Vec<(String, String)> = Vec::new();

    // Live: stored, announced, then acked.
    let live = send(&mock, "live").await;
    seen.wait_for(&mut hooks, std::slice::from_ref(&live)).await;
    none_pending(&mock, std::slice::from_ref(&live)).await;
    texts.push((live, "live".into()));

    // In flight when the process dies: a frozen server cannot ack what reached its socket.
    let pid = s.pid().to_string();
    let frozen = std::process::Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .expect("kill -STOP");
    assert!(frozen.success());
    let mut lost = Vec::new();
    for text in ["in flight 1", "in flight 2"] {
        let id = send(&mock, text).await;
        lost.push(id.clone());
        texts.push((id, text.into()));
    }
    let pending = mock.pending(INBOX);
    assert!(lost.iter().all(|id| pending.contains(id)), "{pending:?}");
    let dir = s.kill().await;

    // Sent while the server is down: queued by the mock.
    let down = send(&mock, "while down").await;
    texts.push((down, "while down".into()));

    let s = TestServer::start_in(&dir.path, &env).await;
    let ids: Vec<String> = texts.iter().map(|(id, _)| id.clone()).collect();
    seen.wait_for(&mut hooks, &ids).await;
    none_pending(&mock, &ids).await;

    // SIGKILL the instant the server acks a message: the at-most-once window of an engine that
    // acks on decrypt. Nothing else is unacked now, so the next ack is the burst's first.
    wait_until("nothing left to ack", LOGIN, async || {
        mock.pending(INBOX).is_empty()
    })
    .await;
    let (acked_tx, mut acked) = tokio::sync::mpsc::unbounded_channel();
    let pid = Pid::from_raw(i32::try_from(s.pid()).expect("pid"));
    let fired = AtomicBool::new(false);
    mock.on_ack(move |id| {
        if !fired.swap(true, Ordering::SeqCst) {
            let _ = kill(pid, Signal::SIGKILL);
            let _ = acked_tx.send(id.to_string());
        }
    });
    for i in 0..BURST {
        let text = format!("burst {i}");
        let id = send(&mock, &text).await;
        texts.push((id, text));
    }
    let first = tokio::time::timeout(LOGIN, acked.recv())
        .await
        .expect("a burst message acked")
        .expect("observer alive");
    assert!(texts.iter().any(|(id, _)| *id == first), "{first}");
    let dir = s.kill().await;
    let s = TestServer::start_in(&dir.path, &env).await;
    let ids: Vec<String> = texts.iter().map(|(id, _)| id.clone()).collect();
    seen.wait_for(&mut hooks, &ids).await;
    none_pending(&mock, &ids).await;
    // Acked means durable: the store is read after one more SIGKILL, not a clean shutdown.
    let dir = s.kill().await;
    seen.take(&mut hooks);

    for (id, text) in &texts {
        seen.assert_once(id, text);
    }
    let store = Store::open(&dir.path, 8).expect("reopen the data dir");
    let history = HistoryTrees::open(&store)
        .expect("history")
        .repo(&store, inbox_id.parse().expect("uuid"));
    for (id, text) in &texts {
        let record = history
            .get(id)
            .expect("read")
            .unwrap_or_else(|| panic!("{id} not stored"));
        assert_eq!(record.content, MessageContent::Text { text: text.clone() });
    }
    let counts = history.counts().expect("counts");
    assert_eq!(
        counts.messages,
        texts.len() as u64,
        "a message was stored twice"
    );
    store.close().await;
    mock.shutdown().await;
}
