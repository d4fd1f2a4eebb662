//! A real HTTP webhook receiver on 127.0.0.1:0 (a poem server). Every request is recorded with
//! its path, headers and body; how it answers is switchable while the test runs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Request, Response, Server};
use serde_json::Value;
use tokio::sync::mpsc;

/// How the receiver answers.
#[derive(Clone, Debug)]
pub enum Mode {
    Ok,
    /// 500 for the first N requests, then 200.
    FailFirst(usize),
    Status(u16),
    /// Never answers (the sender's timeout ends it).
    Hang,
    /// 200 after this long.
    Slow(Duration),
}

#[derive(Debug, Clone)]
pub struct Hit {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub raw: Vec<u8>,
    pub body: Value,
}

pub struct Receiver {
    pub base: String,
    pub hits: mpsc::Receiver<Hit>,
    /// Hits `expect` passed over, kept for later expectations (deliveries are concurrent, so
    /// their order is not fixed).
    backlog: Vec<Hit>,
    pub mode: Arc<Mutex<Mode>>,
    /// Requests seen / requests answered.
    pub seen: Arc<AtomicUsize>,
    pub answered: Arc<AtomicUsize>,
}

impl Receiver {
    pub async fn start(mode: Mode) -> Receiver {
        let (tx, rx) = mpsc::channel(100_000);
        let mode = Arc::new(Mutex::new(mode));
        let seen = Arc::new(AtomicUsize::new(0));
        let answered = Arc::new(AtomicUsize::new(0));
        let (m, s, a) = (mode.clone(), seen.clone(), answered.clone());
        let ep = poem::endpoint::make(move |mut req: Request| {
            let (tx, m, s, a) = (tx.clone(), m.clone(), s.clone(), a.clone());
            async move {
                let raw = req.take_body().into_vec().await.unwrap_or_default();
                let headers = req
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
                    .collect();
                let hit = Hit {
                    path: req.uri().path().to_string(),
                    headers,
                    body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
                    raw,
                };
                let n = s.fetch_add(1, Ordering::SeqCst);
                let _ = tx.send(hit).await;
                let mode = m.lock().unwrap().clone();
                let status = match mode {
                    Mode::Ok => 200,
                    Mode::FailFirst(k) => {
                        if n < k {
                            500
                        } else {
                            200
                        }
                    }
                    Mode::Status(code) => code,
                    Mode::Hang => {
                        std::future::pending::<()>().await;
                        200
                    }
                    Mode::Slow(d) => {
                        tokio::time::sleep(d).await;
                        200
                    }
                };
                a.fetch_add(1, Ordering::SeqCst);
                Response::builder()
                    .status(poem::http::StatusCode::from_u16(status).unwrap())
                    .body("")
            }
        });
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .expect("bind receiver");
        let addr = acceptor.local_addr()[0]
            .as_socket_addr()
            .cloned()
            .expect("socket addr");
        tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor).run(ep).await;
        });
        Receiver {
            base: format!("http://{addr}"),
            hits: rx,
            backlog: Vec::new(),
            mode,
            seen,
            answered,
        }
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// The next request whose path and body satisfy `pred`, within the deadline.
    pub async fn expect(&mut self, pred: impl Fn(&Hit) -> bool) -> Hit {
        if let Some(i) = self.backlog.iter().position(&pred) {
            return self.backlog.remove(i);
        }
        let deadline = tokio::time::Instant::now() + super::DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.hits.recv()).await {
                Ok(Some(h)) if pred(&h) => return h,
                Ok(Some(h)) => self.backlog.push(h),
                Ok(None) => panic!("receiver closed"),
                Err(_) => panic!("expected webhook did not arrive in time at {}", self.base),
            }
        }
    }
}
