//! The `webhooks` scenario: many paired LOOPBACK instances, each with a webhook pointing at a
//! receiver run by this tool; a share of the endpoints never answer. Reports delivered events
//! per second and event->delivery latency (arrival time minus the envelope's `date_time`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Request, Response, Server};
use serde_json::{Value, json};

use crate::Api;

pub struct Figures {
    pub delivered: Arc<AtomicU64>,
    pub latency_ms: Arc<Mutex<Histogram<u64>>>,
}

/// Starts the receiver; paths under `/hang/` never answer.
pub async fn receiver() -> anyhow::Result<(String, Figures)> {
    let delivered = Arc::new(AtomicU64::new(0));
    let latency = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(
        1, 3_600_000, 3,
    )?));
    let (d, l) = (delivered.clone(), latency.clone());
    let ep = poem::endpoint::make(move |mut req: Request| {
        let (d, l) = (d.clone(), l.clone());
        async move {
            if req.uri().path().starts_with("/hang/") {
                std::future::pending::<()>().await;
            }
            let body = req.take_body().into_vec().await.unwrap_or_default();
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            if let Some(t) = v["date_time"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            {
                let ms =
                    (chrono::Utc::now().timestamp_millis() - t.timestamp_millis()).max(1) as u64;
                if let Ok(mut h) = l.lock() {
                    let _ = h.record(ms);
                }
            }
            d.fetch_add(1, Ordering::Relaxed);
            Response::builder().body("")
        }
    });
    let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await?;
    let addr = acceptor.local_addr()[0]
        .as_socket_addr()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no socket address"))?;
    tokio::spawn(async move {
        let _ = Server::new_with_acceptor(acceptor).run(ep).await;
    });
    Ok((
        format!("http://{addr}"),
        Figures {
            delivered,
            latency_ms: latency,
        },
    ))
}

/// Runs the scenario: `instances` instances (paired two by two), `hang_percent` of them with a
/// webhook that never answers, `rate` sends per second for `seconds`.
pub async fn run(
    api: &Arc<Api>,
    instances: usize,
    hang_percent: usize,
    rate: u64,
    seconds: u64,
    prefix: &str,
) -> anyhow::Result<()> {
    let (base, figures) = receiver().await?;
    let pairs = instances / 2;
    let mut senders = Vec::new();
    for p in 0..pairs {
        for side in 0..2 {
            let i = 2 * p + side;
            let name = format!("{prefix}-{i:04}");
            let phone = format!("1666{i:07}");
            api.instance(&name, Some(&phone)).await?;
            let kind = if i * 100 < instances * hang_percent {
                "hang"
            } else {
                "ok"
            };
            let body = json!({"webhook": {"enabled": true, "url": format!("{base}/{kind}/{i}"), "events": []}});
            let (s, b) = api
                .call(
                    reqwest::Method::POST,
                    &format!("/webhook/set/{name}"),
                    Some(body),
                )
                .await?;
            anyhow::ensure!(s == 201, "webhook/set {name}: {s} {b}");
        }
        senders.push((
            format!("{prefix}-{:04}", 2 * p),
            format!("1666{:07}", 2 * p + 1),
        ));
    }
    figures.delivered.store(0, Ordering::Relaxed);
    if let Ok(mut h) = figures.latency_ms.lock() {
        h.reset();
    }
    let start = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let mut tasks = Vec::new();
    for i in 0..rate * seconds {
        tokio::time::sleep_until(tokio::time::Instant::from_std(start + interval * i as u32)).await;
        let (from, to) = senders[(i as usize) % senders.len()].clone();
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"number": to, "text": format!("w{i}")});
            let _ = api
                .call(
                    reqwest::Method::POST,
                    &format!("/message/sendText/{from}"),
                    Some(body),
                )
                .await;
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    // Let the healthy endpoints drain: stop when deliveries stall for 2 s.
    let mut last = figures.delivered.load(Ordering::Relaxed);
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now = figures.delivered.load(Ordering::Relaxed);
        if now == last {
            break;
        }
        last = now;
    }
    let wall = start.elapsed().as_secs_f64() - 2.0;
    let h = figures
        .latency_ms
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .clone();
    println!(
        "instances {instances} ({hang_percent}% of endpoints hang), sends {} at {rate}/s",
        rate * seconds
    );
    println!(
        "delivered {last} events in {wall:.1} s: {:.0} events/s",
        last as f64 / wall
    );
    println!(
        "event->delivery ms: p50 {} p90 {} p99 {} max {}",
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.9),
        h.value_at_quantile(0.99),
        h.max()
    );
    println!("server: {}", api.health().await?);
    Ok(())
}
