//! The gate: what is decided about a request before a byte of its body is read.
//!
//! Which operation a request is for comes from the OpenAPI document itself (one source of truth,
//! no second route list to drift): its path template, whether it takes a body, and whether that
//! body may carry media (the large limit) or only JSON (the small one). An operation that takes
//! a body is authorised here, in Evolution's order (unknown instance 404, then the key 401), so
//! an anonymous client can never make the server read, buffer or parse what it sends.
//!
//! Requests are also rate limited per key here (governor's GCRA, no timer task): an instance
//! token by its instance, the global key only when `ZAPGATE_RATE_LIMIT_GLOBAL` says so, and a
//! request with a missing or wrong key on a secured route by its client address.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clap::Args;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use poem::Request;
use poem::http::Method;
use serde_json::Value;
use uuid::Uuid;

use super::auth::{ApiKey, Caller, key_of};
use super::error::ApiError;
use crate::state::AppState;

/// Per-key request rates, flattened into [`Config`](crate::config::Config).
#[derive(Debug, Clone, Args)]
pub struct RateLimits {
    /// Ours: requests per second per instance token (bursts of twice as many); 0 = unlimited.
    #[arg(long, env = "ZAPGATE_RATE_LIMIT_TOKEN", default_value_t = 100)]
    pub rate_limit_token: u32,

    /// Ours: requests per second with the global key; 0 (the default) = unlimited.
    #[arg(long, env = "ZAPGATE_RATE_LIMIT_GLOBAL", default_value_t = 0)]
    pub rate_limit_global: u32,

    /// Ours: requests per second per client address that carry no valid key for a secured
    /// route; 0 = unlimited.
    #[arg(long, env = "ZAPGATE_RATE_LIMIT_ANONYMOUS", default_value_t = 30)]
    pub rate_limit_anonymous: u32,
}

/// What a request may send, by operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyClass {
    /// No body is read (GET and the like).
    None,
    /// A JSON body: `ZAPGATE_MAX_JSON_BYTES`.
    Json,
    /// A body that may carry media as base64 or multipart: `ZAPGATE_MAX_BODY_BYTES`.
    Media,
}

/// Operations whose body may carry a file, by the literal start of their path.
const MEDIA_ROUTES: &[&str] = &[
    "/message/sendMedia/",
    "/message/sendWhatsAppAudio/",
    "/message/sendSticker/",
    "/message/sendPtv/",
    "/message/sendStatus/",
    "/chat/updateProfilePicture/",
    "/group/updateGroupPicture/",
];

#[derive(Debug)]
enum Segment {
    Literal(String),
    Instance,
    Param,
}

#[derive(Debug)]
struct Operation {
    /// The document's `operationId` (the metrics label a request is counted under).
    id: String,
    method: Method,
    segments: Vec<Segment>,
    body: BodyClass,
    secured: bool,
}

/// An operation a request matched, with its instance name when the path has one.
pub struct Matched<'a> {
    /// The operation's `operationId`.
    pub operation: &'a str,
    pub body: BodyClass,
    pub secured: bool,
    pub instance: Option<String>,
    _op: &'a Operation,
}

/// Every operation of the OpenAPI document.
pub struct RouteTable {
    ops: Vec<Operation>,
}

impl RouteTable {
    /// Reads the operations out of the spec's `paths`.
    pub fn from_spec(spec: &Value) -> RouteTable {
        let mut ops = Vec::new();
        for (path, item) in spec["paths"].as_object().into_iter().flatten() {
            let segments = path
                .split('/')
                .filter(|s| !s.is_empty())
                .map(|s| match s {
                    "{instanceName}" => Segment::Instance,
                    s if s.starts_with('{') => Segment::Param,
                    s => Segment::Literal(s.to_string()),
                })
                .collect::<Vec<_>>();
            for (method, op) in item.as_object().into_iter().flatten() {
                let Ok(method) = method.to_ascii_uppercase().parse::<Method>() else {
                    continue;
                };
                let body = if op.get("requestBody").is_none() {
                    BodyClass::None
                } else if MEDIA_ROUTES.iter().any(|m| path.starts_with(m)) {
                    BodyClass::Media
                } else {
                    BodyClass::Json
                };
                let secured = op
                    .get("security")
                    .and_then(Value::as_array)
                    .is_some_and(|s| !s.is_empty());
                ops.push(Operation {
                    id: op["operationId"].as_str().unwrap_or_default().to_string(),
                    method: method.clone(),
                    segments: segments.iter().map(Segment::copy).collect(),
                    body,
                    secured,
                });
            }
        }
        // A literal segment wins over a parameter (`POST /sessions/cleanup-inactive` is not
        // `POST /sessions/{id}`), as in poem's router; the sort is stable otherwise.
        ops.sort_by_key(|op| {
            op.segments
                .iter()
                .filter(|s| !matches!(s, Segment::Literal(_)))
                .count()
        });
        RouteTable { ops }
    }

