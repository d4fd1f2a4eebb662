//! The gate: what is decided about a request before a byte of its body is read.
//!
//! Which operation a request is for comes from the OpenAPI document itself (one source of truth,
//! no second route list to drift): its path template, whether it takes a body, and whether that
//! body may carry media (the large limit) or only JSON (the small one). An operation that takes
//! a body is authorised here, in Evolution's order (unknown instance 404, then the key 401), so
//! an anonymous client can never make the server read, buffer or parse what it sends.
//!
//! Scoped keys (`/keys`) are checked here too: a read-only key is refused every operation that
//! writes ([`is_write`](super::route_table::is_write)), with 403, whatever its body.
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
use serde_json::Value;
use uuid::Uuid;

use super::auth::{ApiKey, Caller, key_of};
use super::error::ApiError;
use super::gowa::auth::{Selected, resolve};
use super::gowa::error::GowaError;
use crate::state::AppState;

pub use super::route_table::{BodyClass, Dialect, Matched, RouteTable};

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

/// Why the gate refused a request, in the words of the layer that decided.
pub enum Denied {
    Api(ApiError),
    Gowa(GowaError),
}

impl Denied {
    /// The answer, in the operation's dialect.
    pub fn response(self, dialect: Dialect) -> poem::Response {
        use poem::error::ResponseError;
        match (self, dialect) {
            (Denied::Api(e), Dialect::Evolution) => e.as_response(),
            (Denied::Api(e), Dialect::Gowa) => GowaError::Api(e).as_response(),
            (Denied::Gowa(e), _) => e.as_response(),
        }
    }
}

impl From<ApiError> for Denied {
    fn from(e: ApiError) -> Self {
        Denied::Api(e)
    }
}

/// Who a request counts against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Who {
    Global,
    Instance(Uuid),
    /// A scoped key, by its id (counted like an instance token).
    Key(Uuid),
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
            Who::Instance(_) | Who::Key(_) => &self.token,
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

/// Operations with a body and no instance in their path that a tenant key may call.
const TENANT_CREATES: &[&str] = &["create_instance", "create_session", "gowa_create_instance"];

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
    pub fn admit(&self, state: &AppState, req: &Request, op: &Matched<'_>) -> Result<(), Denied> {
        if op.token_scoped {
            return self.admit_token(state, req, op);
        }
        let key = ApiKey(key_of(req));
        let scoped = state.scoped_key(&key);
        let who = match &op.instance {
            Some(name) => state.instance_access(name, &key).map(|h| {
                if state.is_global(&key) {
                    Who::Global
                } else if let Some(k) = &scoped {
                    Who::Key(k.id)
                } else {
                    Who::Instance(h.id())
                }
            }),
            None if !op.secured => return Ok(()),
            None => match state.caller(&key) {
                Ok(Caller::Global) => Ok(Who::Global),
                Ok(Caller::Instance(h)) if op.body == BodyClass::None => Ok(Who::Instance(h.id())),
                // Of the operations with a body and no instance, a scoped key may only create
                // (the handler decides whether this key may); the rest are the global key's.
                Ok(Caller::Tenant(k))
                    if op.body == BodyClass::None || TENANT_CREATES.contains(&op.operation) =>
                {
                    Ok(Who::Key(k.id))
                }
                Ok(Caller::Instance(_) | Caller::Tenant(_)) | Err(_) => Err(ApiError::Unauthorized),
            },
        };
        match who {
            Ok(who) => {
                self.limiters.check(who)?;
                // Nothing creates a chat-limited key yet; should one be stored, it gets nothing
                // rather than its whole instance.
                if scoped.as_ref().is_some_and(|k| k.chats.is_some()) {
                    return Err(ApiError::Forbidden(
                        "Chat-limited keys are not enforced by this version".into(),
                    )
                    .into());
                }
                if op.write && scoped.is_some_and(|k| k.read_only) {
                    return Err(ApiError::Forbidden(format!(
                        "This key is read-only: \"{}\" changes something",
                        op.operation
                    ))
                    .into());
                }
                Ok(())
            }
            Err(e) => {
                if matches!(e, ApiError::Unauthorized) {
                    self.limiters.check(Who::Anonymous(client_of(req)))?;
                }
                if op.body == BodyClass::None {
                    Ok(())
                } else {
                    Err(e.into())
                }
            }
        }
    }

    /// A token-scoped operation: the instance its token (or the global key with
    /// `X-Device-Id`) names, counted against that instance (or the global key); a missing or
    /// unknown token counts against the client's address and, when the operation has a body,
    /// is refused here in the dialect's words.
    fn admit_token(&self, state: &AppState, req: &Request, op: &Matched<'_>) -> Result<(), Denied> {
        match resolve(state, req) {
            Ok(Selected::Token(h)) => Ok(self.limiters.check(Who::Instance(h.id()))?),
            Ok(Selected::Global(_)) => Ok(self.limiters.check(Who::Global)?),
            Err(e) => {
                if matches!(e, GowaError::TokenRequired | GowaError::TokenInvalid) {
                    self.limiters.check(Who::Anonymous(client_of(req)))?;
                }
                if op.body == BodyClass::None {
                    Ok(())
                } else {
                    Err(Denied::Gowa(e))
                }
            }
        }
    }
}

/// The client's address, for the anonymous limiter.
fn client_of(req: &Request) -> IpAddr {
    req.remote_addr()
        .as_socket_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

#[cfg(test)]
mod tests {
    use super::*;

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
