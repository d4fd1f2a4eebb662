//! The live link: the stream (`GET /events`, Server-Sent Events) plus what keeps the fleet whole
//! around it. Against zapgate the fleet is listed in full once (fetchInstances); after that only
//! what moved is asked for (`GET /instance/summary?changedSince=`): every 5 s for the counters
//! the stream does not carry, after an event names an unknown instance, and after a reconnect.
//! Against a server without `/events` or the summary (plain Evolution), fetchInstances is polled
//! every 2 s and diffed. A lost server is retried with backoff (1 s doubling to 30 s, jittered).

use std::collections::HashSet;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::sleep;

use super::http::{Api, HttpError};
use super::wire::{self, Summary};
use crate::msg::{EventKind, LinkState, Msg, UnixSecs};

/// How often a server without a stream is re-listed (or, zapgate, asked what changed).
pub const POLL_EVERY: Duration = Duration::from_secs(2);
/// How often a live zapgate console asks what changed (counters, last errors) and for `/health`.
pub const REFRESH_EVERY: Duration = Duration::from_secs(5);
/// A summary's `changedSince` reaches back this far before the previous answer, so a change
/// stamped while that answer was being made is not missed (re-sending a row changes nothing).
const OVERLAP_MS: i64 = 1_000;
/// Above this many new names, one full fetchInstances beats one request per name.
const NAMED_FETCH_MAX: usize = 32;