    /// The operation `method path` is for, if the document has it.
    pub fn find(&self, method: &Method, path: &str) -> Option<Matched<'_>> {
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        self.ops.iter().find_map(|op| {
            if op.method != *method || op.segments.len() != parts.len() {
                return None;
            }
            let mut instance = None;
            for (seg, part) in op.segments.iter().zip(&parts) {
                match seg {
                    Segment::Literal(l) if l != part => return None,
                    Segment::Literal(_) | Segment::Param => {}
                    Segment::Instance => instance = Some(percent_decode_path(part)),
                }
            }
            Some(Matched {
                operation: &op.id,
                body: op.body,
                secured: op.secured,
                instance,
                _op: op,
            })
        })
    }

    /// The methods the document has for `path`, whatever the request's method (for `Allow`).
    pub fn methods_for(&self, path: &str) -> Vec<Method> {
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut methods: Vec<Method> = self
            .ops
            .iter()
            .filter(|op| {
                op.segments.len() == parts.len()
                    && op
                        .segments
                        .iter()
                        .zip(&parts)
                        .all(|(s, p)| !matches!(s, Segment::Literal(l) if l != p))
            })
            .map(|op| op.method.clone())
            .collect();
        methods.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        methods.dedup();
        methods
    }

    /// The literal path starts listed in [`MEDIA_ROUTES`] that the document has no operation
    /// for (a renamed route would otherwise silently fall back to the small limit).
    pub fn unknown_media_routes(&self) -> Vec<&'static str> {
        MEDIA_ROUTES
            .iter()
            .copied()
            .filter(|m| {
                let lits: Vec<&str> = m.split('/').filter(|s| !s.is_empty()).collect();
                !self.ops.iter().any(|op| {
                    op.segments.len() > lits.len()
                        && op
                            .segments
                            .iter()
                            .zip(&lits)
                            .all(|(s, l)| matches!(s, Segment::Literal(x) if x == l))
                })
            })
            .collect()
    }
}

impl Segment {
    fn copy(&self) -> Segment {
        match self {
            Segment::Literal(l) => Segment::Literal(l.clone()),
            Segment::Instance => Segment::Instance,
            Segment::Param => Segment::Param,
        }
    }
}

/// `%XX` escapes of one path segment (poem hands handlers the decoded name).
fn percent_decode_path(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Who a request counts against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Who {
    Global,
    Instance(Uuid),
    Anonymous(IpAddr),
}

/// The three limiters, each keyed; `None` where the rate is 0.
pub struct Limiters {
    token: Option<DefaultKeyedRateLimiter<Who>>,
    global: Option<DefaultKeyedRateLimiter<Who>>,
    anonymous: Option<DefaultKeyedRateLimiter<Who>>,
    /// Checks since the last sweep of idle keys.
    checks: AtomicU64,
}

/// Keys idle long enough to be back at a full burst are forgotten every this many checks, so
/// addresses and deleted instances do not accumulate.
const SWEEP_EVERY: u64 = 4096;

fn limiter(per_sec: u32) -> Option<DefaultKeyedRateLimiter<Who>> {
    let rate = NonZeroU32::new(per_sec)?;
    let burst = NonZeroU32::new(per_sec.saturating_mul(2)).unwrap_or(rate);
    Some(RateLimiter::keyed(
        Quota::per_second(rate).allow_burst(burst),
    ))
}

impl Limiters {
    pub fn new(cfg: &RateLimits) -> Limiters {
        Limiters {
            token: limiter(cfg.rate_limit_token),
            global: limiter(cfg.rate_limit_global),
            anonymous: limiter(cfg.rate_limit_anonymous),
            checks: AtomicU64::new(0),
        }
    }

    fn check(&self, who: Who) -> Result<(), ApiError> {
        let lim = match who {
            Who::Global => &self.global,
            Who::Instance(_) => &self.token,
            Who::Anonymous(_) => &self.anonymous,
        };
        let Some(lim) = lim else { return Ok(()) };
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            for l in [&self.token, &self.global, &self.anonymous]
                .into_iter()
                .flatten()
            {
                l.retain_recent();
                l.shrink_to_fit();
            }
        }
        lim.check_key(&who).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::TooManyRequests {
                retry_after: wait.max(Duration::from_secs(1)).as_secs_f64().ceil() as u64,
            }
        })
    }
}

