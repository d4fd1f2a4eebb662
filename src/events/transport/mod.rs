//! Event transports beside the webhooks: RabbitMQ (lapin) and NATS (async-nats), with
//! Evolution's names, addressing and envelope, fed by the same durable outbox.
//!
//! An event that an instance's subscription (`/rabbitmq/set`, `/nats/set`) or a global switch
//! (`RABBITMQ_GLOBAL_ENABLED` + `RABBITMQ_EVENTS_<NAME>`, the same for NATS) asks for becomes one
//! outbox row per transport endpoint, written in the same batch as the webhook rows and flushed
//! before the event counts as published. Endpoint keys are `rabbitmq:i:<instance id>`,
//! `rabbitmq:global`, `nats:i:<instance id>`, `nats:global`; their stored target says how the
//! broker is addressed ([`TargetKind`]).
//!
//! One worker per endpoint (started on demand, gone when idle) publishes its rows in batches
//! and removes a row only once the broker has taken responsibility for it: a publisher confirm
//! on RabbitMQ, a JetStream ack (or a returned flush in core mode) on NATS. A broker that is
//! down leaves its rows where they are (not counted as attempts, never dead-lettered for it)
//! and is tried again with a capped backoff, so it delays only itself; a message the broker
//! refuses (a nack, a queue declared with other arguments, no stream for the subject) is
//! retried on the webhook schedule and ends in the dead letters like a webhook would.
//!
//! Delivery is at least once: a crash between the broker's ack and the row's removal sends the
//! row again. Every message carries the row's id (`msg_<uuid>`: AMQP `message-id`, NATS
//! `Nats-Msg-Id`, which JetStream also deduplicates on) so consumers can drop repeats.

mod amqp;
mod nats;
pub mod settings;
mod worker;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;
use uuid::Uuid;

pub use settings::TransportSettings;

use super::retry::RetryPolicy;
use super::{Event, EventKind};
use crate::health::Fault;
use crate::outbound::Requester;
use crate::store::outbox::{EndpointTarget, OutboxRepo, OutboxRow, TargetKind};
use crate::store::transports::TransportRepo;
pub use crate::store::transports::{Subscription, TransportKind};
use crate::store::{Store, StoreError};

/// What a broker made of one row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// The broker took it (confirm / ack): the row can go.
    Confirmed,
    /// The broker refused this message: an attempt, retried on the schedule, then buried.
    Rejected(String),
    /// The broker could not be reached: not an attempt; the row waits for the next try.
    Unavailable(String),
}

