//! One outbox row and the target it is posted to, and their stored forms.
//!
//! Row values start with a version byte: [`ROW_V1`] rows (written before endpoint targets
//! existed) carry their own URL, headers and secret and are still read and delivered as they
//! are; [`ROW_V2`] rows carry only the event and their retry state, and name their endpoint,
//! whose target is stored once (`outbox_endpoints`).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::StoreError;

/// A self-contained row (URL, headers and secret inside), as written before v2.
pub(super) const ROW_V1: u8 = 1;
/// A row that refers to its endpoint's stored target.
pub(super) const ROW_V2: u8 = 2;

/// An encoded row: its key and value.
pub(super) type KeyValue = (Vec<u8>, Vec<u8>);

/// Where and how an endpoint's rows are posted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EndpointTarget {
    /// The configured URL; with `by_events`, each row's event is appended as a path segment.
    pub url: String,
    #[serde(default)]
    pub by_events: bool,
    /// Custom headers as configured (including `jwt_key`, turned into a JWT at send time).
    pub headers: BTreeMap<String, String>,
    /// Standard Webhooks signing secret, if any.
    pub secret: Option<String>,
    /// Who configured the endpoint: the private-target rule is applied again at delivery.
    /// Targets stored before this field count as configured by a token (the safe reading).
    #[serde(default = "crate::outbound::Requester::token")]
    pub requester: crate::outbound::Requester,
    /// Who carries the endpoint's rows: an HTTP POST (targets stored before this field), or a
    /// broker (`events/transport`), which takes its addressing from here.
    #[serde(default, skip_serializing_if = "TargetKind::is_webhook")]
    pub kind: TargetKind,
}

/// How an endpoint's rows are delivered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TargetKind {
    /// POSTed to the target's URL by the webhook dispatcher.
    #[default]
    Webhook,
    /// Published to a topic `exchange`, routing key = the dotted event, into the durable queue
    /// `{queue_prefix}.{event}` (the event alone when the prefix is empty).
    Rabbitmq {
        exchange: String,
        queue_prefix: String,
    },
    /// Published to the subject `{subject_prefix}.{event}` (the event alone when empty).
    Nats { subject_prefix: String },
}

impl TargetKind {
    pub fn is_webhook(&self) -> bool {
        matches!(self, TargetKind::Webhook)
    }
}

/// One delivery of one event to one endpoint.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    /// Row uuid; also the stable `webhook-id` (as `msg_<uuid>`).
    pub uuid: Uuid,
    pub endpoint: String,
    pub instance: String,
    pub instance_id: Uuid,
    /// Dotted event name.
    pub event: String,
    /// The exact JSON bytes to POST.
    pub body: String,
    pub created_at_ms: u64,
    /// Attempts made so far.
    pub attempt: u32,
    pub next_attempt_at_ms: u64,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub dead_at_ms: Option<u64>,
    /// The endpoint's target when the row was read (or queued).
    pub target: Arc<EndpointTarget>,
    /// A v1 row: it keeps its own target and is written back as v1.
    pub(super) legacy: bool,
}

/// A v2 row as stored: everything but the target.
#[derive(Serialize, Deserialize)]
pub(super) struct StoredRow {
    pub(super) uuid: Uuid,
    pub(super) endpoint: String,
    pub(super) instance: String,
    pub(super) instance_id: Uuid,
    pub(super) event: String,
    pub(super) body: String,
    pub(super) created_at_ms: u64,
    pub(super) attempt: u32,
    pub(super) next_attempt_at_ms: u64,
    pub(super) last_status: Option<u16>,
    pub(super) last_error: Option<String>,
    pub(super) dead_at_ms: Option<u64>,
}

/// A v1 row: a v2 row plus its own target.
#[derive(Serialize, Deserialize)]
pub(super) struct LegacyRow {
    #[serde(flatten)]
    pub(super) row: StoredRow,
    pub(super) url: String,
    pub(super) headers: BTreeMap<String, String>,
    pub(super) secret: Option<String>,
}

impl OutboxRow {
    /// A new row for `event`, due now.
    pub fn queued(
        endpoint: String,
        instance: &str,
        instance_id: Uuid,
        event: &str,
        body: String,
        target: Arc<EndpointTarget>,
    ) -> OutboxRow {
        let now = now_ms();
        OutboxRow {
            uuid: Uuid::now_v7(),
            endpoint,
            instance: instance.to_string(),
            instance_id,
            event: event.to_string(),
            body,
            created_at_ms: now,
            attempt: 0,
            next_attempt_at_ms: now,
            last_status: None,
            last_error: None,
            dead_at_ms: None,
            target,
            legacy: false,
        }
    }

    pub fn webhook_id(&self) -> String {
        format!("msg_{}", self.uuid.simple())
    }

    pub(super) fn outbox_key(&self) -> Vec<u8> {
        let mut k = prefix(&self.endpoint);
        k.extend_from_slice(self.uuid.as_bytes());
        k
    }

    pub(super) fn dlq_key(&self) -> Vec<u8> {
        let mut k = self.instance_id.as_bytes().to_vec();
        k.extend_from_slice(self.uuid.as_bytes());
        k
    }

    fn stored(&self) -> StoredRow {
        StoredRow {
            uuid: self.uuid,
            endpoint: self.endpoint.clone(),
            instance: self.instance.clone(),
            instance_id: self.instance_id,
            event: self.event.clone(),
            body: self.body.clone(),
            created_at_ms: self.created_at_ms,
            attempt: self.attempt,
            next_attempt_at_ms: self.next_attempt_at_ms,
            last_status: self.last_status,
            last_error: self.last_error.clone(),
            dead_at_ms: self.dead_at_ms,
        }
    }

    pub(super) fn to_bytes(&self) -> Result<Vec<u8>, StoreError> {
        let (version, json) = if self.legacy {
            let t = &self.target;
            let legacy = LegacyRow {
                row: self.stored(),
                url: t.url.clone(),
                headers: t.headers.clone(),
                secret: t.secret.clone(),
            };
            (ROW_V1, serde_json::to_vec(&legacy)?)
        } else {
            (ROW_V2, serde_json::to_vec(&self.stored())?)
        };
        let mut out = Vec::with_capacity(json.len() + 1);
        out.push(version);
        out.extend_from_slice(&json);
        Ok(out)
    }

    pub(super) fn from_stored(
        s: StoredRow,
        target: Arc<EndpointTarget>,
        legacy: bool,
    ) -> OutboxRow {
        OutboxRow {
            uuid: s.uuid,
            endpoint: s.endpoint,
            instance: s.instance,
            instance_id: s.instance_id,
            event: s.event,
            body: s.body,
            created_at_ms: s.created_at_ms,
            attempt: s.attempt,
            next_attempt_at_ms: s.next_attempt_at_ms,
            last_status: s.last_status,
            last_error: s.last_error,
            dead_at_ms: s.dead_at_ms,
            target,
            legacy,
        }
    }
}

pub(super) fn prefix(endpoint: &str) -> Vec<u8> {
    let mut p = endpoint.as_bytes().to_vec();
    p.push(0);
    p
}

pub(super) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
