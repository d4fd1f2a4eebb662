//! zapgate: many WhatsApp Web sessions in one process, behind Evolution API v2's HTTP dialect.
//!
//! This file builds the [`AppState`](state::AppState), assembles the routes and runs the server;
//! everything else lives in its own room (see `design.md`).

pub mod api;
pub mod config;
pub mod engine;
pub mod events;
pub mod evolution;
pub mod fault;
pub mod health;
pub mod instance;
pub mod outbound;
pub mod qr;
pub mod serve;
pub mod state;
pub mod store;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use config::Config;
use engine::Engines;
use engine::loopback::{LoopbackConfig, LoopbackEngine};
use events::EventBus;
use instance::Registry;
use state::AppState;
use store::Store;

/// Live subscribers may fall this many events behind before they are dropped.
const BUS_CAPACITY: usize = 8192;
/// Sessions get this long to close at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Builds the state over an open store.
pub fn build_state(
    config: Arc<Config>,
    store: Store,
    api_key: String,
    server_url: String,
) -> anyhow::Result<Arc<AppState>> {
    let loopback = LoopbackEngine::new(
        store.clone(),
        LoopbackConfig {
            qr_interval: Duration::from_millis(config.loopback_qr_interval_ms.max(10)),
            autopair: config.loopback_autopair_ms.map(Duration::from_millis),
            media_retention: Duration::from_secs(config.loopback_media_retention_secs.max(1)),
        },
    )?;
    let whatsapp = engine::whatsapp::WhatsAppEngine::new(engine::whatsapp::WaConfig {
        url: config.wa_url.clone(),
        version: config.wa_version_triple()?,
        backoff: engine::whatsapp::Backoff {
            base: Duration::from_millis(config.reconnect_base_ms.max(1)),
            max: Duration::from_millis(config.reconnect_max_ms.max(config.reconnect_base_ms)),
        },
        max_attempts: config.max_reconnect_attempts.max(1),
        watchdog: Duration::from_millis(config.wa_watchdog_ms.max(1000)),
        http: engine::whatsapp::media_http::client(config.max_body_bytes as u64),
    });
    let engines = Engines {
        loopback: Arc::new(loopback),
        whatsapp: Arc::new(whatsapp),
    };
    let outbound = outbound::Outbound::new(config.private_targets()?);
    let outbox = store::outbox::OutboxRepo::new(&store, config.webhook_max_backlog)?;
    let policy = events::retry::RetryPolicy::from_config(&config);
    let transports = events::transport::Transports::new(
        outbox.clone(),
        &store,
        events::transport::HubConfig {
            settings: &config.transports,
            server_url: &server_url,
            expose_token: config.expose_in_fetch_instances,
            policy: policy.clone(),
        },
    )?;
    let dispatcher = events::dispatcher::Dispatcher::start(
        outbox,
        policy,
        config.webhook_concurrency,
        &outbound,
        config.dead_letter_retention(),
        transports,
    )
    .context("building the webhook HTTP clients")?;
    let webhooks = events::webhook::WebhookRouter::new(&config, &server_url);
    let registry = Registry::new(
        config.clone(),
        store,
        EventBus::new(BUS_CAPACITY),
        engines,
        webhooks,
        dispatcher,
    )?;
    let keys = store::keys::KeyRepo::new(registry.store())?;
    let media = api::media::MediaFetcher::new(&outbound, config.max_body_bytes)
        .context("building the media HTTP clients")?;
    let bodies = Arc::new(api::limits::BodyBudget::new(
        &config.bodies,
        config.max_body_bytes,
    ));
    let started = Instant::now();
    let metrics = Arc::new(api::metrics::Metrics::new(registry.clone(), started));
    Ok(Arc::new(AppState {
        closing: tokio::sync::watch::channel(false).0,
        metrics,
        media,
        bodies,
        outbound,
        streams: api::stream::StreamSlots::new(config.max_streams_per_key),
        config,
        registry,
        keys,
        api_key,
        started,
        server_url,
    }))
}

/// The global key: the configured one, or the one generated on a previous start, or a new one
/// (returned with `true` so the caller can show it once).
pub fn resolve_api_key(config: &Config) -> anyhow::Result<(String, bool)> {
    if let Some(k) = config.api_key.as_deref().filter(|k| !k.is_empty()) {
        return Ok((k.to_string(), false));
    }
    let path = config.data_dir.join("apikey");
    if let Ok(k) = std::fs::read_to_string(&path) {
        let k = k.trim().to_string();
        if !k.is_empty() {
            return Ok((k, false));
        }
    }
    let key = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    write_secret(&path, &key).with_context(|| format!("writing {}", path.display()))?;
    Ok((key, true))
}

fn write_secret(path: &Path, value: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(value.as_bytes())?;
    f.sync_all()
}

/// `http://<addr>`, with `localhost` for a wildcard bind so the URL is usable by a client.
fn default_server_url(addr: std::net::SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("http://localhost:{}", addr.port())
    } else {
        format!("http://{addr}")
    }
}

/// Runs the server on `listener` until `shutdown` resolves, then closes every session and the
/// database. `on_ready` is called with the bound address once the routes are live.
pub async fn run(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send,
    on_ready: impl FnOnce(std::net::SocketAddr, Option<&str>),
) -> anyhow::Result<()> {
    config.validate()?;
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
    let (api_key, generated) = resolve_api_key(&config)?;
    let store = Store::open_with(
        &config.data_dir,
        config.cache_mb,
        config.storage_compression,
    )
    .with_context(|| format!("opening the database in {}", config.data_dir.display()))?;
    store.watch_space(
        &config.data_dir,
        store::space::SpaceLimits {
            min_free_mb: config.min_free_mb,
            max_data_mb: config.max_data_mb,
        },
    );
    let addr = listener.local_addr()?;
    let server_url = config
        .server_url
        .clone()
        .unwrap_or_else(|| default_server_url(addr));
    let state = build_state(Arc::new(config), store.clone(), api_key.clone(), server_url)?;
    let restored = state.registry.restore()?;
    tracing::info!(restored, "instances restored");
    instance::retention::start(state.registry.clone(), state.config.message_retention());
    instance::housekeeping::start(state.registry.clone(), state.config.session_expiry());
    let app = api::routes(state.clone());
    on_ready(addr, generated.then_some(api_key.as_str()));
    let closing = state.closing.clone();
    let shutdown = async move {
        shutdown.await;
        closing.send_replace(true);
    };
    serve::serve(listener, app, &state.config.conn, shutdown, SHUTDOWN_GRACE).await?;
    if tokio::time::timeout(SHUTDOWN_GRACE, state.registry.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some sessions did not close within the grace period");
    }
    // Bounded too: the signal handlers keep the OS from ending a process stuck in a flush.
    if tokio::time::timeout(SHUTDOWN_GRACE, store.close())
        .await
        .is_err()
    {
        tracing::warn!("the final flush did not finish within the grace period");
    }
    Ok(())
}

/// The OpenAPI document, built without touching any data dir.
pub fn spec_for_docs() -> anyhow::Result<String> {
    use clap::Parser;
    #[derive(Parser)]
    struct Defaults {
        #[command(flatten)]
        config: Config,
    }
    let config = Defaults::try_parse_from(["zapgate"])?.config;
    let state = build_state(
        Arc::new(config),
        Store::temporary()?,
        String::new(),
        "http://localhost:8080".into(),
    )?;
    Ok(api::spec_json(state))
}
