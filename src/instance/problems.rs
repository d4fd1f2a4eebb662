//! Which instances need an operator (`GET /sessions/problematic`), and why: failed, refused,
//! stuck connecting, flapping (more than N drops out of `open` in M minutes), or silent while
//! open (no message either way for a while). Judged from what the instance already keeps (its
//! state, counters and vitals); nothing here is stored.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{ConnectionState, InstanceHandle};

/// The limits an instance is judged by (from the configuration).
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// More drops out of `open` than this within `flap_window` is flapping.
    pub flap_threshold: u64,
    pub flap_window: Duration,
    /// `connecting` for longer than this is stuck.
    pub stuck_connecting: Duration,
    /// `open` without a message for this long is silent; `None` switches the check off.
    pub silent_open: Option<Duration>,
}

impl Thresholds {
    pub fn from_config(c: &crate::config::Config) -> Thresholds {
        Thresholds {
            flap_threshold: c.flap_threshold,
            flap_window: Duration::from_secs(c.flap_window_minutes.max(1) * 60),
            stuck_connecting: Duration::from_secs(c.stuck_connecting_secs.max(1)),
            silent_open: (c.silent_open_minutes > 0)
                .then(|| Duration::from_secs(c.silent_open_minutes * 60)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    Failed,
    Refused,
    StuckConnecting,
    Flapping,
    Silent,
}

impl ProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::Failed => "failed",
            ProblemKind::Refused => "refused",
            ProblemKind::StuckConnecting => "stuck_connecting",
            ProblemKind::Flapping => "flapping",
            ProblemKind::Silent => "silent",
        }
    }
}

/// One thing wrong with an instance, in words an operator can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    pub reason: String,
}

fn long(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    match s {
        s if s >= 3600 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

impl InstanceHandle {
    /// What is wrong with this instance now; empty when nothing is.
    pub fn problems(&self, t: &Thresholds) -> Vec<Problem> {
        self.problems_at(t, Utc::now())
    }

    fn problems_at(&self, t: &Thresholds, now: DateTime<Utc>) -> Vec<Problem> {
        let view = self.view();
        let state = view.state.state;
        let in_state = now - view.state.since;
        let why = view
            .last_error
            .clone()
            .unwrap_or_else(|| "no reason given".into());
        let mut out = Vec::new();
        match state {
            ConnectionState::Failed => out.push(Problem {
                kind: ProblemKind::Failed,
                reason: format!("gave up reconnecting {} ago: {why}", long(in_state)),
            }),
            ConnectionState::Refused => out.push(Problem {
                kind: ProblemKind::Refused,
                reason: format!(
                    "no QR code was scanned before the limit, {} ago",
                    long(in_state)
                ),
            }),
            ConnectionState::Connecting
                if in_state.to_std().unwrap_or_default() > t.stuck_connecting =>
            {
                let what = if view.qr.code.is_some() {
                    "showing a QR code nobody scanned"
                } else {
                    "logging in"
                };
                out.push(Problem {
                    kind: ProblemKind::StuckConnecting,
                    reason: format!("connecting for {}, {what}", long(in_state)),
                })
            }
            ConnectionState::Open => {
                if let Some(silent) = t.silent_open {
                    let last = self
                        .counters()
                        .last_activity
                        .map_or(view.state.since, |a| a.max(view.state.since));
                    if (now - last).to_std().unwrap_or_default() > silent {
                        out.push(Problem {
                            kind: ProblemKind::Silent,
                            reason: format!(
                                "open, but no message either way for {}",
                                long(now - last)
                            ),
                        });
                    }
                }
            }
            _ => {}
        }
        let drops = self.flaps_within(t.flap_window);
        if drops > t.flap_threshold {
            out.push(Problem {
                kind: ProblemKind::Flapping,
                reason: format!(
                    "dropped out of open {drops} times in the last {} min (more than {})",
                    t.flap_window.as_secs() / 60,
                    t.flap_threshold
                ),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(long(chrono::Duration::seconds(42)), "42 s");
        assert_eq!(long(chrono::Duration::seconds(600)), "10 min");
        assert_eq!(long(chrono::Duration::seconds(7260)), "2 h 1 min");
    }
}
