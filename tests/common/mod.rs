//! Shared black-box harness: start the real `zapgate` binary on an ephemeral port with a temp
//! data dir, speak HTTP to it, and wait on conditions with deadlines (never fixed sleeps).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

pub mod real;
pub mod receiver;
pub mod team;

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

pub const KEY: &str = "test-global-key";
pub const DEADLINE: Duration = Duration::from_secs(20);

/// A data dir that outlived its server; removed when dropped if it was a temp dir.
pub struct DataDir {
    pub path: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

pub struct TestServer {
    pub base: String,
    pub dir: PathBuf,
    child: Child,
    pub http: reqwest::Client,
    _tmp: Option<tempfile::TempDir>,
}

impl TestServer {
    /// A server on a fresh temp data dir.
    pub async fn start(env: &[(&str, &str)]) -> TestServer {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let mut s = Self::start_in(&dir, env).await;
        s._tmp = Some(tmp);
        s
    }

    /// A server on an existing data dir (restart tests).
    pub async fn start_in(dir: &Path, env: &[(&str, &str)]) -> TestServer {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_zapgate"));
        cmd.args(["--port", "0", "--bind", "127.0.0.1", "--api-key", KEY])
            .arg("--data-dir")
            .arg(dir)
            .env("LOG_LEVEL", "warn")
            // Test builds may not verify WhatsApp's certificate (feature unification with
            // wa-mock's dev-dependencies); such a binary only accepts a loopback WA URL, and no
            // test may reach the internet anyway. Tests of the real engine override this.
            .env("ZAPGATE_WA_URL", "ws://127.0.0.1:9/ws/chat")
            .env("ZAPGATE_QR_WAIT_MS", "5000")
            // Test receivers and media servers listen on 127.0.0.1, and many tests configure
            // them with an instance token: opt in, as an operator would. The tests of the
            // private-target rule itself override this (tests/outbound.rs).
            .env("ZAPGATE_PRIVATE_TARGETS", "127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn zapgate");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(DEADLINE, lines.next_line())
            .await
            .expect("server did not start in time")
            .expect("read stdout")
            .expect("server exited before listening");
        let addr = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {first}"))
            .to_string();
        // Keep draining both pipes so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        if let Some(mut err) = child.stderr.take() {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                loop {
                    match err.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if std::env::var_os("ZAPGATE_TEST_LOGS").is_some() {
                                eprint!("{}", String::from_utf8_lossy(&buf[..n]));
                            }
                        }
                    }
                }
            });
        }
        TestServer {
            base: format!("http://{addr}"),
            dir: dir.to_path_buf(),
            child,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            _tmp: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a request with an optional `apikey` and JSON body; returns status and JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, self.url(path));
        if let Some(k) = key {
            req = req.header("apikey", k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request failed");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, json)
    }

    pub async fn get(&self, path: &str, key: Option<&str>) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, key, None).await
    }

    pub async fn post(&self, path: &str, key: Option<&str>, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, key, Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, key: Option<&str>) -> (u16, Value) {
        self.call(reqwest::Method::DELETE, path, key, None).await
    }

    /// GETs `path` with the global key until it answers 200 with a body `pred` accepts.
    pub async fn wait_for(&self, path: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let (status, body) = self.get(path, Some(KEY)).await;
            if status == 200 && pred(&body) {
                return body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{path} never matched; last: {status} {body}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Creates a LOOPBACK instance and returns its token.
    pub async fn create_loopback(&self, name: &str) -> String {
        let (status, body) = self
            .post(
                "/instance/create",
                Some(KEY),
                json!({"instanceName": name, "integration": "LOOPBACK"}),
            )
            .await;
        assert_eq!(status, 201, "create {name}: {body}");
        body["hash"].as_str().expect("hash").to_string()
    }

    /// A server with paired LOOPBACK instances, `(name, phone)` each.
    pub async fn start_paired(instances: &[(&str, &str)]) -> TestServer {
        let s = TestServer::start(&[]).await;
        for (name, phone) in instances {
            s.paired_loopback(name, phone).await;
        }
        s
    }

    /// Creates, connects and scans a LOOPBACK instance; returns its phone number.
    pub async fn paired_loopback(&self, name: &str, phone: &str) -> String {
        self.create_loopback(name).await;
        let (status, body) = self
            .get(&format!("/instance/connect/{name}"), Some(KEY))
            .await;
        assert_eq!(status, 200, "connect {name}: {body}");
        let (status, body) = self
            .post(
                &format!("/loopback/scan/{name}?phone={phone}"),
                Some(KEY),
                json!({}),
            )
            .await;
        assert_eq!(status, 200, "scan {name}: {body}");
        self.wait_state(name, "open").await;
        phone.to_string()
    }

    pub async fn state(&self, name: &str) -> String {
        let (_, body) = self
            .get(&format!("/instance/connectionState/{name}"), Some(KEY))
            .await;
        body["instance"]["state"].as_str().unwrap_or("").to_string()
    }

    /// Polls connectionState until it reads `want` or the deadline passes.
    pub async fn wait_state(&self, name: &str, want: &str) {
        self.wait_state_within(name, want, DEADLINE).await
    }

    pub async fn wait_state_within(&self, name: &str, want: &str, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        let mut last = String::new();
        while tokio::time::Instant::now() < deadline {
            last = self.state(name).await;
            if last == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("{name} never reached {want}; last state {last}");
    }

    /// One SSE block as (event type, data); the channel closes when the server ends the stream.
    pub async fn sse(&self, key: &str, query: &str) -> mpsc::Receiver<(String, Value)> {
        let resp = self
            .http
            .get(self.url(&format!("/events?{query}")))
            .header("apikey", key)
            .timeout(Duration::from_secs(3600))
            .send()
            .await
            .expect("events stream");
        assert_eq!(resp.status().as_u16(), 200);
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(async move {
            let mut body = resp.bytes_stream();
            let mut buf = String::new();
            while let Some(Ok(chunk)) = body.next().await {
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buf.find("\n\n") {
                    let block: String = buf.drain(..end + 2).collect();
                    let mut kind = String::new();
                    let mut data = Value::Null;
                    for line in block.lines() {
                        if let Some(k) = line.strip_prefix("event: ") {
                            kind = k.to_string();
                        } else if let Some(d) = line.strip_prefix("data: ") {
                            data = serde_json::from_str(d).unwrap_or(Value::Null);
                        }
                    }
                    if !kind.is_empty() && tx.send((kind, data)).await.is_err() {
                        return;
                    }
                }
            }
        });
        rx
    }

    /// Subscribes to `/events` with the global key; a channel of parsed envelopes.
    pub async fn events(&self, query: &str) -> mpsc::Receiver<Value> {
        let mut blocks = self.sse(KEY, query).await;
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(async move {
            while let Some((_, data)) = blocks.recv().await {
                if !data.is_null() && tx.send(data).await.is_err() {
                    return;
                }
            }
        });
        rx
    }

    /// The server's process id (to freeze it with SIGSTOP, say).
    pub fn pid(&self) -> u32 {
        self.child.id().expect("server still running")
    }

    /// SIGKILL: no shutdown code runs. The data dir outlives the server.
    pub async fn kill(mut self) -> DataDir {
        self.child.start_kill().expect("kill");
        let _ = self.child.wait().await;
        DataDir {
            path: self.dir.clone(),
            _tmp: self._tmp.take(),
        }
    }

    /// SIGTERM and wait for a clean exit. The data dir outlives the server.
    pub async fn stop(mut self) -> DataDir {
        let pid = self.child.id().expect("pid");
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let status = tokio::time::timeout(DEADLINE, self.child.wait())
            .await
            .expect("server did not stop in time")
            .expect("wait");
        assert!(status.success(), "server exited with {status}");
        DataDir {
            path: self.dir.clone(),
            _tmp: self._tmp.take(),
        }
    }
}

/// The user JID of a phone number.
pub fn jid(phone: &str) -> String {
    format!("{phone}@s.whatsapp.net")
}

/// The data of the next `messages.upsert` on a stream, whatever it is.
pub async fn next_upsert(rx: &mut mpsc::Receiver<Value>) -> Value {
    expect_event(rx, |e| e["event"] == "messages.upsert").await["data"].clone()
}

/// Waits for the first event matching `pred`.
pub async fn expect_event(rx: &mut mpsc::Receiver<Value>, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(v)) if pred(&v) => return v,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("event stream closed"),
            Err(_) => panic!("expected event did not arrive in time"),
        }
    }
}

/// Sends through `/message/{route}/{from}` to the number `to`; checks and returns the 201
/// record (ours, PENDING, addressed to `to`).
pub async fn send_from(s: &TestServer, from: &str, to: &str, route: &str, body: Value) -> Value {
    let (status, record) = s
        .post(&format!("/message/{route}/{from}"), Some(KEY), body)
        .await;
    assert_eq!(status, 201, "{route}: {record}");
    assert_eq!(record["key"]["fromMe"], true);
    assert_eq!(record["key"]["remoteJid"], jid(to));
    assert_eq!(record["status"], "PENDING");
    record
}

/// The `messages.upsert` of message `id`, received from the number `from`: its `data`.
pub async fn upsert_from(rx: &mut mpsc::Receiver<Value>, id: &Value, from: &str) -> Value {
    let e = expect_event(rx, |e| {
        e["event"] == "messages.upsert" && e["data"]["key"]["id"] == *id
    })
    .await;
    assert_eq!(e["data"]["key"]["remoteJid"], jid(from));
    assert_eq!(e["data"]["key"]["fromMe"], false);
    e["data"].clone()
}
