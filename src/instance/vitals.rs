//! An instance's health record for operators (`/sessions/*`): the last state transitions (a
//! small ring), reconnect attempts since the last reset, the last disconnect and its reason, the
//! last errors (a small ring) and the last health check. Bounded memory whatever happens: a
//! flapping session overwrites its own history instead of growing it.
//!
//! Transitions are written by the actor (the only writer of the state), errors and health
//! checks by the handle; readers take a copy. Counts of messages and flaps stay in
//! [`counters`](super::counters), which the events feed.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;

use super::ConnectionState;

/// Transitions kept per instance.
pub const TIMELINE_KEPT: usize = 32;
/// Errors kept per instance.
pub const ERRORS_KEPT: usize = 8;

/// One change of state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub at: DateTime<Utc>,
    pub state: ConnectionState,
    /// Evolution's `statusReason` of the change (200, 401, 428, 503...).
    pub code: u16,
    /// Why, when the change was not asked for (a drop, a failure, a logout).
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorNote {
    pub at: DateTime<Utc>,
    pub error: String,
}

/// The result of one `health-check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    pub at: DateTime<Utc>,
    pub ok: bool,
    /// Round trip of the engine's ping, when there was one.
    pub rtt_ms: Option<u64>,
    pub error: Option<String>,
}

#[derive(Default)]
pub struct Vitals {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    timeline: VecDeque<Transition>,
    /// Reconnects and failures since the last reset (restart or `reset-attempts`).
    attempts: u64,
    last_disconnect: Option<Transition>,
    errors: VecDeque<ErrorNote>,
    last_check: Option<HealthCheck>,
}

/// A copy of [`Vitals`], oldest entries first.
#[derive(Debug, Clone, Default)]
pub struct VitalsView {
    pub timeline: Vec<Transition>,
    pub attempts: u64,
    pub last_disconnect: Option<Transition>,
    pub errors: Vec<ErrorNote>,
    pub last_check: Option<HealthCheck>,
}

fn push_bounded<T>(ring: &mut VecDeque<T>, item: T, cap: usize) {
    if ring.len() == cap {
        ring.pop_front();
    }
    ring.push_back(item);
}

impl Vitals {
    /// The state changed from `from` to `t.state`.
    pub(super) fn transition(&self, from: ConnectionState, t: Transition) {
        let mut v = self.inner.lock();
        let ended = t.state != ConnectionState::Open
            && (from == ConnectionState::Open
                || matches!(t.state, ConnectionState::Failed | ConnectionState::Refused)
                || (t.state == ConnectionState::Close && t.code != 200));
        if ended {
            v.last_disconnect = Some(t.clone());
        }
        push_bounded(&mut v.timeline, t, TIMELINE_KEPT);
    }

    /// The session dropped and tries again, or gave up: one more attempt.
    pub(super) fn attempt(&self, reason: &str) {
        let mut v = self.inner.lock();
        v.attempts += 1;
        let note = ErrorNote {
            at: Utc::now(),
            error: reason.to_string(),
        };
        push_bounded(&mut v.errors, note, ERRORS_KEPT);
    }

    pub(super) fn note_error(&self, error: String) {
        let note = ErrorNote {
            at: Utc::now(),
            error,
        };
        push_bounded(&mut self.inner.lock().errors, note, ERRORS_KEPT);
    }

    pub(super) fn reset_attempts(&self) {
        self.inner.lock().attempts = 0;
    }

    pub(super) fn record_check(&self, check: HealthCheck) {
        let mut v = self.inner.lock();
        if let Some(e) = &check.error {
            let note = ErrorNote {
                at: check.at,
                error: format!("health check: {e}"),
            };
            push_bounded(&mut v.errors, note, ERRORS_KEPT);
        }
        v.last_check = Some(check);
    }

    /// Attempts since the last reset, without copying the rings.
    pub fn attempts(&self) -> u64 {
        self.inner.lock().attempts
    }

    /// The last disconnect, without copying the rings.
    pub fn last_disconnect(&self) -> Option<Transition> {
        self.inner.lock().last_disconnect.clone()
    }