/// One broker connection, shared by every endpoint of its transport.
#[async_trait::async_trait]
pub(crate) trait Publisher: Send + Sync + 'static {
    /// Publishes `rows` in order; one outcome per row.
    async fn publish(&self, rows: &[OutboxRow]) -> Vec<Outcome>;
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The transport is switched off by its `*_ENABLED` variable.
    #[error("{0} is disabled")]
    Disabled(&'static str),
    /// The instance's name cannot address this broker (a NATS subject token, an AMQP name).
    #[error("{0}")]
    BadName(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Cheap-to-clone handle on the transports.
#[derive(Clone)]
pub struct Transports {
    inner: Arc<Hub>,
}

pub(crate) struct Hub {
    pub(crate) repo: OutboxRepo,
    subs: TransportRepo,
    store: Store,
    /// The switched-on broker transports only.
    enabled: HashMap<TransportKind, Route>,
    /// `WEBSOCKET_ENABLED`: socket.io is fed from the live bus (`api/socketio.rs`), not the
    /// outbox; only its subscriptions live here.
    websocket: bool,
    /// Every stored subscription, so routing an event never reads sled.
    live: RwLock<HashMap<(Uuid, TransportKind), Live>>,
    server_url: String,
    expose_token: bool,
    pub(crate) policy: RetryPolicy,
    pub(crate) retry_max: Duration,
    /// Running workers by endpoint; the Notify wakes one when rows arrive.
    workers: Mutex<HashMap<String, Arc<Notify>>>,
    /// Transports that could not be reached on their last try, with why.
    down: Mutex<HashMap<TransportKind, String>>,
}

struct Route {
    publisher: Arc<dyn Publisher>,
    /// The global switches and where global rows go, when `*_GLOBAL_ENABLED`.
    global: Option<(HashSet<EventKind>, Arc<EndpointTarget>)>,
}

struct Live {
    sub: Subscription,
    kinds: HashSet<EventKind>,
}

/// What the hub needs from the configuration.
pub struct HubConfig<'a> {
    pub settings: &'a TransportSettings,
    pub server_url: &'a str,
    pub expose_token: bool,
    pub policy: RetryPolicy,
}

impl Transports {
    /// Loads the stored subscriptions and starts connecting to the enabled brokers. Rows left
    /// from a previous run are started by the dispatcher's nudges.
    pub fn new(repo: OutboxRepo, store: &Store, c: HubConfig<'_>) -> Result<Self, StoreError> {
        let s = c.settings;
        let mut enabled = HashMap::new();
        if s.rabbitmq_enabled {
            let global = s.rabbitmq_global_enabled.then(|| {
                let target = target(TargetKind::Rabbitmq {
                    exchange: s.rabbitmq_exchange_name.clone(),
                    queue_prefix: s.rabbitmq_prefix_key.clone(),
                });
                (settings::switched_on("RABBITMQ_EVENTS_"), target)
            });
            let publisher = amqp::Amqp::new(s, global.as_ref().map(|g| &g.1));
            let publisher: Arc<dyn Publisher> = Arc::new(publisher);
            enabled.insert(TransportKind::Rabbitmq, Route { publisher, global });
        }
        if s.nats_enabled {
            let global = s.nats_global_enabled.then(|| {
                let target = target(TargetKind::Nats {
                    subject_prefix: s.nats_prefix_key.clone(),
                });
                (settings::switched_on("NATS_EVENTS_"), target)
            });
            let publisher: Arc<dyn Publisher> = Arc::new(nats::Nats::new(s));
            enabled.insert(TransportKind::Nats, Route { publisher, global });
        }
        // Connect at once (in the background): the global queues and the JetStream stream then
        // exist before the first event, so consumers can bind to them at start, as with
        // Evolution. A broker that is not there yet is simply tried again by the workers.
        for route in enabled.values() {
            let publisher = route.publisher.clone();
            tokio::spawn(async move { publisher.publish(&[]).await });
        }
        let subs = TransportRepo::new(store)?;
        let mut live = HashMap::new();
        for (id, kind, sub) in subs.all()? {
            live.insert((id, kind), Live::of(sub));
        }
        Ok(Transports {
            inner: Arc::new(Hub {
                repo,
                subs,
                store: store.clone(),
                enabled,
                websocket: s.websocket_enabled,
                live: RwLock::new(live),
                server_url: c.server_url.to_string(),
                expose_token: c.expose_token,
                policy: c.policy,
                retry_max: c.settings.retry_max(),
                workers: Mutex::new(HashMap::new()),
                down: Mutex::new(HashMap::new()),
            }),
        })
    }

    pub fn is_enabled(&self, kind: TransportKind) -> bool {
        match kind {
            TransportKind::Websocket => self.inner.websocket,
            _ => self.inner.enabled.contains_key(&kind),
        }
    }

    /// Whether the instance's subscription to `kind` asks for `event` (live transports).
    pub fn subscribed(&self, instance: Uuid, kind: TransportKind, event: EventKind) -> bool {
        self.inner
            .live
            .read()
            .get(&(instance, kind))
            .is_some_and(|l| l.sub.enabled && l.kinds.contains(&event))
    }

    /// The rows to write for `event` (none when nobody subscribed).
    pub fn rows_for(&self, event: &Event, token: &str) -> Vec<OutboxRow> {
        let hub = &self.inner;
        let mut rows = Vec::new();
        let mut body: Option<String> = None;
        let live = hub.live.read();
        for (kind, route) in &hub.enabled {
            let own = live
                .get(&(event.instance_id, *kind))
                .filter(|l| l.sub.enabled && l.kinds.contains(&event.kind))
                .filter(|_| address_error(*kind, &event.instance).is_none());
            let global = route
                .global
                .as_ref()
                .filter(|(kinds, _)| kinds.contains(&event.kind));
            if own.is_none() && global.is_none() {
                continue;
            }
            let body = body
                .get_or_insert_with(|| {
                    let apikey = hub.expose_token.then_some(token);
                    event.envelope(None, &hub.server_url, apikey).to_string()
                })
                .clone();
            if own.is_some() {
                let t = target(instance_target(*kind, &event.instance));
                rows.push(row(
                    event,
                    endpoint(*kind, Some(event.instance_id)),
                    &body,
                    t,
                ));
            }
            if let Some((_, t)) = global {
                rows.push(row(event, endpoint(*kind, None), &body, t.clone()));
            }
        }
        rows
    }

    /// The instance's subscription, or `None` if it never set one.
    pub fn find(
        &self,
        instance: Uuid,
        kind: TransportKind,
    ) -> Result<Option<Subscription>, TransportError> {
        self.check_enabled(kind)?;
        Ok(self
            .inner
            .live
            .read()
            .get(&(instance, kind))
            .map(|l| l.sub.clone()))
    }

    /// Stores an instance's subscription (durable when this returns), Evolution's way:
    /// disabled keeps no events, enabled with no events means every event.
    pub async fn set(
        &self,
        instance: Uuid,
        name: &str,
        kind: TransportKind,
        enabled: bool,
        events: Vec<EventKind>,
    ) -> Result<Subscription, TransportError> {
        self.check_enabled(kind)?;
        if enabled && let Some(why) = address_error(kind, name) {
            return Err(TransportError::BadName(why));
        }
        let kinds = EventKind::subscription(enabled, events);
        let now = Utc::now();
        let previous = self
            .inner
            .live
            .read()
            .get(&(instance, kind))
            .map(|l| l.sub.clone());
        let sub = Subscription {
            id: previous.as_ref().map_or_else(Uuid::new_v4, |p| p.id),
            enabled,
            events: kinds.iter().map(|k| k.upper().to_string()).collect(),
            created_at: previous.as_ref().map_or(now, |p| p.created_at),
            updated_at: now,
        };
        self.inner.subs.put(instance, kind, &sub)?;
        self.inner.store.sync().await?;
        self.inner
            .live
            .write()
            .insert((instance, kind), Live::of(sub.clone()));
        Ok(sub)
    }

    /// Forgets an instance's subscriptions (it is being deleted). Rows already queued still go.
    pub fn remove_instance(&self, instance: Uuid) -> Result<(), StoreError> {
        self.inner.subs.remove_instance(instance)?;
        self.inner.live.write().retain(|(id, _), _| *id != instance);
        Ok(())
    }

    /// Rows were added for a transport endpoint: wake its worker, starting one if needed. A
    /// transport switched off since the rows were queued leaves them waiting (logged).
    pub fn nudge(&self, endpoint: &str) {
        let Some(kind) = owner(endpoint) else {
            return;
        };
        let Some(route) = self.inner.enabled.get(&kind) else {
            tracing::warn!(%endpoint, "rows wait for a transport that is switched off");
            return;
        };
        let mut workers = self.inner.workers.lock();
        if let Some(n) = workers.get(endpoint) {
            n.notify_one();
            return;
        }
        let notify = Arc::new(Notify::new());
        workers.insert(endpoint.to_string(), notify.clone());
        tokio::spawn(worker::supervised(
            self.inner.clone(),
            route.publisher.clone(),
            kind,
            endpoint.to_string(),
            notify,
        ));
    }

    fn check_enabled(&self, kind: TransportKind) -> Result<(), TransportError> {
        if self.is_enabled(kind) {
            Ok(())
        } else {
            Err(TransportError::Disabled(label(kind)))
        }
    }
}

impl Hub {
    /// Deregisters an idle worker unless rows arrived meanwhile (under the lock `nudge` takes).
    pub(crate) fn retire(&self, endpoint: &str) -> bool {
        let mut workers = self.workers.lock();
        if self.repo.has_rows(endpoint) {
            return false;
        }
        workers.remove(endpoint);
        true
    }

    /// Records whether `kind`'s broker answered; `/health` shows `brokerUnreachable` while any
    /// enabled broker does not.
    pub(crate) fn reachable(&self, kind: TransportKind, failure: Option<&str>) {
        let mut down = self.down.lock();
        let changed = match failure {
            Some(why) => down.insert(kind, why.to_string()).is_none(),
            None => down.remove(&kind).is_some(),
        };
        if !changed {
            return;
        }
        match failure {
            Some(why) => tracing::warn!(
                transport = kind.name(),
                error = why,
                "broker unreachable; its events wait in the outbox"
            ),
            None => tracing::info!(transport = kind.name(), "broker reachable again"),
        }
        let detail = down
            .iter()
            .map(|(k, why)| format!("{}: {why}", k.name()))
            .collect::<Vec<_>>()
            .join("; ");
        self.store
            .faults()
            .set(Fault::BrokerUnreachable, !down.is_empty(), detail);
    }
}

impl Live {
    fn of(sub: Subscription) -> Live {
        let kinds = sub
            .events
            .iter()
            .filter_map(|e| EventKind::parse(e))
            .collect();
        Live { sub, kinds }
    }
}

/// Evolution's capitalised name, for messages.
fn label(kind: TransportKind) -> &'static str {
    match kind {
        TransportKind::Rabbitmq => "RabbitMQ",
        TransportKind::Nats => "NATS",
        TransportKind::Websocket => "WebSocket",
    }
}

