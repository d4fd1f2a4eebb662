//! `GET /` (Evolution's welcome) and `GET /health` (ours: instances, states, memory).

use std::collections::BTreeMap;
use std::sync::Arc;

use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi, Tags};

use crate::state::AppState;

/// The Evolution API version whose HTTP dialect zapgate speaks; clients gate features on it.
pub const EVOLUTION_VERSION: &str = "2.3.6";

#[derive(Tags)]
enum Tag {
    /// Server status.
    Ops,
}

pub struct OpsApi {
    pub state: Arc<AppState>,
}

#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct Welcome {
    pub status: u16,
    pub message: String,
    pub version: String,
    pub client_name: String,
    pub documentation: String,
    /// The WhatsApp Web version the real engine announces (`auto`: the current one, fetched).
    pub whatsapp_web_version: String,
    pub zapgate_version: String,
}

/// One kind of fault the process has seen.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct HealthFault {
    /// `storageLow`, `storeWriteFailed`, `webhookBacklogFull`, `outboxRowQuarantined`,
    /// `deliveryPanic`, `actorPanic`, `webhookWorkerPanic`, `brokerUnreachable`.
    pub kind: String,
    /// A condition that holds now (storage low, a backlog at its cap).
    pub active: bool,
    /// Whether it makes `status` not ok now (active, or an incident in the last 10 minutes).
    pub failing: bool,
    /// Incidents, or times the condition started, since the process started.
    pub count: u64,
    /// Unix milliseconds of the last one.
    pub last_at: Option<u64>,
    pub detail: Option<String>,
}

#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct Health {
    /// `ok`, or `degraded` while a fault is active or recent (see `faults`).
    pub status: String,
    /// Every fault kind seen since start; empty when none.
    pub faults: Vec<HealthFault>,
    /// Unreadable outbox rows set aside (kept for inspection).
    pub outbox_quarantined: u64,
    pub instances: u64,
    /// Instance count per connection state.
    pub states: BTreeMap<String, u64>,
    /// Instances `open`.
    pub connected: u64,
    /// Instances with no session running: `close`, `refused` or `failed`.
    pub disconnected: u64,
    /// Instances `connecting` with a QR code shown, waiting for a scan.
    pub waiting_for_qr: u64,
    /// `ZAPGATE_MAX_SESSIONS`; absent without a limit.
    pub max_sessions: Option<u64>,
    pub uptime_seconds: u64,
    pub rss_bytes: u64,
    pub storage_bytes: u64,
    /// Request body bytes held right now (capped by `ZAPGATE_MAX_BODY_BYTES_IN_FLIGHT`).
    pub body_bytes_in_flight: u64,
}

#[OpenApi(tag = "Tag::Ops")]
impl OpsApi {
    /// Welcome; no authentication.
    #[oai(path = "/", method = "get", operation_id = "welcome")]
    async fn welcome(&self) -> Json<Welcome> {
        Json(Welcome {
            status: 200,
            message: "Welcome to the Evolution API, it is working!".into(),
            version: EVOLUTION_VERSION.into(),
            client_name: "zapgate".into(),
            documentation: format!("{}/docs", self.state.server_url),
            whatsapp_web_version: self.state.config.wa_version.clone(),
            zapgate_version: env!("CARGO_PKG_VERSION").into(),
        })
    }

    /// Liveness and a summary; no authentication, no secrets.
    #[oai(path = "/health", method = "get", operation_id = "health")]
    async fn health(&self) -> Json<Health> {
        // One pass over the map, reading each state in place: cheap at thousands of instances.
        let counts = self.state.registry.counts();
        let store = self.state.registry.store();
        let failing = store.faults().failing();
        let faults = store
            .faults()
            .snapshot()
            .into_iter()
            .map(|(kind, s)| HealthFault {
                kind: kind.name().into(),
                active: s.active,
                failing: failing.contains(&kind),
                count: s.count,
                last_at: s.last_at_ms,
                detail: s.detail,
            })
            .collect();
        Json(Health {
            status: if failing.is_empty() { "ok" } else { "degraded" }.into(),
            faults,
            outbox_quarantined: self.state.registry.dispatcher().repo().quarantined() as u64,
            instances: counts.total,
            states: counts
                .by_state
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            connected: counts.connected,
            disconnected: counts.disconnected,
            waiting_for_qr: counts.waiting_for_qr,
            max_sessions: self.state.config.session_limit().map(|m| m as u64),
            uptime_seconds: self.state.started.elapsed().as_secs(),
            rss_bytes: memory_stats::memory_stats()
                .map(|m| m.physical_mem as u64)
                .unwrap_or(0),
            storage_bytes: self.state.registry.store().size_on_disk(),
            body_bytes_in_flight: self.state.bodies.in_flight(),
        })
    }
}
