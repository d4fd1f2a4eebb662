//! A stub HTTP/1.1 server speaking just enough to stand in for a zapgate or a plain Evolution
//! server: each request line goes to a handler chosen by the test, every request is logged,
//! and `/events` can be held open as a Server-Sent Events stream fed by the test.

use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

pub enum Reply {
    Json(u16, Value),
    /// An open `text/event-stream`: every string sent on the stub's feed becomes one event.
    Events,
}

type Handler = Arc<dyn Fn(&str) -> Reply + Send + Sync>;

pub struct Stub {
    pub url: String,
    log: Arc<Mutex<Vec<String>>>,
    feed: broadcast::Sender<String>,
}

impl Stub {
    /// Serves on 127.0.0.1:0; `handler` gets the path with its query.
    pub async fn start(handler: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind stub");
        let url = format!("http://{}", listener.local_addr().expect("stub address"));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (feed, _) = broadcast::channel(64);
        let handler: Handler = Arc::new(handler);
        let (log2, feed2) = (log.clone(), feed.clone());
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let (handler, log, feed) = (handler.clone(), log2.clone(), feed2.clone());
                tokio::spawn(serve(sock, handler, log, feed));
            }
        });
        Stub { url, log, feed }
    }

    /// The requests so far, as `path?query`.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Sends one event to every open `/events` stream.
    pub fn event(&self, envelope: Value) {
        let _ = self.feed.send(envelope.to_string());
    }

    /// Open `/events` streams.
    pub fn listeners(&self) -> usize {
        self.feed.receiver_count()
    }
}

async fn serve(
    mut sock: TcpStream,
    handler: Handler,
    log: Arc<Mutex<Vec<String>>>,
    feed: broadcast::Sender<String>,
) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match sock.read(&mut byte).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&byte[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let target = text.split_whitespace().nth(1).unwrap_or("/").to_string();
    log.lock().unwrap().push(target.clone());
    match handler(&target) {
        Reply::Json(status, body) => {
            let body = body.to_string();
            let out = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(out.as_bytes()).await;
        }
        Reply::Events => {
            let mut rx = feed.subscribe();
            let head =
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
            if sock.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            while let Ok(ev) = rx.recv().await {
                if sock
                    .write_all(format!("data: {ev}\n\n").as_bytes())
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}
