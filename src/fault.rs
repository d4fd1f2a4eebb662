//! Fault injection for black-box tests: named points where a test build can be told to fail.
//!
//! Only a binary built with the `fault-injection` feature reads `ZAPGATE_FAULTS`; every other
//! build compiles [`hit`] to `false`, so no release binary carries a way to make it panic. The
//! variable lists `point=subject` pairs separated by `;` (for example
//! `delivery_panic=/boom;actor_panic=alice#1`); a point fires when the subject it is asked about
//! contains the configured text, every time, or at most `n` times with a `#n` suffix. Tests that need it are gated on the feature and run by
//! `.ci/run` with `--features fault-injection`.

/// The places a fault can be injected. Each names what its subject is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Point {
    /// A webhook delivery task panics; subject: the endpoint URL.
    DeliveryPanic,
    /// An instance actor panics while handling a settings change; subject: the instance name.
    ActorPanic,
    /// A webhook endpoint's worker (not one of its delivery tasks) panics as it starts;
    /// subject: the endpoint (`global`, or `i:<instance id>`).
    WorkerPanic,
}

impl Point {
    #[cfg_attr(not(feature = "fault-injection"), allow(dead_code))]
    fn name(self) -> &'static str {
        match self {
            Point::DeliveryPanic => "delivery_panic",
            Point::ActorPanic => "actor_panic",
            Point::WorkerPanic => "worker_panic",
        }
    }
}

/// Whether the fault at `point` is configured for `subject`.
#[cfg(feature = "fault-injection")]
pub fn hit(point: Point, subject: &str) -> bool {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};

    struct Fault {
        point: String,
        subject: String,
        /// Firings left; `u64::MAX` for a fault without `#n`.
        left: AtomicU64,
    }
    // Read once: the set is fixed for the life of a test process.
    static FAULTS: OnceLock<Vec<Fault>> = OnceLock::new();
    FAULTS
        .get_or_init(|| {
            std::env::var("ZAPGATE_FAULTS")
                .unwrap_or_default()
                .split(';')
                .filter_map(|pair| pair.split_once('='))
                .map(|(p, s)| {
                    let (subject, left) = match s.rsplit_once('#') {
                        Some((s, n)) => (s, n.trim().parse().unwrap_or(u64::MAX)),
                        None => (s, u64::MAX),
                    };
                    Fault {
                        point: p.trim().to_string(),
                        subject: subject.trim().to_string(),
                        left: AtomicU64::new(left),
                    }
                })
                .collect()
        })
        .iter()
        .any(|f| {
            f.point == point.name()
                && !f.subject.is_empty()
                && subject.contains(f.subject.as_str())
                && f.left
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| match n {
                        0 => None,
                        u64::MAX => Some(u64::MAX),
                        n => Some(n - 1),
                    })
                    .is_ok()
        })
}

/// Whether the fault at `point` is configured for `subject`: never, in this build.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn hit(_point: Point, _subject: &str) -> bool {
    false
}
