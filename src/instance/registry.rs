//! The registry: instance name -> handle. Creates, deletes and restores instances, and paces the
//! reconnection of paired instances at start-up (the connect ramp) so a restart with hundreds of
//! sessions does not hit WhatsApp with hundreds of logins in the same second.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use uuid::Uuid;

use super::handle::{self, InstanceError, InstanceHandle};
use super::{ConnectionState, Integration, Settings, WebhookConfig};
use crate::config::Config;
use crate::engine::Engines;
use crate::events::dispatcher::Dispatcher;
use crate::events::webhook::WebhookRouter;
use crate::events::{Event, EventBus, EventKind, Payload};
use crate::store::history::HistoryTrees;
use crate::store::instances::{InstanceRecord, InstanceRepo};
use crate::store::outbox::{OutboxRepo, OutboxRow};
use crate::store::{Store, StoreError};

/// What every instance actor shares.
pub struct Deps {
    pub config: Arc<Config>,
    pub store: Store,
    pub instances: InstanceRepo,
    /// The history trees; each instance holds its own slice of them.
    pub history: HistoryTrees,
    pub bus: EventBus,
    pub engines: Engines,
    pub webhooks: WebhookRouter,
    pub dispatcher: Dispatcher,
    /// Name -> handle, shared with the registry so an actor that removes itself
    /// (`DEL_INSTANCE`) can leave the map.
    by_name: RwLock<HashMap<String, InstanceHandle>>,
}

impl Deps {
    /// THE funnel every event goes through: one outbox row per matching webhook (written, not
    /// yet flushed: returns true when the caller must `store.sync()` before it may claim the
    /// event durable), then the live bus.
    pub fn publish(&self, event: Event, webhook: Option<&WebhookConfig>, token: &str) -> bool {
        let wrote = self
            .queue(std::slice::from_ref(&event), webhook, token, |repo, rows| {
                if rows.is_empty() {
                    Ok(())
                } else {
                    repo.insert(rows)
                }
            })
            .unwrap_or_else(|e| {
                tracing::error!(instance = %event.instance, error = %e, "could not queue webhook rows");
                false
            });
        self.bus.publish(event);
        wrote
    }

    /// Like [`publish`](Self::publish) for several events (none is fine), with their outbox
    /// rows (possibly none) written by `write`, which may write more in the same transaction;
    /// announced in order. When `write` fails nothing is announced, not even on the live bus:
    /// the caller reports the failure and its source tries again.
    pub fn publish_all_with(
        &self,
        events: Vec<Event>,
        webhook: Option<&WebhookConfig>,
        token: &str,
        write: impl FnOnce(&OutboxRepo, &[OutboxRow]) -> Result<(), StoreError>,
    ) -> Result<bool, StoreError> {
        let wrote = self.queue(&events, webhook, token, write)?;
        for event in events {
            self.bus.publish(event);
        }
        Ok(wrote)
    }

    fn queue(
        &self,
        events: &[Event],
        webhook: Option<&WebhookConfig>,
        token: &str,
        write: impl FnOnce(&OutboxRepo, &[OutboxRow]) -> Result<(), StoreError>,
    ) -> Result<bool, StoreError> {
        let mut rows = Vec::new();
        for event in events {
            rows.extend(self.webhooks.rows_for(event, webhook, token));
            rows.extend(self.dispatcher.transports().rows_for(event, token));
        }
        write(self.dispatcher.repo(), &rows)?;
        let endpoints: std::collections::BTreeSet<&str> =
            rows.iter().map(|r| r.endpoint.as_str()).collect();
        for e in endpoints {
            self.dispatcher.nudge(e);
        }
        Ok(!rows.is_empty())
    }

    /// Removes everything an instance stored: its record and loopback number at once, its rows
    /// (keys, history) by the background purge.
    pub(crate) async fn remove_instance_data(&self, id: Uuid) -> Result<(), StoreError> {
        self.engines.loopback.forget(id);
        self.store.schedule_purge(id)?;
        // Pending deliveries still go out (instance.delete among them); dead letters could
        // no longer be listed or replayed, so they go with the instance.
        self.dispatcher.repo().drop_dead_letters(id)?;
        self.dispatcher.transports().remove_instance(id)?;
        self.instances.remove(id)?;
        self.store.sync().await
    }

