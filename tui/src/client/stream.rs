//! The live link: the stream (`GET /events`, Server-Sent Events) plus a snapshot after each
//! (re)connect, or — against a server without `/events`, like plain Evolution — fetchInstances
//! polled and diffed. A lost server is retried with backoff (1 s doubling to 30 s, jittered).

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::sleep;

use super::http::{Api, HttpError};
use super::wire;
use crate::msg::{LinkState, Msg, UnixSecs};

/// How often a server without a stream is re-listed.
pub const POLL_EVERY: Duration = Duration::from_secs(2);

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

/// Runs until `tx` closes. `resync` asks for a fresh snapshot.
pub async fn run(api: Api, tx: mpsc::Sender<Msg>, mut resync: mpsc::Receiver<()>) {
    let mut attempt = 0u32;
    loop {
        let end = match session(&api, &tx, &mut resync, &mut attempt).await {
            Ok(end) => end,
            Err(_) => End::Lost,
        };
        if let End::Closed = end {
            return;
        }
        let wait = backoff(attempt);
        attempt = attempt.saturating_add(1);
        for left in (1..=wait).rev() {
            if tx
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

async fn session(
    api: &Api,
    tx: &mpsc::Sender<Msg>,
    resync: &mut mpsc::Receiver<()>,
    attempt: &mut u32,
) -> Result<End, HttpError> {
    // Subscribe first, then list: events racing the snapshot wait in the response body and
    // are applied after it (re-applying a state already in the snapshot changes nothing).
    let resp = api
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
    let rows = api.instances().await?;
    *attempt = 0;
    if tx.send(Msg::Snapshot(rows)).await.is_err() {
        return Ok(End::Closed);
    }
    if let Ok(info) = api.server_info().await {
        let _ = tx.send(Msg::Server(info)).await;
    }
    if !live {
        let _ = tx.send(Msg::Link(LinkState::Polling)).await;
        return poll(api, tx, resync).await;
    }
    if tx.send(Msg::Link(LinkState::Live)).await.is_err() {
        return Ok(End::Closed);
    }
    let mut body = resp.bytes_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut data = String::new();
    let mut info_every = tokio::time::interval(Duration::from_secs(5));
    info_every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    info_every.tick().await;
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
                        // The server dropped us as a slow reader: start over with a snapshot.
                        return Ok(End::Lost);
                    } else if line.is_empty() && !data.is_empty() {
                        let env: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
                        data.clear();
                        if let Some(ev) = wire::event(&env, now())
                            && tx.send(Msg::Event(ev)).await.is_err()
                        {
                            return Ok(End::Closed);
                        }
                    }
                }
            }
            asked = resync.recv() => {
                if asked.is_none() { return Ok(End::Closed) }
                let rows = api.instances().await?;
                if tx.send(Msg::Snapshot(rows)).await.is_err() { return Ok(End::Closed) }
            }
            _ = info_every.tick() => {
                if let Ok(info) = api.server_info().await
                    && tx.send(Msg::Server(info)).await.is_err()
                {
                    return Ok(End::Closed);
                }
            }
        }
    }
}

async fn poll(
    api: &Api,
    tx: &mpsc::Sender<Msg>,
    resync: &mut mpsc::Receiver<()>,
) -> Result<End, HttpError> {
    loop {
        tokio::select! {
            asked = resync.recv() => if asked.is_none() { return Ok(End::Closed) },
            () = sleep(POLL_EVERY) => {}
        }
        let rows = api.instances().await?;
        if tx.send(Msg::Snapshot(rows)).await.is_err() {
            return Ok(End::Closed);
        }
    }
}
