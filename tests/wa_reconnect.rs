//! Black-box: a `WHATSAPP-BAILEYS` instance whose `ZAPGATE_WA_URL` points at a local TCP port
//! that is not WhatsApp (it accepts and hangs up) goes `connecting`, retries with growing
//! delays, shows `failed` after `ZAPGATE_MAX_RECONNECT_ATTEMPTS`, and `/instance/restart` brings
//! it back to `connecting`. The fake port records when each attempt arrived.

mod common;

use std::time::{Duration, Instant};

use common::{DEADLINE, KEY, TestServer};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const ATTEMPTS: usize = 3;
const BASE_MS: u64 = 200;

/// Accepts connections, notes the time of each, and closes them at once.
async fn not_whatsapp() -> (String, mpsc::Receiver<Instant>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("ws://{}/ws/chat", listener.local_addr().expect("addr"));
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            drop(sock);
            if tx.send(Instant::now()).await.is_err() {
                return;
            }
        }
    });
    (url, rx)
}

/// The arrival times of `n` attempts, failing after the deadline.
async fn attempts(rx: &mut mpsc::Receiver<Instant>, n: usize) -> Vec<Instant> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let t = tokio::time::timeout(DEADLINE, rx.recv())
            .await
            .expect("a connection attempt in time")
            .expect("fake endpoint alive");
        out.push(t);
    }
    out
}

#[tokio::test]
async fn unreachable_whatsapp_backs_off_fails_and_restarts() {
    let (url, mut arrivals) = not_whatsapp().await;
    let base = BASE_MS.to_string();
    let server = TestServer::start(&[
        ("ZAPGATE_WA_URL", url.as_str()),
        ("ZAPGATE_MAX_RECONNECT_ATTEMPTS", "3"),
        ("ZAPGATE_RECONNECT_BASE_MS", base.as_str()),
        // connect/restart answer at once instead of waiting for a QR that never comes.
        ("ZAPGATE_QR_WAIT_MS", "0"),
    ])
    .await;
    let (status, body) = server
        .post(
            "/instance/create",
            Some(KEY),
            json!({"instanceName": "wa1", "integration": "WHATSAPP-BAILEYS"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(server.state("wa1").await, "close");

    let (status, body) = server.get("/instance/connect/wa1", Some(KEY)).await;
    assert_eq!(status, 200, "{body}");
    let first = attempts(&mut arrivals, 1).await;
    let state = server.state("wa1").await;
    assert!(state == "connecting" || state == "failed", "{state}");
    server.wait_state("wa1", "failed").await;

    let mut times = first;
    times.extend(attempts(&mut arrivals, ATTEMPTS - 1).await);
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    // Retry n waits base * 2^n, shortened by at most a quarter: 150..200 ms, then 300..400 ms.
    assert!(
        gaps[0] >= Duration::from_millis(BASE_MS * 3 / 4),
        "first retry too early: {gaps:?}"
    );
    assert!(gaps[1] > gaps[0], "delays did not grow: {gaps:?}");
    // Failed means stopped: no further attempt arrives on its own.
    assert!(
        tokio::time::timeout(Duration::from_millis(BASE_MS * 8), arrivals.recv())
            .await
            .is_err(),
        "a failed instance kept reconnecting"
    );
    let (_, body) = server.get("/instance/connectionState/wa1", Some(KEY)).await;
    assert_eq!(body["instance"]["state"], "failed", "{body}");

    let (status, body) = server
        .post("/instance/restart/wa1", Some(KEY), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let state = server.state("wa1").await;
    assert_eq!(
        state, "connecting",
        "restart did not bring the session back"
    );
    attempts(&mut arrivals, ATTEMPTS).await;
    server.wait_state("wa1", "failed").await;

    // Still serving: nothing panicked the process.
    let (status, _) = server.get("/instance/fetchInstances", Some(KEY)).await;
    assert_eq!(status, 200);
    server.stop().await;
}
