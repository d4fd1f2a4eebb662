//! The state every HTTP handler reaches: built once in `lib.rs`, passed down as `Arc<AppState>`.

use std::sync::Arc;
use std::time::Instant;

use crate::api::limits::BodyBudget;
use crate::api::media::MediaFetcher;
use crate::config::Config;
use crate::instance::Registry;

pub struct AppState {
    pub config: Arc<Config>,
    pub registry: Registry,
    /// Scoped API keys (`/keys`), matched on every request that is not the global key's.
    pub keys: crate::store::keys::KeyRepo,
    /// The global key, from `AUTHENTICATION_API_KEY` or generated on first start.
    pub api_key: String,
    pub started: Instant,
    /// `SERVER_URL`, or `http://<bound address>` when unset.
    pub server_url: String,
    /// Fetches and decodes the media clients send.
    pub media: MediaFetcher,
    /// Request body bytes held across the server (`ZAPGATE_MAX_BODY_BYTES_IN_FLIGHT`).
    pub bodies: Arc<BodyBudget>,
    /// Who may make the server reach which addresses (webhook targets, media URLs).
    pub outbound: crate::outbound::Outbound,
    /// Live event streams open per key (`ZAPGATE_MAX_STREAMS_PER_KEY`).
    pub streams: crate::api::stream::StreamSlots,
    /// The Prometheus registry behind `/metrics` and the HTTP instruments.
    pub metrics: Arc<crate::api::metrics::Metrics>,
    /// Set when shutdown starts: live event streams end at once instead of holding the
    /// graceful shutdown for its whole grace period.
    pub closing: tokio::sync::watch::Sender<bool>,
}
