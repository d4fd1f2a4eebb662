//! The fault board behind `/health`: what went wrong in the process, by kind, so an operator
//! (or a load balancer) sees "not ok, and why" instead of a server that fails silently.
//!
//! Two sorts of fault. A *condition* is true or false right now (storage below its floor, a
//! webhook backlog at its cap) and `/health` is not ok while it holds. An *incident* happened
//! and was handled (a delivery task panicked, an unreadable outbox row was quarantined); it is
//! counted for the life of the process and keeps `/health` not ok for [`RECENT`] after the
//! last one, so a monitor polling every few minutes cannot miss it.
//!
//! Every layer reaches the board through the store handle it already holds
//! ([`Store::faults`](crate::store::Store::faults)); adding a kind is adding a [`Fault`] variant
//! and its name.

use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use crate::events::webhook::now_ms;

/// How long an incident keeps `/health` not ok.
pub const RECENT: Duration = Duration::from_secs(600);

/// Everything `/health` can report. `name()` is the wire spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// Condition: free space or the data-dir quota is below its floor; writes get 507.
    StorageLow,
    /// Incident: a database write or flush failed.
    StoreWriteFailed,
    /// Condition: at least one webhook endpoint's backlog is at `ZAPGATE_WEBHOOK_MAX_BACKLOG`.
    WebhookBacklogFull,
    /// Incident: an unreadable outbox row was moved to the quarantine.
    OutboxRowQuarantined,
    /// Incident: a webhook delivery task panicked (its row was rescheduled).
    DeliveryPanic,
    /// Incident: an instance actor panicked (reported by the supervisor).
    ActorPanic,
    /// Incident: a webhook endpoint's worker panicked and was started again.
    WorkerPanic,
    /// Condition: an enabled event broker (RabbitMQ, NATS) could not be reached on its last
    /// try; its events wait in the outbox.
    BrokerUnreachable,
}

impl Fault {
    pub const ALL: [Fault; 8] = [
        Fault::StorageLow,
        Fault::StoreWriteFailed,
        Fault::WebhookBacklogFull,
        Fault::OutboxRowQuarantined,
        Fault::DeliveryPanic,
        Fault::ActorPanic,
        Fault::WorkerPanic,
        Fault::BrokerUnreachable,
    ];

    /// A condition holds for a while and ends; everything else is an incident.
    pub fn is_condition(self) -> bool {
        matches!(
            self,
            Fault::StorageLow | Fault::WebhookBacklogFull | Fault::BrokerUnreachable
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Fault::StorageLow => "storageLow",
            Fault::StoreWriteFailed => "storeWriteFailed",
            Fault::WebhookBacklogFull => "webhookBacklogFull",
            Fault::OutboxRowQuarantined => "outboxRowQuarantined",
            Fault::DeliveryPanic => "deliveryPanic",
            Fault::ActorPanic => "actorPanic",
            Fault::WorkerPanic => "webhookWorkerPanic",
            Fault::BrokerUnreachable => "brokerUnreachable",
        }
    }
}

/// One kind's state, as `/health` shows it.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultState {
    /// A condition that holds right now.
    pub active: bool,
    /// Incidents (or times the condition started) since the process started.
    pub count: u64,
    /// Unix milliseconds of the last incident or condition start.
    pub last_at_ms: Option<u64>,
    /// What the last report said (no secrets, no payloads).
    pub detail: Option<String>,
}

/// The board. Cheap to update: one short lock, never held across an await.
#[derive(Debug, Default)]
pub struct Faults {
    states: Mutex<[FaultState; Fault::ALL.len()]>,
}

fn index(f: Fault) -> usize {
    Fault::ALL.iter().position(|k| *k == f).unwrap_or(0)
}

impl Faults {
    /// An incident happened (counted; `/health` not ok for [`RECENT`]).
    pub fn record(&self, fault: Fault, detail: impl Into<String>) {
        let mut states = self.lock();
        let s = &mut states[index(fault)];
        s.count += 1;
        s.last_at_ms = Some(now_ms());
        s.detail = Some(detail.into());
    }

    /// A condition starts or ends. Returns true when this call changed it (callers log once
    /// per episode on that).
    pub fn set(&self, fault: Fault, active: bool, detail: impl Into<String>) -> bool {
        let mut states = self.lock();
        let s = &mut states[index(fault)];
        if s.active == active {
            return false;
        }
        s.active = active;
        if active {
            s.count += 1;
            s.last_at_ms = Some(now_ms());
            s.detail = Some(detail.into());
        }
        true
    }

    pub fn is_active(&self, fault: Fault) -> bool {
        self.lock()[index(fault)].active
    }

    /// Kinds that make `/health` not ok now: active conditions and recent incidents.
    pub fn failing(&self) -> Vec<Fault> {
        let now = now_ms();
        let recent = RECENT.as_millis() as u64;
        let states = self.lock();
        Fault::ALL
            .iter()
            .zip(states.iter())
            .filter(|(f, s)| {
                s.active
                    || (!f.is_condition()
                        && s.last_at_ms.is_some_and(|t| now.saturating_sub(t) < recent))
            })
            .map(|(f, _)| *f)
            .collect()
    }

    /// Every kind that ever fired, by wire name.
    pub fn snapshot(&self) -> Vec<(Fault, FaultState)> {
        let states = self.lock();
        Fault::ALL
            .iter()
            .zip(states.iter())
            .filter(|(_, s)| s.active || s.count > 0)
            .map(|(f, s)| (*f, s.clone()))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, [FaultState; Fault::ALL.len()]> {
        // A panic while holding this lock cannot leave a state half-written that matters more
        // than losing the board: take the data either way.
        self.states.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_and_incidents() {
        let f = Faults::default();
        assert!(f.failing().is_empty());
        assert!(f.set(Fault::StorageLow, true, "free 1 MB"));
        assert!(!f.set(Fault::StorageLow, true, "again"), "one episode");
        f.record(Fault::DeliveryPanic, "boom");
        assert_eq!(f.failing(), vec![Fault::StorageLow, Fault::DeliveryPanic]);
        assert!(f.set(Fault::StorageLow, false, ""));
        assert_eq!(
            f.failing(),
            vec![Fault::DeliveryPanic],
            "incidents stay recent"
        );
        let snap = f.snapshot();
        assert_eq!(snap.len(), 2);
        assert_eq!(snap[0].1.count, 1);
        assert!(!snap[0].1.active);
    }
}
