//! `GET /instance/summary`: the fleet in compact rows (state, time in state, counters, last
//! error) without Evolution's full Prisma rows, and with `changedSince` only the rows that
//! changed since a moment: a console or a poller of 5,000 instances asks for what moved.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{SecondsFormat, Utc};
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi, Tags};

use super::auth::ApiKey;
use super::error::ApiError;
use crate::instance::InstanceHandle;
use crate::state::AppState;

#[derive(Tags)]
enum Tag {
    /// Operator views for consoles and dashboards (zapgate only).
    Ops,
}

pub struct SummaryApi {
    pub state: Arc<AppState>,
}

/// One instance, compact.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SummaryRow {
    pub name: String,
    /// `open`, `connecting`, `close`, `refused` or `failed`.
    pub state: String,
    /// When the current state began (RFC 3339 UTC).
    pub since: String,
    pub seconds_in_state: u64,
    pub messages_in: u64,
    pub messages_out: u64,
    pub send_errors: u64,
    pub reconnects: u64,
    /// Changes of state out of `open` in the last hour.
    pub flaps_last_hour: u64,
    pub last_activity: Option<String>,
    pub last_error: Option<String>,
    /// The instance's own webhook; absent without an enabled webhook and a backlog.
    pub webhook: Option<SummaryWebhook>,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SummaryWebhook {
    /// Events waiting to be delivered.
    pub backlog: u64,
    /// HTTP status of the last attempt (absent before the first, or without an answer).
    pub last_status: Option<u16>,
    /// Attempts failed since the last success.
    pub failing: u32,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct FleetSummary {
    /// When this answer was made, in milliseconds since the epoch: pass it as the next
    /// `changedSince`.
    pub generated_at_ms: i64,
    /// Instances the caller may see, whether listed in `rows` or not.
    pub instances: u64,
    /// Instance count per state (all visible instances).
    pub states: BTreeMap<String, u64>,
    pub rows: Vec<SummaryRow>,
}

pub(crate) fn rfc3339(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn row(h: &InstanceHandle, now: chrono::DateTime<Utc>) -> (SummaryRow, i64) {
    let view = h.view();
    let c = h.counters();
    let since = view.state.since;
    let changed = c
        .last_activity
        .map_or(since, |a| a.max(since))
        .timestamp_millis();
    let row = SummaryRow {
        name: h.name().to_string(),
        state: view.state.state.as_str().to_string(),
        since: rfc3339(since),
        seconds_in_state: (now - since).num_seconds().max(0) as u64,
        messages_in: c.messages_in,
        messages_out: c.messages_out,
        send_errors: c.send_errors,
        reconnects: c.reconnects,
        flaps_last_hour: c.flaps_last_hour,
        last_activity: c.last_activity.map(rfc3339),
        last_error: view.last_error.clone(),
        webhook: h.webhook_delivery().map(|w| SummaryWebhook {
            backlog: w.backlog,
            last_status: w.last_status,
            failing: w.failing,
        }),
    };
    (row, changed)
}

#[OpenApi(tag = "Tag::Ops")]
impl SummaryApi {
    /// The fleet in compact rows, optionally only those changed since a moment. The global key
    /// sees every instance, an instance token its own.
    #[oai(
        path = "/instance/summary",
        method = "get",
        operation_id = "fleet_summary"
    )]
    async fn summary(
        &self,
        key: ApiKey,
        /// Milliseconds since the epoch (a previous answer's `generatedAtMs`): only rows whose
        /// state began or that had a message at or after it.
        #[oai(name = "changedSince")]
        changed_since: Query<Option<i64>>,
    ) -> Result<Json<FleetSummary>, ApiError> {
        let visible = self.state.visible(&self.state.caller(&key)?);
        let now = Utc::now();
        let mut states = BTreeMap::new();
        let mut rows = Vec::new();
        for h in &visible {
            let (r, changed) = row(h, now);
            *states.entry(r.state.clone()).or_insert(0) += 1;
            if changed_since.0.is_none_or(|t| changed >= t) {
                rows.push(r);
            }
        }
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Json(FleetSummary {
            generated_at_ms: now.timestamp_millis(),
            instances: visible.len() as u64,
            states,
            rows,
        }))
    }
}
