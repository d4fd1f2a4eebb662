//! History at scale.
//!
//! - `seed-history` writes N messages across C chats into one new LOOPBACK instance of a data
//!   dir, through zapgate's own ledger (`HistoryRepo`, the code the server writes with), with
//!   the server stopped (sled locks its folder). Driving a million sends through HTTP would
//!   measure the send path, which `send` already does.
//! - `history` then queries a server started on that dir: `findMessages` pages of random chats
//!   and `findChats` first pages, one request at a time, and prints the latency percentiles.
//! - [`dir_bytes`]: disk use of a data dir, for the disk-per-instance and per-message figures.

use std::path::Path;
use std::time::Instant;

use chrono::Utc;
use hdrhistogram::Histogram;
use serde_json::json;
use uuid::Uuid;
use zapgate::engine::{Context, MessageContent, MessageKey};
use zapgate::instance::Integration;
use zapgate::store::Store;
use zapgate::store::history::{Change, HistoryTrees, Origin, Status, StoredMessage};
use zapgate::store::instances::{InstanceRecord, InstanceRepo};

use crate::Api;

/// Apparent and allocated bytes of every file under `dir`.
pub fn dir_bytes(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let mut total = (0, 0);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return total;
    };
    for e in entries.flatten() {
        let Ok(m) = e.metadata() else { continue };
        if m.is_dir() {
            let (a, b) = dir_bytes(&e.path());
            total = (total.0 + a, total.1 + b);
        } else {
            total = (total.0 + m.len(), total.1 + m.blocks() * 512);
        }
    }
    total
}

pub fn chat_jid(i: usize) -> String {
    format!("1666{i:07}@s.whatsapp.net")
}

pub async fn seed(dir: &Path, name: &str, messages: usize, chats: usize) -> anyhow::Result<()> {
    let store = Store::open(dir, 256)?;
    let now = Utc::now();
    let record = InstanceRecord::fresh(
        name.to_owned(),
        Uuid::new_v4().to_string().to_uppercase(),
        Integration::Loopback,
    );
    let id = record.id;
    InstanceRepo::new(&store)?.put_durable(&record).await?;
    let repo = HistoryTrees::open(&store)?.repo(&store, id);
    let start_ts = now.timestamp() as u64 - messages as u64;
    let started = Instant::now();
    for i in 0..messages {
        let chat = chat_jid(i % chats.max(1));
        let from_me = i % 3 == 0;
        let m = StoredMessage {
            key: MessageKey {
                remote_jid: chat.clone(),
                from_me,
                id: format!("3EB0{i:036X}"),
                participant: None,
            },
            push_name: (!from_me).then(|| format!("contact {}", i % chats.max(1))),
            content: MessageContent::Text {
                text: format!("message number {i}"),
            },
            context: Context::default(),
            status: if from_me {
                Status::Read
            } else {
                Status::DeliveryAck
            },
            timestamp: start_ts + i as u64,
            origin: Origin::HistorySync,
        };
        let contact = m.push_name.as_deref().map(|n| (chat.as_str(), n));
        repo.apply_without_event(&Change::Message {
            message: &m,
            contact,
        })?;
        if (i + 1) % 100_000 == 0 {
            println!(
                "{} messages in {:.1} s",
                i + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    store.sync().await?;
    store.close().await;
    let (apparent, allocated) = dir_bytes(dir);
    println!(
        "seeded {messages} messages across {chats} chats into {name} in {:.1} s; data dir {:.1} MiB apparent, {:.1} MiB allocated ({:.0} B per message allocated)",
        started.elapsed().as_secs_f64(),
        apparent as f64 / 1048576.0,
        allocated as f64 / 1048576.0,
        allocated as f64 / messages.max(1) as f64
    );
    Ok(())
}

fn report(label: &str, h: &Histogram<u64>) {
    println!(
        "{label}: {} requests, latency ms p50 {:.2} p90 {:.2} p99 {:.2} max {:.2}",
        h.len(),
        h.value_at_quantile(0.5) as f64 / 1000.0,
        h.value_at_quantile(0.9) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0,
        h.max() as f64 / 1000.0
    );
}

pub async fn query(api: &Api, name: &str, chats: usize, requests: usize) -> anyhow::Result<()> {
    let mut pages = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut lists = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut seen = 0u64;
    for i in 0..requests {
        // A spread of chats without a random generator: a stride prime to the chat count.
        let chat = chat_jid((i * 7919) % chats.max(1));
        let body = json!({"where": {"key": {"remoteJid": chat}}, "page": 1, "offset": 50});
        let t = Instant::now();
        let (s, b) = api
            .call(
                reqwest::Method::POST,
                &format!("/chat/findMessages/{name}"),
                Some(body),
            )
            .await?;
        pages.record((t.elapsed().as_micros() as u64).max(1))?;
        anyhow::ensure!(s == 200, "findMessages: {s} {b}");
        seen += b["messages"]["records"].as_array().map_or(0, |r| r.len()) as u64;
        let t = Instant::now();
        let (s, b) = api
            .call(
                reqwest::Method::POST,
                &format!("/chat/findChats/{name}"),
                Some(json!({"take": 50})),
            )
            .await?;
        lists.record((t.elapsed().as_micros() as u64).max(1))?;
        anyhow::ensure!(s == 200, "findChats: {s} {b}");
    }
    report("findMessages, one chat, page of 50", &pages);
    report("findChats, first 50", &lists);
    println!("records read: {seen}; server: {}", api.health().await?);
    Ok(())
}
