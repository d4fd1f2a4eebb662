//! Configuration from the environment (and an optional `.env`), Evolution's variable names first,
//! `ZAPGATE_*` for what Evolution has no name for. Parsed once at start-up; nothing reads the
//! environment after this.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Args;
use clap::builder::BoolishValueParser;

/// Server configuration. Every field is also a `--flag` so tests and operators can override the
/// environment on the command line.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Port to listen on; 0 picks a free one (the chosen address is printed on stdout).
    #[arg(long = "port", env = "SERVER_PORT", default_value_t = 8080)]
    pub port: u16,

    /// Address to bind.
    #[arg(long = "bind", env = "ZAPGATE_BIND", default_value = "0.0.0.0")]
    pub bind: IpAddr,

    /// Public base URL of this server, reported as `server_url` in events.
    #[arg(long = "server-url", env = "SERVER_URL")]
    pub server_url: Option<String>,

    /// The global API key. When unset, one is generated on first start and kept in the data dir.
    #[arg(
        long = "api-key",
        env = "AUTHENTICATION_API_KEY",
        hide_env_values = true
    )]
    pub api_key: Option<String>,

    /// Put the instance token in event envelopes (`apikey`), as Evolution does with this flag.
    #[arg(long, env = "AUTHENTICATION_EXPOSE_IN_FETCH_INSTANCES", value_parser = BoolishValueParser::new(), default_value = "false")]
    pub expose_in_fetch_instances: bool,

    /// QR codes shown per connection attempt before the instance goes `refused`.
    #[arg(long, env = "QRCODE_LIMIT", default_value_t = 30)]
    pub qrcode_limit: u32,

    /// Colour of the dark QR modules, `#rrggbb`.
    #[arg(long, env = "QRCODE_COLOR", default_value = "#198754")]
    pub qrcode_color: String,

    /// Linked-device label shown on the phone (client part).
    #[arg(long, env = "CONFIG_SESSION_PHONE_CLIENT", default_value = "zapgate")]
    pub session_phone_client: String,

    /// Linked-device label shown on the phone (browser part).
    #[arg(long, env = "CONFIG_SESSION_PHONE_NAME", default_value = "Chrome")]
    pub session_phone_name: String,

    /// `false`, or a number N: delete instances never paired N minutes after creation.
    #[arg(long, env = "DEL_INSTANCE", default_value = "false")]
    pub del_instance: String,

    /// Ours: `DEL_INSTANCE` in seconds; overrides the minutes setting (tests, demos).
    #[arg(long, env = "ZAPGATE_DEL_INSTANCE_SECS")]
    pub del_instance_secs: Option<u64>,

    /// Ours: instances held at most; one more create (any route) is refused with 403. 0 means
    /// no limit.
    #[arg(long, env = "ZAPGATE_MAX_SESSIONS", default_value_t = 0)]
    pub max_sessions: usize,

    /// Ours: instances not `open` and unused (no message either way, never open) for this many
    /// days are removed by an hourly sweep; 0 keeps them.
    #[arg(long, env = "ZAPGATE_SESSION_EXPIRY", default_value_t = 0)]
    pub session_expiry_days: u64,

    /// Ours: the session expiry in seconds; overrides the days setting (tests, demos).
    #[arg(long, env = "ZAPGATE_SESSION_EXPIRY_SECS")]
    pub session_expiry_secs: Option<u64>,

    /// Ours (`/sessions/problematic`): a session counts as flapping after more than this many
    /// drops out of `open` within `ZAPGATE_FLAP_WINDOW_MINUTES`.
    #[arg(long, env = "ZAPGATE_FLAP_THRESHOLD", default_value_t = 5)]
    pub flap_threshold: u64,

    #[arg(long, env = "ZAPGATE_FLAP_WINDOW_MINUTES", default_value_t = 10)]
    pub flap_window_minutes: u64,

    /// Ours (`/sessions/problematic`): `connecting` for longer than this many seconds is stuck.
    #[arg(long, env = "ZAPGATE_STUCK_CONNECTING_SECS", default_value_t = 300)]
    pub stuck_connecting_secs: u64,

    /// Ours (`/sessions/problematic`): `open` without a message either way for this many
    /// minutes is silent; 0 switches the check off.
    #[arg(long, env = "ZAPGATE_SILENT_OPEN_MINUTES", default_value_t = 1440)]
    pub silent_open_minutes: u64,

    /// Allowed CORS origins, comma separated, `*` for any.
    #[arg(long, env = "CORS_ORIGIN", default_value = "*")]
    pub cors_origin: String,

    /// Evolution's CSV of log categories (ERROR,WARN,INFO,DEBUG,...) or a tracing filter.
    #[arg(long, env = "LOG_LEVEL", default_value = "ERROR,WARN,INFO")]
    pub log_level: String,

    /// Where the sled database lives.
    #[arg(
        long = "data-dir",
        env = "ZAPGATE_DATA_DIR",
        default_value = "./storages"
    )]
    pub data_dir: PathBuf,

    /// sled page-cache budget shared by every instance, in MiB.
    #[arg(long, env = "ZAPGATE_CACHE_MB", default_value_t = 64)]
    pub cache_mb: u64,

    /// Ours: a data dir created now, and the copy `zapgate compact` writes, compress sled's pages
    /// (zstd: about a quarter of the disk, about half the write throughput). An existing
    /// database keeps the setting it was created with; compacting it with the other setting
    /// converts it.
    #[arg(long, env = "ZAPGATE_STORAGE_COMPRESSION", value_parser = BoolishValueParser::new(), default_value = "false")]
    pub storage_compression: bool,

    /// Paired instances reconnected per second at start-up.
    #[arg(long, env = "ZAPGATE_CONNECT_RATE", default_value_t = 25)]
    pub connect_rate: u32,

    /// Largest request body accepted, in bytes (Evolution accepts 136 MB for media).
    #[arg(long, env = "ZAPGATE_MAX_BODY_BYTES", default_value_t = 136 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Longest `delay` honoured on a send or a presence, in milliseconds (Evolution: 5 minutes).
    #[arg(long, env = "ZAPGATE_MAX_SEND_DELAY_MS", default_value_t = 300_000)]
    pub max_send_delay_ms: u64,

    /// The HTTP edge: connection caps and timeouts (`serve`), body limits and rate limits (`api`).
    #[command(flatten)]
    pub conn: crate::serve::ConnLimits,
    #[command(flatten)]
    pub bodies: crate::api::limits::BodyLimits,
    #[command(flatten)]
    pub rates: crate::api::gate::RateLimits,

    /// RabbitMQ and NATS (`RABBITMQ_*`, `NATS_*`).
    #[command(flatten)]
    pub transports: crate::events::transport::TransportSettings,

    /// How long `connect` and `create` wait for the first QR code, in milliseconds.
    #[arg(long, env = "ZAPGATE_QR_WAIT_MS", default_value_t = 5000)]
    pub qr_wait_ms: u64,

    /// LOOPBACK: pair a shown QR automatically after this many milliseconds.
    #[arg(long, env = "ZAPGATE_LOOPBACK_AUTOPAIR_MS")]
    pub loopback_autopair_ms: Option<u64>,

    /// LOOPBACK: how long each QR code lives before the next one, in milliseconds (the first
    /// lives three times as long, like WhatsApp's 60 s / 20 s).
    #[arg(
        long,
        env = "ZAPGATE_LOOPBACK_QR_INTERVAL_MS",
        default_value_t = 20_000
    )]
    pub loopback_qr_interval_ms: u64,

    /// LOOPBACK: how long sent media stays downloadable, in seconds (then it is gone, like an
    /// expired WhatsApp media link, and its space is reclaimed).
    #[arg(
        long,
        env = "ZAPGATE_LOOPBACK_MEDIA_RETENTION_SECS",
        default_value_t = 86_400
    )]
    pub loopback_media_retention_secs: u64,

    /// Send every matching event to `WEBHOOK_GLOBAL_URL` too (per-event switches:
    /// `WEBHOOK_EVENTS_<NAME>=true`).
    #[arg(long, env = "WEBHOOK_GLOBAL_ENABLED", value_parser = BoolishValueParser::new(), default_value = "false")]
    pub webhook_global_enabled: bool,

    #[arg(long, env = "WEBHOOK_GLOBAL_URL")]
    pub webhook_global_url: Option<String>,

    /// Add the event suffix (`/messages-upsert`) to the global URL.
    #[arg(long, env = "WEBHOOK_GLOBAL_WEBHOOK_BY_EVENTS", value_parser = BoolishValueParser::new(), default_value = "false")]
    pub webhook_global_by_events: bool,

    /// Per-attempt timeout of a webhook POST.
    #[arg(long, env = "WEBHOOK_REQUEST_TIMEOUT_MS", default_value_t = 30_000)]
    pub webhook_request_timeout_ms: u64,

    /// Attempts per event and endpoint before it goes to the dead letters.
    #[arg(long, env = "WEBHOOK_RETRY_MAX_ATTEMPTS", default_value_t = 10)]
    pub webhook_retry_max_attempts: u32,

    #[arg(long, env = "WEBHOOK_RETRY_INITIAL_DELAY_SECONDS", default_value_t = 5)]
    pub webhook_retry_initial_delay_seconds: u64,

    /// Ours: the first retry delay in milliseconds; overrides the seconds setting (tests, demos).
    #[arg(long, env = "ZAPGATE_WEBHOOK_RETRY_INITIAL_DELAY_MS")]
    pub webhook_retry_initial_delay_ms: Option<u64>,

    #[arg(long, env = "WEBHOOK_RETRY_USE_EXPONENTIAL_BACKOFF", value_parser = BoolishValueParser::new(), default_value = "true")]
    pub webhook_retry_use_exponential_backoff: bool,

    #[arg(long, env = "WEBHOOK_RETRY_MAX_DELAY_SECONDS", default_value_t = 300)]
    pub webhook_retry_max_delay_seconds: u64,

    #[arg(long, env = "WEBHOOK_RETRY_JITTER_FACTOR", default_value_t = 0.2)]
    pub webhook_retry_jitter_factor: f64,

    /// Statuses that are not retried (the event goes straight to the dead letters).
    #[arg(
        long,
        env = "WEBHOOK_RETRY_NON_RETRYABLE_STATUS_CODES",
        default_value = "400,401,403,404,422"
    )]
    pub webhook_retry_non_retryable_status_codes: String,

    /// Ours: sign every webhook with Standard Webhooks headers using this secret
    /// (`whsec_<base64>` or any string). A webhook's own `secret` takes precedence.
    #[arg(long, env = "ZAPGATE_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,

    /// Deprecated alias: `true` means `ZAPGATE_PRIVATE_TARGETS=*`; `false` is the default.
    #[arg(long, env = "ZAPGATE_WEBHOOK_ALLOW_PRIVATE", value_parser = BoolishValueParser::new())]
    pub webhook_allow_private: Option<bool>,

    /// Ours: deliveries in flight per endpoint.
    #[arg(long, env = "ZAPGATE_WEBHOOK_CONCURRENCY", default_value_t = 4)]
    pub webhook_concurrency: usize,

    // --- Outbound requests and event streams (trust model in README "Security") ---
    /// Ours: private, loopback or link-local targets that webhooks and media URLs given with an
    /// instance token may reach anyway: comma-separated hosts, `host:port`, CIDRs
    /// (`10.0.0.0/8`), or `*` for all. Requests made with the global key are never limited.
    #[arg(long, env = "ZAPGATE_PRIVATE_TARGETS", default_value = "")]
    pub private_targets: String,

    /// Ours: live event streams (`/events`, `/events/ws`) open at once per key (the global
    /// key, or one instance's token); one more is answered 429.
    #[arg(long, env = "ZAPGATE_MAX_STREAMS_PER_KEY", default_value_t = 8)]
    pub max_streams_per_key: usize,
    // --- end of outbound and streams ---
    /// WHATSAPP-BAILEYS: the WhatsApp Web WebSocket endpoint. Builds with the `wa-mock-peer`
    /// feature accept only a loopback address here.
    #[arg(long, env = "ZAPGATE_WA_URL", default_value = crate::engine::whatsapp::DEFAULT_WA_URL)]
    pub wa_url: String,

    /// WHATSAPP-BAILEYS: WA Web version announced at login (`2.3000.N`), pinned so nothing is
    /// fetched at connect time; `auto` fetches it from web.whatsapp.com once a day per session.
    #[arg(long, env = "ZAPGATE_WA_VERSION", default_value = "2.3000.1026131876")]
    pub wa_version: String,

    /// WHATSAPP-BAILEYS: consecutive failed connection attempts before the instance shows
    /// `failed` (then `/instance/restart` starts it again).
    #[arg(long, env = "ZAPGATE_MAX_RECONNECT_ATTEMPTS", default_value_t = 20)]
    pub max_reconnect_attempts: u32,

    /// WHATSAPP-BAILEYS: delay before the first reconnect, doubled per failed attempt (jittered).
    #[arg(long, env = "ZAPGATE_RECONNECT_BASE_MS", default_value_t = 1000)]
    pub reconnect_base_ms: u64,

    /// WHATSAPP-BAILEYS: longest delay between reconnect attempts.
    #[arg(long, env = "ZAPGATE_RECONNECT_MAX_MS", default_value_t = 300_000)]
    pub reconnect_max_ms: u64,

    /// WHATSAPP-BAILEYS: a connected session that received nothing for this long is
    /// reconnected (twice WhatsApp's 30 s keepalive interval).
    #[arg(long, env = "ZAPGATE_WA_WATCHDOG_MS", default_value_t = 60_000)]
    pub wa_watchdog_ms: u64,

    // ---- Outbox and storage limits (issue 11) ----
    /// Ours: rows waiting per webhook endpoint. At the cap, new events for that endpoint go
    /// straight to its dead letters (replayable), are counted in `/webhook/stats` and shown in
    /// `/health`; the request that caused them is not refused.
    #[arg(long, env = "ZAPGATE_WEBHOOK_MAX_BACKLOG", default_value_t = 100_000)]
    pub webhook_max_backlog: usize,

    /// Ours: dead letters are deleted this many days after they died; 0 keeps them until they
    /// are replayed or their instance is deleted.
    #[arg(long, env = "ZAPGATE_DEAD_LETTER_RETENTION_DAYS", default_value_t = 14)]
    pub dead_letter_retention_days: u64,

    /// Ours: the retention in milliseconds; overrides the days setting (tests, demos).
    #[arg(long, env = "ZAPGATE_DEAD_LETTER_RETENTION_MS")]
    pub dead_letter_retention_ms: Option<u64>,

    /// Ours: stored messages older than this many days are deleted (by time range, in the
    /// background); 0 keeps them.
    #[arg(long, env = "ZAPGATE_MESSAGE_RETENTION_DAYS", default_value_t = 0)]
    pub message_retention_days: u64,

    /// Ours: the message retention in seconds; overrides the days setting (tests, demos).
    #[arg(long, env = "ZAPGATE_MESSAGE_RETENTION_SECS")]
    pub message_retention_secs: Option<u64>,

    /// Ours: writes (sends, new instances, stored events) are refused with 507 while the data
    /// dir's filesystem has less than this much free space, in MiB; 0 switches the floor off.
    #[arg(long, env = "ZAPGATE_MIN_FREE_MB", default_value_t = 256)]
    pub min_free_mb: u64,

    /// Ours: the same refusal once the data dir holds this many MiB; 0 (default) means no quota.
    #[arg(long, env = "ZAPGATE_MAX_DATA_MB", default_value_t = 0)]
    pub max_data_mb: u64,
}

