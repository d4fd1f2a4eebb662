//! `zapgate-load`: load runs against a running zapgate server. It prints figures and asserts
//! nothing: performance is measured here, never in tests.
//!
//! Scenarios:
//! - `instances`: create N LOOPBACK instances (optionally pair them) and report the server's RSS
//!   before and after, read from `/health`.
//! - `seed-history` / `history`: a million stored messages, then `findMessages`/`findChats`
//!   latency (see `history.rs`).
//! - `transports`: the same events to a webhook, RabbitMQ and NATS at once; events/s and
//!   event->consumer latency per transport.
//! - `send`: open-loop sendText (or, with `--media-kb`, sendMedia documents) between paired
//!   LOOPBACK instances at a fixed rate; latency is
//!   measured from the intended send time (no coordinated omission).
//! - `console`: the real `zapgate-tui` in a pseudo-terminal over thousands of instances and a
//!   steady event rate: keystroke-to-frame latency, the console's CPU and RSS.

mod console;
mod history;
mod probe;
mod transports;
mod webhooks;

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use serde_json::{Value, json};

#[derive(Parser)]
#[command(name = "zapgate-load")]
struct Cli {
    /// Base URL of the server.
    #[arg(long, env = "ZAPGATE_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Global API key.
    #[arg(long, env = "AUTHENTICATION_API_KEY")]
    key: String,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Create N LOOPBACK instances and report RSS.
    Instances {
        #[arg(long, default_value_t = 1000)]
        count: usize,
        /// Also connect and pair every instance.
        #[arg(long)]
        pair: bool,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        #[arg(long, default_value = "load")]
        prefix: String,
        /// The server's data dir: print its disk use after the run (per instance).
        #[arg(long)]
        data_dir: Option<std::path::PathBuf>,
    },
    /// Write messages into a new instance of a stopped server's data dir (through the ledger).
    SeedHistory {
        #[arg(long)]
        data_dir: std::path::PathBuf,
        #[arg(long, default_value = "hist")]
        name: String,
        #[arg(long, default_value_t = 1_000_000)]
        messages: usize,
        #[arg(long, default_value_t = 10_000)]
        chats: usize,
    },
    /// findMessages and findChats latency against an instance made by `seed-history`.
    History {
        #[arg(long, default_value = "hist")]
        name: String,
        #[arg(long, default_value_t = 10_000)]
        chats: usize,
        #[arg(long, default_value_t = 2000)]
        requests: usize,
    },
    /// Pair N WHATSAPP-BAILEYS instances through a running wa-mock (the server must be built
    /// with `--features wa-mock-peer` and started with `ZAPGATE_WA_URL` pointing at the mock)
    /// and report RSS per connected real-engine session.
    Real {
        #[arg(long, default_value_t = 100)]
        count: usize,
        /// wa-mock's admin base URL, e.g. http://127.0.0.1:7000
        #[arg(long)]
        mock: String,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        #[arg(long, default_value = "real")]
        prefix: String,
    },
    /// Webhook delivery: paired LOOPBACK instances with webhooks to a receiver run by this tool
    /// (a share of them never answer); reports events/s and event->delivery latency.
    Webhooks {
        #[arg(long, default_value_t = 500)]
        instances: usize,
        /// Percentage of endpoints that never answer.
        #[arg(long, default_value_t = 0)]
        hang_percent: usize,
        #[arg(long, default_value_t = 200)]
        rate: u64,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value = "wh")]
        prefix: String,
    },
    /// Event transports: `send.message` of paired LOOPBACK instances to a webhook, RabbitMQ and
    /// NATS at once (the server runs with RABBITMQ_ENABLED and NATS_ENABLED); reports events/s
    /// and event->consumer latency per transport.
    Transports {
        #[arg(long, default_value_t = 4)]
        pairs: usize,
        #[arg(long, default_value_t = 1000)]
        rate: u64,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value = "tr")]
        prefix: String,
        #[arg(
            long,
            env = "RABBITMQ_URI",
            default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
        )]
        amqp_url: String,
        #[arg(long, env = "NATS_URI", default_value = "nats://127.0.0.1:4222")]
        nats_url: String,
    },
    /// The operator console under load: N instances, a steady events/s, the real zapgate-tui in
    /// a pseudo-terminal; keystroke-to-frame percentiles, the console's CPU and RSS.
    Console(console::Opts),
    /// Send texts between pairs of paired LOOPBACK instances at a fixed rate.
    Send {
        /// Pairs of instances (created and paired first).
        #[arg(long, default_value_t = 10)]
        pairs: usize,
        /// Messages per second, all pairs together.
        #[arg(long, default_value_t = 200)]
        rate: u64,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value = "send")]
        prefix: String,
        /// Send documents of this many KiB (base64 JSON to /message/sendMedia) instead of texts.
        #[arg(long, default_value_t = 0)]
        media_kb: usize,
    },
}

pub(crate) struct Api {
    pub(crate) http: reqwest::Client,
    pub(crate) url: String,
    pub(crate) key: String,
}

