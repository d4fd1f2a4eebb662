//! The `console` scenario: the real `zapgate-tui` in a pseudo-terminal against a server with
//! thousands of LOOPBACK instances and a steady event rate (texts sent between paired instances).
//!
//! Measured, never asserted:
//! - keystroke to frame: a key that changes the screen is written to the terminal and the clock
//!   stops when the parsed screen shows its effect (the selected row moved, the filter prompt shows
//!   the typed text). The check runs right after each chunk of output is parsed, no polling.
//! - the console's CPU, as a share of one core, from `/proc/<pid>/stat` (utime + stime) over a
//!   window, and its RSS (`VmRSS`), sampled through the run.
//! - events per second, counted on a separate `/events` subscriber, and bytes written to the
//!   terminal per second.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hdrhistogram::Histogram;
use serde_json::json;

use crate::Api;
use crate::probe::{self, Probe};

#[derive(clap::Args)]
pub struct Opts {
    /// The console binary (default: zapgate-tui next to this tool).
    #[arg(long)]
    tui: Option<PathBuf>,
    #[arg(long, default_value_t = 5000)]
    instances: usize,
    /// Pairs of paired instances that send texts to each other (part of `instances`).
    #[arg(long, default_value_t = 50)]
    pairs: usize,
    /// Events per second to keep the server publishing (the send rate is calibrated to it).
    #[arg(long, default_value_t = 1000)]
    events_per_sec: u64,
    /// Seconds of streaming without keys (CPU while only data moves).
    #[arg(long, default_value_t = 15)]
    idle_seconds: u64,
    /// Selection keys (j/k) to time.
    #[arg(long, default_value_t = 400)]
    keys: usize,
    /// Filter keys to time.
    #[arg(long, default_value_t = 120)]
    filter_keys: usize,
    #[arg(long, default_value_t = 45)]
    rows: u16,
    #[arg(long, default_value_t = 160)]
    cols: u16,
    #[arg(long, default_value = "con")]
    prefix: String,
}

/// Column of the fleet table's state cell: inverse there means the selected row.
const PROBE_COL: u16 = 4;
const KEY_WAIT: Duration = Duration::from_secs(5);

/// The console next to this tool (both come from the same `cargo build --release`).
fn default_tui() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let dir = me
        .parent()
        .ok_or_else(|| anyhow::anyhow!("no directory for {}", me.display()))?;
    Ok(dir.join("zapgate-tui"))
}

pub async fn run(api: &Arc<Api>, opts: Opts) -> anyhow::Result<()> {
    let tui = match &opts.tui {
        Some(p) => std::fs::canonicalize(p)?,
        None => default_tui()?,
    };
    anyhow::ensure!(tui.exists(), "no console binary at {}", tui.display());
    let senders = fleet(api, &opts).await?;
    let total = api
        .call(reqwest::Method::GET, "/instance/summary", None)
        .await?;
    let instances = total.1["instances"].as_u64().unwrap_or(0);
    println!(
        "fleet: {instances} instances on the server ({} paired for sends)",
        2 * opts.pairs
    );

    let seen = Arc::new(AtomicU64::new(0));
    let counter = tokio::spawn(count_events(api.clone(), seen.clone()));
    let interval_us = Arc::new(AtomicU64::new(1_000_000 / 100));
    let sent = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let generator = tokio::spawn(generate(
        api.clone(),
        senders,
        interval_us.clone(),
        sent.clone(),
        errors.clone(),
    ));
    // Calibrate: find the send rate that makes the wanted events/s (each send is several events).
    let mut per_send = 0.0;
    for _ in 0..3 {
        let (e0, s0) = (seen.load(Ordering::Relaxed), sent.load(Ordering::Relaxed));
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (e1, s1) = (seen.load(Ordering::Relaxed), sent.load(Ordering::Relaxed));
        if s1 > s0 && e1 > e0 {
            per_send = (e1 - e0) as f64 / (s1 - s0) as f64;
            let rate = (opts.events_per_sec as f64 / per_send).max(1.0);
            interval_us.store((1_000_000.0 / rate) as u64, Ordering::Relaxed);
        }
    }
    println!(
        "events: {per_send:.2} per send; sending {:.0} texts/s for {} events/s",
        1_000_000.0 / interval_us.load(Ordering::Relaxed) as f64,
        opts.events_per_sec
    );

    let (url, key) = (api.url.clone(), api.key.clone());
    let (seen2, instances_shown) = (seen.clone(), instances);
    let report = tokio::task::spawn_blocking(move || {
        drive(&tui, &url, &key, &opts, instances_shown, &seen2)
    })
    .await??;
    generator.abort();
    counter.abort();
    println!(
        "sends: {} started, {} failed",
        sent.load(Ordering::Relaxed),
        errors.load(Ordering::Relaxed)
    );
    print!("{report}");
    Ok(())
}

