//! `GET /events/ws`: the live event stream over a WebSocket, one text frame per Evolution
//! envelope (no `destination`), with the same key rules and `?instance=` / `?events=` filters
//! as `GET /events`.
//!
//! Slow subscribers are dropped, never waited for: a subscriber that falls more than the bus
//! capacity behind, or whose socket does not take a frame within [`SEND_TIMEOUT`], is closed
//! with code 1008 (policy) and a reason saying so. Client frames are ignored except Close.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use poem::web::websocket::{CloseCode, Message, WebSocket};
use poem::web::{Data, Query};
use poem::{IntoResponse, Request, handler};
use tokio::sync::broadcast::error::RecvError;

use super::stream::{REVALIDATE, REVOKED, StreamFilter, Subscription, stream_envelope};
use crate::state::AppState;

/// Longest wait for the socket to accept one frame before the subscriber counts as slow.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(5);

#[handler]
pub async fn events_ws(
    req: &Request,
    ws: WebSocket,
    state: Data<&Arc<AppState>>,
    Query(filter): Query<StreamFilter>,
) -> poem::Result<impl IntoResponse> {
    let state = state.0.clone();
    let sub = Subscription::from_request(&state, req, &filter)?;
    // Subscribe before the upgrade so nothing published after the 101 is missed.
    let mut rx = state.registry.bus().subscribe();
    let mut closing = state.closing.subscribe();
    Ok(ws.on_upgrade(move |socket| async move {
        let (mut sink, mut incoming) = socket.split();
        let mut tick = tokio::time::interval(REVALIDATE);
        let revoked = || Some((CloseCode::Policy, REVOKED.to_string()));
        let close = loop {
            tokio::select! {
                _ = tick.tick() => if !sub.still_valid(&state) {
                    break revoked();
                },
                ev = rx.recv() => match ev {
                    Ok(ev) => {
                        if !sub.still_valid(&state) {
                            break revoked();
                        }
                        if !sub.wants(&state, &ev) {
                            continue;
                        }
                        let frame = Message::Text(stream_envelope(&state, &ev));
                        match tokio::time::timeout(SEND_TIMEOUT, sink.send(frame)).await {
                            Ok(Ok(())) => {}
                            Ok(Err(_)) => break None,
                            Err(_) => break Some((CloseCode::Policy, "slow subscriber: a frame was not taken in time, disconnected".to_string())),
                        }
                    }
                    Err(RecvError::Lagged(n)) => {
                        break Some((CloseCode::Policy, format!("slow subscriber: {n} events behind, disconnected")));
                    }
                    Err(RecvError::Closed) => break Some((CloseCode::Away, "server shutting down".to_string())),
                },
                () = super::stream::shutting_down(&mut closing) => break Some((CloseCode::Away, "server shutting down".to_string())),
                msg = incoming.next() => match msg {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break None,
                    Some(Ok(_)) => {}
                },
            }
        };
        if let Some(reason) = close {
            let _ = tokio::time::timeout(SEND_TIMEOUT, sink.send(Message::Close(Some(reason))))
                .await;
        }
        let _ = sink.close().await;
    }))
}
