//! The `transports` scenario: paired LOOPBACK instances whose `send.message` events go to a
//! webhook (a receiver run here), RabbitMQ (a consumer on each instance's queue) and NATS (a
//! core subscriber on each instance's subject) at once, while texts are sent open-loop at a
//! fixed rate. Reports, per transport, distinct events delivered per second and
//! event->consumer latency (arrival minus the envelope's `date_time`).
//!
//! The server must run with `RABBITMQ_ENABLED=true RABBITMQ_URI=...` and `NATS_ENABLED=true
//! NATS_URI=...`; a transport that is off is reported as skipped.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hdrhistogram::Histogram;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, ExchangeDeclareOptions, ExchangeDeleteOptions,
    QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Connection, ConnectionProperties, ExchangeKind};
use serde_json::{Value, json};

use crate::Api;

/// What one transport delivered.
struct Tally {
    name: &'static str,
    seen: HashSet<String>,
    deliveries: u64,
    latency_ms: Histogram<u64>,
    last_at: Option<Instant>,
}

type Shared = Arc<Mutex<Tally>>;

fn tally(name: &'static str) -> anyhow::Result<Shared> {
    Ok(Arc::new(Mutex::new(Tally {
        name,
        seen: HashSet::new(),
        deliveries: 0,
        latency_ms: Histogram::new_with_bounds(1, 3_600_000, 3)?,
        last_at: None,
    })))
}

/// Counts one delivered envelope.
fn record(t: &Shared, env: &Value) {
    let Ok(mut t) = t.lock() else { return };
    t.deliveries += 1;
    t.last_at = Some(Instant::now());
    let Some(id) = env["data"]["key"]["id"].as_str() else {
        return;
    };
    if !t.seen.insert(id.to_string()) {
        return;
    }
    if let Some(at) = env["date_time"]
        .as_str()
        .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
    {
        let ms = (chrono::Utc::now().timestamp_millis() - at.timestamp_millis()).max(1) as u64;
        let _ = t.latency_ms.record(ms);
    }
}

