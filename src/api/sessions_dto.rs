//! Bodies of the sessions dialect (`/sessions*`, `/status`), the operator API small Baileys
//! session managers speak: snake_case names and `success` on every answer. Built from the
//! instance layer's views; nothing here reads state of its own.

use std::collections::BTreeMap;

use chrono::Utc;
use poem::Request;
use poem_openapi::payload::{Json, ParsePayload, Payload};
use poem_openapi::registry::{MetaMediaType, MetaRequest, Registry};
use poem_openapi::types::ParseFromJSON;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions, Object};

use super::jid_text::JidText;
use super::summary::{SummaryRow, rfc3339};
use crate::engine::jid::user_of;
use crate::instance::problems::Problem;
use crate::instance::vitals::{ErrorNote, HealthCheck, Transition};
use crate::instance::{ConnectionState, InstanceHandle};

/// A JSON body a client may leave out altogether (no body, no `Content-Type`): many session
/// managers' clients send a bare `POST`.
pub struct OptionalJson<T>(pub Option<T>);

impl<'a, T: ParseFromJSON> ApiExtractor<'a> for OptionalJson<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: <Json<T> as Payload>::CONTENT_TYPE,
                schema: T::schema_ref(),
            }],
            required: false,
        })
    }

    async fn from_request(
        req: &'a Request,
        body: &mut poem::RequestBody,
        _opts: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        match req.content_type() {
            None => {
                let bytes = body.take()?.into_vec().await?;
                if bytes.iter().all(u8::is_ascii_whitespace) {
                    Ok(OptionalJson(None))
                } else {
                    Err(poem_openapi::error::ContentTypeError::ExpectContentType.into())
                }
            }
            Some(ct) if <Json<T> as Payload>::check_content_type(ct) => {
                let Json(v) = <Json<Option<T>> as ParsePayload>::from_request(req, body).await?;
                Ok(OptionalJson(v))
            }
            Some(ct) => Err(poem_openapi::error::ContentTypeError::NotSupported {
                content_type: ct.to_string(),
            }
            .into()),
        }
    }
}

/// `POST /sessions/{id}` body; optional as a whole.
#[derive(Object, Debug)]
pub struct CreateSessionBody {
    /// `WHATSAPP-BAILEYS` (the default, the real engine) or `LOOPBACK`.
    #[oai(validator(pattern = "^(WHATSAPP-BAILEYS|LOOPBACK)$"))]
    pub integration: Option<String>,
}

/// `POST /sessions/{id}/send` body.
#[derive(Object, Debug)]
pub struct SendBody {
    /// A phone number (digits) or a JID.
    pub to: JidText<128>,
    /// The text to send.
    #[oai(validator(min_length = 1, max_length = 65536))]
    pub message: String,
}

/// A session as the dialect shows it.
#[derive(Object, Debug)]
pub struct SessionStatus {
    pub connected: bool,
    /// zapgate's state: `open`, `connecting`, `close`, `refused` or `failed`.
    pub state: String,
    /// The account's phone number (digits), once paired.
    pub number: Option<String>,
    /// The account's profile name, once paired.
    pub name: Option<String>,
    /// The QR code's text while one waits for a scan.
    pub qr_code: Option<String>,
    /// The same QR code as a PNG data URI.
    pub qr_image: Option<String>,
    pub last_disconnect_reason: Option<String>,
    /// Reconnects and failures since the last restart or `reset-attempts`.
    pub reconnect_attempts: u64,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// The last message either way (RFC 3339 UTC), since the server started.
    pub last_activity: Option<String>,
}

#[derive(Object, Debug)]
pub struct SessionInfo {
    pub id: String,
    pub status: SessionStatus,
}

impl SessionInfo {
    pub fn of(h: &InstanceHandle) -> SessionInfo {
        let view = h.view();
        let r = &view.record;
        let connecting = view.state.state == ConnectionState::Connecting;
        SessionInfo {
            id: h.name().to_string(),
            status: SessionStatus {
                connected: view.state.state == ConnectionState::Open,
                state: view.state.state.as_str().into(),
                number: r
                    .owner_jid
                    .as_deref()
                    .map(|j| user_of(j).to_string())
                    .or_else(|| r.number.clone()),
                name: r.profile_name.clone(),
                qr_code: view.qr.code.clone().filter(|_| connecting),
                qr_image: view.qr.base64.clone().filter(|_| connecting),
                last_disconnect_reason: h
                    .last_disconnect()
                    .map(|d| d.reason.unwrap_or_else(|| format!("status {}", d.code))),
                reconnect_attempts: h.reconnect_attempts(),
                created_at: rfc3339(r.created_at),
                last_activity: h.counters().last_activity.map(rfc3339),
            },
        }
    }
}

/// Create, status, restart and reset-attempts answer with the session.
#[derive(Object, Debug)]
pub struct SessionAnswer {
    pub success: bool,
    pub message: String,
    pub session: SessionInfo,
}

#[derive(Object, Debug)]
pub struct SessionList {
    pub success: bool,
    pub total: u64,
    pub sessions: Vec<SessionInfo>,
}

/// `GET /sessions/{id}/qr`.
#[derive(Object, Debug)]
pub struct QrAnswer {
    pub success: bool,
    /// `waiting_for_scan` (a QR code is shown, or about to be), `connected`, or `disconnected`
    /// (no session runs: restart it).
    pub status: String,
    pub message: String,
    pub qr_code: Option<String>,
    pub qr_image: Option<String>,
    pub connected: bool,
    pub session_id: String,
}

#[derive(Object, Debug)]
pub struct SentAnswer {
    pub success: bool,
    pub message: String,
    pub message_id: String,
    /// The chat's JID.
    pub to: String,
    /// Unix seconds.
    pub timestamp: u64,
}