/// The endpoint key of an instance's (`Some`) or the global (`None`) rows of a transport.
pub fn endpoint(kind: TransportKind, instance: Option<Uuid>) -> String {
    match instance {
        Some(id) => format!("{}:i:{id}", kind.name()),
        None => format!("{}:global", kind.name()),
    }
}

/// The transport whose worker delivers `endpoint`'s rows, if not a webhook's.
pub fn owner(endpoint: &str) -> Option<TransportKind> {
    TransportKind::ALL.into_iter().find(|k| {
        endpoint
            .strip_prefix(k.name())
            .is_some_and(|rest| rest.starts_with(':'))
    })
}

/// Evolution's per-instance addressing: the exchange and queue prefix (RabbitMQ) or the
/// subject prefix (NATS) is the instance's name.
fn instance_target(kind: TransportKind, instance: &str) -> TargetKind {
    match kind {
        TransportKind::Rabbitmq => TargetKind::Rabbitmq {
            exchange: instance.to_string(),
            queue_prefix: instance.to_string(),
        },
        TransportKind::Nats => TargetKind::Nats {
            subject_prefix: instance.to_string(),
        },
        // Live only (api/socketio.rs): `rows_for` never routes it through the outbox.
        TransportKind::Websocket => TargetKind::Webhook,
    }
}