async fn rabbitmq_consumer(url: &str, instance: &str, t: Shared) -> anyhow::Result<Connection> {
    let conn = Connection::connect(url, ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    let queue = format!("{instance}.send.message");
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    ch.exchange_declare(
        instance.into(),
        ExchangeKind::Topic,
        durable,
        FieldTable::default(),
    )
    .await?;
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    let opts = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    ch.queue_declare(queue.as_str().into(), opts, args).await?;
    ch.queue_bind(
        queue.as_str().into(),
        instance.into(),
        "send.message".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    let mut consumer = ch
        .basic_consume(
            queue.as_str().into(),
            "zapgate-load".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    tokio::spawn(async move {
        while let Some(Ok(d)) = consumer.next().await {
            let env: Value = serde_json::from_slice(&d.data).unwrap_or(Value::Null);
            record(&t, &env);
            let _ = d.ack(BasicAckOptions::default()).await;
        }
    });
    Ok(conn)
}

async fn nats_subscriber(
    client: &async_nats::Client,
    instance: &str,
    t: Shared,
) -> anyhow::Result<()> {
    let mut sub = client.subscribe(format!("{instance}.send.message")).await?;
    tokio::spawn(async move {
        while let Some(m) = sub.next().await {
            let env: Value = serde_json::from_slice(&m.payload).unwrap_or(Value::Null);
            record(&t, &env);
        }
    });
    Ok(())
}

async fn set(api: &Api, path: &str, body: Value) -> anyhow::Result<bool> {
    let (s, b) = api.call(reqwest::Method::POST, path, Some(body)).await?;
    if s == 400 && b.to_string().contains("disabled") {
        return Ok(false);
    }
    anyhow::ensure!(s == 201, "{path}: {s} {b}");
    Ok(true)
}

pub struct Run<'a> {
    pub pairs: usize,
    pub rate: u64,
    pub seconds: u64,
    pub prefix: &'a str,
    pub amqp_url: &'a str,
    pub nats_url: &'a str,
}

pub async fn run(api: &Arc<Api>, r: Run<'_>) -> anyhow::Result<()> {
    let (hook_base, hook_figures) = crate::webhooks::receiver().await?;
    let (rabbit, nats) = (tally("rabbitmq")?, tally("nats")?);
    let nats_client = async_nats::connect(r.nats_url).await.ok();
    let mut conns = Vec::new();
    let mut senders = Vec::new();
    let (mut rabbit_on, mut nats_on) = (true, true);
    for p in 0..r.pairs {
        let (a, b) = (
            format!("{}-{p:03}-a", r.prefix),
            format!("{}-{p:03}-b", r.prefix),
        );
        let (pa, pb) = (format!("1555{:07}", 2 * p), format!("1555{:07}", 2 * p + 1));
        api.instance(&a, Some(&pa)).await?;
        api.instance(&b, Some(&pb)).await?;
        let events = json!(["SEND_MESSAGE"]);
        let url = format!("{hook_base}/ok/{p}");
        set(
            api,
            &format!("/webhook/set/{a}"),
            json!({"webhook": {"enabled": true, "url": url, "events": events}}),
        )
        .await?;
        rabbit_on &= set(
            api,
            &format!("/rabbitmq/set/{a}"),
            json!({"rabbitmq": {"enabled": true, "events": events}}),
        )
        .await?;
        nats_on &= set(
            api,
            &format!("/nats/set/{a}"),
            json!({"nats": {"enabled": true, "events": events}}),
        )
        .await?;
        if rabbit_on {
            conns.push((
                rabbitmq_consumer(r.amqp_url, &a, rabbit.clone()).await?,
                a.clone(),
            ));
        }
        if let (true, Some(c)) = (nats_on, &nats_client) {
            nats_subscriber(c, &a, nats.clone()).await?;
        }
        senders.push((a, pb));
    }
    if let Some(c) = &nats_client {
        c.flush().await?;
    }
    // The webhook receiver counts without ids: take its figures as they are.
    hook_figures
        .delivered
        .store(0, std::sync::atomic::Ordering::Relaxed);
    let total = r.rate * r.seconds;
    let interval = Duration::from_secs_f64(1.0 / r.rate.max(1) as f64);
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        tokio::time::sleep_until(start + interval * i as u32).await;
        let (from, to) = senders[(i as usize) % senders.len()].clone();
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"number": to, "text": format!("t{i}")});
            let path = format!("/message/sendText/{from}");
            matches!(
                api.call(reqwest::Method::POST, &path, Some(body)).await,
                Ok((201, _))
            )
        }));
    }
    let mut sent = 0u64;
    for t in tasks {
        sent += u64::from(t.await.unwrap_or(false));
    }
    let sending = start.elapsed().as_secs_f64();
    // Drain: stop once no transport has delivered anything for 2 s.
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let idle = [&rabbit, &nats].iter().all(|t| {
            t.lock()
                .map(|t| {
                    t.last_at
                        .is_none_or(|l| l.elapsed() >= Duration::from_secs(2))
                })
                .unwrap_or(true)
        });
        if idle {
            break;
        }
    }
    println!(
        "pairs {}, sends {sent}/{total} acknowledged in {sending:.1} s ({:.0}/s, target {}/s)",
        r.pairs,
        sent as f64 / sending,
        r.rate
    );
    let started = start.into_std();
    for t in [&rabbit, &nats] {
        let t = t.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let on = if t.name == "rabbitmq" {
            rabbit_on
        } else {
            nats_on
        };
        if !on {
            println!("{}: skipped (disabled on the server)", t.name);
            continue;
        }
        let wall = t.last_at.map_or(0.0, |l| (l - started).as_secs_f64());
        let h = &t.latency_ms;
        println!(
            "{}: {} distinct events ({} deliveries) in {wall:.1} s: {:.0} events/s; event->consumer ms p50 {} p99 {} max {}",
            t.name,
            t.seen.len(),
            t.deliveries,
            t.seen.len() as f64 / wall.max(0.001),
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.99),
            h.max()
        );
    }
    let delivered = hook_figures
        .delivered
        .load(std::sync::atomic::Ordering::Relaxed);
    let h = hook_figures
        .latency_ms
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .clone();
    println!(
        "webhook: {delivered} deliveries; event->receiver ms p50 {} p99 {} max {}",
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        h.max()
    );
    // The broker is shared: take this run's queues and exchanges away again.
    for (c, instance) in conns {
        if let Ok(ch) = c.create_channel().await {
            let queue = format!("{instance}.send.message");
            let _ = ch
                .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                .await;
            let _ = ch
                .exchange_delete(instance.as_str().into(), ExchangeDeleteOptions::default())
                .await;
        }
        let _ = c.close(200, "done".into()).await;
    }
    println!("server: {}", api.health().await?);
    Ok(())
}
