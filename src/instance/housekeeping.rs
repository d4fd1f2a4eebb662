//! Removing instances nobody uses. `ZAPGATE_SESSION_EXPIRY`: a sweep (hourly, sooner for an
//! expiry measured in seconds) removes instances that have no session (`close`, `refused`,
//! `failed`) and were last in use longer ago than the expiry; `POST /sessions/cleanup-inactive`
//! does the same on demand. In use means open: the record keeps when the instance last opened or
//! left `open` (messages only flow while open), else its creation counts.
//!
//! A removal is the registry's delete, so `instance.delete` and `remove.instance` go out through
//! the events layer as for an operator's delete, and each removal is logged. (`DEL_INSTANCE`,
//! for instances never paired, is the actor's own timer.)

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::registry::Registry;
use super::{ConnectionState, InstanceHandle};

/// The longest pause between two sweeps.
const MAX_INTERVAL: Duration = Duration::from_secs(3600);
/// The shortest (an expiry measured in seconds, as in tests).
const MIN_INTERVAL: Duration = Duration::from_millis(250);

impl InstanceHandle {
    /// When the instance was last in use: the later of its last open (or leaving open) and its
    /// creation; now while it is open.
    pub fn last_used(&self) -> DateTime<Utc> {
        let view = self.view();
        if view.state.state == ConnectionState::Open {
            return Utc::now();
        }
        let r = &view.record;
        r.last_active_at
            .map_or(r.created_at, |t| t.max(r.created_at))
    }
}

impl Registry {
    /// Instances without a session whose last use is at least `idle` ago, oldest first.
    pub fn idle(&self, idle: Duration) -> Vec<InstanceHandle> {
        let cutoff = chrono::Duration::from_std(idle)
            .ok()
            .and_then(|d| Utc::now().checked_sub_signed(d))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        self.all()
            .into_iter()
            .filter(|h| !h.state_glance().0.has_session() && h.last_used() <= cutoff)
            .collect()
    }

    /// Deletes the instances idle for `idle`; returns the names removed. `why` goes to the log.
    pub async fn remove_idle(&self, idle: Duration, why: &str) -> Vec<String> {
        let mut removed = Vec::new();
        for h in self.idle(idle) {
            match self.delete(&h).await {
                Ok(()) => {
                    tracing::info!(instance = %h.name(), last_used = %h.last_used(), "{why}: removed an unused instance");
                    removed.push(h.name().to_string());
                }
                Err(e) => {
                    tracing::warn!(instance = %h.name(), error = %e, "{why}: could not remove an unused instance")
                }
            }
        }
        removed
    }
}

/// Starts the `ZAPGATE_SESSION_EXPIRY` sweep, when there is an expiry.
pub fn start(registry: Registry, expiry: Option<Duration>) {
    let Some(expiry) = expiry else {
        return;
    };
    let interval = (expiry / 4).clamp(MIN_INTERVAL, MAX_INTERVAL);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            registry.remove_idle(expiry, "ZAPGATE_SESSION_EXPIRY").await;
        }
    });
}
