//! The connection layer: accepts TCP connections and serves HTTP/1.1 and HTTP/2 on them, under
//! limits a public gateway needs and poem's own `Server` does not give.
//!
//! - A cap on open connections (`ZAPGATE_MAX_CONNECTIONS`): one more is answered `503` and
//!   closed at once, instead of waiting in the kernel's backlog while slow clients hold the slots.
//! - A header-read timeout (`ZAPGATE_HEADER_READ_TIMEOUT_SECS`): an HTTP/1 request head must
//!   arrive within it, which also bounds how long a kept-alive connection may sit between
//!   requests. A client that trickles a header byte at a time (slowloris) is cut off.
//! - An idle timeout (`ZAPGATE_IDLE_TIMEOUT_SECS`) for any connection, HTTP/2 included: no byte
//!   read or written for that long closes it. Event streams send keep-alives well inside it;
//!   a connection upgraded to a WebSocket leaves this layer (the stream has its own rules).
//!
//! Bodies are not this layer's business: `api::limits` counts them as they arrive.
//! Shutdown is graceful: connections finish what is in flight, bounded by the grace period.

mod tracked;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use poem::endpoint::BoxEndpoint;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Addr, Endpoint, EndpointExt, IntoEndpoint, Response};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_util::task::TaskTracker;

use tracked::Tracked;

/// Connection limits, flattened into [`Config`](crate::config::Config).
#[derive(Debug, Clone, Args)]
pub struct ConnLimits {
    /// Ours: open connections at most; one more is answered 503 and closed.
    #[arg(long, env = "ZAPGATE_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,

    /// Ours: seconds an HTTP/1 request head may take to arrive (also the longest pause between
    /// two requests on a kept-alive connection).
    #[arg(long, env = "ZAPGATE_HEADER_READ_TIMEOUT_SECS", default_value_t = 10)]
    pub header_read_timeout_secs: u64,

    /// Ours: seconds without a byte read or written before a connection is closed.
    #[arg(long, env = "ZAPGATE_IDLE_TIMEOUT_SECS", default_value_t = 120)]
    pub idle_timeout_secs: u64,
}

/// HTTP/2 streams one connection may carry at once.
const H2_MAX_STREAMS: u32 = 256;
/// Largest HTTP/2 header block accepted.
const H2_MAX_HEADER_LIST: u32 = 64 * 1024;
/// How long a refused connection gets to take its 503.
const REFUSAL_WRITE: Duration = Duration::from_secs(1);
/// Pause after a failed accept (out of file descriptors, say), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `endpoint` on `listener` until `shutdown` resolves, then lets open connections
/// finish for up to `grace`.
pub async fn serve(
    listener: TcpListener,
    endpoint: impl IntoEndpoint<Endpoint: 'static>,
    limits: &ConnLimits,
    shutdown: impl Future<Output = ()> + Send,
    grace: Duration,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    let endpoint: Arc<BoxEndpoint<'static, Response>> =
        Arc::new(endpoint.into_endpoint().map_to_response().boxed());
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let opts = Arc::new(ConnOptions {
        header_read: Duration::from_secs(limits.header_read_timeout_secs.max(1)),
        idle: Duration::from_secs(limits.idle_timeout_secs.max(1)),
        grace,
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let tasks = TaskTracker::new();
    tokio::pin!(shutdown);
    loop {
        let (socket, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let _ = socket.set_nodelay(true);
        match slots.clone().try_acquire_owned() {
            Ok(slot) => {
                let conn = Conn {
                    endpoint: endpoint.clone(),
                    local,
                    remote,
                    opts: opts.clone(),
                    stop: stop_rx.clone(),
                };
                tasks.spawn(conn.serve(Tracked::new(socket, slot)));
            }
            Err(_) => {
                tracing::warn!(%remote, "connection limit reached, refusing a connection");
                tasks.spawn(refuse(socket));
            }
        }
    }
    drop(listener);
    stop_tx.send_replace(true);
    tasks.close();
    if tokio::time::timeout(grace, tasks.wait()).await.is_err() {
        tracing::warn!("some connections did not finish within the grace period");
    }
    Ok(())
}

struct ConnOptions {
    header_read: Duration,
    idle: Duration,
    grace: Duration,
}

struct Conn {
    endpoint: Arc<BoxEndpoint<'static, Response>>,
    local: SocketAddr,
    remote: SocketAddr,
    opts: Arc<ConnOptions>,
    stop: watch::Receiver<bool>,
}

impl Conn {
    async fn serve(mut self, io: Tracked<TcpStream>) {
        let activity = io.activity();
        let (endpoint, local, remote) = (self.endpoint.clone(), self.local, self.remote);
        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let endpoint = endpoint.clone();
            async move {
                let req = poem::Request::from((
                    req,
                    LocalAddr(Addr::SocketAddr(local)),
                    RemoteAddr(Addr::SocketAddr(remote)),
                    poem::http::uri::Scheme::HTTP,
                ));
                let resp = endpoint.get_response(req).await;
                Ok::<_, Infallible>(hyper::Response::<_>::from(resp))
            }
        });
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.opts.header_read);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(H2_MAX_STREAMS)
            .max_header_list_size(H2_MAX_HEADER_LIST);
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
        tokio::pin!(conn);
        let interrupted = tokio::select! {
            _ = conn.as_mut() => false,
            _ = self.stop.wait_for(|s| *s) => true,
            () = activity.idle_for(self.opts.idle) => {
                tracing::debug!(remote = %self.remote, "closing an idle connection");
                true
            }
        };
        if interrupted {
            conn.as_mut().graceful_shutdown();
            // What is in flight may finish; a stream that never ends does not hold us forever.
            let _ = tokio::time::timeout(self.opts.grace, conn).await;
        }
    }
}

/// Answers a connection over the cap with a 503 in Evolution's envelope, then closes it.
async fn refuse(mut socket: TcpStream) {
    let body = crate::api::error::envelope(
        poem::http::StatusCode::SERVICE_UNAVAILABLE,
        serde_json::json!(["too many open connections, retry later"]),
    )
    .to_string();
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json; charset=utf-8\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = tokio::time::timeout(REFUSAL_WRITE, async {
        socket.write_all(head.as_bytes()).await?;
        socket.write_all(body.as_bytes()).await?;
        socket.shutdown().await
    })
    .await;
}