impl Api {
    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut req = self
            .http
            .request(method, format!("{}{}", self.url, path))
            .header("apikey", &self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let body = resp.json().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    pub(crate) async fn health(&self) -> anyhow::Result<Value> {
        Ok(self.call(reqwest::Method::GET, "/health", None).await?.1)
    }

    /// Creates a LOOPBACK instance and, when `phone` is set, pairs it with that number.
    pub(crate) async fn instance(&self, name: &str, phone: Option<&str>) -> anyhow::Result<()> {
        let body = json!({"instanceName": name, "integration": "LOOPBACK"});
        let (s, b) = self
            .call(reqwest::Method::POST, "/instance/create", Some(body))
            .await?;
        anyhow::ensure!(s == 201 || s == 403, "create {name}: {s} {b}");
        if let Some(phone) = phone {
            let (s, b) = self
                .call(
                    reqwest::Method::GET,
                    &format!("/instance/connect/{name}"),
                    None,
                )
                .await?;
            anyhow::ensure!(s == 200, "connect {name}: {s} {b}");
            let path = format!("/loopback/scan/{name}?phone={phone}");
            let (s, b) = self
                .call(reqwest::Method::POST, &path, Some(json!({})))
                .await?;
            anyhow::ensure!(s == 200, "scan {name}: {s} {b}");
        }
        Ok(())
    }
}

/// Creates a WHATSAPP-BAILEYS instance, has wa-mock scan its QR and waits until it is open.
async fn pair_real(api: &Api, mock: &str, name: &str, phone: &str) -> anyhow::Result<()> {
    let body = json!({"instanceName": name, "integration": "WHATSAPP-BAILEYS"});
    let (s, b) = api
        .call(reqwest::Method::POST, "/instance/create", Some(body))
        .await?;
    anyhow::ensure!(s == 201, "create {name}: {s} {b}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let qr = loop {
        let (s, b) = api
            .call(
                reqwest::Method::GET,
                &format!("/instance/connect/{name}"),
                None,
            )
            .await?;
        if let Some(code) = b["code"].as_str() {
            break code.to_string();
        }
        anyhow::ensure!(
            s == 200 && Instant::now() < deadline,
            "no QR for {name}: {s} {b}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let resp = api
        .http
        .post(format!("{mock}/admin/scan"))
        .json(&json!({"qr": qr, "phone": phone}))
        .send()
        .await?;
    anyhow::ensure!(resp.status().is_success(), "scan {name}: {}", resp.status());
    loop {
        let (_, b) = api
            .call(
                reqwest::Method::GET,
                &format!("/instance/connectionState/{name}"),
                None,
            )
            .await?;
        if b["instance"]["state"] == "open" {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "{name} not open: {b}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs `job` for 0..count with `concurrency` in flight and prints the time taken and the
/// server's RSS growth per successful job.
async fn measure<F, Fut>(
    api: &Arc<Api>,
    label: &str,
    count: usize,
    concurrency: usize,
    job: F,
) -> anyhow::Result<()>
where
    F: Fn(Arc<Api>, usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let before = api.health().await?;
    let started = Instant::now();
    let results: Vec<anyhow::Result<()>> = futures_util::stream::iter(0..count)
        .map(|i| job(api.clone(), i))
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let errors = results.iter().filter(|r| r.is_err()).count();
    if let Some(Err(e)) = results.iter().find(|r| r.is_err()) {
        eprintln!("first error: {e}");
    }
    let took = started.elapsed();
    let after = api.health().await?;
    let ok = count - errors;
    println!(
        "{label}: {ok}/{count}, errors: {errors}, took {:.1} s ({:.0}/s)",
        took.as_secs_f64(),
        count as f64 / took.as_secs_f64()
    );
    println!(
        "server RSS before: {:.1} MiB, after: {:.1} MiB, per instance: {:.1} KiB",
        mib(&before),
        mib(&after),
        (mib(&after) - mib(&before)) * 1024.0 / ok.max(1) as f64
    );
    println!("states: {}", after["states"]);
    Ok(())
}

fn mib(v: &Value) -> f64 {
    v["rssBytes"].as_f64().unwrap_or(0.0) / 1048576.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let api = Arc::new(Api {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()?,
        url: cli.url.trim_end_matches('/').to_string(),
        key: cli.key,
    });
    match cli.scenario {
        Scenario::Instances {
            count,
            pair,
            concurrency,
            prefix,
            data_dir,
        } => {
            let before = data_dir.as_deref().map(history::dir_bytes);
            let label = format!("instances (paired: {pair})");
            measure(&api, &label, count, concurrency, |api, i| {
                let name = format!("{prefix}-{i:05}");
                let phone = pair.then(|| format!("1777{i:07}"));
                async move { api.instance(&name, phone.as_deref()).await }
            })
            .await?;
            if let (Some(dir), Some(before)) = (data_dir, before) {
                // sled writes in the background every 500 ms: let it settle.
                tokio::time::sleep(Duration::from_secs(3)).await;
                let after = history::dir_bytes(&dir);
                println!(
                    "data dir: {:.1} MiB allocated ({:.1} MiB apparent); grew {:.0} B per instance",
                    after.1 as f64 / 1048576.0,
                    after.0 as f64 / 1048576.0,
                    after.1.saturating_sub(before.1) as f64 / count.max(1) as f64
                );
            }
        }
        Scenario::SeedHistory {
            data_dir,
            name,
            messages,
            chats,
        } => history::seed(&data_dir, &name, messages, chats).await?,
        Scenario::History {
            name,
            chats,
            requests,
        } => history::query(&api, &name, chats, requests).await?,
        Scenario::Real {
            count,
            mock,
            concurrency,
            prefix,
        } => {
            let mock = Arc::new(mock.trim_end_matches('/').to_string());
            let label = "real-engine sessions paired and open";
            measure(&api, label, count, concurrency, |api, i| {
                let mock = mock.clone();
                let (name, phone) = (format!("{prefix}-{i:04}"), format!("1999{i:07}"));
                async move { pair_real(&api, &mock, &name, &phone).await }
            })
            .await?;
        }
        Scenario::Webhooks {
            instances,
            hang_percent,
            rate,
            seconds,
            prefix,
        } => webhooks::run(&api, instances, hang_percent, rate, seconds, &prefix).await?,
        Scenario::Transports {
            pairs,
            rate,
            seconds,
            prefix,
            amqp_url,
            nats_url,
        } => {
            let run = transports::Run {
                pairs,
                rate,
                seconds,
                prefix: &prefix,
                amqp_url: &amqp_url,
                nats_url: &nats_url,
            };
            transports::run(&api, run).await?
        }
        Scenario::Console(opts) => console::run(&api, opts).await?,
        Scenario::Send {
            pairs,
            rate,
            seconds,
            prefix,
            media_kb,
        } => {
            use base64::Engine as _;
            // One payload for every send: the cost measured is the server's, not the encoder's.
            let media = (media_kb > 0).then(|| {
                let bytes: Vec<u8> = (0..media_kb * 1024).map(|i| (i % 251) as u8).collect();
                Arc::new(base64::engine::general_purpose::STANDARD.encode(bytes))
            });
            let mut senders = Vec::new();
            for p in 0..pairs {
                let (a, b) = (format!("{prefix}-{p:04}-a"), format!("{prefix}-{p:04}-b"));
                let (pa, pb) = (format!("1888{:07}", 2 * p), format!("1888{:07}", 2 * p + 1));
                api.instance(&a, Some(&pa)).await?;
                api.instance(&b, Some(&pb)).await?;
                senders.push((a, pb));
            }
            let total = rate * seconds;
            let interval = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
            let hist = Arc::new(std::sync::Mutex::new(Histogram::<u64>::new_with_bounds(
                1, 60_000_000, 3,
            )?));
            let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
            let start = tokio::time::Instant::now();
            let mut tasks = Vec::with_capacity(total as usize);
            for i in 0..total {
                let due = start + interval * i as u32;
                tokio::time::sleep_until(due).await;
                let (from, to) = senders[(i as usize) % senders.len()].clone();
                let (api, hist, errors) = (api.clone(), hist.clone(), errors.clone());
                let media = media.clone();
                tasks.push(tokio::spawn(async move {
                    let (route, body) = match media {
                        Some(m) => (
                            "sendMedia",
                            json!({"number": to, "mediatype": "document", "media": m.as_str(), "fileName": format!("load-{i}.bin")}),
                        ),
                        None => ("sendText", json!({"number": to, "text": format!("load {i}")})),
                    };
                    match api
                        .call(
                            reqwest::Method::POST,
                            &format!("/message/{route}/{from}"),
                            Some(body),
                        )
                        .await
                    {
                        Ok((201, _)) => {
                            let us = due.elapsed().as_micros() as u64;
                            if let Ok(mut h) = hist.lock() {
                                let _ = h.record(us.max(1));
                            }
                        }
                        _ => {
                            errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                }));
            }
            for t in tasks {
                let _ = t.await;
            }
            let wall = start.elapsed().as_secs_f64();
            let h = hist
                .lock()
                .map_err(|_| anyhow::anyhow!("poisoned"))?
                .clone();
            println!(
                "sent {} in {:.1} s: {:.0} msg/s achieved (target {rate}/s), errors {}",
                h.len(),
                wall,
                h.len() as f64 / wall,
                errors.load(std::sync::atomic::Ordering::Relaxed)
            );
            println!(
                "latency ms: p50 {:.2} p90 {:.2} p99 {:.2} p99.9 {:.2} max {:.2}",
                h.value_at_quantile(0.5) as f64 / 1000.0,
                h.value_at_quantile(0.9) as f64 / 1000.0,
                h.value_at_quantile(0.99) as f64 / 1000.0,
                h.value_at_quantile(0.999) as f64 / 1000.0,
                h.max() as f64 / 1000.0
            );
            println!("server: {}", api.health().await?);
        }
    }
    Ok(())
}