#[derive(Object, Debug)]
pub struct Done {
    pub success: bool,
    pub message: String,
}

/// Instances per state; the same counts `/health` shows.
#[derive(Object, Debug)]
pub struct StateCounts {
    pub total: u64,
    pub connected: u64,
    /// `connecting` with a QR code shown.
    pub waiting_for_qr: u64,
    /// `connecting` without a QR code (logging in, reconnecting).
    pub connecting: u64,
    /// `close`, `refused` or `failed`.
    pub disconnected: u64,
    pub by_state: BTreeMap<String, u64>,
}

impl From<crate::instance::FleetCounts> for StateCounts {
    fn from(c: crate::instance::FleetCounts) -> Self {
        StateCounts {
            total: c.total,
            connected: c.connected,
            waiting_for_qr: c.waiting_for_qr,
            connecting: c.connecting,
            disconnected: c.disconnected,
            by_state: c
                .by_state
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        }
    }
}

/// `GET /status`.
#[derive(Object, Debug)]
pub struct ServerStatus {
    pub success: bool,
    /// `ok`, or `degraded` while `/health` reports a fault.
    pub status: String,
    pub version: String,
    pub uptime_seconds: u64,
    /// `ZAPGATE_MAX_SESSIONS`; absent without a limit.
    pub max_sessions: Option<u64>,
    pub sessions: StateCounts,
}

#[derive(Object, Debug)]
pub struct SessionStats {
    pub sessions: StateCounts,
    pub max_sessions: Option<u64>,
    pub messages_in: u64,
    pub messages_out: u64,
    pub send_errors: u64,
    pub reconnects: u64,
    pub uptime_seconds: u64,
    /// Resident memory of the process.
    pub rss_bytes: u64,
}

#[derive(Object, Debug)]
pub struct StatsAnswer {
    pub success: bool,
    pub stats: SessionStats,
}

#[derive(Object, Debug)]
pub struct ProblemDto {
    /// `failed`, `refused`, `stuck_connecting`, `flapping` or `silent`.
    pub kind: String,
    pub reason: String,
}

impl From<Problem> for ProblemDto {
    fn from(p: Problem) -> Self {
        ProblemDto {
            kind: p.kind.as_str().into(),
            reason: p.reason,
        }
    }
}

#[derive(Object, Debug)]
pub struct ProblemRow {
    pub id: String,
    pub state: String,
    /// When the current state began (RFC 3339 UTC).
    pub since: String,
    pub problems: Vec<ProblemDto>,
    pub last_error: Option<String>,
    pub reconnect_attempts: u64,
}

/// The limits `/sessions/problematic` judged by (from the configuration).
#[derive(Object, Debug)]
pub struct ProblemThresholds {
    pub flap_threshold: u64,
    pub flap_window_minutes: u64,
    pub stuck_connecting_secs: u64,
    /// 0: the check is off.
    pub silent_open_minutes: u64,
}

#[derive(Object, Debug)]
pub struct ProblemList {
    pub success: bool,
    pub total: u64,
    pub thresholds: ProblemThresholds,
    pub sessions: Vec<ProblemRow>,
}

#[derive(Object, Debug)]
pub struct TimelineEntry {
    pub at: String,
    pub state: String,
    /// Evolution's `statusReason` of the change.
    pub code: u16,
    pub reason: Option<String>,
}

impl From<Transition> for TimelineEntry {
    fn from(t: Transition) -> Self {
        TimelineEntry {
            at: rfc3339(t.at),
            state: t.state.as_str().into(),
            code: t.code,
            reason: t.reason,
        }
    }
}

#[derive(Object, Debug)]
pub struct ErrorEntry {
    pub at: String,
    pub error: String,
}

impl From<ErrorNote> for ErrorEntry {
    fn from(e: ErrorNote) -> Self {
        ErrorEntry {
            at: rfc3339(e.at),
            error: e.error,
        }
    }
}

/// The outcome of a health check.
#[derive(Object, Debug)]
pub struct CheckDto {
    pub healthy: bool,
    pub checked_at: String,
    /// Round trip of the engine's ping, in milliseconds.
    pub rtt_ms: Option<u64>,
    pub error: Option<String>,
}

impl From<HealthCheck> for CheckDto {
    fn from(c: HealthCheck) -> Self {
        CheckDto {
            healthy: c.ok,
            checked_at: rfc3339(c.at),
            rtt_ms: c.rtt_ms,
            error: c.error,
        }
    }
}

#[derive(Object, Debug)]
pub struct HealthCheckAnswer {
    pub success: bool,
    pub session_id: String,
    pub state: String,
    pub check: CheckDto,
}

/// `GET /sessions/{id}/details`.
#[derive(Object, Debug)]
pub struct DetailsAnswer {
    pub success: bool,
    pub session: SessionInfo,
    pub integration: String,
    /// The instance's row of `GET /instance/summary`: counters, time in state, webhook.
    pub summary: SummaryRow,
    /// The last state changes, oldest first (at most 32).
    pub timeline: Vec<TimelineEntry>,
    /// The last errors, oldest first (at most 8).
    pub last_errors: Vec<ErrorEntry>,
    pub last_health_check: Option<CheckDto>,
}

#[derive(Object, Debug)]
pub struct CleanupAnswer {
    pub success: bool,
    pub message: String,
    /// Sessions removed (or that would be, with `dry_run`).
    pub removed: Vec<String>,
}

/// Milliseconds since the epoch now, for `generated` fields.
pub fn now_rfc3339() -> String {
    rfc3339(Utc::now())
}