/// A configuration the server refuses to start with.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("ZAPGATE_WA_URL must be a ws:// or wss:// URL, got {0:?}")]
    BadWaUrl(String),
    #[error("ZAPGATE_WA_VERSION must look like 2.3000.1026131876 or be `auto`, got {0:?}")]
    BadWaVersion(String),
    #[error("ZAPGATE_MAX_RECONNECT_ATTEMPTS must be at least 1")]
    NoReconnectAttempts,
    #[error(
        "this binary does not verify WhatsApp's server certificate (built with the `wa-mock-peer` \
         feature, or with whatsapp-rust's danger-skip-cert-chain-verify unified in by a test \
         build); it only connects to a loopback ZAPGATE_WA_URL (ws://127.0.0.1:PORT/ws/chat), \
         got {0:?}. Use a default build (`cargo build --release -p zapgate`) for WhatsApp."
    )]
    MockPeerNeedsLoopback(String),
    #[error(
        "ZAPGATE_MAX_BODY_BYTES ({media}) must not exceed ZAPGATE_MAX_BODY_BYTES_IN_FLIGHT \
         ({in_flight}); the JSON limit is {json}"
    )]
    BodyLimits {
        json: usize,
        media: usize,
        in_flight: usize,
    },
    #[error(transparent)]
    PrivateTargets(#[from] crate::outbound::BadTarget),
}

