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
    pub zapgate_version: String,
}

#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct Health {
    pub status: String,
    pub instances: u64,
    /// Instance count per connection state.
    pub states: BTreeMap<String, u64>,
    pub uptime_seconds: u64,
    pub rss_bytes: u64,
    pub storage_bytes: u64,
    /// Request body bytes held right now (capped by `ZAPGATE_MAX_BODY_BYTES_IN_FLIGHT`).
    pub body_bytes_in_flight: u64,
    /// Faults survived since start.
    pub faults: HealthFaults,
}

#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct HealthFaults {
    /// Instance actors restarted after a panic (status is `degraded` for 10 minutes after one).
    pub actor_restarts: u64,
}

/// How long `/health` says `degraded` after an actor was restarted.
const DEGRADED_AFTER_FAULT: std::time::Duration = std::time::Duration::from_secs(600);

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
            zapgate_version: env!("CARGO_PKG_VERSION").into(),
        })
    }

    /// Liveness and a summary; no authentication, no secrets.
    #[oai(path = "/health", method = "get", operation_id = "health")]
    async fn health(&self) -> Json<Health> {
        let mut states = BTreeMap::new();
        let all = self.state.registry.all();
        for h in &all {
            *states
                .entry(h.view().state.state.as_str().to_string())
                .or_insert(0) += 1;
        }
        let faults = self.state.registry.faults();
        let status = if faults.actor_restarted_within(DEGRADED_AFTER_FAULT) {
            "degraded"
        } else {
            "ok"
        };
        Json(Health {
            status: status.into(),
            instances: all.len() as u64,
            states,
            uptime_seconds: self.state.started.elapsed().as_secs(),
            rss_bytes: memory_stats::memory_stats()
                .map(|m| m.physical_mem as u64)
                .unwrap_or(0),
            storage_bytes: self.state.registry.store().size_on_disk(),
            body_bytes_in_flight: self.state.bodies.in_flight(),
            faults: HealthFaults {
                actor_restarts: faults.actor_restarts(),
            },
        })
    }
}