fn target(kind: TargetKind) -> Arc<EndpointTarget> {
    let url = match &kind {
        TargetKind::Rabbitmq { exchange, .. } => format!("rabbitmq://{exchange}"),
        TargetKind::Nats { subject_prefix } => format!("nats://{subject_prefix}"),
        TargetKind::Webhook => String::new(),
    };
    Arc::new(EndpointTarget {
        url,
        // The operator's broker, reached with the operator's credentials.
        requester: Requester::Global,
        kind,
        ..Default::default()
    })
}

fn row(event: &Event, endpoint: String, body: &str, target: Arc<EndpointTarget>) -> OutboxRow {
    OutboxRow::queued(
        endpoint,
        &event.instance,
        event.instance_id,
        event.kind.dotted(),
        body.to_string(),
        target,
    )
}

/// The longest dotted event name, which every per-instance name must leave room for.
fn longest_event() -> usize {
    EventKind::ALL
        .iter()
        .map(|k| k.dotted().len())
        .max()
        .unwrap_or(0)
}

/// Why `name` cannot address `kind`'s broker, if it cannot.
pub fn address_error(kind: TransportKind, name: &str) -> Option<String> {
    match kind {
        // Queue names (`{instance}.{event}`) and exchange names are AMQP short strings.
        TransportKind::Rabbitmq if name.len() + 1 + longest_event() > 255 => Some(format!(
            "instance name is {} bytes; RabbitMQ queue names ({{instance}}.{{event}}) allow \
             {} bytes for it",
            name.len(),
            255 - 1 - longest_event()
        )),
        // The subject is `{instance}.{event}`: the name must be one subject token.
        TransportKind::Nats
            if name
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '.' | '*' | '>')) =>
        {
            Some(format!(
                "instance name \"{name}\" cannot start a NATS subject ({{instance}}.{{event}}): \
                 it must not contain spaces, '.', '*' or '>'"
            ))
        }
        _ => None,
    }
}

/// The name a row is published under: `{prefix}.{event}`, or the event alone.
pub(crate) fn prefixed(prefix: &str, event: &str) -> String {
    if prefix.is_empty() {
        event.to_string()
    } else {
        format!("{prefix}.{event}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_name_their_transport() {
        let id = Uuid::now_v7();
        assert_eq!(
            owner(&endpoint(TransportKind::Rabbitmq, Some(id))),
            Some(TransportKind::Rabbitmq)
        );
        assert_eq!(
            owner(&endpoint(TransportKind::Nats, None)),
            Some(TransportKind::Nats)
        );
        assert_eq!(owner("global"), None);
        assert_eq!(owner(&format!("i:{id}")), None);
        assert_eq!(owner("natsy:x"), None);
    }

    #[test]
    fn names_that_cannot_address_a_broker() {
        assert!(address_error(TransportKind::Nats, "acme-1").is_none());
        assert!(address_error(TransportKind::Nats, "acme.prod").is_some());
        assert!(address_error(TransportKind::Nats, "a b").is_some());
        assert!(address_error(TransportKind::Rabbitmq, "a b.c").is_none());
        assert!(address_error(TransportKind::Rabbitmq, &"é".repeat(100)).is_none());
        assert!(address_error(TransportKind::Rabbitmq, &"€".repeat(100)).is_some());
        assert_eq!(prefixed("", "call"), "call");
        assert_eq!(prefixed("acme", "messages.upsert"), "acme.messages.upsert");
    }
}