    pub fn read(&self) -> VitalsView {
        let v = self.inner.lock();
        VitalsView {
            timeline: v.timeline.iter().cloned().collect(),
            attempts: v.attempts,
            last_disconnect: v.last_disconnect.clone(),
            errors: v.errors.iter().cloned().collect(),
            last_check: v.last_check.clone(),
        }
    }
}

/// The longest a health check waits for the engine, beyond the engine's own deadline.
const CHECK_DEADLINE: std::time::Duration = std::time::Duration::from_secs(15);

impl super::InstanceHandle {
    pub fn vitals(&self) -> VitalsView {
        self.shared().vitals.read()
    }

    /// Reconnect attempts since the last reset (cheap: no copy of the rings).
    pub fn reconnect_attempts(&self) -> u64 {
        self.shared().vitals.attempts()
    }

    pub fn last_disconnect(&self) -> Option<Transition> {
        self.shared().vitals.last_disconnect()
    }

    /// Forgets the failures counted so far (an operator looked at them).
    pub fn reset_attempts(&self) {
        self.shared().vitals.reset_attempts();
    }

    /// Pings WhatsApp through the running session and records the outcome; an instance that is
    /// not open fails the check without a ping.
    pub async fn health_check(&self) -> HealthCheck {
        let started = std::time::Instant::now();
        let outcome = match self.connected_session() {
            Ok(session) => match tokio::time::timeout(CHECK_DEADLINE, session.ping()).await {
                Ok(Ok(())) => Ok(started.elapsed()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("no answer within {} s", CHECK_DEADLINE.as_secs())),
            },
            Err(e) => Err(e.to_string()),
        };
        let check = match outcome {
            Ok(rtt) => HealthCheck {
                at: Utc::now(),
                ok: true,
                rtt_ms: Some(rtt.as_millis() as u64),
                error: None,
            },
            Err(e) => HealthCheck {
                at: Utc::now(),
                ok: false,
                rtt_ms: None,
                error: Some(e),
            },
        };
        self.shared().vitals.record_check(check.clone());
        check
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(state: ConnectionState, code: u16) -> Transition {
        Transition {
            at: Utc::now(),
            state,
            code,
            reason: Some("why".into()),
        }
    }

    #[test]
    fn rings_stay_bounded_and_keep_the_newest() {
        let v = Vitals::default();
        for i in 0..100u16 {
            v.transition(ConnectionState::Close, t(ConnectionState::Connecting, i));
            v.attempt(&format!("drop {i}"));
        }
        let r = v.read();
        assert_eq!(r.timeline.len(), TIMELINE_KEPT);
        assert_eq!(r.timeline.last().unwrap().code, 99);
        assert_eq!(r.errors.len(), ERRORS_KEPT);
        assert_eq!(r.errors.last().unwrap().error, "drop 99");
        assert_eq!(r.attempts, 100);
        v.reset_attempts();
        assert_eq!(v.attempts(), 0);
    }

    #[test]
    fn a_disconnect_is_leaving_open_or_ending_badly() {
        let v = Vitals::default();
        v.transition(ConnectionState::Close, t(ConnectionState::Connecting, 200));
        v.transition(ConnectionState::Connecting, t(ConnectionState::Open, 200));
        assert_eq!(v.last_disconnect(), None);
        v.transition(ConnectionState::Open, t(ConnectionState::Connecting, 200));
        assert_eq!(
            v.last_disconnect().map(|d| d.state),
            Some(ConnectionState::Connecting)
        );
        v.transition(ConnectionState::Connecting, t(ConnectionState::Failed, 503));
        assert_eq!(v.last_disconnect().map(|d| d.code), Some(503));
    }

    #[test]
    fn a_failed_check_is_an_error_too() {
        let v = Vitals::default();
        v.record_check(HealthCheck {
            at: Utc::now(),
            ok: false,
            rtt_ms: None,
            error: Some("not connected".into()),
        });
        let r = v.read();
        assert!(!r.last_check.unwrap().ok);
        assert_eq!(r.errors[0].error, "health check: not connected");
    }
}