    pub(crate) fn forget(&self, _id: Uuid, name: &str) {
        self.by_name.write().remove(name);
    }
}

/// What `/instance/create` asks for, already validated by the API layer.
pub struct NewInstance {
    pub name: String,
    pub token: Option<String>,
    pub integration: Integration,
    pub number: Option<String>,
    pub business_id: Option<String>,
    pub settings: Settings,
    pub webhook: Option<WebhookConfig>,
    /// The tenant key creating it, if not the global key.
    pub owner: Option<Uuid>,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("This name \"{0}\" is already in use.")]
    NameTaken(String),
    /// `ZAPGATE_MAX_SESSIONS` instances exist already.
    #[error(
        "This server holds its maximum of {0} instances (ZAPGATE_MAX_SESSIONS); delete one first"
    )]
    Full(usize),
    /// Tokens authorize by themselves: two instances must never share one.
    #[error("This token is already used by another instance.")]
    TokenTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Instance(#[from] InstanceError),
}

/// How many instances are in which state.
#[derive(Debug, Clone, Default)]
pub struct FleetCounts {
    pub total: u64,
    /// By state name (`open`, `connecting`, `close`, `refused`, `failed`).
    pub by_state: BTreeMap<&'static str, u64>,
    pub connected: u64,
    /// `connecting` with a QR code shown: waiting for a phone to scan it.
    pub waiting_for_qr: u64,
    /// `connecting` without a QR code: logging in or reconnecting.
    pub connecting: u64,
    /// `close`, `refused` or `failed`: no session runs.
    pub disconnected: u64,
}

/// The index of a state in per-state arrays.
fn slot(s: ConnectionState) -> usize {
    match s {
        ConnectionState::Close => 0,
        ConnectionState::Connecting => 1,
        ConnectionState::Open => 2,
        ConnectionState::Refused => 3,
        ConnectionState::Failed => 4,
    }
}

/// Cheap-to-clone handle on all instances.
#[derive(Clone)]
pub struct Registry {
    deps: Arc<Deps>,
}

impl Registry {
    pub fn new(
        config: Arc<Config>,
        store: Store,
        bus: EventBus,
        engines: Engines,
        webhooks: WebhookRouter,
        dispatcher: Dispatcher,
    ) -> Result<Self, StoreError> {
        let instances = InstanceRepo::new(&store)?;
        Ok(Registry {
            deps: Arc::new(Deps {
                config,
                history: HistoryTrees::open(&store)?,
                store,
                instances,
                bus,
                engines,
                webhooks,
                dispatcher,
                by_name: RwLock::new(HashMap::new()),
            }),
        })
    }

