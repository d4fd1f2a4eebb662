//! `GET /events`: the live event stream (Server-Sent Events), one Evolution envelope per event.
//!
//! The global key sees every instance; an instance token sees its own, by id: its stream ends
//! when that instance is deleted or its token no longer matches, so it never sees an instance
//! created later under the same name. Filters: `?instance=<name>` and
//! `?events=MESSAGES_UPSERT,CONNECTION_UPDATE`. A subscriber that falls behind the bus is sent a
//! final `error` event naming the reason and disconnected: the server never slows down for a
//! reader. Each key may hold `ZAPGATE_MAX_STREAMS_PER_KEY` streams at once (one more: 429).
//! `GET /events/ws` (in `stream_ws.rs`) is the same stream over a WebSocket.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};
use poem::web::sse::{Event as SseEvent, SSE};
use poem::web::{Data, Query};
use poem::{IntoResponse, Request, Response, handler};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

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

/// How often a quiet stream checks that its key is still valid (events check at once).
pub(crate) const REVALIDATE: Duration = Duration::from_secs(2);

/// The instance a token stream belongs to, checked again on every event.
struct TokenScope {
    id: Uuid,
    name: String,
    token: String,
}

/// Who may see what: the instance an instance token is limited to (or the `?instance=` filter of
/// the global key) and the `?events=` set. Shared by the SSE and WebSocket streams. Holds the
/// key's stream slot until dropped.
pub(crate) struct Subscription {
    /// The global key's `?instance=` filter, by name: that key sees every instance anyway.
    only_name: Option<String>,
    /// A token's own instance.
    token: Option<TokenScope>,
    /// A scoped key, by id: the instances it reaches, looked up per event (it may create
    /// instances while streaming, and its revocation ends the stream).
    tenant: Option<Uuid>,
    kinds: Option<HashSet<EventKind>>,
    _slot: StreamSlot,
}

impl Subscription {
    pub(crate) fn from_request(
        state: &AppState,
        req: &Request,
        filter: &StreamFilter,
    ) -> Result<Subscription, ApiError> {
        let key = key_of(req);
        let caller = state.caller(&ApiKey(key.clone()))?;
        let tenant = match &caller {
            Caller::Tenant(k) => Some(k.id),
            _ => None,
        };
        let (only_name, token, slot_key) = match caller {
            Caller::Global => (filter.instance.clone(), None, "global".to_string()),
            Caller::Tenant(k) => {
                if let Some(n) = &filter.instance
                    && !state
                        .registry
                        .get(n)
                        .is_some_and(|h| k.reaches(n, h.owner()))
                {
                    return Err(ApiError::Unauthorized);
                }
                let slot = format!("k:{}", k.id);
                (filter.instance.clone(), None, slot)
            }
            Caller::Instance(h) => {
                if filter.instance.as_deref().is_some_and(|n| n != h.name()) {
                    return Err(ApiError::Unauthorized);
                }
                let scope = TokenScope {
                    id: h.id(),
                    name: h.name().to_string(),
                    token: key.unwrap_or_default(),
                };
                (None, Some(scope), format!("i:{}", h.id()))
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
        let slot = state.streams.take(slot_key)?;
        Ok(Subscription {
            only_name,
            token,
            tenant,
            kinds,
            _slot: slot,
        })
    }

    pub(crate) fn wants(&self, state: &AppState, ev: &Event) -> bool {
        let scoped = match &self.token {
            Some(t) => ev.instance_id == t.id,
            None => self.only_name.as_deref().is_none_or(|n| n == ev.instance),
        };
        let scoped = scoped
            && self.tenant.is_none_or(|id| {
                let key = state.keys.all().into_iter().find(|k| k.id == id);
                let owner = state
                    .registry
                    .get(&ev.instance)
                    .filter(|h| h.id() == ev.instance_id)
                    .map(|h| h.owner());
                key.zip(owner)
                    .is_some_and(|(k, o)| k.reaches(&ev.instance, o))
            });
        scoped && self.kinds.as_ref().is_none_or(|k| k.contains(&ev.kind))
    }

    /// False once a token stream's instance is gone or its token no longer matches, or a scoped
    /// key's stream's key is revoked.
    pub(crate) fn still_valid(&self, state: &AppState) -> bool {
        if let Some(id) = self.tenant
            && !state.keys.all().iter().any(|k| k.id == id)
        {
            return false;
        }
        self.token.as_ref().is_none_or(|t| {
            state
                .registry
                .get(&t.name)
                .is_some_and(|h| h.id() == t.id && h.token_matches(&t.token))
        })
    }
}

/// The reason a stream ends because its key lost access.
pub(crate) const REVOKED: &str = "the instance was deleted or its token changed";

/// Streams open per key, capped.
#[derive(Clone)]
pub struct StreamSlots {
    max: usize,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

/// One open stream's place; freed when dropped.
pub(crate) struct StreamSlot {
    open: Arc<Mutex<HashMap<String, usize>>>,
    key: String,
}

impl StreamSlots {
    pub fn new(max: usize) -> StreamSlots {
        StreamSlots {
            max: max.max(1),
            open: Arc::default(),
        }
    }

    fn take(&self, key: String) -> Result<StreamSlot, ApiError> {
        // A poisoned map only means a panic elsewhere mid-update: the counts stay usable.
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(key.clone()).or_insert(0);
        if *n >= self.max {
            return Err(ApiError::LimitReached(format!(
                "Too many open event streams for this key (at most {})",
                self.max
            )));
        }
        *n += 1;
        Ok(StreamSlot {
            open: self.open.clone(),
            key,
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
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
    let tick = tokio::time::interval(REVALIDATE);
    let stream: BoxStream<'static, SseEvent> = stream::unfold(
        (rx, closing, tick, false),
        move |(mut rx, mut closing, mut tick, done)| {
            let state = state.clone();
            let sub = sub.clone();
            async move {
                if done {
                    return None;
                }
                let revoked = || {
                    let msg = format!("{{\"reason\":\"{REVOKED}\"}}");
                    SseEvent::message(msg).event_type("error")
                };
                loop {
                    let ev = tokio::select! {
                        ev = rx.recv() => ev,
                        _ = tick.tick() => {
                            if !sub.still_valid(&state) {
                                return Some((revoked(), (rx, closing, tick, true)));
                            }
                            continue;
                        }
                        () = shutting_down(&mut closing) => return None,
                    };
                    match ev {
                        Ok(ev) => {
                            if !sub.still_valid(&state) {
                                return Some((revoked(), (rx, closing, tick, true)));
                            }
                            if !sub.wants(&state, &ev) {
                                continue;
                            }
                            let env = stream_envelope(&state, &ev);
                            let sse = SseEvent::message(env).event_type(ev.kind.dotted());
                            return Some((sse, (rx, closing, tick, false)));
                        }
                        Err(RecvError::Lagged(n)) => {
                            let msg = format!("{{\"reason\":\"slow subscriber: {n} events behind, disconnected\"}}");
                            return Some((SseEvent::message(msg).event_type("error"), (rx, closing, tick, true)));
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
