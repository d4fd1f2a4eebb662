//! Our reconnect schedule: exponential from a base, capped, with jitter that only shortens a
//! delay by up to a quarter. A pure function of the attempt number and a random fraction, so it is
//! tested without clocks.

use std::time::Duration;

/// How long to wait before reconnect attempt `n` (0 = the first retry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay before the first retry.
    pub base: Duration,
    /// No delay is longer than this.
    pub max: Duration,
}

/// Largest fraction jitter removes from a delay. Below one half, so consecutive uncapped delays
/// (which double) always grow even with the worst draw.
const JITTER: f64 = 0.25;

impl Backoff {
    /// The delay before retry `n`, with `unit` a random draw in `[0, 1)`.
    pub fn delay(&self, n: u32, unit: f64) -> Duration {
        let factor = 2f64.powi(n.min(30) as i32);
        let full = (self.base.as_secs_f64() * factor).min(self.max.as_secs_f64());
        let unit = unit.clamp(0.0, 1.0);
        Duration::from_secs_f64(full * (1.0 - JITTER * unit))
    }

    /// The delay before retry `n` with a fresh random draw.
    pub fn next(&self, n: u32) -> Duration {
        self.delay(n, rand::random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Backoff {
        Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(10),
        }
    }

    #[test]
    fn doubles_from_the_base_until_the_cap() {
        let b = policy();
        assert_eq!(b.delay(0, 0.0), Duration::from_millis(100));
        assert_eq!(b.delay(1, 0.0), Duration::from_millis(200));
        assert_eq!(b.delay(3, 0.0), Duration::from_millis(800));
        assert_eq!(b.delay(20, 0.0), Duration::from_secs(10));
        assert_eq!(b.delay(u32::MAX, 0.0), Duration::from_secs(10));
    }

    #[test]
    fn jitter_only_shortens_and_never_reorders_uncapped_delays() {
        let b = policy();
        for n in 0..6 {
            let longest = b.delay(n, 0.0);
            let shortest = b.delay(n, 0.999_999);
            assert!(shortest <= longest && shortest >= longest.mul_f64(0.75));
            // The worst draw of the next attempt is still longer than the best of this one.
            assert!(b.delay(n + 1, 0.999_999) > longest);
        }
    }

    #[test]
    fn random_draws_stay_in_range() {
        let b = policy();
        for _ in 0..100 {
            let d = b.next(2);
            assert!(d <= Duration::from_millis(400) && d >= Duration::from_millis(300));
        }
    }
}
