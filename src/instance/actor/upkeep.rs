//! The actor's part in removing unused instances: `DEL_INSTANCE`'s moment and who it spares
//! (an instance paired once is never "never connected"), and the record's `last_active_at`,
//! which the session expiry reads after a restart, when the counters are gone.

use std::sync::Arc;

use chrono::Utc;

use super::Actor;
use crate::instance::ConnectionState;

impl Actor {
    /// When `DEL_INSTANCE` removes this instance if it is still never paired then.
    pub(super) fn reap_deadline(&self) -> Option<tokio::time::Instant> {
        self.shared.deps.config.del_instance_after().map(|after| {
            let age = (Utc::now() - self.record.created_at)
                .to_std()
                .unwrap_or_default();
            tokio::time::Instant::now() + after.saturating_sub(age)
        })
    }

    pub(super) fn never_paired(&self) -> bool {
        self.state() != ConnectionState::Open
            && !self.record.paired
            && self.record.owner_jid.is_none()
    }

    /// Records in the instance's record that it is in use now (written, flushed with the next
    /// flush).
    pub(super) fn stamp_activity(&mut self) {
        self.record.last_active_at = Some(Utc::now());
        if let Err(e) = self.shared.deps.instances.put(&self.record) {
            tracing::warn!(instance = %self.shared.name, error = %e, "could not record the last activity");
            return;
        }
        let rec = Arc::new(self.record.clone());
        self.update(|v| v.record = rec);
    }
}