/// The gate's state: the route table and the limiters, built once at start.
pub struct Gate {
    pub routes: RouteTable,
    limiters: Limiters,
}

impl Gate {
    pub fn new(spec: &Value, rates: &RateLimits) -> Gate {
        Gate {
            routes: RouteTable::from_spec(spec),
            limiters: Limiters::new(rates),
        }
    }

    /// The decision for a request that matched `op`: `Err` answers it without reading its
    /// body. Routes without a body keep their handlers' own answers (after the rate limit).
    pub fn admit(&self, state: &AppState, req: &Request, op: &Matched<'_>) -> Result<(), ApiError> {
        let key = ApiKey(key_of(req));
        let who = match &op.instance {
            Some(name) => state.instance_access(name, &key).map(|h| {
                if state.is_global(&key) {
                    Who::Global
                } else {
                    Who::Instance(h.id())
                }
            }),
            None if !op.secured => return Ok(()),
            None => match state.caller(&key) {
                Ok(Caller::Global) => Ok(Who::Global),
                Ok(Caller::Instance(h)) if op.body == BodyClass::None => Ok(Who::Instance(h.id())),
                // Operations with a body and no instance (create) belong to the global key.
                Ok(Caller::Instance(_)) | Err(_) => Err(ApiError::Unauthorized),
            },
        };
        match who {
            Ok(who) => self.limiters.check(who),
            Err(e) => {
                if matches!(e, ApiError::Unauthorized) {
                    let client = req
                        .remote_addr()
                        .as_socket_addr()
                        .map(|a| a.ip())
                        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
                    self.limiters.check(Who::Anonymous(client))?;
                }
                if op.body == BodyClass::None {
                    Ok(())
                } else {
                    Err(e)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_literal_segment_wins_over_a_parameter() {
        let spec = serde_json::json!({"paths": {
            "/sessions/{id}": {"post": {"operationId": "create_session", "requestBody": {}}},
            "/sessions/cleanup-inactive": {"post": {"operationId": "sessions_cleanup_inactive"}},
        }});
        let table = RouteTable::from_spec(&spec);
        let op = |path: &str| {
            table
                .find(&Method::POST, path)
                .map(|m| m.operation.to_string())
        };
        assert_eq!(
            op("/sessions/cleanup-inactive").as_deref(),
            Some("sessions_cleanup_inactive")
        );
        assert_eq!(op("/sessions/ana").as_deref(), Some("create_session"));
        assert_eq!(
            table.find(&Method::POST, "/sessions/ana").map(|m| m.body),
            Some(BodyClass::Json)
        );
        // `{` sorts after letters and `~` after `{`: whichever order the document lists
        // them in, the literal wins.
        let tilde = serde_json::json!({"paths": {
            "/a/{id}": {"post": {"operationId": "param"}},
            "/a/~b": {"post": {"operationId": "literal"}},
        }});
        let t = RouteTable::from_spec(&tilde);
        let found = t
            .find(&Method::POST, "/a/~b")
            .map(|m| m.operation.to_string());
        assert_eq!(found.as_deref(), Some("literal"));
    }

    #[test]
    fn percent_decoding_of_names() {
        assert_eq!(percent_decode_path("a%20b"), "a b");
        assert_eq!(percent_decode_path("a%2"), "a%2");
        assert_eq!(percent_decode_path("%C3%A9"), "é");
    }

    #[test]
    fn quota_refuses_past_the_burst() {
        let l = Limiters::new(&RateLimits {
            rate_limit_token: 1,
            rate_limit_global: 0,
            rate_limit_anonymous: 0,
        });
        let id = Uuid::nil();
        assert!(l.check(Who::Instance(id)).is_ok());
        assert!(l.check(Who::Instance(id)).is_ok());
        match l.check(Who::Instance(id)) {
            Err(ApiError::TooManyRequests { retry_after }) => assert!(retry_after >= 1),
            other => panic!("expected 429, got {:?}", other.err()),
        }
        assert!(
            l.check(Who::Global).is_ok(),
            "the global key is unlimited by default"
        );
    }
}
