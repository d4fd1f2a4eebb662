//! How the instance's own webhook is doing, for operator views (the fleet summary, the
//! console): read from the dispatcher so handlers need not reach into it.

use super::InstanceHandle;
use crate::events::webhook::instance_endpoint;

/// The instance's webhook deliveries at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// Rows waiting to be delivered.
    pub backlog: u64,
    /// HTTP status of the last attempt; `None` before the first or when it got no answer.
    pub last_status: Option<u16>,
    /// Attempts failed since the last success.
    pub failing: u32,
}

impl InstanceHandle {
    /// `None` when the instance has no enabled webhook and nothing left to deliver.
    pub fn webhook_delivery(&self) -> Option<WebhookDelivery> {
        let d = &self.shared().deps.dispatcher;
        let endpoint = instance_endpoint(self.id());
        let backlog = d.repo().book(&endpoint).depth as u64;
        let enabled = self
            .view()
            .record
            .webhook
            .as_ref()
            .is_some_and(|w| w.enabled);
        if !enabled && backlog == 0 {
            return None;
        }
        let (last_status, failing) = d.last_outcome(&endpoint).unwrap_or((None, 0));
        Some(WebhookDelivery {
            backlog,
            last_status,
            failing,
        })
    }
}

/// The instance's webhook deliveries since start, for metrics (zeros without a webhook).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookTallies {
    /// Rows waiting in the outbox for the instance's own webhook.
    pub outbox_depth: u64,
    pub delivered: u64,
    pub failed_attempts: u64,
    pub dead_lettered: u64,
}

impl InstanceHandle {
    pub fn webhook_tallies(&self) -> WebhookTallies {
        let d = &self.shared().deps.dispatcher;
        let endpoint = instance_endpoint(self.id());
        let (delivered, failed_attempts, dead_lettered) = d.tallies(&endpoint).unwrap_or_default();
        WebhookTallies {
            outbox_depth: d.repo().book(&endpoint).depth as u64,
            delivered,
            failed_attempts,
            dead_lettered,
        }
    }
}