/// Creates the instances: `pairs` pairs paired (they send to each other), the rest unpaired.
/// Returns (sender, receiver's phone) for each pair.
async fn fleet(api: &Arc<Api>, opts: &Opts) -> anyhow::Result<Vec<(String, String)>> {
    let started = Instant::now();
    let mut senders = Vec::new();
    for p in 0..opts.pairs {
        let (a, b) = (
            format!("{}-p{p:03}-a", opts.prefix),
            format!("{}-p{p:03}-b", opts.prefix),
        );
        let (pa, pb) = (format!("1555{:07}", 2 * p), format!("1555{:07}", 2 * p + 1));
        api.instance(&a, Some(&pa)).await?;
        api.instance(&b, Some(&pb)).await?;
        senders.push((a, pb));
    }
    let rest = opts.instances.saturating_sub(2 * opts.pairs);
    let prefix = opts.prefix.clone();
    let results: Vec<anyhow::Result<()>> = futures_util::stream::iter(0..rest)
        .map(|i| {
            let (api, name) = (api.clone(), format!("{prefix}-{i:05}"));
            async move { api.instance(&name, None).await }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    if let Some(Err(e)) = results.into_iter().find(|r| r.is_err()) {
        anyhow::bail!("creating the fleet: {e}");
    }
    println!(
        "fleet: created or found {} instances in {:.1} s",
        opts.instances,
        started.elapsed().as_secs_f64()
    );
    Ok(senders)
}

/// Counts events on a `/events` subscriber of its own (one `data:` line per event).
async fn count_events(api: Arc<Api>, seen: Arc<AtomicU64>) -> anyhow::Result<()> {
    let resp = api
        .http
        .get(format!("{}/events", api.url))
        .header("apikey", &api.key)
        .header("accept", "text/event-stream")
        .send()
        .await?;
    let mut body = resp.bytes_stream();
    let mut tail = Vec::new();
    while let Some(chunk) = body.next().await {
        tail.extend_from_slice(&chunk?);
        while let Some(nl) = tail.iter().position(|&b| b == b'\n') {
            if tail.starts_with(b"data:") {
                seen.fetch_add(1, Ordering::Relaxed);
            }
            tail.drain(..=nl);
        }
    }
    Ok(())
}

/// Open loop: one text every `interval_us`, round robin over the pairs, whatever the answers do.
async fn generate(
    api: Arc<Api>,
    senders: Vec<(String, String)>,
    interval_us: Arc<AtomicU64>,
    sent: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
) {
    let mut due = tokio::time::Instant::now();
    for i in 0u64.. {
        due += Duration::from_micros(interval_us.load(Ordering::Relaxed));
        tokio::time::sleep_until(due).await;
        let (from, to) = senders[(i as usize) % senders.len()].clone();
        let (api, errors) = (api.clone(), errors.clone());
        sent.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let body = json!({"number": to, "text": format!("console load {i}")});
            let path = format!("/message/sendText/{from}");
            match api.call(reqwest::Method::POST, &path, Some(body)).await {
                Ok((201, _)) => {}
                _ => {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
}

fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

fn percentiles(label: &str, h: &Histogram<u64>, missed: usize) -> String {
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    format!(
        "keystroke -> frame, {label} ({} keys, {missed} without a frame in {}s): p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms\n",
        h.len(),
        KEY_WAIT.as_secs(),
        ms(0.5),
        ms(0.9),
        ms(0.99),
        h.max() as f64 / 1000.0
    )
}

/// A window of the console's life: CPU share of one core, bytes to the terminal per second.
struct Window {
    cpu: Duration,
    at: Instant,
    bytes: u64,
}

impl Window {
    fn start(pid: u32, ticks: f64, con: &Probe) -> Window {
        Window {
            cpu: probe::cpu_time(pid, ticks).unwrap_or_default(),
            at: Instant::now(),
            bytes: con.bytes.load(Ordering::Relaxed),
        }
    }

    fn end(&self, pid: u32, ticks: f64, con: &Probe, seen: &AtomicU64, seen0: u64) -> String {
        let wall = self.at.elapsed().as_secs_f64();
        let cpu = probe::cpu_time(pid, ticks).unwrap_or_default() - self.cpu;
        let bytes = con.bytes.load(Ordering::Relaxed) - self.bytes;
        format!(
            "{:.1} s, {:.0} events/s: console CPU {:.1} % of one core, {:.1} KB/s to the terminal, RSS {:.1} MiB\n",
            wall,
            (seen.load(Ordering::Relaxed) - seen0) as f64 / wall,
            100.0 * cpu.as_secs_f64() / wall,
            bytes as f64 / 1000.0 / wall,
            probe::rss_bytes(pid).unwrap_or(0) as f64 / 1048576.0
        )
    }
}

/// Runs the console in a terminal and measures it. Blocking: the PTY probe waits on threads.
fn drive(
    tui: &Path,
    url: &str,
    key: &str,
    opts: &Opts,
    instances: u64,
    seen: &AtomicU64,
) -> anyhow::Result<String> {
    let mut out = String::new();
    let ticks = probe::clock_ticks();
    let started = Instant::now();
    let mut con = Probe::spawn(
        tui,
        &["--url", url],
        &[("ZAPGATE_APIKEY", key), ("ZAPGATE_TUI_CONFIG", "/dev/null")],
        opts.rows,
        opts.cols,
    )?;
    let pid = con
        .pid()
        .ok_or_else(|| anyhow::anyhow!("no pid for the console"))?;
    let first = con.wait(Box::new(|s| s.contents().contains("instances[")), KEY_WAIT);
    let full = format!("instances[{instances}/{instances}]");
    let loaded = con.wait(
        Box::new(move |s| {
            let c = s.contents();
            c.contains(&full) && c.contains("LIVE")
        }),
        Duration::from_secs(60),
    );
    let (Some(_), Some(_)) = (first, loaded) else {
        anyhow::bail!(
            "the console never showed the fleet; screen:\n{}",
            con.contents()
        );
    };
    let loaded_at = started.elapsed();
    out.push_str(&format!(
        "console {}x{}: fleet of {instances} on screen and LIVE {:.0} ms after start, RSS {:.1} MiB\n",
        opts.cols,
        opts.rows,
        loaded_at.as_secs_f64() * 1000.0,
        probe::rss_bytes(pid).unwrap_or(0) as f64 / 1048576.0
    ));

    // Streaming, no keys.
    let w = Window::start(pid, ticks, &con);
    let seen0 = seen.load(Ordering::Relaxed);
    let mut rss_max = 0;
    let idle_end = Instant::now() + Duration::from_secs(opts.idle_seconds);
    while Instant::now() < idle_end {
        rss_max = rss_max.max(probe::rss_bytes(pid).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(250));
    }
    out.push_str("streaming, no keys: ");
    out.push_str(&w.end(pid, ticks, &con, seen, seen0));

    // Selection: `g` to the top, then j/k alternately; the inverse row moves one line each time.
    let w = Window::start(pid, ticks, &con);
    let seen0 = seen.load(Ordering::Relaxed);
    // Data redraws come ten times a second, so a frame with the selection follows shortly.
    con.press(
        "g",
        Box::new(|s| probe::highlighted_line(s, PROBE_COL).is_some()),
        KEY_WAIT,
    );
    let top = con
        .read(|s| probe::highlighted_line(s, PROBE_COL))
        .flatten();
    let top = top.ok_or_else(|| anyhow::anyhow!("no selected row; screen:\n{}", con.contents()))?;
    let mut moves = hist();
    let mut missed = 0;
    for i in 0..opts.keys {
        let (key, line) = if i % 2 == 0 {
            ("j", top + 1)
        } else {
            ("k", top)
        };
        let cond: probe::Cond =
            Box::new(move |s| probe::highlighted_line(s, PROBE_COL) == Some(line));
        match con.press(key, cond, KEY_WAIT) {
            Some(d) => {
                let _ = moves.record((d.as_micros() as u64).max(1));
            }
            None => missed += 1,
        }
        rss_max = rss_max.max(probe::rss_bytes(pid).unwrap_or(0));
        // Operator pace: a key every ~30 ms on top of the frame.
        std::thread::sleep(Duration::from_millis(30));
    }
    out.push_str(&percentiles("selection j/k", &moves, missed));

    // Filter: type a name prefix one key at a time, then erase it; the prompt shows each key.
    let mut typing = hist();
    let mut missed = 0;
    con.press(
        "/",
        Box::new(|s| probe::last_line(s).starts_with('/')),
        KEY_WAIT,
    );
    let word: Vec<char> = format!("{}-0", opts.prefix).chars().collect();
    let mut text = String::new();
    for i in 0..opts.filter_keys {
        let cycle = 2 * word.len();
        let step = i % cycle;
        let key = if step < word.len() {
            text.push(word[step]);
            word[step].to_string()
        } else {
            text.pop();
            "\x7f".to_string()
        };
        let want = format!("/{text} ");
        let cond: probe::Cond = Box::new(move |s| probe::last_line(s).starts_with(&want));
        match con.press(&key, cond, KEY_WAIT) {
            Some(d) => {
                let _ = typing.record((d.as_micros() as u64).max(1));
            }
            None => missed += 1,
        }
        std::thread::sleep(Duration::from_millis(30));
    }
    out.push_str(&percentiles("filter typing", &typing, missed));
    out.push_str("with keys: ");
    out.push_str(&w.end(pid, ticks, &con, seen, seen0));
    rss_max = rss_max.max(probe::rss_bytes(pid).unwrap_or(0));
    out.push_str(&format!(
        "console RSS max over the run: {:.1} MiB\n",
        rss_max as f64 / 1048576.0
    ));

    con.press("\x1b", Box::new(|_| true), KEY_WAIT);
    con.press("q", Box::new(|_| true), KEY_WAIT);
    match con.wait_exit(KEY_WAIT) {
        Some(code) => out.push_str(&format!("console exited with {code}\n")),
        None => out.push_str("console did not exit on q\n"),
    }
    Ok(out)
}