impl Config {
    /// Checks what clap cannot. Called before the server opens anything.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let host =
            ws_host(&self.wa_url).ok_or_else(|| ConfigError::BadWaUrl(self.wa_url.clone()))?;
        // Our feature, or the crate's check found switched off by feature unification.
        let unverified = cfg!(feature = "wa-mock-peer")
            || crate::engine::whatsapp::cert_probe::cert_chain_check_disabled();
        if unverified && !is_loopback_host(host) {
            return Err(ConfigError::MockPeerNeedsLoopback(self.wa_url.clone()));
        }
        self.wa_version_triple()?;
        self.private_targets()?;
        if self.max_reconnect_attempts == 0 {
            return Err(ConfigError::NoReconnectAttempts);
        }
        let (json, media, in_flight) = (
            self.bodies.max_json_bytes,
            self.max_body_bytes,
            self.bodies.max_body_bytes_in_flight,
        );
        // The JSON limit is clamped to the media one where it is larger; the budget must hold
        // one whole media body.
        if media > in_flight {
            return Err(ConfigError::BodyLimits {
                json,
                media,
                in_flight,
            });
        }
        Ok(())
    }

    /// `ZAPGATE_PRIVATE_TARGETS`, with the deprecated `ZAPGATE_WEBHOOK_ALLOW_PRIVATE=true` as `*`.
    pub fn private_targets(&self) -> Result<crate::outbound::PrivateTargets, ConfigError> {
        if self.webhook_allow_private == Some(true) {
            return Ok(crate::outbound::PrivateTargets::all());
        }
        Ok(crate::outbound::PrivateTargets::parse(
            &self.private_targets,
        )?)
    }

    /// `ZAPGATE_WA_VERSION` as a triple; `None` for `auto`.
    pub fn wa_version_triple(&self) -> Result<Option<(u32, u32, u32)>, ConfigError> {
        if self.wa_version.trim().eq_ignore_ascii_case("auto") {
            return Ok(None);
        }
        crate::engine::whatsapp::parse_version(&self.wa_version)
            .map(Some)
            .ok_or_else(|| ConfigError::BadWaVersion(self.wa_version.clone()))
    }

    /// Event kinds switched on for the global webhook by `WEBHOOK_EVENTS_<NAME>=true`, read
    /// from the process environment once at start-up. `GROUPS_UPDATE` and `GROUP_UPDATE` both
    /// switch on `groups.update`.
    pub fn global_webhook_events(&self) -> Vec<crate::events::EventKind> {
        let mut kinds = Vec::new();
        for (name, value) in std::env::vars() {
            let Some(event) = name.strip_prefix("WEBHOOK_EVENTS_") else {
                continue;
            };
            let on = matches!(
                value.trim().to_ascii_lowercase().as_str(),
                "true" | "1" | "yes" | "on"
            );
            if let (true, Some(kind)) = (on, crate::events::EventKind::parse(event)) {
                kinds.push(kind);
            }
        }
        kinds
    }

    /// `WEBHOOK_RETRY_NON_RETRYABLE_STATUS_CODES` as numbers; unparsable entries are ignored.
    pub fn non_retryable_statuses(&self) -> Vec<u16> {
        self.webhook_retry_non_retryable_status_codes
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect()
    }

    /// How long dead letters are kept; `None`: until replayed or their instance is deleted.
    pub fn dead_letter_retention(&self) -> Option<std::time::Duration> {
        match self.dead_letter_retention_ms {
            Some(ms) => Some(std::time::Duration::from_millis(ms.max(1))),
            None if self.dead_letter_retention_days == 0 => None,
            None => Some(std::time::Duration::from_secs(
                self.dead_letter_retention_days.saturating_mul(86_400),
            )),
        }
    }

    /// How long messages are kept; `None`: for ever.
    pub fn message_retention(&self) -> Option<std::time::Duration> {
        match self.message_retention_secs {
            Some(s) => Some(std::time::Duration::from_secs(s.max(1))),
            None if self.message_retention_days == 0 => None,
            None => Some(std::time::Duration::from_secs(
                self.message_retention_days.saturating_mul(86_400),
            )),
        }
    }

    /// `DEL_INSTANCE` (or its seconds override) as a delay, when it is a positive number.
    pub fn del_instance_after(&self) -> Option<std::time::Duration> {
        if let Some(s) = self.del_instance_secs {
            return Some(std::time::Duration::from_secs(s.max(1)));
        }
        self.del_instance
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|m| *m > 0)
            .map(|m| std::time::Duration::from_secs(m.saturating_mul(60)))
    }

    /// How long an unused, not-open instance is kept; `None`: for ever.
    pub fn session_expiry(&self) -> Option<std::time::Duration> {
        match self.session_expiry_secs {
            Some(s) => Some(std::time::Duration::from_secs(s.max(1))),
            None if self.session_expiry_days == 0 => None,
            None => Some(std::time::Duration::from_secs(
                self.session_expiry_days.saturating_mul(86_400),
            )),
        }
    }

    /// `ZAPGATE_MAX_SESSIONS`; `None` without a limit.
    pub fn session_limit(&self) -> Option<usize> {
        (self.max_sessions > 0).then_some(self.max_sessions)
    }

    /// The dark module colour as RGB, falling back to Evolution's green on a bad value.
    pub fn qr_rgb(&self) -> [u8; 3] {
        parse_hex_rgb(&self.qrcode_color).unwrap_or([0x19, 0x87, 0x54])
    }

    /// Translates Evolution's `LOG_LEVEL` categories into a tracing filter. A value that already
    /// looks like a tracing directive (`info`, `zapgate=debug`) is used as is.
    pub fn tracing_filter(&self) -> String {
        let raw = self.log_level.trim();
        if !raw.chars().any(|c| c.is_ascii_uppercase()) {
            return raw.to_string();
        }
        let has = |c: &str| raw.split(',').any(|p| p.trim().eq_ignore_ascii_case(c));
        let level = if has("VERBOSE") || has("DARK") {
            "trace"
        } else if has("DEBUG") {
            "debug"
        } else if has("INFO") || has("LOG") {
            "info"
        } else if has("WARN") {
            "warn"
        } else {
            "error"
        };
        format!("{level},sled=warn,poem=warn")
    }
}

