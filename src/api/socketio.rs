//! socket.io on the server's own port (Evolution's `websocket` transport), with socketioxide.
//!
//! Namespaces: `/{instance}` receives the events the instance subscribed to with
//! `/websocket/set`; `/` receives every event of every instance when `WEBSOCKET_GLOBAL_EVENTS`
//! is on. The socket.io event name is the dotted event, the payload Evolution's envelope without
//! `destination`. A connection needs `apikey` (header or query): the global key for any
//! namespace, an instance's token for that instance's namespace only.
//!
//! Fed from the live bus, not the outbox: socket.io has no consumer that could acknowledge an
//! event or come back for what it missed, so, as in Evolution, a client sees what happens while
//! it is connected (the brokers are the durable transports).
//!
//! Mounting: poem keeps hyper's upgrade to itself, so a WebSocket upgrade is answered here (101
//! with the accept key) and socketioxide gets the upgraded stream; HTTP long-polling goes through
//! the tower service as it is.

use std::sync::Arc;

use engineioxide::service::NotFoundService;
use poem::http::{StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};
use socketioxide::SocketIo;
use socketioxide::extract::SocketRef;
use socketioxide::handler::ConnectHandler;
use socketioxide::service::SocketIoService;
use tokio::sync::broadcast::error::RecvError;

use super::auth::constant_time_eq;
use crate::events::transport::TransportKind;
use crate::state::AppState;

/// The socket.io service as a poem endpoint (mounted with `nest_no_strip("/socket.io", ..)`).
pub struct SocketIoEndpoint(SocketIoService<NotFoundService>);

impl Endpoint for SocketIoEndpoint {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let upgrade = req
            .headers()
            .get(header::UPGRADE)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
        if !upgrade {
            // Long-polling: plain requests, the tower service as it is.
            let svc = poem::endpoint::TowerCompatExt::compat(self.0.clone());
            return Ok(svc.call(req).await?.into_response());
        }
        let key = req
            .headers()
            .get(header::SEC_WEBSOCKET_KEY)
            .ok_or_else(|| poem::Error::from_status(StatusCode::BAD_REQUEST))?;
        let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
        let mut head = poem::http::Request::new(());
        *head.method_mut() = req.method().clone();
        *head.uri_mut() = req.uri().clone();
        *head.headers_mut() = req.headers().clone();
        let upgraded = req.take_upgrade()?;
        let mut svc = self.0.clone();
        tokio::spawn(async move {
            if let Ok(io) = upgraded.await {
                let _ = tower_service::Service::call(&mut svc, (io, head)).await;
            }
        });
        Ok(Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, "upgrade")
            .header(header::UPGRADE, "websocket")
            .header(header::SEC_WEBSOCKET_ACCEPT, accept)
            .finish())
    }
}

/// Why a connection to a namespace was refused (sent to the client in the CONNECT_ERROR).
#[derive(Debug)]
struct Refused(&'static str);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// The socket.io endpoint and its event emitter, when `WEBSOCKET_ENABLED`.
pub fn mount(state: &Arc<AppState>) -> Option<SocketIoEndpoint> {
    if !state.config.transports.websocket_enabled {
        return None;
    }
    let (svc, io) = SocketIo::builder().build_svc();
    let check = {
        let state = state.clone();
        move |s: SocketRef| {
            let state = state.clone();
            async move { authorize(&state, &s) }
        }
    };
    io.ns("/", (async |_: SocketRef| {}).with(check.clone()));
    if let Err(e) = io.dyn_ns("/{instance}", (async |_: SocketRef| {}).with(check)) {
        tracing::error!(error = %e, "socket.io: could not add the instance namespaces");
    }
    tokio::spawn(emit_events(state.clone(), io));
    Some(SocketIoEndpoint(svc))
}

/// The global key may join any namespace; an instance token only its instance's.
fn authorize(state: &AppState, s: &SocketRef) -> Result<(), Refused> {
    let parts = s.req_parts();
    let key = parts
        .headers
        .get("apikey")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| {
            parts.uri.query().and_then(|q| {
                q.split('&').find_map(|kv| {
                    let (k, v) = kv.split_once('=')?;
                    (k == "apikey").then(|| super::auth::percent_decode(v))
                })
            })
        })
        .ok_or(Refused("apikey is required"))?;
    if constant_time_eq(&key, &state.api_key) {
        return Ok(());
    }
    let name = s.ns().strip_prefix('/').unwrap_or_default();
    match state.registry.get(name) {
        Some(h) if !name.is_empty() && h.token_matches(&key) => Ok(()),
        _ => Err(Refused("Unauthorized")),
    }
}

/// Emits every event from the bus to the namespaces that want it. A lagging bus (more than
/// its capacity behind) skips what it lost, logged: socket.io is live-only.
async fn emit_events(state: Arc<AppState>, io: SocketIo) {
    let mut rx = state.registry.bus().subscribe();
    let transports = state.registry.dispatcher().transports().clone();
    let global = state.config.transports.websocket_global_events;
    loop {
        let event = match rx.recv().await {
            Ok(e) => e,
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(skipped = n, "socket.io emitter fell behind the event bus");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        let own = transports.subscribed(event.instance_id, TransportKind::Websocket, event.kind);
        let namespace = own.then(|| io.of(format!("/{}", event.instance))).flatten();
        let main = global.then(|| io.of("/")).flatten();
        if namespace.is_none() && main.is_none() {
            continue;
        }
        let token = state
            .config
            .expose_in_fetch_instances
            .then(|| state.registry.get(&event.instance))
            .flatten()
            .map(|h| h.token().to_string());
        let envelope = event.envelope(None, &state.server_url, token.as_deref());
        for op in [main, namespace].into_iter().flatten() {
            if let Err(e) = op.emit(event.kind.dotted(), &envelope).await {
                tracing::debug!(error = %e, "socket.io emit failed for some sockets");
            }
        }
    }
}