pub fn now() -> UnixSecs {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Full jitter over an exponential cap: somewhere in [cap/2, cap].
fn backoff(attempt: u32) -> u64 {
    let cap = (1u64 << attempt.min(5)).min(30);
    rand::random_range(cap.div_ceil(2)..=cap)
}

enum End {
    /// The stream or the server went away.
    Lost,
    /// The console is closing.
    Closed,
}

/// The console is gone: its receiver closed.
struct Closed;

/// What the link knows of the fleet between requests and across reconnects: the names the
/// console has (so new ones get their full rows) and the clock of the last summary.
struct Link {
    api: Api,
    tx: mpsc::Sender<Msg>,
    known: HashSet<String>,
    since_ms: Option<i64>,
}

impl Link {
    async fn send(&self, m: Msg) -> Result<(), Closed> {
        self.tx.send(m).await.map_err(|_| Closed)
    }

    /// The whole fleet from fetchInstances; `head` (a summary taken just before) starts the
    /// changedSince clock, so what moves during the listing is asked for next time.
    async fn full(&mut self, head: Option<&Summary>) -> Result<Result<(), Closed>, HttpError> {
        let rows = self.api.instances().await?;
        self.known = rows.iter().map(|r| r.name.clone()).collect();
        self.since_ms = head.map(|h| h.generated_at_ms);
        Ok(self.send(Msg::Snapshot(rows)).await)
    }

    /// zapgate: what changed since the last summary; new names get their full rows, and a count
    /// that does not add up (an instance deleted while the stream was down) asks for every row.
    async fn catch_up(&mut self) -> Result<Result<(), Closed>, HttpError> {
        let Some(since) = self.since_ms else {
            return self.full(None).await;
        };
        let Some(delta) = self.api.summary(Some(since - OVERLAP_MS)).await? else {
            return self.full(None).await;
        };
        let mut fresh: Vec<String> = delta
            .rows
            .iter()
            .filter(|r| !self.known.contains(&r.name))
            .map(|r| r.name.clone())
            .collect();
        self.known.extend(fresh.iter().cloned());
        self.since_ms = Some(delta.generated_at_ms);
        let instances = delta.instances;
        if self
            .send(Msg::Summary {
                rows: delta.rows,
                complete: false,
            })
            .await
            .is_err()
        {
            return Ok(Err(Closed));
        }
        if instances != self.known.len() as u64
            && let Some(all) = self.api.summary(None).await?
        {
            let names: HashSet<String> = all.rows.iter().map(|r| r.name.clone()).collect();
            fresh.extend(names.difference(&self.known).cloned());
            self.known = names;
            self.since_ms = Some(all.generated_at_ms);
            let m = Msg::Summary {
                rows: all.rows,
                complete: true,
            };
            if self.send(m).await.is_err() {
                return Ok(Err(Closed));
            }
        }
        if fresh.is_empty() {
            return Ok(Ok(()));
        }
        if fresh.len() > NAMED_FETCH_MAX {
            return self.full(None).await;
        }
        let rows = self.api.instances_named(&fresh).await?;
        Ok(self.send(Msg::Rows(rows)).await)
    }

    /// Keeps `known` in step with what the stream says.
    fn saw(&mut self, instance: &str, kind: &EventKind) {
        if let EventKind::Deleted = kind {
            self.known.remove(instance);
        }
    }
}

/// Runs until `tx` closes. `resync` asks for what changed (zapgate) or a fresh list.
pub async fn run(api: Api, tx: mpsc::Sender<Msg>, mut resync: mpsc::Receiver<()>) {
    let mut link = Link {
        api,
        tx,
        known: HashSet::new(),
        since_ms: None,
    };
    let mut attempt = 0u32;
    loop {
        let end = match session(&mut link, &mut resync, &mut attempt).await {
            Ok(end) => end,
            Err(_) => End::Lost,
        };
        if let End::Closed = end {
            return;
        }
        let wait = backoff(attempt);
        attempt = attempt.saturating_add(1);
        for left in (1..=wait).rev() {
            if link
                .send(Msg::Link(LinkState::Reconnecting { in_s: left }))
                .await
                .is_err()
            {
                return;
            }
            sleep(Duration::from_secs(1)).await;
        }
    }
}

/// `Ok(Err(Closed))` from a step ends the session as closed.
macro_rules! step {
    ($e:expr) => {
        if let Err(Closed) = $e? {
            return Ok(End::Closed);
        }
    };
}

async fn session(
    link: &mut Link,
    resync: &mut mpsc::Receiver<()>,
    attempt: &mut u32,
) -> Result<End, HttpError> {
    // Subscribe first, then list: events racing the listing wait in the response body and are
    // applied after it (re-applying a state already listed changes nothing).
    let resp = link
        .api
        .get_stream("/events")
        .header("accept", "text/event-stream")
        .send()
        .await?;
    let live = resp.status().is_success();
    if !live && resp.status().as_u16() != 404 {
        return Err(HttpError::Status(format!(
            "GET /events: HTTP {}",
            resp.status().as_u16()
        )));
    }
    // A summary with changedSince in the far future lists nothing: it only tells whether the
    // server is zapgate, and gives the clock the next changedSince starts from.
    let head = link.api.summary(Some(i64::MAX)).await?;
    let zapgate = head.is_some();
    if zapgate && link.since_ms.is_some() {
        step!(link.catch_up().await);
    } else {
        step!(link.full(head.as_ref()).await);
    }
    *attempt = 0;
    if let Ok(info) = link.api.server_info().await
        && link.send(Msg::Server(info)).await.is_err()
    {
        return Ok(End::Closed);
    }
    if !live {
        if link.send(Msg::Link(LinkState::Polling)).await.is_err() {
            return Ok(End::Closed);
        }
        return poll(link, resync, zapgate).await;
    }
    if link.send(Msg::Link(LinkState::Live)).await.is_err() {
        return Ok(End::Closed);
    }
    let mut body = resp.bytes_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut data = String::new();
    let mut refresh = tokio::time::interval(REFRESH_EVERY);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    refresh.tick().await;
    loop {
        tokio::select! {
            chunk = body.next() => {
                let Some(Ok(chunk)) = chunk else { return Ok(End::Lost) };
                buf.extend_from_slice(&chunk);
                while let Some(nl) = buf.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=nl).collect();
                    let line = String::from_utf8_lossy(&line);
                    let line = line.trim_end_matches(['\r', '\n']);
                    if let Some(d) = line.strip_prefix("data:") {
                        data.push_str(d.strip_prefix(' ').unwrap_or(d));
                    } else if line.starts_with("event: error") || line.starts_with("event:error") {
                        // The server dropped us as a slow reader: catch up after reconnecting.
                        return Ok(End::Lost);
                    } else if line.is_empty() && !data.is_empty() {
                        let env: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
                        data.clear();
                        if let Some(ev) = wire::event(&env, now()) {
                            link.saw(&ev.instance, &ev.kind);
                            if link.send(Msg::Event(ev)).await.is_err() {
                                return Ok(End::Closed);
                            }
                        }
                    }
                }
            }
            asked = resync.recv() => {
                if asked.is_none() { return Ok(End::Closed) }
                if zapgate {
                    step!(link.catch_up().await);
                } else {
                    step!(link.full(None).await);
                }
            }
            _ = refresh.tick() => {
                if zapgate {
                    step!(link.catch_up().await);
                }
                if let Ok(info) = link.api.server_info().await
                    && link.send(Msg::Server(info)).await.is_err()
                {
                    return Ok(End::Closed);
                }
            }
        }
    }
}

/// No stream: ask every [`POLL_EVERY`] (or when asked).
async fn poll(
    link: &mut Link,
    resync: &mut mpsc::Receiver<()>,
    zapgate: bool,
) -> Result<End, HttpError> {
    loop {
        tokio::select! {
            asked = resync.recv() => if asked.is_none() { return Ok(End::Closed) },
            () = sleep(POLL_EVERY) => {}
        }
        if zapgate {
            step!(link.catch_up().await);
        } else {
            step!(link.full(None).await);
        }
    }
}