/// The host of a `ws://` / `wss://` URL (brackets kept off IPv6 literals).
fn ws_host(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("ws://")
        .or_else(|| url.strip_prefix("wss://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        authority.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}

fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn parse_hex_rgb(s: &str) -> Option<[u8; 3]> {
    let h = s.trim().strip_prefix('#').unwrap_or(s.trim());
    if h.len() != 6 {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(h.get(i..i + 2)?, 16).ok();
    Some([byte(0)?, byte(2)?, byte(4)?])
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        c: Config,
    }

    #[test]
    fn evolution_log_levels_map_to_a_filter() {
        let w = Wrap::parse_from(["x", "--log-level", "ERROR,WARN,DEBUG"]);
        assert!(w.c.tracing_filter().starts_with("debug"));
        let w = Wrap::parse_from(["x", "--log-level", "zapgate=trace"]);
        assert_eq!(w.c.tracing_filter(), "zapgate=trace");
    }

    #[test]
    fn wa_urls_and_loopback_hosts() {
        assert_eq!(
            ws_host("wss://web.whatsapp.com/ws/chat"),
            Some("web.whatsapp.com")
        );
        assert_eq!(ws_host("ws://127.0.0.1:9/ws/chat"), Some("127.0.0.1"));
        assert_eq!(ws_host("ws://[::1]:9/ws/chat"), Some("::1"));
        assert_eq!(ws_host("ws://u@localhost"), Some("localhost"));
        assert_eq!(ws_host("http://127.0.0.1/"), None);
        assert!(is_loopback_host("127.0.0.2") && is_loopback_host("::1"));
        assert!(is_loopback_host("LOCALHOST"));
        assert!(!is_loopback_host("web.whatsapp.com") && !is_loopback_host("10.0.0.1"));
    }

    #[test]
    fn validation_follows_the_build() {
        let w = Wrap::parse_from(["x"]);
        assert_eq!(
            w.c.wa_version_triple().unwrap(),
            Some((2, 3000, 1026131876))
        );
        // The default URL is WhatsApp's: fine for a build that verifies WhatsApp's certificate,
        // refused by one that does not (our feature, or feature unification in a test build).
        let unverified = cfg!(feature = "wa-mock-peer")
            || crate::engine::whatsapp::cert_probe::cert_chain_check_disabled();
        assert_eq!(w.c.validate().is_ok(), !unverified);
        let w = Wrap::parse_from(["x", "--wa-url", "ws://127.0.0.1:1/ws/chat"]);
        assert!(w.c.validate().is_ok());
        let w = Wrap::parse_from(["x", "--wa-version", "2.x"]);
        assert!(w.c.validate().is_err());
        let w = Wrap::parse_from(["x", "--wa-version", "auto", "--wa-url", "ws://localhost/"]);
        assert!(w.c.validate().is_ok() && w.c.wa_version_triple().unwrap().is_none());
    }

    #[test]
    fn qr_colour_parses_and_falls_back() {
        assert_eq!(parse_hex_rgb("#ff0010"), Some([255, 0, 16]));
        assert_eq!(parse_hex_rgb("nope"), None);
    }
}