    pub fn get(&self, name: &str) -> Option<InstanceHandle> {
        self.deps.by_name.read().get(name).cloned()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Every instance, oldest first.
    pub fn all(&self) -> Vec<InstanceHandle> {
        let mut v: Vec<InstanceHandle> = self.deps.by_name.read().values().cloned().collect();
        v.sort_by_cached_key(|h| h.created_at());
        v
    }

    /// Instances per state, read in place: one pass over the map, no view copied (`/health`
    /// asks on every call, so this must stay cheap at thousands of instances).
    pub fn counts(&self) -> FleetCounts {
        // A fixed array, not a map entry per instance: this runs on every `/health`.
        const STATES: [ConnectionState; 5] = [
            ConnectionState::Close,
            ConnectionState::Connecting,
            ConnectionState::Open,
            ConnectionState::Refused,
            ConnectionState::Failed,
        ];
        let mut per_state = [0u64; STATES.len()];
        let mut waiting_for_qr = 0;
        let total = {
            let map = self.deps.by_name.read();
            for h in map.values() {
                let (state, qr_shown) = h.state_glance();
                per_state[slot(state)] += 1;
                if state == ConnectionState::Connecting && qr_shown {
                    waiting_for_qr += 1;
                }
            }
            map.len() as u64
        };
        let n = |s: ConnectionState| per_state[slot(s)];
        FleetCounts {
            total,
            by_state: STATES
                .iter()
                .filter(|s| n(**s) > 0)
                .map(|s| (s.as_str(), n(*s)))
                .collect(),
            connected: n(ConnectionState::Open),
            waiting_for_qr,
            connecting: n(ConnectionState::Connecting) - waiting_for_qr,
            disconnected: n(ConnectionState::Close)
                + n(ConnectionState::Refused)
                + n(ConnectionState::Failed),
        }
    }

    pub fn len(&self) -> usize {
        self.deps.by_name.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Creates an instance; it is durable (survives a crash) when this returns.
    pub async fn create(&self, new: NewInstance) -> Result<InstanceHandle, RegistryError> {
        let token = new
            .token
            .unwrap_or_else(|| Uuid::new_v4().to_string().to_uppercase());
        let record = InstanceRecord {
            number: new.number,
            business_id: new.business_id,
            settings: new.settings,
            webhook: new.webhook,
            owner: new.owner,
            ..InstanceRecord::fresh(new.name.clone(), token, new.integration)
        };
        // Reserve the name before the first await so two concurrent creates cannot both win.
        let handle = {
            let mut map = self.deps.by_name.write();
            if map.contains_key(&new.name) {
                return Err(RegistryError::NameTaken(new.name));
            }
            // Checked under the same lock as the insert, so concurrent creates cannot pass it
            // together; every create route (Evolution's, /sessions, the token surface) ends here.
            if let Some(max) = self.deps.config.session_limit()
                && map.len() >= max
            {
                return Err(RegistryError::Full(max));
            }
            if map.values().any(|h| h.token_matches(&record.token)) {
                return Err(RegistryError::TokenTaken);
            }
            let handle = handle::spawn(record.clone(), self.deps.clone())?;
            map.insert(new.name.clone(), handle.clone());
            handle
        };
        if let Err(e) = self.deps.instances.put_durable(&record).await {
            self.deps.forget(record.id, &record.name);
            handle.shutdown().await;
            return Err(e.into());
        }
        let event = Event::new(
            EventKind::InstanceCreate,
            &record.name,
            record.id,
            None,
            Payload::Instance,
        );
        if self
            .deps
            .publish(event, record.webhook.as_ref(), &record.token)
        {
            self.deps.store.sync().await?;
        }
        Ok(handle)
    }

    /// Closes the session, removes every stored trace of the instance, then forgets it.
    pub async fn delete(&self, handle: &InstanceHandle) -> Result<(), RegistryError> {
        handle.delete().await?;
        self.deps.forget(handle.id(), handle.name());
        Ok(())
    }

    /// Loads every stored instance and reconnects the paired ones at `ZAPGATE_CONNECT_RATE`
    /// per second. Returns how many instances were loaded.
    pub fn restore(&self) -> Result<usize, RegistryError> {
        let records = self.deps.instances.all()?;
        let mut paired = Vec::new();
        {
            let mut map = self.deps.by_name.write();
            for rec in &records {
                let handle = handle::spawn(rec.clone(), self.deps.clone())?;
                if rec.paired {
                    paired.push(handle.clone());
                }
                map.insert(rec.name.clone(), handle);
            }
        }
        if let Some(max) = self.deps.config.session_limit()
            && records.len() > max
        {
            // Nothing stored is dropped: the limit only refuses new instances.
            tracing::warn!(
                stored = records.len(),
                max,
                "more instances stored than ZAPGATE_MAX_SESSIONS; creates are refused until some are deleted"
            );
        }
        let rate = self.deps.config.connect_rate.max(1);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
            for h in paired {
                tick.tick().await;
                if let Err(e) = h.connect(None).await {
                    tracing::warn!(instance = %h.name(), error = %e, "reconnect at start-up failed");
                }
            }
        });
        Ok(records.len())
    }

    /// Closes every session (keys kept) for a graceful shutdown.
    pub async fn shutdown(&self) {
        let all = self.all();
        futures_util::future::join_all(all.iter().map(|h| h.shutdown())).await;
    }

    pub fn store(&self) -> &Store {
        &self.deps.store
    }

    pub fn config(&self) -> &Config {
        &self.deps.config
    }

    pub fn bus(&self) -> &EventBus {
        &self.deps.bus
    }

    pub fn engines(&self) -> &Engines {
        &self.deps.engines
    }

    pub fn dispatcher(&self) -> &Dispatcher {
        &self.deps.dispatcher
    }
}
