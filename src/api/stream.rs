//! `GET /events`: the live event stream (Server-Sent Events), one Evolution envelope per event.
//!
//! The global key sees every instance; an instance token sees its own. Filters:
//! `?instance=<name>` and `?events=MESSAGES_UPSERT,CONNECTION_UPDATE`. A subscriber that falls
//! behind the bus is sent a final `error` event naming the reason and disconnected: the server
//! never slows down for a reader. `GET /events/ws` (in `stream_ws.rs`) is the same stream over a
//! WebSocket.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};
use poem::web::sse::{Event as SseEvent, SSE};
use poem::web::{Data, Query};
use poem::{IntoResponse, Request, Response, handler};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::auth::{ApiKey, Caller, key_of};
use super::error::ApiError;
use crate::events::{Event, EventKind};
use crate::state::AppState;

#[derive(Deserialize, Default)]
pub struct StreamFilter {
    /// Only this instance (global key); an instance token is always limited to its own.
    instance: Option<String>,
    /// Comma-separated event names (UPPER_SNAKE or dotted).
    events: Option<String>,
}

/// Who may see what: the instance an instance token is limited to (or the `?instance=` filter of
/// the global key) and the `?events=` set. Shared by the SSE and WebSocket streams.
pub(crate) struct Subscription {
    only_instance: Option<String>,
    kinds: Option<HashSet<EventKind>>,
}

impl Subscription {
    pub(crate) fn from_request(
        state: &AppState,
        req: &Request,
        filter: &StreamFilter,
    ) -> Result<Subscription, ApiError> {
        let only_instance = match state.caller(&ApiKey(key_of(req)))? {
            Caller::Global => filter.instance.clone(),
            Caller::Instance(h) => {
                if filter.instance.as_deref().is_some_and(|n| n != h.name()) {
                    return Err(ApiError::Unauthorized);
                }
                Some(h.name().to_string())
            }
        };
        let kinds: Option<HashSet<EventKind>> = match &filter.events {
            Some(list) => {
                let mut set = HashSet::new();
                for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let kind = EventKind::parse(name).ok_or_else(|| {
                        ApiError::Validation(format!("events contains an unknown event \"{name}\""))
                    })?;
                    set.insert(kind);
                }
                Some(set)
            }
            None => None,
        };
        Ok(Subscription {
            only_instance,
            kinds,
        })
    }

    pub(crate) fn wants(&self, ev: &Event) -> bool {
        self.only_instance
            .as_deref()
            .is_none_or(|n| n == ev.instance)
            && self.kinds.as_ref().is_none_or(|k| k.contains(&ev.kind))
    }
}

/// The envelope a stream subscriber gets (no `destination`).
pub(crate) fn stream_envelope(state: &AppState, ev: &Event) -> String {
    let token = state
        .config
        .expose_in_fetch_instances
        .then(|| {
            state
                .registry
                .get(&ev.instance)
                .map(|h| h.token().to_string())
        })
        .flatten();
    ev.envelope(None, &state.server_url, token.as_deref())
        .to_string()
}

/// Resolves once the server starts shutting down.
pub(crate) async fn shutting_down(closing: &mut tokio::sync::watch::Receiver<bool>) {
    // The borrow guard is dropped here, so callers' futures stay Send.
    let _ = closing.wait_for(|c| *c).await.map(|_| ());
}

#[handler]
pub async fn events(
    req: &Request,
    state: Data<&Arc<AppState>>,
    Query(filter): Query<StreamFilter>,
) -> poem::Result<Response> {
    let state = state.0.clone();
    let sub = Arc::new(Subscription::from_request(&state, req, &filter)?);
    let rx = state.registry.bus().subscribe();
    let closing = state.closing.subscribe();
    let stream: BoxStream<'static, SseEvent> = stream::unfold(
        (rx, closing, false),
        move |(mut rx, mut closing, done)| {
            let state = state.clone();
            let sub = sub.clone();
            async move {
                if done {
                    return None;
                }
                loop {
                    let ev = tokio::select! {
                        ev = rx.recv() => ev,
                        () = shutting_down(&mut closing) => return None,
                    };
                    match ev {
                        Ok(ev) => {
                            if !sub.wants(&ev) {
                                continue;
                            }
                            let env = stream_envelope(&state, &ev);
                            let sse = SseEvent::message(env).event_type(ev.kind.dotted());
                            return Some((sse, (rx, closing, false)));
                        }
                        Err(RecvError::Lagged(n)) => {
                            let msg = format!("{{\"reason\":\"slow subscriber: {n} events behind, disconnected\"}}");
                            return Some((SseEvent::message(msg).event_type("error"), (rx, closing, true)));
                        }
                        Err(RecvError::Closed) => return None,
                    }
                }
            }
        },
    )
    .boxed();
    Ok(SSE::new(stream)
        .keep_alive(Duration::from_secs(15))
        .into_response())
}
