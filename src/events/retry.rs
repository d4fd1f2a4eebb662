//! The webhook retry schedule, a pure function of the attempt number so it can live in the
//! outbox row (`attempt`, `next_attempt_at`) and survive restarts.

use std::time::Duration;

use crate::config::Config;

/// Evolution's retry settings, resolved once.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub initial: Duration,
    pub exponential: bool,
    pub max_delay: Duration,
    pub jitter: f64,
    pub non_retryable: Vec<u16>,
    pub timeout: Duration,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    RetryIn(Duration),
    DeadLetter,
}

impl RetryPolicy {
    pub fn from_config(c: &Config) -> Self {
        let initial = c
            .webhook_retry_initial_delay_ms
            .map(Duration::from_millis)
            .unwrap_or(Duration::from_secs(c.webhook_retry_initial_delay_seconds));
        RetryPolicy {
            max_attempts: c.webhook_retry_max_attempts.max(1),
            initial,
            exponential: c.webhook_retry_use_exponential_backoff,
            max_delay: Duration::from_secs(c.webhook_retry_max_delay_seconds).max(initial),
            jitter: c.webhook_retry_jitter_factor.clamp(0.0, 1.0),
            non_retryable: c.non_retryable_statuses(),
            timeout: Duration::from_millis(c.webhook_request_timeout_ms.max(1)),
        }
    }

    /// After attempt number `attempt` (1-based) failed with `status` (None: no response).
    /// `retry_after` is the server's Retry-After on 429/503; `unit` in [0, 1) draws the jitter.
    pub fn next(
        &self,
        attempt: u32,
        status: Option<u16>,
        retry_after: Option<Duration>,
        unit: f64,
    ) -> Next {
        if status.is_some_and(|s| self.non_retryable.contains(&s)) || attempt >= self.max_attempts {
            return Next::DeadLetter;
        }
        if let (Some(429 | 503), Some(wait)) = (status, retry_after) {
            return Next::RetryIn(wait.min(Duration::from_secs(3600)));
        }
        let base = if self.exponential {
            let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
            self.initial.saturating_mul(factor).min(self.max_delay)
        } else {
            self.initial
        };
        // ±jitter around the base, never below the initial delay (Evolution's rule).
        let spread = 1.0 + self.jitter * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        Next::RetryIn(base.mul_f64(spread).max(self.initial))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 10,
            initial: Duration::from_secs(5),
            exponential: true,
            max_delay: Duration::from_secs(300),
            jitter: 0.2,
            non_retryable: vec![400, 401, 403, 404, 422],
            timeout: Duration::from_secs(30),
        }
    }

    #[test]
    fn doubles_up_to_the_cap_and_stops_at_max_attempts() {
        let p = policy();
        let secs: Vec<u64> = (1..10)
            .map(|n| match p.next(n, Some(500), None, 0.5) {
                Next::RetryIn(d) => d.as_secs(),
                Next::DeadLetter => 0,
            })
            .collect();
        assert_eq!(secs, vec![5, 10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(p.next(10, Some(500), None, 0.5), Next::DeadLetter);
    }

    #[test]
    fn non_retryable_statuses_and_retry_after() {
        let p = policy();
        assert_eq!(p.next(1, Some(404), None, 0.5), Next::DeadLetter);
        assert_eq!(
            p.next(1, Some(429), Some(Duration::from_secs(42)), 0.5),
            Next::RetryIn(Duration::from_secs(42))
        );
        assert_eq!(
            p.next(1, None, None, 0.0),
            Next::RetryIn(Duration::from_secs(5)),
            "jitter never goes below the initial delay"
        );
        assert_eq!(
            p.next(2, None, None, 1.0),
            Next::RetryIn(Duration::from_secs(12))
        );
    }
}
